/**
 * A hybrid torrent is credited once: its clients repeat their totals on the announces of both
 * swarms (v1 hash, v2 hash cut to 20 bytes), and the ledger gets the larger of the two swarms'
 * credits per (user, torrent, client), under the torrent's v1 hash. On one process (memory store)
 * and on two processes sharing Redis with the two announces landing on different instances.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@keyv/redis';
import { afterAll, describe, expect, it } from 'vitest';
import { emptyCreditState, mergeCredit, MemoryCreditMerger } from '../../src/policy/credit-once.js';
import type { TrafficRecord } from '../../src/policy/traffic.js';
import { openRedisKeyv } from '../../src/swarm/open.js';
import { createTorrent } from '../../src/torrent/create.js';
import type { StoreOption } from '../../src/swarm/open.js';
import { failureOf } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { startApp, type RunningApp } from '../helpers/http.js';
import { describeService, reachable, REDIS_URL, uniqueName } from '../helpers/store-services.js';

describe('the larger of the two swarms, not the sum', () => {
  it('a client repeating its totals on both swarms is credited once', () => {
    const state = emptyCreditState();
    expect(mergeCredit(state, 0, [100, 1000, 0, 0])).toEqual([100, 1000, 0, 0]);
    expect(mergeCredit(state, 1, [100, 1000, 0, 0])).toEqual([0, 0, 0, 0]);
    expect(mergeCredit(state, 1, [50, 0, 30_000, 1])).toEqual([50, 0, 30_000, 1]);
    expect(mergeCredit(state, 0, [60, 0, 30_000, 1])).toEqual([10, 0, 0, 0]);
    expect(state.given).toEqual([160, 1000, 30_000, 1]);
  });

  it('a client splitting its traffic between the swarms is credited its larger half', () => {
    const state = emptyCreditState();
    mergeCredit(state, 0, [300, 0, 0, 0]);
    mergeCredit(state, 1, [700, 0, 0, 0]);
    expect(state.given[0]).toBe(700);
  });

  it('the memory merger keeps states for their TTL, then starts again', () => {
    let now = 0;
    const merger = new MemoryCreditMerger(() => now);
    expect(merger.mergeSync('k', 0, [10, 0, 0, 0], 1000)).toEqual([10, 0, 0, 0]);
    now = 500;
    expect(merger.mergeSync('k', 1, [10, 0, 0, 0], 1000)).toEqual([0, 0, 0, 0]);
    now = 5000;
    expect(merger.mergeSync('k', 1, [10, 0, 0, 0], 1000)).toEqual([10, 0, 0, 0]);
    expect(merger.size).toBe(1);
  });
});

const PASSKEY = 'hybridmember0000000000000000001';
const SIZE = 3_000_000;

/** Two apps (or one twice) with the same private tracker options and a shared onTraffic sink. */
async function pair(store: () => StoreOption | undefined, twoInstances: boolean) {
  const records: TrafficRecord[] = [];
  const options = () => ({
    store: store(),
    passkey: (key: string) => (key === PASSKEY ? 'member' : null),
    torrents: 'registry' as const,
    onTraffic: (batch: TrafficRecord[]) => void records.push(...batch),
    trafficInterval: 3600,
    enforceInterval: false,
  });
  const a = await startApp(options());
  const b = twoInstances ? await startApp(options()) : a;
  return { a, b, records };
}

async function hybridTorrent() {
  const dir = mkdtempSync(join(tmpdir(), 'ett-hycredit-'));
  writeFileSync(join(dir, 'data.bin'), Buffer.alloc(SIZE, 7));
  const made = await createTorrent(join(dir, 'data.bin'), { version: 'hybrid', announce: 'http://127.0.0.1/tracker/announce' });
  rmSync(dir, { recursive: true, force: true });
  return made;
}

async function announce(app: RunningApp, infoHashHex: string, peer: string, q: Record<string, string | number>): Promise<void> {
  const query = Object.entries({ port: 6881, compact: 1, key: 'c0ffee', ...q })
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const res = await fetch(`${app.base}/tracker/${PASSKEY}/announce?info_hash=${escapeAll(Buffer.from(infoHashHex, 'hex'))}&peer_id=${peer}&${query}`);
  const failure = failureOf(Buffer.from(await res.arrayBuffer()));
  expect(failure).toBeUndefined();
}

/** A libtorrent-like client: the same totals on the announces of both swarms, v1 on `a`, v2 on `b`. */
async function download(a: RunningApp, b: RunningApp, v1: string, v2: string): Promise<void> {
  const peer = '-qB5010-hybridclient';
  const steps: Array<Record<string, string | number>> = [
    { event: 'started', uploaded: 0, downloaded: 0, left: SIZE },
    { uploaded: 1000, downloaded: SIZE / 2, left: SIZE / 2 },
    { event: 'completed', uploaded: 5000, downloaded: SIZE, left: 0 },
    { event: 'stopped', uploaded: 250_000, downloaded: SIZE, left: 0 },
  ];
  for (const step of steps) {
    await announce(a, v1, peer, step);
    await announce(b, v2, peer, step);
  }
}

function total(records: TrafficRecord[]) {
  return records.reduce(
    (t, r) => ({ infoHashes: new Set([...t.infoHashes, r.infoHash]), uploaded: t.uploaded + r.uploaded, downloaded: t.downloaded + r.downloaded, completed: t.completed + r.completed }),
    { infoHashes: new Set<string>(), uploaded: 0, downloaded: 0, completed: 0 },
  );
}

describe('a hybrid torrent through the tracker', () => {
  it('memory store: credited once under the v1 hash, completed once', async () => {
    const made = await hybridTorrent();
    const { a, records } = await pair(() => undefined, false);
    try {
      await a.router.addTorrent(made);
      await download(a, a, made.infoHash, made.infoHashV2!.slice(0, 40));
      await a.router.flushTraffic();
      const t = total(records);
      expect([...t.infoHashes]).toEqual([made.infoHash]);
      expect(t.downloaded).toBe(SIZE);
      expect(t.uploaded).toBe(250_000);
      expect(t.completed).toBe(1);
    } finally {
      await a.close();
    }
  });

  it('counts(): a client in both swarms is one peer, its completion one download; others add up', async () => {
    const made = await hybridTorrent();
    const v2Swarm = made.infoHashV2!.slice(0, 40);
    const { a } = await pair(() => undefined, false);
    try {
      await a.router.addTorrent(made);
      await download(a, a, made.infoHash, v2Swarm);
      // the hybrid client stopped; now one more in both swarms (seeding), a v1-only and a v2-only leecher
      const both = { event: 'started', uploaded: 0, downloaded: 0, left: 0 };
      await announce(a, made.infoHash, '-qB5010-secondclient', both);
      await announce(a, v2Swarm, '-qB5010-secondclient', both);
      await announce(a, made.infoHash, '-TR4050-v1onlyclient', { event: 'started', uploaded: 0, downloaded: 0, left: SIZE });
      await announce(a, v2Swarm, '-LT2000-v2onlyclient', { event: 'started', uploaded: 0, downloaded: 0, left: SIZE });
      const [counts] = await a.router.tracker.counts([made]);
      expect(counts).toEqual({ complete: 1, incomplete: 2, downloaded: 1, downloaders: 2 });
      // stats(): one torrent, three peers (the store alone lists two swarms and four peers)
      const swarms = (await a.router.tracker.stats()).swarms!;
      expect({ torrents: swarms.torrents, seeders: swarms.seeders, leechers: swarms.leechers, peers: swarms.peers, ipv4: swarms.ipv4 }).toEqual({
        torrents: 1,
        seeders: 1,
        leechers: 2,
        peers: 3,
        ipv4: 3,
      });
      expect((await a.router.tracker.swarmStore!.totals!()).peers).toBe(4);
      // each swarm alone, as scrape reports it
      expect(await a.router.tracker.counts([made.infoHash, v2Swarm])).toEqual([
        { complete: 1, incomplete: 1, downloaded: 1, downloaders: 1 },
        { complete: 1, incomplete: 1, downloaded: 1, downloaders: 1 },
      ]);
    } finally {
      await a.close();
    }
  });

  it('a torrents function that names both hashes pairs the swarms the same way', async () => {
    const made = await hybridTorrent();
    const v2Swarm = made.infoHashV2!.slice(0, 40);
    const records: TrafficRecord[] = [];
    const a = await startApp({
      passkey: (key: string) => (key === PASSKEY ? 'member' : null),
      torrents: (hex: string) => (hex === made.infoHash || hex === v2Swarm ? { infoHash: made.infoHash, infoHashV2: made.infoHashV2 } : null),
      onTraffic: (batch: TrafficRecord[]) => void records.push(...batch),
      trafficInterval: 3600,
      enforceInterval: false,
    });
    try {
      await download(a, a, made.infoHash, v2Swarm);
      await a.router.flushTraffic();
      expect(total(records).downloaded).toBe(SIZE);
      expect(total(records).completed).toBe(1);
    } finally {
      await a.close();
    }
  });
});

const redisUp = await reachable(REDIS_URL);
describeService('Redis', redisUp, 'a hybrid torrent on two instances sharing Redis', () => {
  const namespace = uniqueName('etthybrid');
  afterAll(async () => {
    const raw = createClient({ url: REDIS_URL });
    raw.on('error', () => undefined);
    await raw.connect();
    for await (const keys of raw.scanIterator({ MATCH: `${namespace}*`, COUNT: 1000 })) if (keys.length) await raw.del(keys);
    await raw.close();
  });

  it('the v1 announces on one instance, the v2 announces on the other: credited once', async () => {
    const made = await hybridTorrent();
    const keyvs: Array<Awaited<ReturnType<typeof openRedisKeyv>>> = [];
    const stores = [await openRedisKeyv(REDIS_URL, namespace), await openRedisKeyv(REDIS_URL, namespace)];
    keyvs.push(...stores);
    let next = 0;
    const { a, b, records } = await pair(() => stores[next++], true);
    try {
      await a.router.addTorrent(made); // the registry is shared: b knows it too
      await download(a, b, made.infoHash, made.infoHashV2!.slice(0, 40));
      await a.router.flushTraffic();
      await b.router.flushTraffic();
      const t = total(records);
      expect([...t.infoHashes]).toEqual([made.infoHash]);
      expect(t.downloaded).toBe(SIZE);
      expect(t.uploaded).toBe(250_000);
      expect(t.completed).toBe(1);
      await announce(b, made.infoHashV2!.slice(0, 40), '-qB5010-secondclient', { event: 'started', uploaded: 0, downloaded: 0, left: 0 });
      await announce(a, made.infoHash, '-qB5010-secondclient', { event: 'started', uploaded: 0, downloaded: 0, left: 0 });
      expect(await b.router.tracker.counts([made])).toEqual([{ complete: 1, incomplete: 0, downloaded: 1, downloaders: 0 }]);
      const swarms = (await a.router.tracker.stats()).swarms!;
      expect([swarms.torrents, swarms.seeders, swarms.leechers]).toEqual([1, 1, 0]);
    } finally {
      await a.close();
      await b.close();
      for (const keyv of keyvs) await keyv.disconnect();
    }
  });
});
