/**
 * What an administrator reads: `listTorrents()` (pages, both sorts, a hybrid torrent as one entry
 * counted once) and `peers()` (pages, client names, private owners, expired peers left out), the
 * `torrentRegistered` / `torrentRemoved` events, on the memory, Redis and Keyv (SQLite) stores.
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
import { announceOf, fakeClock, type FakeClock } from '../../src/swarm/contract/index.js';
import { failureOf } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { describeService, reachable, REDIS_URL, uniqueName } from '../helpers/store-services.js';

const PASSKEY = 'listingalice000000000000000000001';
const hex40 = (): string => randomBytes(20).toString('hex');

interface Backend {
  name: string;
  open(clock: FakeClock): Promise<{ store: SwarmStore; dispose(): Promise<void> }>;
}

const dir = mkdtempSync(join(tmpdir(), 'ett-listing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

const memory: Backend = {
  name: 'memory',
  async open(clock) {
    const store = new MemorySwarmStore({ now: clock.now });
    return { store, dispose: () => store.close() };
  },
};

const keyvSqlite: Backend = {
  name: 'keyv (sqlite)',
  async open(clock) {
    const keyv = new Keyv(new KeyvSqlite({ uri: `sqlite://${join(dir, `l${files++}.sqlite`)}` }));
    const store = new KeyvSwarmStore(keyv, { now: clock.now, claimSettle: 5 });
    return {
      store,
      async dispose() {
        await store.close();
        await keyv.disconnect();
      },
    };
  },
};

const redis: Backend = {
  name: 'redis',
  async open(clock) {
    const namespace = uniqueName('ettlist');
    const { store } = await openStore(REDIS_URL, { namespace, now: clock.now });
    return {
      store,
      async dispose() {
        await store.close?.();
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

interface Peer {
  id?: string;
  ip?: string;
  port?: number;
  left?: number;
  event?: string;
  passkey?: string;
}

/** One announce through the tracker's HTTP entry point; fails the test on a failure answer. */
async function announce(tracker: Tracker, infoHash: string, peer: Peer = {}): Promise<string> {
  const id = peer.id ?? `-qB4650-${randomBytes(6).toString('hex')}`;
  const query = [
    `info_hash=${escapeAll(Buffer.from(infoHash, 'hex'))}`,
    `peer_id=${escapeAll(Buffer.from(id, 'latin1'))}`,
    `port=${peer.port ?? 6881}`,
    'uploaded=0',
    'downloaded=0',
    `left=${peer.left ?? 1000}`,
    'compact=1',
    `event=${peer.event ?? 'started'}`,
  ].join('&');
  const answer = await tracker.announce(query, peer.ip ?? '10.0.0.1', peer.passkey);
  expect(failureOf(answer)).toBeUndefined();
  return Buffer.from(id, 'latin1').toString('hex');
}

/** Each case: a fresh store on a fresh clock, a tracker on it (registry on), both closed after. */
function cases(backend: Backend): void {
  async function withTracker(options: TrackerOptions, body: (tracker: Tracker, clock: FakeClock, store: SwarmStore) => Promise<void>): Promise<void> {
    const clock = fakeClock(Date.UTC(2026, 5, 1));
    const { store, dispose } = await backend.open(clock);
    const tracker = new Tracker({ store, torrents: 'registry', peerTtl: 120, ...options });
    try {
      await tracker.whenReady();
      await body(tracker, clock, store);
    } finally {
      await tracker.close();
      await dispose();
    }
  }

  it('lists registered torrents a page at a time by info hash, with rules and live counts; events', () =>
    withTracker({}, async (tracker) => {
      const registered: unknown[] = [];
      const removed: unknown[] = [];
      tracker.on('torrentRegistered', (e) => registered.push(e));
      tracker.on('torrentRemoved', (e) => removed.push(e));
      const hashes = [hex40(), hex40(), hex40(), hex40(), hex40()];
      for (const [i, h] of hashes.entries()) await tracker.addTorrent(h.toUpperCase(), { uploadFactor: i + 1 });
      expect(registered).toEqual(hashes.map((h, i) => ({ infoHash: h, rules: { uploadFactor: i + 1 } })));
      await announce(tracker, hashes[0]!, { left: 0 });
      await announce(tracker, hashes[0]!, { ip: '10.0.0.2' });
      const sorted = [...hashes].sort();
      const first = await tracker.listTorrents({ limit: 2 });
      expect(first.total).toBe(5);
      expect(first.torrents.map((t) => t.infoHash)).toEqual(sorted.slice(0, 2));
      const last = await tracker.listTorrents({ offset: 4, limit: 2 });
      expect(last.torrents.map((t) => t.infoHash)).toEqual(sorted.slice(4));
      const all = await tracker.listTorrents();
      expect(all.torrents).toHaveLength(5);
      const entry = all.torrents.find((t) => t.infoHash === hashes[0]);
      expect(entry).toEqual({ infoHash: hashes[0], rules: { uploadFactor: 1 }, counts: { complete: 1, incomplete: 1, downloaded: 0, downloaders: 1 } });
      expect(all.torrents.find((t) => t.infoHash === hashes[3])?.counts).toEqual({ complete: 0, incomplete: 0, downloaded: 0, downloaders: 0 });

      expect(await tracker.removeTorrent(hashes[1]!)).toBe(true);
      expect(await tracker.removeTorrent(hashes[1]!)).toBe(false);
      expect(removed).toEqual([{ infoHash: hashes[1] }]);
      // a listener that throws is reported, never thrown at the caller
      const failures: unknown[] = [];
      tracker.on('failure', (f) => failures.push(f));
      tracker.on('torrentRegistered', () => {
        throw new Error('listener bug');
      });
      await tracker.addTorrent(hashes[1]!);
      expect(failures).toMatchObject([{ reason: 'a torrentRegistered listener threw' }]);
      await tracker.removeTorrent(hashes[1]!);
      const after = await tracker.listTorrents();
      expect(after.total).toBe(4);
      expect(after.torrents.map((t) => t.infoHash)).not.toContain(hashes[1]);
    }));

  it('sorts by peers, most first, ties by info hash, a page at a time', () =>
    withTracker({}, async (tracker) => {
      const hashes = [hex40(), hex40(), hex40(), hex40()];
      for (const h of hashes) await tracker.addTorrent(h);
      const peers = [0, 3, 1, 3];
      for (const [i, h] of hashes.entries()) {
        for (let p = 0; p < peers[i]!; p++) await announce(tracker, h, { ip: `10.0.1.${p + 1}`, left: p === 0 ? 0 : 1000 });
      }
      const threes = [hashes[1]!, hashes[3]!].sort();
      const expected = [...threes, hashes[2], hashes[0]];
      const all = await tracker.listTorrents({ sort: 'peers' });
      expect(all.total).toBe(4);
      expect(all.torrents.map((t) => t.infoHash)).toEqual(expected);
      expect(all.torrents.map((t) => t.counts.complete + t.counts.incomplete)).toEqual([3, 3, 1, 0]);
      const page = await tracker.listTorrents({ sort: 'peers', offset: 1, limit: 2 });
      expect(page.torrents.map((t) => t.infoHash)).toEqual(expected.slice(1, 3));
      await expect(tracker.listTorrents({ sort: 'size' as 'peers' })).rejects.toThrow(TypeError);
    }));

  it('a hybrid torrent is one entry, counted once across its swarms; its peers listed per swarm', () =>
    withTracker({}, async (tracker) => {
      const registered: unknown[] = [];
      const removed: unknown[] = [];
      tracker.on('torrentRegistered', (e) => registered.push(e));
      tracker.on('torrentRemoved', (e) => removed.push(e));
      const v1 = hex40();
      const v2 = randomBytes(32).toString('hex');
      const torrent = { infoHash: v1, infoHashV2: v2 };
      await tracker.addTorrent(torrent, { downloadFactor: 0 });
      await tracker.addTorrent(hex40());
      expect(registered[0]).toEqual({ infoHash: v1, infoHashV2: v2, rules: { downloadFactor: 0 } });
      const both = '-qB4650-bothswarms01';
      await announce(tracker, v1, { id: both });
      await announce(tracker, v2.slice(0, 40), { id: both });
      await announce(tracker, v2.slice(0, 40), { id: '-LT2090-v2swarmonly1', ip: '10.0.0.3' });
      const list = await tracker.listTorrents();
      expect(list.total).toBe(2);
      expect(list.torrents.find((t) => t.infoHash === v1)).toEqual({
        infoHash: v1,
        infoHashV2: v2,
        rules: { downloadFactor: 0 },
        counts: { complete: 0, incomplete: 2, downloaded: 0, downloaders: 2 },
      });
      const sorted = await tracker.listTorrents({ sort: 'peers' });
      expect(sorted.torrents[0]).toMatchObject({ infoHash: v1, counts: { complete: 0, incomplete: 2, downloaded: 0 } });

      const peers = await tracker.peers(torrent);
      expect(peers.total).toBe(3);
      expect(peers.peers.map((p) => p.infoHash).sort()).toEqual([v1, v2.slice(0, 40), v2.slice(0, 40)].sort());
      expect(peers.peers.find((p) => p.client === 'libtorrent 2.0.9')?.infoHash).toBe(v2.slice(0, 40));
      const second = await tracker.peers(torrent, { offset: 1, limit: 1 });
      expect(second.total).toBe(3);
      expect(second.peers).toHaveLength(1);
      expect(second.peers[0]!.infoHash).toBe(v2.slice(0, 40));

      expect(await tracker.removeTorrent(torrent)).toBe(true);
      expect(removed).toEqual([{ infoHash: v1, infoHashV2: v2 }]);
      expect((await tracker.listTorrents()).total).toBe(1);
    }));

  it("lists a torrent's peers: client names, addresses, seeders, last announce; bounded pages; expired left out", () =>
    withTracker({}, async (tracker, clock) => {
      const h = hex40();
      await tracker.addTorrent(h);
      const ids = new Map<string, number>();
      for (let i = 0; i < 60; i++) {
        const prefix = i % 3 === 0 ? '-TR4060-' : '-qB4650-';
        const id = await announce(tracker, h, { id: `${prefix}${String(i).padStart(12, '0')}`, ip: `10.0.${i >> 4}.${(i & 15) + 1}`, port: 7000 + i, left: i < 10 ? 0 : 5 });
        ids.set(id, i);
      }
      const first = await tracker.peers(h);
      expect(first.total).toBe(60);
      expect(first.peers).toHaveLength(50);
      const rest = await tracker.peers(h, { offset: 50, limit: 500 });
      expect(rest.total).toBe(60);
      expect(rest.peers).toHaveLength(10);
      const all = [...first.peers, ...rest.peers];
      expect(new Set(all.map((p) => p.peerId)).size).toBe(60);
      for (const p of all) {
        const i = ids.get(p.peerId)!;
        expect(i).toBeDefined();
        expect(p).toMatchObject({
          infoHash: h,
          client: i % 3 === 0 ? 'Transmission 4.0.6' : 'qBittorrent 4.6.5',
          ip: `10.0.${i >> 4}.${(i & 15) + 1}`,
          port: 7000 + i,
          seeder: i < 10,
        });
        expect(Math.abs(p.lastAnnounce! - clock.now())).toBeLessThan(1000);
        expect(p.user).toBeUndefined();
        expect(p.webrtc).toBeUndefined();
      }
      expect((await tracker.peers(h, { limit: 0 })).peers).toEqual([]);
      await expect(tracker.peers(h, { limit: 501 })).rejects.toThrow(/limit/);
      await expect(tracker.peers(h, { offset: -1 })).rejects.toThrow(/offset/);
      await expect(tracker.peers(h, { limit: 1.5 })).rejects.toThrow(TypeError);
      await expect(tracker.listTorrents({ limit: 501 })).rejects.toThrow(/limit/);
      await expect(tracker.peers('nothex')).rejects.toThrow(TypeError);

      clock.advance(121);
      const fresh = await announce(tracker, h, { id: '-DE211s-freshpeer000', ip: '10.9.9.9' });
      const after = await tracker.peers(h);
      expect(after.total).toBe(1);
      expect(after.peers).toEqual([
        { infoHash: h, peerId: fresh, client: 'Deluge 2.1.1', ip: '10.9.9.9', port: 6881, seeder: false, lastAnnounce: expect.any(Number) },
      ]);
    }));

  it('private mode: a peer lists its user (never the passkey)', () =>
    withTracker({ passkey: (key) => (key === PASSKEY ? 'alice' : null) }, async (tracker, clock) => {
      const h = hex40();
      await tracker.addTorrent(h);
      await announce(tracker, h, { passkey: PASSKEY, id: '-qB4650-privatepeer1' });
      const { peers } = await tracker.peers(h);
      expect(peers).toHaveLength(1);
      expect(peers[0]!.user).toBe('alice');
      expect(peers[0]!.lastAnnounce).toBe(clock.now());
      expect(JSON.stringify(peers)).not.toContain(PASSKEY);
    }));
}

describe('listing: memory store', () => {
  cases(memory);

  it('sort by peers is refused past 10 000 registered torrents; by info hash still pages', async () => {
    const store = new MemorySwarmStore();
    const tracker = new Tracker({ store, torrents: 'registry' });
    try {
      for (let i = 0; i < 10_001; i++) await store.registry.add(randomBytes(20), {});
      await expect(tracker.listTorrents({ sort: 'peers' })).rejects.toThrow(/10001.*at most 10000/);
      const page = await tracker.listTorrents({ offset: 10_000 });
      expect(page.total).toBe(10_001);
      expect(page.torrents).toHaveLength(1);
    } finally {
      await tracker.close();
      await store.close();
    }
  });

  it('WebTorrent peers are listed after the others, flagged, without an address', async () => {
    const tracker = new Tracker({});
    try {
      await tracker.whenReady();
      const h = hex40();
      await announce(tracker, h, { id: '-qB4650-tcppeer00001' });
      await tracker.webrtcSwarms()!.announce(announceOf(Buffer.from(h, 'hex'), { peerId: Buffer.from('-WW0107-browserpeer1'), ip: randomBytes(16), port: 1 }));
      const { total, peers } = await tracker.peers(h);
      expect(total).toBe(2);
      expect(peers[0]).toMatchObject({ client: 'qBittorrent 4.6.5', ip: '10.0.0.1' });
      expect(peers[1]).toMatchObject({ client: 'WebTorrent 1.7', ip: '', port: 0, webrtc: true });
      expect((await tracker.peers(h, { offset: 1 })).peers.map((p) => p.webrtc)).toEqual([true]);
    } finally {
      await tracker.close();
    }
  });

  it('a store without registry.list or peersOf: both reject with an Error saying so', async () => {
    const store: SwarmStore = {
      announce: async () => ({ complete: 0, incomplete: 0, downloaded: 0, peers: [] }),
      scrape: async (hashes) => hashes.map(() => ({ complete: 0, incomplete: 0, downloaded: 0 })),
    };
    const tracker = new Tracker({ store });
    try {
      await expect(tracker.listTorrents()).rejects.toThrow(/cannot list its torrent registry/);
      await expect(tracker.peers(hex40())).rejects.toThrow(/cannot list the peers/);
    } finally {
      await tracker.close();
    }
  });
});

describe('listing: keyv store (sqlite)', () => {
  cases(keyvSqlite);

  it('two instances registering and removing at once: every change is listed on both (one index key each)', async () => {
    const file = `sqlite://${join(dir, `shared${files++}.sqlite`)}`;
    const keyvs = [new Keyv(new KeyvSqlite({ uri: file })), new Keyv(new KeyvSqlite({ uri: file }))];
    const stores = keyvs.map((keyv) => new KeyvSwarmStore(keyv, { claimSettle: 5 }));
    const trackers = stores.map((store) => new Tracker({ store, torrents: 'registry' }));
    try {
      const hashes = Array.from({ length: 40 }, hex40);
      await Promise.all(hashes.map((h, i) => trackers[i % 2]!.addTorrent(h)));
      for (const tracker of trackers) {
        const { total, torrents } = await tracker.listTorrents({ limit: 500 });
        expect(total).toBe(40);
        expect(torrents.map((t) => t.infoHash)).toEqual([...hashes].sort());
      }
      await Promise.all(hashes.slice(0, 10).map((h, i) => trackers[i % 2]!.removeTorrent(h)));
      expect((await trackers[1]!.listTorrents({ limit: 500 })).torrents.map((t) => t.infoHash)).toEqual(hashes.slice(10).sort());
      // removed through instance 0, added again through instance 1 (the latest change wins), and back
      await trackers[1]!.addTorrent(hashes[0]!);
      expect((await trackers[0]!.listTorrents({ limit: 500 })).total).toBe(31);
      await trackers[0]!.removeTorrent(hashes[0]!);
      expect((await trackers[1]!.listTorrents({ limit: 500 })).total).toBe(30);
    } finally {
      for (const tracker of trackers) await tracker.close();
      for (const store of stores) await store.close();
      for (const keyv of keyvs) await keyv.disconnect();
    }
  });
});

describeService('Redis', await reachable(REDIS_URL), 'listing: redis store', () => {
  cases(redis);

  it('a torrent added on one instance is listed on another; the event fires where it was added', async () => {
    const namespace = uniqueName('ettlist2');
    const opened = await Promise.all([openStore(REDIS_URL, { namespace }), openStore(REDIS_URL, { namespace })]);
    const [a, b] = opened.map(({ store }) => new Tracker({ store, torrents: 'registry' }));
    const events: string[] = [];
    a!.on('torrentRegistered', () => events.push('a'));
    b!.on('torrentRegistered', () => events.push('b'));
    try {
      const h = hex40();
      await a!.addTorrent(h, { uploadFactor: 2 });
      await announce(b!, h, { left: 0 });
      expect(await b!.listTorrents()).toEqual({ total: 1, torrents: [{ infoHash: h, rules: { uploadFactor: 2 }, counts: { complete: 1, incomplete: 0, downloaded: 0, downloaders: 0 } }] });
      expect((await a!.peers(h)).total).toBe(1);
      expect(events).toEqual(['a']);
    } finally {
      await a!.close();
      await b!.close();
      for (const { store } of opened) await store.close?.();
      const raw = createClient({ url: REDIS_URL });
      raw.on('error', () => undefined);
      await raw.connect();
      const keys = await raw.keys(`${namespace}*`);
      if (keys.length > 0) await raw.del(keys);
      await raw.close();
    }
  });
});
