/**
 * Per-torrent history (`tracker.history()`, src/history/): exact bucket counts under a scripted clock
 * on the memory store, on Redis with two instances (global), and on Keyv (SQLite; per instance and
 * merged on read, a restarted instance continuing its own pages);
 * a hybrid torrent recorded once under its v1 hash; windows bounded and rings overwritten in place;
 * the memory per torrent measured.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import KeyvSqlite from '@keyv/sqlite';
import { createClient } from '@keyv/redis';
import Keyv from 'keyv';
import { afterAll, describe, expect, it } from 'vitest';
import { Tracker, type TrackerOptions } from '../../src/tracker.js';
import { MemorySwarmStore } from '../../src/swarm/memory/memory-store.js';
import { KeyvSwarmStore } from '../../src/swarm/keyv/keyv-store.js';
import { openStore } from '../../src/swarm/open.js';
import type { SwarmStore } from '../../src/swarm/types.js';
import { fakeClock, type FakeClock } from '../../src/swarm/contract/index.js';
import type { Core } from '../../src/core/assemble.js';
import type { HistoryBucket } from '../../src/history/buckets.js';
import { MEMORY_HISTORY_BYTES, MemoryHistory } from '../../src/history/memory-history.js';
import { failureOf } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { describeService, reachable, REDIS_URL, uniqueName } from '../helpers/store-services.js';

const hex40 = (): string => randomBytes(20).toString('hex');
const T0 = Date.UTC(2026, 5, 1, 10, 0, 0);
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

const dir = mkdtempSync(join(tmpdir(), 'ett-history-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Script the tracker's history clock (the recorder's `now`). */
function scriptClock(tracker: Tracker, clock: FakeClock): void {
  (tracker as unknown as { core: Core }).core.history!.now = clock.now;
}

interface Peer {
  id: string;
  ip?: string;
  left?: number;
  event?: string;
}

async function announce(tracker: Tracker, infoHash: string, peer: Peer): Promise<void> {
  const query = [
    `info_hash=${escapeAll(Buffer.from(infoHash, 'hex'))}`,
    `peer_id=${escapeAll(Buffer.from(peer.id, 'latin1'))}`,
    'port=6881',
    'uploaded=0',
    'downloaded=0',
    `left=${peer.left ?? 1000}`,
    'compact=1',
    ...(peer.event ? [`event=${peer.event}`] : []),
  ].join('&');
  const answer = await tracker.announce(query, peer.ip ?? '10.0.0.1');
  expect(failureOf(answer)).toBeUndefined();
}

/** The non-empty buckets, as `[start offset from T0 in ms, announces, completed, peakSeeders, peakLeechers]`. */
function filled(buckets: HistoryBucket[]): number[][] {
  return buckets.filter((b) => b.announces > 0).map((b) => [b.start - T0, b.announces, b.completed, b.peakSeeders, b.peakLeechers]);
}

const A = '-qB4650-aaaaaaaaaaaa';
const B = '-qB4650-bbbbbbbbbbbb';
const S = '-TR3000-ssssssssssss';

/**
 * The script every backend plays: minute 0, two leechers and a seeder; minute 1, leecher A
 * completes (counted) and repeats it (not counted); two hours later, one more announce.
 */
async function play(announceOn: (i: number, infoHash: string, peer: Peer) => Promise<void>, clock: FakeClock, torrent: string): Promise<void> {
  await announceOn(0, torrent, { id: A, ip: '10.0.0.1', event: 'started' });
  await announceOn(1, torrent, { id: B, ip: '10.0.0.2', event: 'started' });
  clock.advance(30);
  await announceOn(0, torrent, { id: S, ip: '10.0.0.3', left: 0, event: 'started' });
  clock.advance(60);
  await announceOn(1, torrent, { id: A, ip: '10.0.0.1', left: 0, event: 'completed' });
  await announceOn(0, torrent, { id: A, ip: '10.0.0.1', left: 0, event: 'completed' });
  clock.advance(2 * 3600);
}

async function expectScript(read: (resolution: 'minute' | 'hour' | 'day') => Promise<HistoryBucket[]>): Promise<void> {
  const minutes = await read('minute');
  expect(minutes).toHaveLength(1440);
  expect(minutes.at(-1)!.start).toBe(T0 + 2 * HOUR + MINUTE);
  expect(filled(minutes)).toEqual([
    [0, 3, 0, 1, 2],
    [MINUTE, 2, 1, 2, 1],
    [2 * HOUR + MINUTE, 1, 0, 0, 1], // the others expired (peerTtl)
  ]);
  const hours = await read('hour');
  expect(hours).toHaveLength(720);
  expect(filled(hours)).toEqual([
    [0, 5, 1, 2, 2],
    [2 * HOUR, 1, 0, 0, 1],
  ]);
  const days = await read('day');
  expect(days).toHaveLength(365);
  expect(filled(days)).toEqual([[-10 * HOUR, 6, 1, 2, 2]]);
}

interface Backend {
  name: string;
  /** `instances` trackers on one store (Redis: one namespace, separate stores). */
  open(clock: FakeClock, instances: number, options?: TrackerOptions): Promise<{ trackers: Tracker[]; dispose(): Promise<void> }>;
}

const memory: Backend = {
  name: 'memory',
  async open(clock, instances, options) {
    const store = new MemorySwarmStore({ now: clock.now });
    const trackers = Array.from({ length: instances }, () => new Tracker({ store, history: true, ...options }));
    return {
      trackers,
      async dispose() {
        for (const t of trackers) await t.close();
        await store.close();
      },
    };
  },
};

const redis: Backend = {
  name: 'redis',
  async open(clock, instances, options) {
    const namespace = uniqueName('etthist');
    const stores: SwarmStore[] = [];
    for (let i = 0; i < instances; i++) stores.push((await openStore(REDIS_URL, { namespace, now: clock.now })).store);
    const trackers = stores.map((store) => new Tracker({ store, history: true, ...options }));
    return {
      trackers,
      async dispose() {
        for (const t of trackers) await t.close();
        for (const s of stores) await s.close?.();
        const raw = createClient({ url: REDIS_URL });
        raw.on('error', () => undefined);
        await raw.connect();
        const keys = await raw.keys(`${namespace}*`);
        if (keys.length > 0) await raw.del(keys);
        await raw.close();
      },
    };
  },
};

let files = 0;
const keyvSqlite: Backend = {
  name: 'keyv (sqlite)',
  async open(clock, instances, options) {
    // `instances` stores (instance slots) on one database, a tracker on each.
    const keyv = new Keyv(new KeyvSqlite({ uri: `sqlite://${join(dir, `h${files++}.sqlite`)}` }));
    const stores = Array.from({ length: instances }, () => new KeyvSwarmStore(keyv, { now: clock.now, claimSettle: 20, remoteCacheTtl: 0 }));
    const trackers = stores.map((store) => new Tracker({ store, history: true, ...options }));
    return {
      trackers,
      async dispose() {
        for (const t of trackers) await t.close();
        for (const s of stores) await s.close();
        await keyv.disconnect();
      },
    };
  },
};

async function withTrackers(backend: Backend, instances: number, options: TrackerOptions, body: (trackers: Tracker[], clock: FakeClock) => Promise<void>): Promise<void> {
  const clock = fakeClock(T0);
  const { trackers, dispose } = await backend.open(clock, instances, options);
  try {
    for (const t of trackers) {
      await t.whenReady();
      scriptClock(t, clock);
    }
    await body(trackers, clock);
  } finally {
    await dispose();
  }
}

function cases(backend: Backend): void {
  it('counts announces, counted completions and peaks per minute, hour and day, exactly', () =>
    withTrackers(backend, 1, {}, async ([tracker], clock) => {
      const torrent = hex40();
      await play((_, h, p) => announce(tracker!, h, p), clock, torrent);
      await announce(tracker!, torrent, { id: B, ip: '10.0.0.2' });
      await expectScript((resolution) => tracker!.history(torrent, { resolution }));
      expect(filled(await tracker!.history(hex40(), { resolution: 'hour' }))).toEqual([]);
    }));

  it('keeps a bounded window: minutes leave after 24 hours, a ring slot is overwritten, not added to', () =>
    withTrackers(backend, 1, {}, async ([tracker], clock) => {
      const torrent = hex40();
      await announce(tracker!, torrent, { id: A, event: 'started' });
      await announce(tracker!, torrent, { id: B, ip: '10.0.0.2', event: 'started' });
      clock.advance(1440 * 60); // the same minute slot, a day later
      await announce(tracker!, torrent, { id: A });
      const minutes = await tracker!.history(torrent.toUpperCase(), { resolution: 'minute' });
      expect(minutes[0]!.start).toBe(T0 + MINUTE);
      expect(filled(minutes)).toEqual([[DAY, 1, 0, 0, 1]]); // B expired meanwhile
      expect(filled(await tracker!.history(torrent, { resolution: 'day' }))).toEqual([
        [-10 * HOUR, 2, 0, 0, 2],
        [DAY - 10 * HOUR, 1, 0, 0, 1],
      ]);
      clock.advance(30 * 86400);
      expect(filled(await tracker!.history(torrent, { resolution: 'hour' }))).toEqual([]);
      expect(filled(await tracker!.history(torrent, { resolution: 'day' }))).toHaveLength(2);
    }));

  it('records a hybrid torrent once, under its v1 hash, from its torrent-level counts', () =>
    withTrackers(backend, 1, { torrents: 'registry' }, async ([tracker]) => {
      const v1 = hex40();
      const v2 = randomBytes(32).toString('hex');
      await tracker!.addTorrent({ infoHash: v1, infoHashV2: v2 });
      await announce(tracker!, v1, { id: A, event: 'started' });
      await announce(tracker!, v2.slice(0, 40), { id: A, event: 'started' });
      await announce(tracker!, v2.slice(0, 40), { id: B, ip: '10.0.0.2', event: 'started' });
      await announce(tracker!, v1, { id: A, left: 0, event: 'completed' });
      await announce(tracker!, v2.slice(0, 40), { id: A, left: 0, event: 'completed' });
      expect(filled(await tracker!.history({ infoHash: v1, infoHashV2: v2 }, { resolution: 'minute' }))).toEqual([[0, 5, 1, 1, 2]]);
      expect(filled(await tracker!.history(v2.slice(0, 40), { resolution: 'minute' }))).toEqual([]);
    }));
}

describe('history on the memory store', () => {
  cases(memory);

  it('is off unless the history option is set; a bad resolution is a TypeError', async () => {
    const tracker = new Tracker();
    await expect(tracker.history(hex40(), { resolution: 'minute' })).rejects.toThrow(/history is off/);
    await tracker.close();
    const on = new Tracker({ history: true });
    await expect(on.history(hex40(), { resolution: 'week' as 'day' })).rejects.toThrow(TypeError);
    await on.close();
  });

  it('measures the memory per torrent', async () => {
    const history = new MemoryHistory();
    const count = 2000;
    global.gc?.();
    const before = process.memoryUsage();
    for (let i = 0; i < count; i++) {
      await history.add([{ torrent: randomBytes(20).toString('hex'), minute: 29_000_000, announces: 1, completed: 0, seeders: 1, leechers: 1 }]);
    }
    global.gc?.();
    const after = process.memoryUsage();
    const arrays = (after.arrayBuffers - before.arrayBuffers) / count;
    const heap = Math.max(0, after.heapUsed - before.heapUsed) / count;
    console.log(`history memory per torrent: ${Math.round(arrays)} bytes of rings measured (${MEMORY_HISTORY_BYTES} allocated), heap growth ${Math.round(heap)} bytes (map entry and key; GC noise in a test worker)`);
    expect(MEMORY_HISTORY_BYTES).toBe(50_500);
    expect(history.size).toBe(count);
    expect(arrays).toBeGreaterThan(MEMORY_HISTORY_BYTES * 0.95);
    expect(arrays + heap).toBeLessThan(MEMORY_HISTORY_BYTES * 1.1);
  });
});

const redisUp = await reachable(REDIS_URL);

describeService('Redis', redisUp, 'history on Redis', () => {
  cases(redis);

  it('is global: two instances writing their sums give one history, read the same on both', () =>
    withTrackers(redis, 2, {}, async (trackers, clock) => {
      const torrent = hex40();
      await play((i, h, p) => announce(trackers[i]!, h, p), clock, torrent);
      await announce(trackers[1]!, torrent, { id: B, ip: '10.0.0.2' });
      await trackers[1]!.history(torrent, { resolution: 'minute' }); // flushes instance 1's sums
      await expectScript((resolution) => trackers[0]!.history(torrent, { resolution }));
      await expectScript((resolution) => trackers[1]!.history(torrent, { resolution }));
    }));

  it('an instance writes its sums every historyFlushInterval seconds without being asked', () =>
    withTrackers(redis, 2, { historyFlushInterval: 1 }, async (trackers) => {
      const torrent = hex40();
      await announce(trackers[1]!, torrent, { id: A, event: 'started' });
      await announce(trackers[1]!, torrent, { id: B, ip: '10.0.0.2', event: 'started' });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(filled(await trackers[0]!.history(torrent, { resolution: 'minute' }))).toEqual([[0, 2, 0, 0, 2]]);
    }));
});

describe('history on Keyv (SQLite), per instance and merged', () => {
  cases(keyvSqlite);

  it('is merged: two instances write their own pages; both read the sum of both', () =>
    withTrackers(keyvSqlite, 2, {}, async (trackers, clock) => {
      const torrent = hex40();
      // Each announce's peer written at once, so that the next announce on the other instance sees it
      // and the peaks are the swarm's (else they lag by up to writeInterval + remoteCacheTtl).
      const written = async (i: number, h: string, p: Peer) => {
        await announce(trackers[i]!, h, p);
        await (trackers[i]!.swarmStore as KeyvSwarmStore).flush();
      };
      await play(written, clock, torrent);
      await written(1, torrent, { id: B, ip: '10.0.0.2' });
      await trackers[1]!.history(torrent, { resolution: 'minute' }); // flushes instance 1's sums
      await expectScript((resolution) => trackers[0]!.history(torrent, { resolution }));
      await expectScript((resolution) => trackers[1]!.history(torrent, { resolution }));
    }));

  it('adds of one store never overlap: concurrent flushes (two trackers on one store) lose nothing', async () => {
    const keyv = new Keyv();
    const store = new KeyvSwarmStore(keyv, { claimSettle: 5 });
    try {
      const torrent = hex40();
      const minute = Math.floor(T0 / MINUTE);
      const delta = (announces: number, leechers: number) => ({ torrent, minute, announces, completed: 0, seeders: 0, leechers });
      await Promise.all([store.history.add([delta(1, 1)]), store.history.add([delta(2, 3)]), store.history.add([delta(4, 2)])]);
      expect(filled(await store.history.read(torrent, 'minute', T0))).toEqual([[0, 7, 0, 0, 3]]);
    } finally {
      await store.close();
    }
  });

  it('a restarted instance continues its own pages; nothing is counted twice', async () => {
    const clock = fakeClock(T0);
    const keyv = new Keyv(new KeyvSqlite({ uri: `sqlite://${join(dir, `h${files++}.sqlite`)}` }));
    const open = async (instanceId: string) => {
      const store = new KeyvSwarmStore(keyv, { now: clock.now, claimSettle: 20, remoteCacheTtl: 0, instanceId });
      const tracker = new Tracker({ store, history: true });
      await tracker.whenReady();
      scriptClock(tracker, clock);
      return { store, tracker };
    };
    const torrent = hex40();
    try {
      let one = await open('web-1');
      const two = await open('web-2');
      await announce(one.tracker, torrent, { id: A, event: 'started' });
      await one.store.flush();
      await announce(two.tracker, torrent, { id: B, ip: '10.0.0.2', event: 'started' });
      await one.tracker.close(); // writes its sums
      await one.store.close();
      one = await open('web-1'); // the same slot again, e.g. after a deploy
      await announce(one.tracker, torrent, { id: S, ip: '10.0.0.3', left: 0, event: 'started' });
      await announce(one.tracker, torrent, { id: A, left: 0, event: 'completed' });
      await two.tracker.history(torrent, { resolution: 'minute' }); // flushes web-2
      for (const t of [one.tracker, two.tracker]) {
        expect(filled(await t.history(torrent, { resolution: 'minute' }))).toEqual([[0, 4, 1, 2, 2]]);
        expect(filled(await t.history(torrent, { resolution: 'day' }))).toEqual([[-10 * HOUR, 4, 1, 2, 2]]);
      }
      // What the database holds: one value per torrent, resolution, page and instance.
      const rows = (await keyv.store.query?.("SELECT key, value FROM keyv WHERE key LIKE '%:history:%'")) as Array<{ key: string; value: string }>;
      expect(rows.map((r) => r.key.replace(/^.*:history:[0-9a-f]{40}:/, '')).sort()).toEqual(
        ['d', 'h', 'm'].flatMap((r) => {
          const page = { m: Math.floor(T0 / MINUTE / 60), h: Math.floor(T0 / HOUR / 24), d: Math.floor(T0 / DAY / 30) }[r];
          return [`${r}:${page}:web-1`, `${r}:${page}:web-2`];
        }).sort(),
      );
      const bytes = rows.reduce((sum, r) => sum + r.key.length + r.value.length, 0);
      console.log(`keyv history: ${rows.length} values, ${bytes} bytes (keys and values) for one torrent's minute on two instances`);
      await one.tracker.close();
      await one.store.close();
      await two.tracker.close();
      await two.store.close();
    } finally {
      await keyv.disconnect();
    }
  });
});
