/**
 * Private and controlled trackers over real HTTP: passkeys, registered torrents, client rules,
 * enforced intervals, peer ownership and traffic accounting, on the memory, Redis and SQLite stores.
 * No passkey may reach any event, error or log line.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/swarm/open.js';
import type { SwarmStore } from '../../src/swarm/types.js';
import type { TrackerOptions } from '../../src/tracker.js';
import type { TrafficRecord } from '../../src/policy/traffic.js';
import { decodeDict, failureOf } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet, startApp, type RunningApp } from '../helpers/http.js';
import { reachable, REDIS_URL, uniqueName } from '../helpers/store-services.js';

const USERS: Record<string, string | number> = { alicePasskey0123456789abcdefABCD: 'alice', bobPasskey_9876543210: 42, 'carol.pk~-': 'carol' };
const [ALICE, BOB, CAROL] = Object.keys(USERS);

interface Ann {
  ih: Buffer;
  id: Buffer;
  port?: number;
  up?: number;
  down?: number;
  left?: number;
  event?: string;
  extra?: string;
}

function query(a: Ann): string {
  const event = a.event ? `&event=${a.event}` : '';
  return `info_hash=${escapeAll(a.ih)}&peer_id=${escapeAll(a.id)}&port=${a.port ?? 6881}&uploaded=${a.up ?? 0}&downloaded=${a.down ?? 0}&left=${a.left ?? 100}${event}${a.extra ?? ''}`;
}

const peerId = (prefix = '-qB4650-') => Buffer.concat([Buffer.from(prefix, 'latin1'), randomBytes(20 - prefix.length)]);

const redisUp = await reachable(REDIS_URL);
const dir = mkdtempSync(path.join(os.tmpdir(), 'ett-private-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type StoreKind = 'memory' | 'redis' | 'sqlite';
const kinds: StoreKind[] = ['memory', 'redis', 'sqlite'];
if (!redisUp && process.env.CI === 'true') throw new Error('Redis is not reachable; required under CI=true');

describe.each(kinds.filter((k) => k !== 'redis' || redisUp))('private tracker over HTTP (%s store)', (kind) => {
  const stores: SwarmStore[] = [];
  const apps: RunningApp[] = [];

  async function storeFor(): Promise<SwarmStore | undefined> {
    if (kind === 'memory') return undefined;
    const uri = kind === 'redis' ? REDIS_URL : `sqlite://${path.join(dir, `${uniqueName('db')}.sqlite`)}`;
    const { store } = await openStore(uri, { namespace: uniqueName('priv') });
    stores.push(store);
    return store;
  }

  async function start(options: TrackerOptions = {}): Promise<RunningApp & { records: TrafficRecord[]; calls: string[] }> {
    const calls: string[] = [];
    const records: TrafficRecord[] = [];
    const app = await startApp({
      interval: 60,
      intervalJitter: 0,
      minInterval: 30,
      store: await storeFor(),
      passkey: (pk) => {
        calls.push(pk);
        return USERS[pk] ?? null;
      },
      onTraffic: (batch) => void records.push(...batch),
      ...options,
    });
    apps.push(app);
    return Object.assign(app, { records, calls });
  }

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close?.()));
  });

  const announce = async (app: RunningApp, pk: string | undefined, a: Ann, localAddress?: string) => {
    const res = await rawGet(app.port, `/tracker${pk === undefined ? '' : `/${pk}`}/announce?${query(a)}`, { localAddress });
    expect(res.status).toBe(200);
    return { res, failure: failureOf(res.body), dict: decodeDict(res.body) };
  };
  const scrape = async (app: RunningApp, pk: string, ih: Buffer) => {
    const d = decodeDict((await rawGet(app.port, `/tracker/${pk}/scrape?info_hash=${escapeAll(ih)}`)).body);
    const files = d.files as Record<string, Record<string, number>> | undefined;
    return files ? Object.values(files)[0] : undefined;
  };

  it('answers announces and scrapes under /<passkey>/, refuses bare paths and unknown passkeys', async () => {
    const app = await start();
    const ih = randomBytes(20);
    const ok = await announce(app, ALICE, { ih, id: peerId(), event: 'started' });
    expect(ok.failure).toBeUndefined();
    expect(ok.dict).toMatchObject({ complete: 0, incomplete: 1, interval: 60 });
    expect((await announce(app, undefined, { ih, id: peerId() })).failure).toMatch(/private.*passkey/);
    expect((await announce(app, 'nobody1234', { ih, id: peerId() })).failure).toBe('unknown or disabled passkey');
    expect(await scrape(app, BOB, ih)).toEqual({ complete: 0, incomplete: 1, downloaded: 0, downloaders: 1 });
    expect(failureOf((await rawGet(app.port, `/tracker/scrape?info_hash=${escapeAll(ih)}`)).body)).toMatch(/private/);
    expect(failureOf((await rawGet(app.port, `/tracker/nobody1234/scrape?info_hash=${escapeAll(ih)}`)).body)).toBe('unknown or disabled passkey');
    // Malformed passkeys never reach the site's function.
    const before = app.calls.length;
    expect((await announce(app, 'x'.repeat(129), { ih, id: peerId() })).failure).toMatch(/too long/);
    expect((await announce(app, 'a%2Fb', { ih, id: peerId() })).failure).toMatch(/may only contain/);
    expect((await announce(app, 'a+b', { ih, id: peerId() })).failure).toMatch(/may only contain/);
    expect(app.calls.length).toBe(before);
    // Answers are cached: many announces, one call per passkey.
    for (let i = 0; i < 5; i++) await announce(app, ALICE, { ih, id: peerId(), event: 'started' });
    expect(app.calls.filter((c) => c === ALICE)).toHaveLength(1);
  });

  it('a peer belongs to the user that announced it: others can neither move, update, stop nor be credited for it', async () => {
    const app = await start({ enforceInterval: false });
    const ih = randomBytes(20);
    const id = peerId();
    expect((await announce(app, ALICE, { ih, id, event: 'started', port: 7000 })).failure).toBeUndefined();
    const hijacks = [
      { event: 'stopped' },
      { event: undefined, up: 1_000_000 },
      { event: 'started', port: 9999 },
      { event: 'completed', left: 0 },
    ];
    for (const h of hijacks) {
      const r = await announce(app, BOB, { ih, id, ...h }); // same address (one NAT): the owner rule refuses
      expect(r.failure).toBe('this peer_id is in use by another user of this torrent');
    }
    expect(await scrape(app, ALICE, ih)).toEqual({ complete: 0, incomplete: 1, downloaded: 0, downloaders: 1 });
    const other = await announce(app, CAROL, { ih, id: peerId(), event: 'started' });
    const peers = Buffer.from(other.dict.peers as Uint8Array);
    expect(peers.readUInt16BE(4)).toBe(7000); // still Alice's address and port
    await app.router.tracker.flushTraffic();
    expect(app.records.filter((r) => r.user === 42)).toEqual([]);
    // The owner can stop it.
    expect((await announce(app, ALICE, { ih, id, event: 'stopped' })).failure).toBeUndefined();
    expect(await scrape(app, ALICE, ih)).toMatchObject({ incomplete: 1 });
  });

  it('enforces min interval on regular announces, changing nothing; events always pass', async () => {
    const app = await start({ interval: 60, minInterval: 30 });
    const ih = randomBytes(20);
    const id = peerId();
    expect((await announce(app, ALICE, { ih, id, event: 'started' })).failure).toBeUndefined();
    const early = await announce(app, ALICE, { ih, id, up: 5000, down: 100, left: 0 });
    expect(early.failure).toMatch(/^announced too soon: wait \d+ more seconds \(min interval 30 s\)$/);
    expect(await scrape(app, ALICE, ih)).toEqual({ complete: 0, incomplete: 1, downloaded: 0, downloaders: 1 }); // still a leecher
    await app.router.tracker.flushTraffic();
    expect(app.records).toEqual([]); // no credit for the refused announce
    // completed and stopped pass at once and are credited against the last accepted announce.
    expect((await announce(app, ALICE, { ih, id, event: 'completed', up: 10, down: 100, left: 0 })).failure).toBeUndefined();
    expect(await scrape(app, ALICE, ih)).toEqual({ complete: 1, incomplete: 0, downloaded: 1, downloaders: 0 });
    expect((await announce(app, ALICE, { ih, id, event: 'stopped', up: 30, down: 100, left: 0 })).failure).toBeUndefined();
    await app.router.tracker.flushTraffic();
    expect(app.records).toEqual([
      { user: 'alice', infoHash: ih.toString('hex'), uploaded: 30, downloaded: 100, rawUploaded: 30, rawDownloaded: 100, seedSeconds: expect.any(Number), completed: 1 },
    ]);
    // Another peer of the same user has its own clock.
    expect((await announce(app, ALICE, { ih, id: peerId(), event: 'started' })).failure).toBeUndefined();
  });

  it('credits exact deltas per (user, torrent) with the torrent factors; restarts and started set baselines', async () => {
    const free = randomBytes(20);
    const double = randomBytes(20);
    const app = await start({
      enforceInterval: false,
      torrents: (hex) => (hex === free.toString('hex') ? { downloadFactor: 0 } : hex === double.toString('hex') ? { uploadFactor: 2 } : false),
    });
    const a = peerId();
    const b = peerId('-TR4000-');
    await announce(app, ALICE, { ih: free, id: a, event: 'started', up: 0, down: 0 });
    await announce(app, ALICE, { ih: free, id: a, up: 100, down: 1000 });
    await announce(app, ALICE, { ih: free, id: a, up: 50, down: 1500 }); // restart: new baseline
    await announce(app, ALICE, { ih: free, id: a, up: 80, down: 1600 });
    await announce(app, ALICE, { ih: double, id: a, up: 500, down: 500 }); // first on this torrent: baseline
    await announce(app, ALICE, { ih: double, id: a, up: 700, down: 600, event: 'stopped' });
    await announce(app, BOB, { ih: double, id: b, event: 'started', up: 1000 });
    await announce(app, BOB, { ih: double, id: b, event: 'started', up: 3000 }); // started: baseline again
    await announce(app, BOB, { ih: double, id: b, up: 3001, down: 7 });
    await app.router.tracker.close();
    const sum = (user: string | number, ih: Buffer) => app.records.filter((r) => r.user === user && r.infoHash === ih.toString('hex'));
    expect(sum('alice', free)).toEqual([
      { user: 'alice', infoHash: free.toString('hex'), uploaded: 130, downloaded: 0, rawUploaded: 130, rawDownloaded: 1100, seedSeconds: 0, completed: 0 },
    ]);
    expect(sum('alice', double)).toEqual([
      { user: 'alice', infoHash: double.toString('hex'), uploaded: 400, downloaded: 100, rawUploaded: 200, rawDownloaded: 100, seedSeconds: 0, completed: 0 },
    ]);
    expect(sum(42, double)).toEqual([
      { user: 42, infoHash: double.toString('hex'), uploaded: 2, downloaded: 7, rawUploaded: 1, rawDownloaded: 7, seedSeconds: 0, completed: 0 },
    ]);
  });

  it('registered torrents only: unknown hashes are refused, never stored, and left out of scrapes', async () => {
    const known = randomBytes(20);
    const unknown = randomBytes(20);
    const app = await start({ torrents: (hex) => hex === known.toString('hex') });
    expect((await announce(app, ALICE, { ih: unknown, id: peerId(), event: 'started' })).failure).toBe('unregistered torrent');
    expect((await announce(app, ALICE, { ih: known, id: peerId(), event: 'started' })).failure).toBeUndefined();
    const res = await rawGet(app.port, `/tracker/${ALICE}/scrape?info_hash=${escapeAll(known)}&info_hash=${escapeAll(unknown)}`);
    const files = decodeDict(res.body).files as Record<string, unknown>;
    expect(Object.keys(files).map((k) => Buffer.from(k, 'latin1').toString('hex'))).toEqual([known.toString('hex')]);
    const counts = await (app.router.tracker.swarmStore as SwarmStore).scrape([unknown]);
    expect(counts[0]).toEqual({ complete: 0, incomplete: 0, downloaded: 0, downloaders: 0 });
  });

  it('the built-in registry: addTorrent (by hash or createTorrent result) with rules, removeTorrent, seen at once', async () => {
    const app = await start({ torrents: 'registry', enforceInterval: false });
    const ih = randomBytes(20);
    const id = peerId();
    expect((await announce(app, ALICE, { ih, id, event: 'started' })).failure).toBe('unregistered torrent');
    await app.router.addTorrent({ infoHash: ih.toString('hex') }, { downloadFactor: 0 });
    expect((await announce(app, ALICE, { ih, id, event: 'started' })).failure).toBeUndefined();
    expect((await announce(app, ALICE, { ih, id, down: 1000 })).failure).toBeUndefined();
    await app.router.tracker.flushTraffic();
    expect(app.records).toMatchObject([{ user: 'alice', downloaded: 0, rawDownloaded: 1000 }]);
    expect(await app.router.removeTorrent(ih)).toBe(true);
    expect((await announce(app, ALICE, { ih, id })).failure).toBe('unregistered torrent');
    await expect(app.router.addTorrent('zz')).rejects.toThrow(TypeError);
  });

  it('the registry of a store opened a moment ago: add and remove are stored, not dropped', async () => {
    const store = (await storeFor()) ?? (await openStore(undefined)).store;
    const ih = randomBytes(20);
    await store.registry!.add(ih, { uploadFactor: 3 });
    expect(await store.registry!.get(ih)).toEqual({ uploadFactor: 3 });
    expect(await store.registry!.remove(ih)).toBe(true);
    expect(await store.registry!.get(ih)).toBeUndefined();
    expect(await store.registry!.remove(ih)).toBe(false);
  });

  it('client rules compare peer_id prefixes', async () => {
    const app = await start({ clients: { allow: ['-qB', '-TR'], deny: ['-TR2'] } });
    const ih = randomBytes(20);
    expect((await announce(app, ALICE, { ih, id: peerId('-qB4650-'), event: 'started' })).failure).toBeUndefined();
    expect((await announce(app, ALICE, { ih, id: peerId('-TR2940-'), event: 'started' })).failure).toMatch(/client is not allowed/);
    expect((await announce(app, ALICE, { ih, id: peerId('-UT3550-'), event: 'started' })).failure).toMatch(/client is not allowed/);
    expect(await scrape(app, ALICE, ih)).toEqual({ complete: 0, incomplete: 1, downloaded: 0, downloaders: 1 });
  });

  it('any mix of bad passkey, torrent, client and interval: one failure reason, HTTP 200, no state, no credit', async () => {
    const known = randomBytes(20);
    const app = await start({ torrents: (hex) => hex === known.toString('hex'), clients: { deny: ['-XL'] } });
    const id = peerId();
    expect((await announce(app, ALICE, { ih: known, id, event: 'started' })).failure).toBeUndefined();
    const bad = { pk: ['nobody1234', 'bad key'], ih: [randomBytes(20)], client: [peerId('-XL0012-')], early: [true] };
    let n = 0;
    for (const pk of [ALICE, ...bad.pk]) {
      for (const ih of [known, ...bad.ih]) {
        for (const pid of [id, ...bad.client]) {
          if (pk === ALICE && ih === known && pid === id) continue; // the valid one (it would be early)
          const res = await rawGet(app.port, `/tracker/${encodeURI(pk)}/announce?${query({ ih, id: pid, up: 999, down: 999, left: 0 })}`);
          expect(res.status).toBe(200);
          const d = decodeDict(res.body);
          expect(Object.keys(d)).toEqual(['failure reason']);
          n++;
        }
      }
    }
    // The valid request, but too early: refused by the interval rule.
    expect((await announce(app, ALICE, { ih: known, id, up: 999, down: 999, left: 0 })).failure).toMatch(/too soon/);
    expect(n).toBe(11);
    expect(await scrape(app, ALICE, known)).toEqual({ complete: 0, incomplete: 1, downloaded: 0, downloaders: 1 });
    await app.router.tracker.flushTraffic();
    expect(app.records).toEqual([]);
  });

  it('a passkey function that throws or hangs gives a failure reason within storeTimeout and a failure event', async () => {
    let mode: 'throw' | 'hang' | 'ok' = 'throw';
    const app = await start({
      storeTimeout: 500,
      passkey: (pk) => {
        if (mode === 'throw') throw new Error('users table is down');
        if (mode === 'hang') return new Promise(() => undefined);
        return USERS[pk] ?? null;
      },
    });
    const failures: Array<{ reason: string; error?: unknown }> = [];
    app.router.tracker.on('failure', (f: { reason: string; error?: unknown }) => failures.push(f));
    const ih = randomBytes(20);
    expect((await announce(app, ALICE, { ih, id: peerId() })).failure).toBe('the passkey check failed, try again later');
    mode = 'hang';
    const t0 = Date.now();
    const [x, y] = await Promise.all([announce(app, BOB, { ih, id: peerId() }), announce(app, BOB, { ih, id: peerId() })]);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(x.failure).toBe('the passkey check did not answer in time, try again later');
    expect(y.failure).toBe(x.failure);
    expect(failures.map((f) => f.reason)).toEqual([
      'the passkey check failed, try again later',
      'the passkey check did not answer in time, try again later',
      'the passkey check did not answer in time, try again later',
    ]);
    expect(((failures[0].error as Error).cause as Error).message).toBe('users table is down');
    mode = 'ok';
    expect((await announce(app, ALICE, { ih, id: peerId(), event: 'started' })).failure).toBeUndefined();
  });

  it('forgetPasskey drops a cached answer at once', async () => {
    const users = { ...USERS };
    const app = await start({ passkey: (pk) => users[pk] ?? null });
    const ih = randomBytes(20);
    expect((await announce(app, CAROL, { ih, id: peerId(), event: 'started' })).failure).toBeUndefined();
    delete users[CAROL];
    expect((await announce(app, CAROL, { ih, id: peerId(), event: 'started' })).failure).toBeUndefined(); // cached
    await app.router.forgetPasskey(CAROL);
    expect((await announce(app, CAROL, { ih, id: peerId(), event: 'started' })).failure).toBe('unknown or disabled passkey');
  });

  it('no passkey in any event, error or log line; events carry the user', async () => {
    const seen: string[] = [];
    const capture = (chunk: unknown) => seen.push(String(chunk));
    const original = { log: console.log, warn: console.warn, error: console.error, info: console.info, debug: console.debug };
    const out = process.stdout.write.bind(process.stdout);
    const err = process.stderr.write.bind(process.stderr);
    for (const k of Object.keys(original) as Array<keyof typeof original>) console[k] = (...a: unknown[]) => capture(a.map(String).join(' '));
    process.stdout.write = ((c: unknown, ...r: unknown[]) => (capture(c), out(c as string, ...(r as [])))) as typeof process.stdout.write;
    process.stderr.write = ((c: unknown, ...r: unknown[]) => (capture(c), err(c as string, ...(r as [])))) as typeof process.stderr.write;
    try {
      let failNext = false;
      const app = await start({
        torrents: (hex) => hex[0] !== 'f',
        clients: { deny: ['-XL'] },
        passkey: (pk) => {
          if (failNext) throw new Error('lookup failed');
          return USERS[pk] ?? null;
        },
      });
      const tracker = app.router.tracker;
      const events: unknown[] = [];
      const originalEmit = tracker.emit.bind(tracker);
      tracker.emit = (name: string | symbol, ...args: unknown[]) => {
        events.push({ name: String(name), args });
        return originalEmit(name, ...args);
      };
      tracker.on('failure', () => undefined);
      tracker.on('announce', () => undefined);
      const ih = Buffer.concat([Buffer.from([0x11]), randomBytes(19)]);
      const unreg = Buffer.concat([Buffer.from([0xf1]), randomBytes(19)]);
      const id = peerId();
      await announce(app, ALICE, { ih, id, event: 'started' });
      await announce(app, ALICE, { ih, id });
      await announce(app, ALICE, { ih: unreg, id });
      await announce(app, ALICE, { ih, id: peerId('-XL0012-') });
      await announce(app, BOB, { ih, id, event: 'stopped' });
      await announce(app, 'secretButUnknownKey77', { ih, id });
      failNext = true;
      await announce(app, CAROL, { ih, id: peerId() });
      failNext = false;
      await app.router.forgetPasskey(ALICE);
      await rawGet(app.port, `/tracker/${ALICE}/scrape?info_hash=${escapeAll(ih)}`);
      await rawGet(app.port, `/tracker/${ALICE}/nothing`);
      await app.router.tracker.flushTraffic();
      await app.close();
      apps.splice(apps.indexOf(app), 1);
      const announceEvents = events.filter((e) => (e as { name: string }).name === 'announce');
      expect(announceEvents.length).toBeGreaterThanOrEqual(1);
      expect((announceEvents[0] as { args: [{ user: unknown }] }).args[0].user).toBe('alice');
      const text = JSON.stringify(events, (_k, v: unknown) =>
        v instanceof Error ? { message: v.message, stack: v.stack, cause: v.cause } : typeof v === 'bigint' ? String(v) : v,
      ) + seen.join('\n');
      for (const pk of [ALICE, BOB, CAROL, 'secretButUnknownKey77']) expect(text).not.toContain(pk);
    } finally {
      Object.assign(console, original);
      process.stdout.write = out as typeof process.stdout.write;
      process.stderr.write = err as typeof process.stderr.write;
    }
  });
});

describe('public trackers with policies', () => {
  let app: RunningApp;
  beforeAll(async () => {
    const known = Buffer.alloc(20, 7);
    app = await startApp({ torrents: (hex) => hex === known.toString('hex'), enforceInterval: true, minInterval: 30 });
  });
  afterAll(() => app.close());

  it('registered torrents and interval enforcement work without passkeys; passkey paths are not ours', async () => {
    const known = Buffer.alloc(20, 7);
    const id = peerId();
    const at = (q: string) => rawGet(app.port, `/tracker/announce?${q}`);
    expect(failureOf((await at(query({ ih: randomBytes(20), id }))).body)).toBe('unregistered torrent');
    expect(failureOf((await at(query({ ih: known, id }))).body)).toBeUndefined();
    expect(failureOf((await at(query({ ih: known, id }))).body)).toMatch(/too soon/);
    expect((await rawGet(app.port, `/tracker/somekey/announce?${query({ ih: known, id })}`)).status).toBe(404);
  });

  it('rejects bad options as programming errors', async () => {
    await expect(startApp({ onTraffic: () => undefined })).rejects.toThrow(/needs options.passkey/);
    await expect(startApp({ torrents: 'all' as never })).rejects.toThrow(TypeError);
  });
});
