/**
 * The contract every SwarmStore passes. Each backend's test file calls `describeStoreContract` with a
 * factory; the factory receives a fake clock so expiry is tested without sleeping.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { SwarmAnnounce, SwarmStore } from '../../src/swarm/types.js';

/** A controllable clock in milliseconds. */
export interface FakeClock {
  now: () => number;
  advance(seconds: number): void;
}

export function fakeClock(start = Date.UTC(2026, 0, 1)): FakeClock {
  let t = start;
  return { now: () => t, advance: (s) => void (t += s * 1000) };
}

/** Creates a fresh, empty store using `clock`; `dispose` is called after each test. */
export interface StoreFactory {
  create(clock: FakeClock): Promise<SwarmStore>;
  dispose?(store: SwarmStore): Promise<void>;
  /** Caps see totals up to a second old (Redis Cluster): the caps test waits that long before checking. */
  approximateCaps?: boolean;
}

export const hash = (): Buffer => randomBytes(20);
export const v4 = (a: number, b: number, c: number, d: number): Buffer => Buffer.from([a, b, c, d]);

export function announceOf(infoHash: Buffer, overrides: Partial<SwarmAnnounce> = {}): SwarmAnnounce {
  return {
    infoHash,
    peerId: randomBytes(20),
    ip: v4(10, 0, 0, 1),
    port: 6881,
    seeder: false,
    event: 'started',
    numwant: 50,
    ttl: 120,
    ...overrides,
  };
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export function describeStoreContract(name: string, factory: StoreFactory): void {
  describe(`SwarmStore contract: ${name}`, () => {
    let store: SwarmStore | undefined;
    let clock: FakeClock;

    async function open(): Promise<SwarmStore> {
      clock = fakeClock();
      store = await factory.create(clock);
      return store;
    }

    afterEach(async () => {
      if (store) await (factory.dispose ? factory.dispose(store) : store.close?.());
      store = undefined;
    });

    it('a first peer is alone: counts one leecher, gets no peers', async () => {
      const s = await open();
      const r = await s.announce(announceOf(hash()));
      expect(r).toMatchObject({ complete: 0, incomplete: 1, downloaded: 0 });
      expect(r.peers).toEqual([]);
    });

    it('peers see each other, never themselves, with exact id, address and port', async () => {
      const s = await open();
      const ih = hash();
      const a = announceOf(ih, { ip: v4(10, 0, 0, 1), port: 1111 });
      const b = announceOf(ih, { ip: v4(10, 0, 0, 2), port: 2222, seeder: true });
      await s.announce(a);
      const rb = await s.announce(b);
      expect(rb).toMatchObject({ complete: 1, incomplete: 1 });
      expect(rb.peers).toHaveLength(1);
      expect(hex(rb.peers[0].peerId)).toBe(hex(a.peerId));
      expect(hex(rb.peers[0].ip)).toBe('0a000001');
      expect(rb.peers[0].port).toBe(1111);
      const ra = await s.announce({ ...a, event: 'update' });
      expect(ra.peers.map((p) => hex(p.peerId))).toEqual([hex(b.peerId)]);
    });

    it('keeps IPv6 addresses as 16 bytes next to IPv4 ones', async () => {
      const s = await open();
      const ih = hash();
      const ip6 = Buffer.from('20010db8000000000000000000000001', 'hex');
      await s.announce(announceOf(ih, { ip: ip6, port: 4242 }));
      const r = await s.announce(announceOf(ih));
      expect(r.peers).toHaveLength(1);
      expect(hex(r.peers[0].ip)).toBe(hex(ip6));
      expect(r.peers[0].port).toBe(4242);
    });

    it('a re-announce updates port, address and seeder state without double counting', async () => {
      const s = await open();
      const ih = hash();
      const a = announceOf(ih, { port: 1000, key: 77 });
      await s.announce(a);
      await s.announce({ ...a, event: 'update', port: 2000, ip: v4(10, 9, 9, 9), seeder: true });
      const r = await s.announce(announceOf(ih));
      expect(r).toMatchObject({ complete: 1, incomplete: 1 });
      expect(r.peers[0].port).toBe(2000);
      expect(hex(r.peers[0].ip)).toBe('0a090909');
      // and back to leecher
      await s.announce({ ...a, event: 'update', seeder: false });
      const [c] = await s.scrape([ih]);
      expect(c).toEqual({ complete: 0, incomplete: 2, downloaded: 0 });
    });

    it('nobody can move or remove a listed peer: only its own address, or its key, may change it', async () => {
      const s = await open();
      const ih = hash();
      const owner = announceOf(ih, { ip: v4(10, 0, 0, 1), port: 1111, key: 0x1234abcd });
      await s.announce(owner);
      // From another address without the key: refused, nothing changes.
      for (const event of ['update', 'stopped', 'started', 'completed'] as const) {
        const r = await s.announce({ ...owner, ip: v4(10, 6, 6, 6), port: 6666, key: undefined, event, seeder: true });
        expect(r.refusal).toEqual({ kind: 'address' });
        const r2 = await s.announce({ ...owner, ip: v4(10, 6, 6, 6), port: 6666, key: 0x1234abce, event });
        expect(r2.refusal).toEqual({ kind: 'address' });
      }
      const other = await s.announce(announceOf(ih, { ip: v4(10, 0, 0, 2) }));
      expect(other).toMatchObject({ complete: 0, incomplete: 2, downloaded: 0 });
      expect(other.peers.map((p) => `${hex(p.ip)}:${p.port}`)).toEqual(['0a000001:1111']);
      // The same address (another port) may update it; the key may move it elsewhere.
      expect((await s.announce({ ...owner, port: 1112, key: undefined, event: 'update' })).refusal).toBeUndefined();
      expect((await s.announce({ ...owner, ip: v4(10, 7, 7, 7), port: 7777, event: 'update' })).refusal).toBeUndefined();
      const after = await s.announce(announceOf(ih, { ip: v4(10, 0, 0, 3) }));
      expect(after.peers.map((p) => `${hex(p.ip)}:${p.port}`)).toContain('0a070707:7777');
      // Once it expired, its id is free again.
      clock.advance(121);
      expect((await s.announce({ ...owner, ip: v4(10, 8, 8, 8), key: undefined })).refusal).toBeUndefined();
    });

    it('event=completed adds one to downloaded for each peer that completes', async () => {
      const s = await open();
      const ih = hash();
      const a = announceOf(ih);
      const b = announceOf(ih);
      await s.announce(a);
      await s.announce(b);
      expect((await s.announce({ ...a, event: 'completed', seeder: true })).counted).toBe(true);
      const r = await s.announce({ ...b, event: 'completed', seeder: true });
      expect(r).toMatchObject({ complete: 2, incomplete: 0, downloaded: 2, counted: true });
    });

    it('a peer counts one completion while it is listed: repeats do not count, as leecher or seeder', async () => {
      const s = await open();
      const ih = hash();
      const a = announceOf(ih);
      const b = announceOf(ih);
      await s.announce(a);
      await s.announce(b);
      // a leecher that says completed (left > 0) counts once; so does a leecher that becomes a seeder
      expect(await s.announce({ ...b, event: 'completed' })).toMatchObject({ downloaded: 1, counted: true });
      expect(await s.announce({ ...a, event: 'completed', seeder: true })).toMatchObject({ downloaded: 2, counted: true });
      for (let i = 0; i < 20; i++) {
        const r = await s.announce({ ...(i % 2 ? a : b), event: 'completed', seeder: i % 3 === 0 });
        expect(r.refusal).toBeUndefined();
        expect(r).toMatchObject({ downloaded: 2, counted: false });
      }
      // a repeat is still an update: it changes the peer's seeder state and gets peers
      const r = await s.announce({ ...a, event: 'completed', seeder: true });
      expect(r).toMatchObject({ complete: 2, incomplete: 0, downloaded: 2, counted: false });
      expect(r.peers.map((p) => hex(p.peerId))).toEqual([hex(b.peerId)]);
      expect(await s.scrape([ih])).toEqual([{ complete: 2, incomplete: 0, downloaded: 2 }]);
    });

    it('a peer listed as a seeder does not count a completion, even after it turned leecher again', async () => {
      const s = await open();
      const ih = hash();
      const seed = announceOf(ih, { seeder: true });
      const flip = announceOf(ih, { seeder: true });
      await s.announce(seed);
      await s.announce(flip);
      expect(await s.announce({ ...seed, event: 'completed', seeder: true })).toMatchObject({ downloaded: 0, counted: false });
      await s.announce({ ...flip, event: 'update', seeder: false });
      expect(await s.announce({ ...flip, event: 'completed', seeder: true })).toMatchObject({ downloaded: 0, counted: false });
      // more peers join, so that stores with compact layouts move records around; the bit moves along
      for (let i = 0; i < 5; i++) await s.announce(announceOf(ih, { port: 3000 + i }));
      expect(await s.announce({ ...flip, event: 'completed', seeder: true })).toMatchObject({ downloaded: 0, counted: false });
      expect(await s.announce({ ...seed, event: 'completed', seeder: false })).toMatchObject({ downloaded: 0, counted: false });
      expect(await s.scrape([ih])).toEqual([{ complete: 1, incomplete: 6, downloaded: 0 }]);
    });

    it('a peer the store does not know counts its completion (the tracker restarted under it)', async () => {
      const s = await open();
      const ih = hash();
      const a = announceOf(ih, { event: 'completed', seeder: true });
      expect(await s.announce(a)).toMatchObject({ complete: 1, downloaded: 1, counted: true });
      expect(await s.announce(a)).toMatchObject({ complete: 1, downloaded: 1, counted: false });
    });

    it('a peer forgotten by stopped or expiry counts a new completion', async () => {
      const s = await open();
      const ih = hash();
      const a = announceOf(ih, { ttl: 60 });
      const other = announceOf(ih, { ttl: 600 });
      await s.announce(other);
      await s.announce(a);
      expect(await s.announce({ ...a, event: 'completed', seeder: true })).toMatchObject({ downloaded: 1, counted: true });
      await s.announce({ ...a, event: 'stopped' });
      await s.announce({ ...a, event: 'started' });
      expect(await s.announce({ ...a, event: 'completed', seeder: true })).toMatchObject({ downloaded: 2, counted: true });
      expect(await s.announce({ ...a, event: 'completed', seeder: true })).toMatchObject({ downloaded: 2, counted: false });
      // a seeder that stopped and comes back as a leecher counts when it completes
      await s.announce({ ...a, event: 'stopped', seeder: true });
      await s.announce({ ...a, event: 'started', seeder: false });
      expect(await s.announce({ ...a, event: 'completed', seeder: true })).toMatchObject({ downloaded: 3, counted: true });
      // expiry forgets the peer and its bit too
      clock.advance(61);
      expect(await s.announce({ ...a, event: 'completed', seeder: true })).toMatchObject({ downloaded: 4, counted: true });
      expect(await s.scrape([ih])).toEqual([{ complete: 1, incomplete: 1, downloaded: 4 }]);
    });

    it('with an enforced min interval, a completion that counts passes at once; a repeat waits like an update', async () => {
      const s = await open();
      const ih = hash();
      const own = { owner: 'u1', minInterval: 60_000, uploaded: 0, downloaded: 0, counters: false };
      const a = announceOf(ih, { private: own });
      await s.announce(a);
      clock.advance(1);
      const done = await s.announce({ ...a, event: 'completed', seeder: true });
      expect(done).toMatchObject({ downloaded: 1, counted: true });
      expect(done.refusal).toBeUndefined();
      clock.advance(1);
      const early = await s.announce({ ...a, event: 'completed', seeder: true });
      expect(early.refusal).toMatchObject({ kind: 'interval' });
      expect(early.refusal?.kind === 'interval' && early.refusal.retryIn).toBe(59_000);
      const update = await s.announce({ ...a, event: 'update', seeder: true });
      expect(update.refusal).toMatchObject({ kind: 'interval' });
      expect(await s.scrape([ih])).toEqual([{ complete: 1, incomplete: 0, downloaded: 1 }]);
      clock.advance(59);
      const later = await s.announce({ ...a, event: 'completed', seeder: true });
      expect(later.refusal).toBeUndefined();
      expect(later).toMatchObject({ downloaded: 1, counted: false });
      // started and stopped keep passing at once; after stopped a new completion counts at once
      clock.advance(1);
      expect((await s.announce({ ...a, event: 'stopped' })).refusal).toBeUndefined();
      expect((await s.announce({ ...a, event: 'started' })).refusal).toBeUndefined();
      expect(await s.announce({ ...a, event: 'completed', seeder: true })).toMatchObject({ downloaded: 2, counted: true });
    });

    it('event=stopped removes the peer at once and returns no peers', async () => {
      const s = await open();
      const ih = hash();
      const a = announceOf(ih);
      const b = announceOf(ih);
      await s.announce(a);
      await s.announce(b);
      const r = await s.announce({ ...a, event: 'stopped' });
      expect(r.peers).toEqual([]);
      expect(r).toMatchObject({ complete: 0, incomplete: 1 });
      const rb = await s.announce({ ...b, event: 'update' });
      expect(rb.peers).toEqual([]);
      // stopping an unknown peer or swarm is harmless
      const unknown = await s.announce(announceOf(hash(), { event: 'stopped' }));
      expect(unknown).toMatchObject({ complete: 0, incomplete: 0, peers: [] });
    });

    it('returns min(numwant, swarm - 1) distinct peers', async () => {
      const s = await open();
      const ih = hash();
      const all = Array.from({ length: 30 }, (_, i) => announceOf(ih, { port: 1000 + i }));
      for (const a of all) await s.announce(a);
      const me = all[7];
      for (const numwant of [0, 1, 5, 28, 29, 30, 200]) {
        const r = await s.announce({ ...me, event: 'update', numwant });
        expect(r.peers).toHaveLength(Math.min(numwant, 29));
        const ids = new Set(r.peers.map((p) => hex(p.peerId)));
        expect(ids.size).toBe(r.peers.length);
        expect(ids.has(hex(me.peerId))).toBe(false);
      }
    });

    it('samples uniformly: every other peer shows up about equally often', async () => {
      const s = await open();
      const ih = hash();
      const all = Array.from({ length: 12 }, (_, i) => announceOf(ih, { port: 2000 + i }));
      for (const a of all) await s.announce(a);
      const me = all[0];
      const seen = new Map<number, number>();
      const rounds = 300;
      const k = 4;
      for (let i = 0; i < rounds; i++) {
        const r = await s.announce({ ...me, event: 'update', numwant: k });
        for (const p of r.peers) seen.set(p.port, (seen.get(p.port) ?? 0) + 1);
      }
      // 11 candidates, 4 picks per round: each expected 300*4/11 ≈ 109 times (sd ≈ 8.6).
      expect(seen.size).toBe(11);
      for (const count of seen.values()) {
        expect(count).toBeGreaterThan(70);
        expect(count).toBeLessThan(150);
      }
    });

    it('keeps swarms apart', async () => {
      const s = await open();
      const h1 = hash();
      const h2 = hash();
      await s.announce(announceOf(h1));
      await s.announce(announceOf(h1, { seeder: true }));
      const r = await s.announce(announceOf(h2));
      expect(r).toMatchObject({ complete: 0, incomplete: 1, peers: [] });
    });

    it('scrape returns counters in request order, zeros for unknown swarms', async () => {
      const s = await open();
      const h1 = hash();
      const h2 = hash();
      const h3 = hash();
      await s.announce(announceOf(h1));
      await s.announce(announceOf(h1, { seeder: true, event: 'completed' }));
      await s.announce(announceOf(h3, { seeder: true }));
      const counts = await s.scrape([h3, h2, h1]);
      expect(counts).toEqual([
        { complete: 1, incomplete: 0, downloaded: 0 },
        { complete: 0, incomplete: 0, downloaded: 0 },
        { complete: 1, incomplete: 1, downloaded: 1 },
      ]);
    });

    it('expires peers that stop announcing after their TTL', async () => {
      const s = await open();
      const ih = hash();
      const old = announceOf(ih, { ttl: 60 });
      await s.announce(old);
      clock.advance(40);
      const fresh = announceOf(ih, { ttl: 60 });
      await s.announce(fresh);
      clock.advance(40); // old is 80 s old (> 60), fresh is 40 s old
      const r = await s.announce({ ...fresh, event: 'update' });
      expect(r.peers).toEqual([]);
      expect(r).toMatchObject({ complete: 0, incomplete: 1 });
      clock.advance(200);
      const [c] = await s.scrape([ih]);
      expect(c.complete + c.incomplete).toBe(0);
    });

    it('keeps the downloaded counter after the swarm empties', async () => {
      const s = await open();
      const ih = hash();
      const a = announceOf(ih, { ttl: 30 });
      await s.announce(a);
      await s.announce({ ...a, event: 'completed', seeder: true });
      await s.announce({ ...a, event: 'stopped' });
      const [c] = await s.scrape([ih]);
      expect(c).toEqual({ complete: 0, incomplete: 0, downloaded: 1 });
    });

    it('a peer that stopped can start again', async () => {
      const s = await open();
      const ih = hash();
      const a = announceOf(ih);
      const b = announceOf(ih);
      await s.announce(a);
      await s.announce(b);
      await s.announce({ ...a, event: 'stopped' });
      const again = await s.announce({ ...a, event: 'started', seeder: true });
      expect(again).toMatchObject({ complete: 1, incomplete: 1 });
      expect(again.peers.map((p) => hex(p.peerId))).toEqual([hex(b.peerId)]);
      const [c] = await s.scrape([ih]);
      expect(c).toEqual({ complete: 1, incomplete: 1, downloaded: 0 });
    });

    it('scrape answers a repeated info hash at every position', async () => {
      const s = await open();
      const ih = hash();
      await s.announce(announceOf(ih, { seeder: true }));
      const counts = await s.scrape([ih, hash(), ih]);
      expect(counts[0]).toEqual({ complete: 1, incomplete: 0, downloaded: 0 });
      expect(counts[2]).toEqual(counts[0]);
      expect(counts[1]).toEqual({ complete: 0, incomplete: 0, downloaded: 0 });
    });

    it('loses no update under 200 concurrent announces', async () => {
      const s = await open();
      const ih = hash();
      const peers = Array.from({ length: 200 }, (_, i) => announceOf(ih, { seeder: i % 4 === 0, numwant: 10 }));
      const results = await Promise.all(peers.map((p) => s.announce(p)));
      for (const r of results) expect(r.peers.length).toBeLessThanOrEqual(10);
      const [c] = await s.scrape([ih]);
      expect(c).toEqual({ complete: 50, incomplete: 150, downloaded: 0 });
      await Promise.all(peers.slice(0, 40).map((p) => s.announce({ ...p, event: 'completed', seeder: true })));
      await Promise.all(peers.slice(100, 130).map((p) => s.announce({ ...p, event: 'stopped' })));
      const [d] = await s.scrape([ih]);
      // 0..39: 40 seeders now (10 of them were seeders already: their completion does not count);
      // 100..129 removed (of which 8 seeders: 100,104,...,128)
      const seeders = new Set<number>();
      for (let i = 0; i < 200; i++) if (i % 4 === 0 || i < 40) seeders.add(i);
      for (let i = 100; i < 130; i++) seeders.delete(i);
      expect(d).toEqual({ complete: seeders.size, incomplete: 170 - seeders.size, downloaded: 30 });
    });

    it('keeps live totals of every swarm: torrents, seeders and leechers by address family, through moves, stops and expiry', async () => {
      const s = await open();
      expect(s.totals, 'every built-in store keeps totals').toBeDefined();
      const totals = () => s.totals!();
      expect(await totals()).toEqual({ torrents: 0, seeders: 0, leechers: 0, peers: 0, ipv4: 0, ipv6: 0 });
      const a = hash();
      const b = hash();
      const v6 = Buffer.from('20010db8000000000000000000000001', 'hex');
      const seed = announceOf(a, { seeder: true, ip: v4(10, 0, 0, 1) });
      const leech = announceOf(a, { ip: v4(10, 0, 0, 2) });
      const leech6 = announceOf(a, { ip: v6, ttl: 60 });
      const lone = announceOf(b, { ip: v4(10, 0, 0, 3) });
      for (const r of [seed, leech, leech6, lone]) await s.announce(r);
      expect(await totals()).toEqual({ torrents: 2, seeders: 1, leechers: 3, peers: 4, ipv4: 3, ipv6: 1 });
      // re-announcing changes nothing; a refused hijack changes nothing
      await s.announce({ ...leech, event: 'update' });
      const refused = await s.announce({ ...leech, event: 'stopped', ip: v4(10, 9, 9, 9) });
      expect(refused.refusal).toEqual({ kind: 'address' });
      expect(await totals()).toEqual({ torrents: 2, seeders: 1, leechers: 3, peers: 4, ipv4: 3, ipv6: 1 });
      // a leecher completes; the lone peer stops (its swarm is gone)
      await s.announce({ ...leech, event: 'completed', seeder: true });
      await s.announce({ ...lone, event: 'stopped' });
      expect(await totals()).toEqual({ torrents: 1, seeders: 2, leechers: 1, peers: 3, ipv4: 2, ipv6: 1 });
      // the IPv6 peer (ttl 60) expires first, then the rest
      clock.advance(61);
      expect(await totals()).toEqual({ torrents: 1, seeders: 2, leechers: 0, peers: 2, ipv4: 2, ipv6: 0 });
      clock.advance(60);
      expect(await totals()).toEqual({ torrents: 0, seeders: 0, leechers: 0, peers: 0, ipv4: 0, ipv6: 0 });
      // a swarm whose latest peer stops lives as long as its remaining peers
      const c = hash();
      const early = announceOf(c, { ttl: 30 });
      const late = announceOf(c, { ttl: 90 });
      await s.announce(early);
      await s.announce(late);
      await s.announce({ ...late, event: 'stopped' });
      expect(await totals()).toMatchObject({ torrents: 1, peers: 1 });
      clock.advance(31);
      expect(await totals()).toMatchObject({ torrents: 0, peers: 0 });
    });

    it('refuses, changing nothing, an announce that would add a live peer or swarm past the caps; existing peers go on', async () => {
      const s = await open();
      const limits = { swarms: 2, peers: 3 };
      const settle = () => (factory.approximateCaps ? new Promise((r) => setTimeout(r, 1100)) : Promise.resolve());
      const a = hash();
      const b = hash();
      const a1 = announceOf(a, { limits, ip: v4(10, 0, 0, 1) });
      const a2 = announceOf(a, { limits, ip: v4(10, 0, 0, 2) });
      const b1 = announceOf(b, { limits, ip: v4(10, 0, 0, 3) });
      for (const r of [a1, a2, b1]) expect((await s.announce(r)).refusal).toBeUndefined();
      await settle();
      // a fourth peer, in an existing swarm or a new one: full; nothing changed
      expect((await s.announce(announceOf(a, { limits, ip: v4(10, 0, 0, 4) }))).refusal).toEqual({ kind: 'full' });
      expect((await s.announce(announceOf(hash(), { limits: { swarms: 2, peers: 0 } }))).refusal).toEqual({ kind: 'full' });
      expect(await s.scrape([a, b])).toEqual([
        { complete: 0, incomplete: 2, downloaded: 0 },
        { complete: 0, incomplete: 1, downloaded: 0 },
      ]);
      // existing peers keep announcing and completing
      expect((await s.announce({ ...a1, event: 'completed', seeder: true })).refusal).toBeUndefined();
      // once a peer leaves, a new one fits again
      await s.announce({ ...b1, event: 'stopped' });
      await settle();
      expect((await s.announce(announceOf(a, { limits, ip: v4(10, 0, 0, 5) }))).refusal).toBeUndefined();
      expect(await s.scrape([a])).toEqual([{ complete: 1, incomplete: 2, downloaded: 1 }]);
    });
  });
}
