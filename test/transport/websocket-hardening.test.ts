/**
 * The WebSocket door under hostile input, on real servers (ephemeral ports): a deeply nested offer or
 * answer (which used to overflow JSON.stringify when relayed and take the whole process down) against
 * the Express middleware, createTrackerServer and the CLI; counters held to the rule of every door;
 * connection budgets apart from HTTP's, per address, a short idle timeout for connections that
 * announced nothing, the site's upgrade hook; a revoked member cut off at once; and a
 * structure-aware seeded fuzz with a well-behaved client checked all along.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type WebSocket from 'ws';
import { counterReason } from '../../src/protocol/counter.js';
import { createTrackerServer, type TrackerServer, type TrackerServerOptions } from '../../src/server.js';
import type { TrackerOptions } from '../../src/tracker.js';
import { createWebSocketTracker, type WebSocketTracker, type WebSocketTrackerOptions } from '../../src/transport/websocket.js';
import { Connection } from '../../src/transport/ws-connection.js';
import { addressKey } from '../../src/transport/ws-door.js';
import { decodeDict } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet, startApp, type RunningApp } from '../helpers/http.js';
import { ensureBuilt, root } from '../helpers/instances.js';
import { prng } from '../helpers/prng.js';
import { WsTestClient, wsId, wsOffer, type Frame } from '../helpers/ws.js';

const clients: WsTestClient[] = [];
async function connect(url: string, options: WebSocket.ClientOptions = {}): Promise<WsTestClient> {
  const c = await WsTestClient.open(url, options);
  clients.push(c);
  return c;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

const isOffer = (f: Frame) => f.offer !== undefined;
const isAnswer = (f: Frame) => f.answer !== undefined;
const isFailure = (f: Frame) => f['failure reason'] !== undefined;

/** `{"sdp":[[[...]]]}`, `levels` deep: 2 bytes a level (JSON.stringify of it overflows the stack from about 4 500 levels). */
function deep(levels: number): string {
  return `{"type":"offer","sdp":${'['.repeat(levels)}1${']'.repeat(levels)}}`;
}

async function until(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface App {
  app: RunningApp;
  wss: WebSocketTracker;
  url: string;
  close(): Promise<void>;
}

async function expressApp(options: TrackerOptions = {}, ws: Omit<WebSocketTrackerOptions, 'tracker' | 'server' | 'path'> = {}): Promise<App> {
  const app = await startApp(options);
  const wss = createWebSocketTracker({ ...ws, tracker: app.router.tracker, server: app.server, path: '/tracker' });
  return {
    app,
    wss,
    url: `ws://127.0.0.1:${app.port}/tracker/announce`,
    close: async () => {
      await wss.close();
      await app.close();
    },
  };
}

async function standalone(options: TrackerServerOptions = {}): Promise<{ server: TrackerServer; port: number; url: string }> {
  const server = createTrackerServer(options);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { server, port, url: `ws://127.0.0.1:${port}/announce` };
}

/**
 * The deep frames: a seeder waits, a leecher sends an offer nested 6 000 levels deep (12 KB),
 * then a real offer; the seeder answers the real offer with a deep answer, then a real one. The deep
 * ones get failure reasons, the real ones go through, and a bystander is served all along.
 */
async function deepFrames(url: string): Promise<void> {
  const ih = wsId();
  const bystander = await connect(url);
  const seeder = await connect(url);
  const leecher = await connect(url);
  await bystander.announce({ info_hash: ih, peer_id: wsId('bystander'), left: 0, event: 'started' });
  await seeder.announce({ info_hash: ih, peer_id: wsId('seeder'), left: 0, event: 'started' });
  const frame = (offer: string) =>
    `{"action":"announce","info_hash":${JSON.stringify(ih)},"peer_id":"${wsId('leecher')}","left":9,"event":"started","numwant":2,` +
    `"offers":[{"offer_id":"${wsId('deep-1')}","offer":${offer}},{"offer_id":"${wsId('deep-2')}","offer":${offer}}]}`;
  leecher.send(frame(deep(6000)));
  expect((await leecher.next(isFailure))['failure reason']).toMatch(/^offer must be an object of strings/);
  // The tracker still answers everyone, and real offers still go through.
  expect(await bystander.announce({ info_hash: ih, peer_id: wsId('bystander'), left: 0 })).toMatchObject({ complete: 2 });
  const real = wsOffer('real');
  expect(await leecher.announce({ info_hash: ih, peer_id: wsId('leecher'), left: 9, event: 'started', numwant: 2, offers: [real, wsOffer('real2')] })).toMatchObject({ complete: 2, incomplete: 1 });
  const got = await seeder.next(isOffer);
  seeder.send(
    `{"action":"announce","info_hash":${JSON.stringify(ih)},"peer_id":"${wsId('seeder')}","to_peer_id":"${wsId('leecher')}","offer_id":${JSON.stringify(got.offer_id)},"answer":${deep(6000)}}`,
  );
  expect((await seeder.next(isFailure))['failure reason']).toMatch(/^answer must be an object of strings/);
  seeder.send({ action: 'announce', info_hash: ih, peer_id: wsId('seeder'), to_peer_id: wsId('leecher'), offer_id: got.offer_id, answer: { type: 'answer', sdp: 'ok' } });
  expect((await leecher.next(isAnswer)).answer).toEqual({ type: 'answer', sdp: 'ok' });
  expect(await bystander.announce({ info_hash: ih, peer_id: wsId('bystander'), left: 0 })).toMatchObject({ complete: 2, incomplete: 1 });
  for (const c of [bystander, seeder, leecher]) expect(c.ws.readyState).toBe(1);
}

describe('one frame must not kill the process', () => {
  it('a 6 000-level (12 KB) offer or answer: Express middleware', async () => {
    const t = await expressApp();
    const internal: unknown[] = [];
    t.app.router.tracker.on('failure', (f: { reason: string }) => f.reason === 'internal tracker error' && internal.push(f));
    try {
      await deepFrames(t.url);
      expect((await rawGet(t.app.port, `/tracker/scrape?info_hash=${escapeAll(randomBytes(20))}`)).status).toBe(200);
      expect(internal).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('a 6 000-level (12 KB) offer or answer: createTrackerServer', async () => {
    const s = await standalone();
    try {
      await deepFrames(s.url);
      expect((await rawGet(s.port, `/scrape?info_hash=${escapeAll(randomBytes(20))}`)).status).toBe(200);
    } finally {
      await s.server.shutdown();
    }
  });

  describe('the CLI', () => {
    let child: ChildProcess | undefined;
    afterEach(() => {
      if (child && child.exitCode === null) child.kill('SIGKILL');
    });
    it('a 6 000-level (12 KB) offer or answer: torrent-tracker serve keeps running', async () => {
      ensureBuilt();
      child = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', '0', '--host', '127.0.0.1'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      const port = await new Promise<number>((resolve, reject) => {
        child!.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /announce URL ws:\/\/127\.0\.0\.1:(\d+)\/announce/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        child!.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      await deepFrames(`ws://127.0.0.1:${port}/announce`);
      expect(child.exitCode).toBe(null);
      const q = `info_hash=${escapeAll(randomBytes(20))}&peer_id=${escapeAll(randomBytes(20))}&port=1&left=0`;
      expect(decodeDict((await rawGet(port, `/announce?${q}`)).body)).toMatchObject({ complete: 1 });
      const code = await new Promise<number | null>((resolve) => {
        child!.on('exit', (c) => resolve(c));
        child!.kill('SIGTERM');
      });
      expect(code).toBe(0);
    });
  });
});

describe('no exception escapes the door', () => {
  it('a throwing `announce` listener cannot break a frame: the announce stands and is answered, failure says internal', async () => {
    const t = await expressApp();
    const tracker = t.app.router.tracker;
    const failures: Array<{ reason: string }> = [];
    tracker.on('failure', (f: { reason: string }) => failures.push(f));
    try {
      const ih = wsId();
      const victim = await connect(t.url);
      const boom = () => {
        throw new Error('listener bug');
      };
      tracker.on('announce', boom);
      expect(await victim.announce({ info_hash: ih, peer_id: wsId('boom'), left: 0 })).toMatchObject({ action: 'announce', complete: 1 });
      tracker.off('announce', boom);
      expect(failures.map((f) => f.reason)).toContain('an announce listener threw');
      expect((await tracker.stats()).failures.byKind.internal).toBe(1);
    } finally {
      await t.close();
    }
  });

  it('an exception of ours while handling a frame closes that connection (1011) and counts as internal; the process and other clients carry on', async () => {
    const t = await expressApp();
    const tracker = t.app.router.tracker;
    const failures: Array<{ reason: string }> = [];
    tracker.on('failure', (f: { reason: string }) => failures.push(f));
    // A bug in the door, simulated: holding one particular pair throws.
    const hold = Connection.prototype.hold;
    const spy = vi.spyOn(Connection.prototype, 'hold').mockImplementation(function (this: Connection, key, m) {
      if (key.endsWith(wsId('boom'))) throw new Error('door bug');
      return hold.call(this, key, m);
    });
    try {
      const ih = wsId();
      const bystander = await connect(t.url);
      await bystander.announce({ info_hash: ih, peer_id: wsId('bystander'), left: 0 });
      const victim = await connect(t.url);
      victim.send({ action: 'announce', info_hash: ih, peer_id: wsId('boom'), left: 0 });
      expect(await victim.closedWith).toEqual({ code: 1011, reason: 'internal error' });
      expect(failures.map((f) => f.reason)).toContain('internal tracker error');
      expect((await tracker.stats()).failures.byKind.internal).toBeGreaterThanOrEqual(1);
      expect(await bystander.announce({ info_hash: ih, peer_id: wsId('bystander'), left: 0 })).toMatchObject({ action: 'announce' });
      expect((await rawGet(t.app.port, `/tracker/scrape?info_hash=${escapeAll(randomBytes(20))}`)).status).toBe(200);
    } finally {
      spy.mockRestore();
      await t.close();
    }
  });
});

describe('counters over WebSocket follow the rule of HTTP and UDP', () => {
  it('whole numbers from 0 to 2^53-1 (or up to 16 digits as text); anything else is refused with the same wording', async () => {
    const t = await expressApp();
    try {
      const c = await connect(t.url);
      const ih = wsId();
      for (const field of ['uploaded', 'downloaded', 'left', 'corrupt']) {
        for (const bad of [1.5, 1e308, -1, 2 ** 53, '12345678901234567', 'lots']) {
          const r = await c.announce({ info_hash: ih, peer_id: wsId('counter'), left: 0, [field]: bad });
          expect(r['failure reason'], `${field}=${bad}`).toBe(counterReason(field));
        }
      }
      expect(await c.announce({ info_hash: ih, peer_id: wsId('counter'), left: '0', uploaded: Number.MAX_SAFE_INTEGER, downloaded: '1234567890123456' })).toMatchObject({ complete: 1 });
    } finally {
      await t.close();
    }
  });
});

describe('budgets and fairness', () => {
  it('idle WebSockets never take an HTTP slot; one address is capped; other addresses and HTTP are served', async () => {
    // HTTP budget 20, WebSocket budget per address 30: one host holds 30 WebSockets.
    const s = await standalone({ maxConnections: 20, webSocket: { maxConnectionsPerAddress: 30 } });
    try {
      const hog = await Promise.all(Array.from({ length: 30 }, () => connect(s.url, { localAddress: '127.0.0.2' })));
      expect(hog).toHaveLength(30);
      await expect(WsTestClient.open(s.url, { localAddress: '127.0.0.2' })).rejects.toThrow(/429/);
      // HTTP from the same and from other addresses, several at once, is still answered.
      const answers = await Promise.all(
        ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'].map((localAddress) =>
          rawGet(s.port, `/announce?info_hash=${escapeAll(randomBytes(20))}&peer_id=${escapeAll(randomBytes(20))}&port=1&left=0`, { localAddress }),
        ),
      );
      for (const a of answers) expect(decodeDict(a.body)).toMatchObject({ complete: 1 });
      // Another address still gets WebSockets, and announces over them.
      const other = await connect(s.url, { localAddress: '127.0.0.3' });
      expect(await other.announce({ info_hash: wsId(), peer_id: wsId('other'), left: 0 })).toMatchObject({ complete: 1 });
      // The HTTP budget itself still holds: 20 open HTTP connections, the 21st is closed at once.
      const held = await Promise.all(Array.from({ length: 20 }, () => openHttp(s.port)));
      await expect(rawGet(s.port, '/scrape')).rejects.toThrow();
      for (const h of held) h.destroy();
      await until(async () => (await rawGet(s.port, `/scrape?info_hash=${escapeAll(randomBytes(20))}`).catch(() => undefined))?.status === 200);
      // Closing the hog's sockets gives its slots back.
      await Promise.all(hog.map((c) => c.close()));
      await until(async () => (await WsTestClient.open(s.url, { localAddress: '127.0.0.2' }).then((c) => (clients.push(c), true)).catch(() => false)));
    } finally {
      await s.server.shutdown();
    }
  });

  it('the default per-address cap is 100 (IPv4 address, IPv6 /64)', async () => {
    const t = await expressApp();
    try {
      await Promise.all(Array.from({ length: 100 }, () => connect(t.url, { localAddress: '127.0.0.5' })));
      await expect(WsTestClient.open(t.url, { localAddress: '127.0.0.5' })).rejects.toThrow(/429/);
      await connect(t.url, { localAddress: '127.0.0.6' });
      expect(addressKey('2001:db8::1')).toBe(addressKey('2001:db8:0:0:ffff::2'));
      expect(addressKey('2001:db8:0:1::1')).not.toBe(addressKey('2001:db8::1'));
      expect(addressKey('::ffff:10.0.0.1')).toBe(addressKey('10.0.0.1'));
      expect(addressKey('10.0.0.2')).not.toBe(addressKey('10.0.0.1'));
    } finally {
      await t.close();
    }
  });

  it('a connection that announced nothing is closed after unannouncedTimeout; announced ones stay', async () => {
    const t = await expressApp({}, { unannouncedTimeout: 0.3, idleTimeout: 60 });
    try {
      const announced = await connect(t.url);
      await announced.announce({ info_hash: wsId(), peer_id: wsId('stays'), left: 0 });
      const silent = await connect(t.url);
      const started = Date.now();
      expect(await silent.closedWith).toEqual({ code: 1000, reason: 'idle' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      expect(announced.ws.readyState).toBe(1);
      expect(await announced.announce({ info_hash: wsId(), peer_id: wsId('stays'), left: 0 })).toMatchObject({ complete: 1 });
    } finally {
      await t.close();
    }
  });

  it('allowUpgrade decides on each upgrade; a throw or a rejection refuses it (403) and is reported, never thrown', async () => {
    const errors: unknown[] = [];
    const hook = (req: http.IncomingMessage): boolean | Promise<boolean> => {
      const origin = req.headers.origin;
      if (origin === 'https://throws.example') throw new Error('hook bug');
      if (origin === 'https://rejects.example') return Promise.reject(new Error('auth down'));
      if (origin === 'https://later.example') return new Promise((r) => setTimeout(() => r(true), 20));
      return origin === 'https://site.example';
    };
    const t = await expressApp({}, { allowUpgrade: hook });
    t.wss.on('error', (e) => errors.push(e));
    try {
      await connect(t.url, { origin: 'https://site.example' });
      const later = await connect(t.url, { origin: 'https://later.example' });
      expect(await later.announce({ info_hash: wsId(), peer_id: wsId('later'), left: 0 })).toMatchObject({ complete: 1 });
      for (const origin of ['https://evil.example', 'https://throws.example', 'https://rejects.example']) {
        await expect(WsTestClient.open(t.url, { origin })).rejects.toThrow(/403/);
      }
      expect(errors.map((e) => (e as Error).message).sort()).toEqual(['auth down', 'hook bug']);
      expect(() => createWebSocketTracker({ allowUpgrade: 'yes' as never })).toThrow(/allowUpgrade must be a function/);
      expect(() => createWebSocketTracker({ maxConnectionsPerAddress: -1 })).toThrow(/maxConnectionsPerAddress/);
      expect(() => createWebSocketTracker({ unannouncedTimeout: 0 })).toThrow(/unannouncedTimeout/);
    } finally {
      await t.close();
    }
  });
});

describe('a revoked member', () => {
  it('after forgetPasskey its open WebSocket is closed at once and its peers leave their swarms (no policy asked)', async () => {
    const users: Record<string, string> = { alicekey1: 'alice', bobkey222: 'bob' };
    const t = await expressApp({ passkey: (k) => users[k] ?? null });
    try {
      const ih = wsId();
      const alice = await connect(`ws://127.0.0.1:${t.app.port}/tracker/alicekey1/announce`);
      const bob = await connect(`ws://127.0.0.1:${t.app.port}/tracker/bobkey222/announce`);
      await alice.announce({ info_hash: ih, peer_id: wsId('alice'), left: 0, event: 'started' });
      await alice.announce({ info_hash: wsId('second'), peer_id: wsId('alice'), left: 0, event: 'started' });
      expect(await bob.announce({ info_hash: ih, peer_id: wsId('bob'), left: 5, event: 'started' })).toMatchObject({ complete: 1, incomplete: 1 });
      delete users.alicekey1;
      await t.app.router.tracker.forgetPasskey('alicekey1');
      expect(await alice.closedWith).toEqual({ code: 1008, reason: 'passkey revoked' });
      // Her peers are gone at once (no policy asked: it refuses her passkey now): bob's scrape sees no seeder.
      const tracker = t.app.router.tracker;
      const counts = () => tracker.counts([Buffer.from(ih, 'latin1'), Buffer.from(wsId('second'), 'latin1')], { webrtc: true });
      await until(async () => (await counts()).every((c) => c.complete === 0));
      expect(await counts()).toMatchObject([{ complete: 0, incomplete: 1 }, { complete: 0, incomplete: 0 }]);
      bob.send({ action: 'scrape', info_hash: ih });
      expect(((await bob.next((f) => f.action === 'scrape')).files as Record<string, Frame>)[ih]).toMatchObject({ complete: 0, incomplete: 1 });
      // And she cannot come back.
      const again = await connect(`ws://127.0.0.1:${t.app.port}/tracker/alicekey1/announce`);
      expect((await again.announce({ info_hash: ih, peer_id: wsId('alice'), left: 0 }))['failure reason']).toBe('unknown or disabled passkey');
      expect(bob.ws.readyState).toBe(1);
    } finally {
      await t.close();
    }
  });
});

describe('structure-aware fuzz of the WebSocket door', () => {
  it('seeded frames (deep nesting, huge and fractional numbers, long strings, lone surrogates, wrong types) against a real server; a well-behaved client is served correctly all along', async () => {
    const t = await expressApp({}, { framesPerSecond: 1e9, maxPayload: 64 * 1024 });
    const internal: unknown[] = [];
    t.app.router.tracker.on('failure', (f: { reason: string; error?: unknown }) => f.reason === 'internal tracker error' && internal.push(f.error));
    try {
      const random = prng(0xf022);
      const int = (n: number) => Math.floor(random() * n);
      const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
      const str = (n: number, wide = false) => {
        let s = '';
        for (let i = 0; i < n; i++) s += String.fromCharCode(wide ? int(0x10000) : int(256));
        return s;
      };
      const lone = () => pick(['\ud800', '\udfff', 'a\udc00b', '\ud83d']) + str(int(20));
      const numbers = [0, 1, -1, 0.5, 1.5, 1e308, -1e308, 2 ** 53, 2 ** 53 - 1, 2 ** 64, Number.MIN_VALUE, -0];
      const deepJson = (levels: number, array: boolean) => {
        let s = array ? '1' : '"x"';
        for (let i = 0; i < levels; i++) s = array ? `[${s}]` : `{"k":${s}}`;
        return s;
      };
      // A value of some type, as JSON text (so that numbers like 1e999 and deep nesting can be sent).
      const value = (): string => {
        switch (int(12)) {
          case 0: return 'null';
          case 1: return pick(['true', 'false']);
          case 2: return String(pick(numbers));
          case 3: return pick(['1e999', '-1e999', '1e-400', '123456789012345678901234567890', '0.1e1']);
          case 4: return JSON.stringify(str(int(40)));
          case 5: return JSON.stringify(str(int(4000), true));
          case 6: return JSON.stringify(lone());
          case 7: return deepJson(1 + int(9000), random() < 0.5);
          case 8: return '[]';
          case 9: return '{}';
          case 10: return JSON.stringify(pick(['9007199254740991', '9007199254740992', '12345678901234567', '-5', '1.5', '']));
          default: return JSON.stringify(str(20));
        }
      };
      const ids = [wsId('fz-a'), wsId('fz-b'), wsId('fz-c')];
      // Mostly well-formed (so frames get deep into the door: relayed offers, answers), sometimes anything.
      const valid = (p: number, good: () => string, bad: () => string = value) => (): string => (random() < p ? good() : bad());
      const id = valid(0.75, () => JSON.stringify(random() < 0.6 ? pick(ids) : str(20)), () => (random() < 0.5 ? JSON.stringify(str(int(40))) : value()));
      const count = valid(0.75, () => String(int(1e6)));
      const signal = (kind: string): string => {
        const r = random();
        if (r < 0.3) return `{"type":"${kind}","sdp":${JSON.stringify(str(int(600)))}}`;
        if (r < 0.45) return `{"type":"${kind}","sdp":${JSON.stringify(lone())},"extra":{"a":1,"b":[1,2]}}`;
        if (r < 0.75) return `{"type":"${kind}","sdp":${deepJson(int(9000), random() < 0.5)}}`;
        return value();
      };
      const fields = (entries: Array<[string, () => string]>): string =>
        '{' + entries.filter(() => random() < 0.85).map(([k, v]) => `${JSON.stringify(k)}:${v()}`).join(',') + '}';
      const frame = (): string => {
        const kind = int(4);
        if (kind === 0) {
          return fields([
            ['action', valid(0.95, () => '"announce"')],
            ['info_hash', id],
            ['peer_id', id],
            ['event', valid(0.8, () => pick(['"started"', '"completed"', '"update"', '"stopped"']))],
            ['uploaded', count],
            ['downloaded', count],
            ['left', count],
            ['numwant', valid(0.7, () => String(1 + int(12)))],
            ['offers', valid(0.85, () => `[${Array.from({ length: 1 + int(11) }, () => `{"offer_id":${id()},"offer":${signal('offer')}}`).join(',')}]`)],
          ]);
        }
        if (kind === 1) {
          return fields([
            ['action', () => '"announce"'],
            ['info_hash', id],
            ['peer_id', id],
            ['to_peer_id', id],
            ['offer_id', id],
            ['answer', () => signal('answer')],
          ]);
        }
        if (kind === 2) return fields([['action', () => '"scrape"'], ['info_hash', () => (random() < 0.5 ? id() : `[${Array.from({ length: int(80) }, id).join(',')}]`)]]);
        const text = fields([['action', value], ['info_hash', id], ['peer_id', id], ['offers', value], ['answer', value]]);
        return random() < 0.5 ? text.slice(0, int(text.length)) : text;
      };

      // A well-behaved pair on their own connections: a seeder and a leecher whose offers and answers must keep flowing.
      const good = wsId();
      const seeder = await connect(t.url);
      const leecher = await connect(t.url);
      await seeder.announce({ info_hash: good, peer_id: wsId('good-seeder'), left: 0, event: 'started' });
      const fuzzers = await Promise.all(Array.from({ length: 4 }, () => connect(t.url)));
      // Fuzzers also hold peers in the fuzzed swarms, so offers really get relayed to them.
      for (const [i, f] of fuzzers.entries()) await f.announce({ info_hash: ids[i % 3], peer_id: wsId(`fz-peer-${i}`), left: 0 });
      let frames = 0;
      let bytes = 0;
      const TOTAL = 6000;
      for (let i = 0; i < TOTAL; i++) {
        const text = frame();
        const size = Buffer.byteLength(text);
        if (size > 64 * 1024) continue; // larger frames close the socket (1009), tested elsewhere
        fuzzers[i % fuzzers.length].send(text);
        frames++;
        bytes += size;
        if (i % 500 === 499) {
          // Every 500 frames the well-behaved client checks it is served correctly.
          const n = i / 500;
          const offer = wsOffer(`good-${n}`);
          expect(await leecher.announce({ info_hash: good, peer_id: wsId('good-leecher'), left: 5, numwant: 1, offers: [offer] })).toMatchObject({ complete: 1, incomplete: 1 });
          const got = await seeder.next((f) => f.offer_id === offer.offer_id, 15_000);
          seeder.send({ action: 'announce', info_hash: good, peer_id: wsId('good-seeder'), to_peer_id: wsId('good-leecher'), offer_id: got.offer_id, answer: { type: 'answer', sdp: `a${n}` } });
          expect((await leecher.next((f) => f.offer_id === offer.offer_id && isAnswer(f), 15_000)).answer).toEqual({ type: 'answer', sdp: `a${n}` });
        }
      }
      for (const f of fuzzers) {
        f.send({ action: 'scrape', info_hash: good });
        expect(((await f.next((x) => x.action === 'scrape' && (x.files as Record<string, Frame> | undefined)?.[good] !== undefined, 30_000)).files as Record<string, Frame>)[good]).toEqual({ complete: 1, incomplete: 1, downloaded: 0, downloaders: 1 });
      }
      expect(fuzzers.every((f) => f.ws.readyState === 1)).toBe(true);
      expect(internal).toEqual([]);
      expect(frames).toBeGreaterThan(5000);
      console.log(`websocket structure-aware fuzz: ${frames} frames, ${(bytes / 1e6).toFixed(1)} MB`);
    } finally {
      await t.close();
    }
  }, 120_000);
});

/** An HTTP connection that sends nothing (holds a slot). */
async function openHttp(port: number): Promise<import('node:net').Socket> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => resolve(s));
    s.on('error', reject);
  });
}
