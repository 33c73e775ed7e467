/**
 * The WebTorrent (WebSocket) tracker on real sockets: an Express app with the tracker at /tracker and
 * the WebSocket door on the same server and core. Offers and answers, exact counts, sockets holding
 * many peers, no take-over of peer ids, ping and idle timeouts, bad input, private mode, and a seeded
 * fuzz of 100 000 frames.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createWebSocketTracker, type WebSocketTracker, type WebSocketTrackerOptions } from '../../src/transport/websocket.js';
import type { TrackerOptions } from '../../src/tracker.js';
import type { TrafficRecord } from '../../src/policy/traffic.js';
import { compactPeers, decodeDict } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet, startApp, type RunningApp } from '../helpers/http.js';
import { prng } from '../helpers/prng.js';
import { WsTestClient, wsId, wsOffer, type Frame } from '../helpers/ws.js';

interface Running {
  app: RunningApp;
  wss: WebSocketTracker;
  url: string;
  close(): Promise<void>;
}

async function start(options: TrackerOptions = {}, ws: Omit<WebSocketTrackerOptions, 'tracker' | 'server' | 'path'> = {}): Promise<Running> {
  const app = await startApp({ intervalJitter: 0, ...options });
  const wss = createWebSocketTracker({ ...ws, tracker: app.router.tracker, server: app.server, path: '/tracker' });
  return {
    app,
    wss,
    url: `ws://127.0.0.1:${app.port}/tracker`,
    close: async () => {
      await wss.close();
      await app.close();
    },
  };
}

const clients: WsTestClient[] = [];
async function connect(url: string): Promise<WsTestClient> {
  const c = await WsTestClient.open(url);
  clients.push(c);
  return c;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

const hash = () => wsId();
const isOffer = (f: Frame) => f.offer !== undefined;
const isAnswer = (f: Frame) => f.answer !== undefined;
/** Wait until `check` holds (polling the tracker's own answers, never a fixed sleep as the assertion). */
async function until(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('WebSocket tracker on an Express app', () => {
  let t: Running;
  beforeAll(async () => {
    t = await start();
  });
  afterAll(async () => {
    await t.close();
  });

  async function scrape(ih: string): Promise<Frame> {
    const c = await connect(`${t.url}/announce`);
    c.send({ action: 'scrape', info_hash: ih });
    const answer = await c.next((f) => f.action === 'scrape');
    await c.close();
    return ((answer.files as Record<string, Frame>)[ih] ?? {}) as Frame;
  }

  it('relays an offer to another WebSocket peer and its answer back, with exact counts', async () => {
    const ih = hash();
    const seeder = await connect(`${t.url}/announce`);
    const leecher = await connect(`${t.url}/announce`);
    const s = await seeder.announce({ info_hash: ih, peer_id: wsId('seeder'), left: 0, event: 'started', numwant: 0, offers: [] });
    expect(s).toMatchObject({ action: 'announce', complete: 1, incomplete: 0, interval: 1800 });
    const l = await leecher.announce({ info_hash: ih, peer_id: wsId('leecher'), left: 100, event: 'started', numwant: 1, offers: [wsOffer(1)] });
    expect(l).toMatchObject({ complete: 1, incomplete: 1 });
    const offer = await seeder.next(isOffer);
    expect(offer).toEqual({ action: 'announce', info_hash: ih, peer_id: wsId('leecher'), offer_id: wsOffer(1).offer_id, offer: wsOffer(1).offer });
    seeder.send({ action: 'announce', info_hash: ih, peer_id: wsId('seeder'), to_peer_id: wsId('leecher'), offer_id: wsOffer(1).offer_id, answer: { type: 'answer', sdp: 'a' } });
    const answer = await leecher.next(isAnswer);
    expect(answer).toEqual({ action: 'announce', info_hash: ih, peer_id: wsId('seeder'), offer_id: wsOffer(1).offer_id, answer: { type: 'answer', sdp: 'a' } });
    // The same answer again is not relayed: the offer was answered.
    seeder.send({ action: 'announce', info_hash: ih, peer_id: wsId('seeder'), to_peer_id: wsId('leecher'), offer_id: wsOffer(1).offer_id, answer: { type: 'answer', sdp: 'a' } });
    expect((await seeder.next((f) => f['failure reason'] !== undefined))['failure reason']).toBe('answer to an unknown or expired offer');
    // completed, then stopped
    expect(await leecher.announce({ info_hash: ih, peer_id: wsId('leecher'), left: 0, event: 'completed' })).toMatchObject({ complete: 2, incomplete: 0 });
    expect(await scrape(ih)).toEqual({ complete: 2, incomplete: 0, downloaded: 1, downloaders: 0 });
    expect(await leecher.announce({ info_hash: ih, peer_id: wsId('leecher'), left: 0, event: 'stopped' })).toMatchObject({ complete: 1, incomplete: 0 });
  });

  it('relays answers only for offers handed to that peer', async () => {
    const ih = hash();
    const a = await connect(`${t.url}/announce`);
    const b = await connect(`${t.url}/announce`);
    const c = await connect(`${t.url}/announce`);
    await a.announce({ info_hash: ih, peer_id: wsId('a'), left: 0, event: 'started' });
    await b.announce({ info_hash: ih, peer_id: wsId('b'), left: 5, event: 'started', numwant: 1, offers: [wsOffer('b1')] });
    await a.next(isOffer);
    await c.announce({ info_hash: ih, peer_id: wsId('c'), left: 5, event: 'started' });
    // c never got b's offer: its forged answer goes nowhere
    c.send({ action: 'announce', info_hash: ih, peer_id: wsId('c'), to_peer_id: wsId('b'), offer_id: wsOffer('b1').offer_id, answer: { type: 'answer', sdp: 'forged' } });
    expect((await c.next((f) => f['failure reason'] !== undefined))['failure reason']).toBe('answer to an unknown or expired offer');
    // a answers as someone else (another peer id): refused too
    a.send({ action: 'announce', info_hash: ih, peer_id: wsId('c'), to_peer_id: wsId('b'), offer_id: wsOffer('b1').offer_id, answer: { type: 'answer', sdp: 'x' } });
    expect((await a.next((f) => f['failure reason'] !== undefined))['failure reason']).toBe('answer to an unknown or expired offer');
    // an answer to an offer id never made
    a.send({ action: 'announce', info_hash: ih, peer_id: wsId('a'), to_peer_id: wsId('b'), offer_id: wsId('never'), answer: { type: 'answer', sdp: 'x' } });
    expect((await a.next((f) => f['failure reason'] !== undefined))['failure reason']).toBe('answer to an unknown or expired offer');
    expect(b.pending().filter(isAnswer)).toHaveLength(0);
    // the real answer still works
    a.send({ action: 'announce', info_hash: ih, peer_id: wsId('a'), to_peer_id: wsId('b'), offer_id: wsOffer('b1').offer_id, answer: { type: 'answer', sdp: 'real' } });
    expect((await b.next(isAnswer)).answer).toEqual({ type: 'answer', sdp: 'real' });
  });

  it('hands each offer to a different WebSocket peer, at most maxOffers (10), never to HTTP peers', async () => {
    const ih = hash();
    const listeners = await Promise.all(Array.from({ length: 15 }, () => connect(`${t.url}/announce`)));
    for (const [i, l] of listeners.entries()) await l.announce({ info_hash: ih, peer_id: wsId(`l${i}`), left: 0, event: 'started' });
    // An HTTP peer of the same torrent is a different swarm: it gets no offers, and HTTP answers list no WebSocket peer.
    const http = await rawGet(t.app.port, `/tracker/announce?info_hash=${escapeAll(Buffer.from(ih, 'latin1'))}&peer_id=${escapeAll(randomBytes(20))}&port=6881&left=5`);
    const httpAnswer = decodeDict(http.body);
    expect(httpAnswer).toMatchObject({ complete: 0, incomplete: 1 });
    expect(compactPeers(httpAnswer.peers as Uint8Array, 4)).toEqual([]);
    const offerer = await connect(`${t.url}/announce`);
    const offers = Array.from({ length: 30 }, (_, i) => wsOffer(`m${i}`));
    const answer = await offerer.announce({ info_hash: ih, peer_id: wsId('offerer'), left: 5, event: 'started', numwant: 30, offers });
    expect(answer).toMatchObject({ complete: 15, incomplete: 1 });
    await until(async () => listeners.reduce((n, l) => n + l.pending().filter(isOffer).length, 0) >= 10);
    const got = listeners.flatMap((l) => l.pending().filter(isOffer));
    expect(got).toHaveLength(10);
    expect(new Set(got.map((f) => f.offer_id)).size).toBe(10); // ten different offers, one per peer
    expect(listeners.every((l) => l.pending().filter(isOffer).length <= 1)).toBe(true);
  });

  it('one socket announces many torrents and peer ids; closing it removes every one of them', async () => {
    const hashes = [hash(), hash(), hash()];
    const shared = await connect(`${t.url}/announce`);
    for (const [i, ih] of hashes.entries()) {
      await shared.announce({ info_hash: ih, peer_id: wsId(`p${i}`), left: 0, event: 'started' });
      await shared.announce({ info_hash: ih, peer_id: wsId(`q${i}`), left: 9, event: 'started' });
    }
    for (const ih of hashes) expect(await scrape(ih)).toEqual({ complete: 1, incomplete: 1, downloaded: 0, downloaders: 1 });
    await shared.close();
    for (const ih of hashes) await until(async () => (await scrape(ih)).complete === 0);
    for (const ih of hashes) expect(await scrape(ih)).toEqual({ complete: 0, incomplete: 0, downloaded: 0, downloaders: 0 });
  });

  it('a peer id held by one socket cannot be taken over by another, and is free again once it leaves', async () => {
    const ih = hash();
    const owner = await connect(`${t.url}/announce`);
    const thief = await connect(`${t.url}/announce`);
    await owner.announce({ info_hash: ih, peer_id: wsId('victim'), left: 0, event: 'started' });
    for (const event of ['started', 'stopped', 'completed', undefined]) {
      const r = await thief.announce({ info_hash: ih, peer_id: wsId('victim'), left: 0, event });
      expect(r['failure reason']).toBe('this peer_id is held by another connection');
    }
    expect(await scrape(ih)).toEqual({ complete: 1, incomplete: 0, downloaded: 0, downloaders: 0 });
    // Offers still reach the owner, not the thief.
    const asker = await connect(`${t.url}/announce`);
    await asker.announce({ info_hash: ih, peer_id: wsId('asker'), left: 1, event: 'started', numwant: 1, offers: [wsOffer('t')] });
    await owner.next(isOffer);
    expect(thief.pending().filter(isOffer)).toHaveLength(0);
    await owner.close();
    await until(async () => (await scrape(ih)).complete === 0);
    expect(await thief.announce({ info_hash: ih, peer_id: wsId('victim'), left: 0, event: 'started' })).toMatchObject({ complete: 1 });
  });

  it('answers bad frames with a failure reason (or closes the socket where it must); others are unaffected', async () => {
    const ih = hash();
    const bystander = await connect(`${t.url}/announce`);
    await bystander.announce({ info_hash: ih, peer_id: wsId('by'), left: 0, event: 'started' });
    const c = await connect(`${t.url}/announce`);
    c.send('{not json');
    expect((await c.next())['failure reason']).toBe('frame is not JSON');
    c.send({ action: 'dance', info_hash: ih });
    expect(await c.next()).toEqual({ action: 'announce', 'failure reason': 'unknown action', info_hash: ih });
    c.send({ action: 'announce', info_hash: ih, peer_id: 'x'.repeat(19) + '\u0100' });
    expect((await c.next())['failure reason']).toMatch(/peer_id must be 20 characters/);
    c.send({ action: 'scrape' });
    expect((await c.next())['failure reason']).toMatch(/full scrape is off/);
    // binary frames close the socket (1003), oversized ones too (1009)
    const binary = await connect(`${t.url}/announce`);
    binary.ws.send(Buffer.from([1, 2, 3]));
    expect(await binary.closed).toBe(1003);
    const big = await connect(`${t.url}/announce`);
    big.send({ action: 'announce', info_hash: ih, peer_id: wsId('big'), offers: [{ offer_id: wsId('o'), offer: { sdp: 'x'.repeat(70_000) } }] });
    expect(await big.closed).toBe(1009);
    // the tracker and the other sockets keep working, over WebSocket and HTTP
    expect(await bystander.announce({ info_hash: ih, peer_id: wsId('by'), left: 0 })).toMatchObject({ complete: 1 });
    const http = await rawGet(t.app.port, `/tracker/scrape?info_hash=${escapeAll(randomBytes(20))}`);
    expect(http.status).toBe(200);
    // a path that is not the tracker's is not taken
    await expect(WsTestClient.open(`ws://127.0.0.1:${t.app.port}/elsewhere`)).rejects.toThrow(/404/);
  });
});

describe('where WebTorrent swarms live', () => {
  it('beside the main swarms in a store whose bus relays offers (Redis); in process memory otherwise', async () => {
    const { default: Keyv } = await import('keyv');
    const { MemorySwarmStore } = await import('../../src/swarm/memory/memory-store.js');
    const { KeyvSwarmStore } = await import('../../src/swarm/keyv/keyv-store.js');
    const store = new KeyvSwarmStore(new Keyv(), { claimSettle: 5 });
    const t = await start({ store });
    try {
      await t.app.router.tracker.whenReady();
      // a Keyv store has no bus: an offer could never reach another instance's peer
      expect(t.app.router.tracker.webrtcSwarms()).toBeInstanceOf(MemorySwarmStore);
      const c = await connect(`${t.url}/announce`);
      expect(await c.announce({ info_hash: wsId('kv'), peer_id: wsId('p'), left: 0 })).toMatchObject({ complete: 1 });
    } finally {
      await t.close();
      await store.close();
    }
  });
});

describe('WebSocket limits and timeouts', () => {
  it('a flood of frames closes the socket (1008); a socket that stops answering pings is cut; an idle one is closed', async () => {
    const t = await start({}, { framesPerSecond: 5, pingInterval: 0.2, idleTimeout: 0.6 });
    try {
      const flood = await connect(`${t.url}/announce`);
      for (let i = 0; i < 200; i++) flood.send({ action: 'scrape', info_hash: wsId('flood') });
      expect(await flood.closed).toBe(1008);
      // no pong: terminated (the client sees an abnormal close, 1006)
      const deaf = await WsTestClient.open(`${t.url}/announce`, { autoPong: false });
      clients.push(deaf);
      expect(await deaf.closed).toBe(1006);
      // answers pings but sends nothing: closed as idle after idleTimeout
      const idle = await connect(`${t.url}/announce`);
      const started = Date.now();
      expect(await idle.closed).toBe(1000);
      expect(Date.now() - started).toBeGreaterThanOrEqual(500);
      await until(async () => t.wss.connectionCount === 0);
    } finally {
      await t.close();
    }
  });

  it('caps torrents per socket and open sockets', async () => {
    const t = await start({}, { maxPeersPerConnection: 2, maxConnections: 2 });
    try {
      const c = await connect(`${t.url}/announce`);
      await c.announce({ info_hash: wsId('t1'), peer_id: wsId('p'), left: 0 });
      await c.announce({ info_hash: wsId('t2'), peer_id: wsId('p'), left: 0 });
      expect((await c.announce({ info_hash: wsId('t3'), peer_id: wsId('p'), left: 0 }))['failure reason']).toMatch(/too many torrents/);
      expect(await c.announce({ info_hash: wsId('t1'), peer_id: wsId('p'), left: 0 })).toMatchObject({ complete: 1 }); // existing ones still work
      await connect(`${t.url}/announce`);
      await expect(WsTestClient.open(`${t.url}/announce`)).rejects.toThrow(/503/);
    } finally {
      await t.close();
    }
  });
});

describe('WebSocket tracker in private mode', () => {
  const users: Record<string, string> = { alicekey1: 'alice', bobkey22: 'bob' };
  const records: TrafficRecord[] = [];
  let t: Running;
  const registered = wsId('registered');
  beforeAll(async () => {
    t = await start({
      passkey: (k) => users[k] ?? null,
      torrents: (hex) => hex === Buffer.from(registered, 'latin1').toString('hex'),
      clients: { deny: ['-XX'] },
      onTraffic: (batch) => void records.push(...batch),
      trafficInterval: 3600,
    });
  });
  afterAll(async () => {
    await t.close();
  });

  it('applies passkeys, registered torrents, client rules and accounting as over HTTP', async () => {
    const bare = await connect(`${t.url}/announce`);
    expect((await bare.announce({ info_hash: registered, peer_id: wsId('x'), left: 0 }))['failure reason']).toMatch(/private/);
    const stranger = await connect(`${t.url}/nobody123/announce`);
    expect((await stranger.announce({ info_hash: registered, peer_id: wsId('x'), left: 0 }))['failure reason']).toBe('unknown or disabled passkey');
    const alice = await connect(`${t.url}/alicekey1/announce`);
    expect((await alice.announce({ info_hash: wsId('unknown'), peer_id: wsId('a'), left: 0 }))['failure reason']).toBe('unregistered torrent');
    expect((await alice.announce({ info_hash: registered, peer_id: wsId('-XX0001-'), left: 0 }))['failure reason']).toMatch(/client/);
    expect(await alice.announce({ info_hash: registered, peer_id: wsId('-WW0001-a'), left: 1000, event: 'started', uploaded: 0, downloaded: 0 })).toMatchObject({ complete: 0, incomplete: 1 });
    const bob = await connect(`${t.url}/bobkey22/announce`);
    expect(await bob.announce({ info_hash: registered, peer_id: wsId('-WW0001-b'), left: 1000, event: 'started', uploaded: 0, downloaded: 0 })).toMatchObject({ complete: 0, incomplete: 2 });
    // Alice completes (a counted completion passes the min interval at once) having uploaded 500
    // bytes, then her browser tab closes: the close is her `stopped`.
    expect(await alice.announce({ info_hash: registered, peer_id: wsId('-WW0001-a'), left: 0, event: 'completed', uploaded: 500, downloaded: 0 })).toMatchObject({ complete: 1 });
    await alice.close();
    await bob.close();
    await t.app.router.tracker.flushTraffic();
    const hex = Buffer.from(registered, 'latin1').toString('hex');
    const byUser = (u: string) => records.filter((r) => r.user === u && r.infoHash === hex);
    expect(byUser('alice').reduce((n, r) => n + r.uploaded, 0)).toBe(500);
    expect(byUser('bob').reduce((n, r) => n + r.downloaded, 0)).toBe(0);
  });
});

describe('WebSocket fuzz', () => {
  it('100 000 seeded random frames: failures or answers, never a crash; the tracker still works', async () => {
    const t = await start({}, { framesPerSecond: 1e9, maxPayload: 4096 });
    const failures: unknown[] = [];
    t.app.router.tracker.on('failure', (f) => failures.push(f));
    try {
      const random = prng(0x5eed);
      const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)];
      const str = (n: number) => Array.from({ length: n }, () => String.fromCharCode(Math.floor(random() * (random() < 0.9 ? 256 : 0x3000)))).join('');
      const makers: Array<() => unknown> = [() => null, () => true, () => -1, () => 0, () => 1e300, () => 'x', () => str(20), () => str(19), () => str(21), () => [], () => ({}), () => [str(20)], () => ({ type: 'offer', sdp: str(10) })];
      const values = () => pick(makers)();
      const fixedIds = [wsId('fz1'), wsId('fz2'), wsId('fz3')];
      const fields = ['action', 'info_hash', 'peer_id', 'to_peer_id', 'offer_id', 'offers', 'answer', 'offer', 'event', 'left', 'uploaded', 'downloaded', 'numwant'];
      const frame = (): string => {
        const kind = random();
        if (kind < 0.05) return str(Math.floor(random() * 200));
        const m: Record<string, unknown> = { action: pick(['announce', 'scrape', 'announce', 'other', undefined]) };
        const id = () => (random() < 0.75 ? pick(fixedIds) : random() < 0.5 ? str(20) : values());
        if (random() < 0.9) m.info_hash = id();
        if (random() < 0.9) m.peer_id = id();
        for (const f of fields) if (random() < 0.2) m[f] = values();
        if (random() < 0.3) m.offers = Array.from({ length: Math.floor(random() * 12) }, () => (random() < 0.8 ? { offer_id: random() < 0.7 ? str(20) : values(), offer: random() < 0.7 ? { sdp: 'x' } : values() } : values()));
        if (random() < 0.1) m.answer = { type: 'answer' };
        if (random() < 0.1) m.to_peer_id = id();
        if (random() < 0.1) m.offer_id = str(20);
        const text = JSON.stringify(m);
        return random() < 0.02 ? text.slice(0, Math.floor(random() * text.length)) : text;
      };
      const sockets = await Promise.all(Array.from({ length: 4 }, () => connect(`${t.url}/announce`)));
      let answered = 0;
      for (const s of sockets) s.ws.on('message', () => answered++);
      const TOTAL = 100_000;
      for (let i = 0; i < TOTAL; i++) {
        const s = sockets[i % sockets.length];
        s.send(frame());
        if (i % 2000 === 1999) await new Promise((r) => setImmediate(r)); // let the answers flow
      }
      // every socket is still open and served
      for (const s of sockets) {
        s.send({ action: 'scrape', info_hash: wsId('fz1') });
        await s.next((f) => f.action === 'scrape' && f.files !== undefined, 30_000);
      }
      expect(sockets.every((s) => s.ws.readyState === 1)).toBe(true);
      expect(answered).toBeGreaterThan(TOTAL / 2);
      expect(failures.every((f) => typeof (f as { reason: unknown }).reason === 'string')).toBe(true);
      expect(failures.some((f) => (f as { reason: string }).reason === 'internal tracker error')).toBe(false);
      const ok = await connect(`${t.url}/announce`);
      expect(await ok.announce({ info_hash: wsId('after'), peer_id: wsId('after'), left: 0 })).toMatchObject({ complete: 1 });
    } finally {
      await t.close();
    }
  }, 120_000);
});
