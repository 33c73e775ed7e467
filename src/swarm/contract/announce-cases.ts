/**
 * Contract cases of announce: counts, peer samples (exact, uniform, never the requester), address
 * protection, stopped, expiry, concurrency.
 */
import { expect } from './expect.js';
import { type ContractCase, announceOf, hash, hex, three, v4 } from './fixtures.js';

/** Announce, sample, stop, expiry. */
export const announceCases: ContractCase[] = [
  {
    name: 'a first peer is alone: counts one leecher, gets no peers',
    async run(s) {
      const r = await s.announce(announceOf(hash()));
      expect(r).toMatchObject({ complete: 0, incomplete: 1, downloaded: 0 });
      expect(r.peers).toEqual([]);
    },
  },
  {
    name: 'peers see each other, never themselves, with exact id, address and port',
    async run(s) {
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
    },
  },
  {
    name: 'keeps IPv6 addresses as 16 bytes next to IPv4 ones',
    async run(s) {
      const ih = hash();
      const ip6 = Buffer.from('20010db8000000000000000000000001', 'hex');
      await s.announce(announceOf(ih, { ip: ip6, port: 4242 }));
      const r = await s.announce(announceOf(ih));
      expect(r.peers).toHaveLength(1);
      expect(hex(r.peers[0].ip)).toBe(hex(ip6));
      expect(r.peers[0].port).toBe(4242);
    },
  },
  {
    name: 'a re-announce updates port, address and seeder state without double counting',
    async run(s) {
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
      expect(three(c)).toEqual({ complete: 0, incomplete: 2, downloaded: 0 });
    },
  },
  {
    name: 'nobody can move or remove a listed peer: only its own address, or its key, may change it',
    async run(s, clock) {
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
    },
  },
  {
    name: 'event=stopped removes the peer at once and returns no peers',
    async run(s) {
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
    },
  },
  {
    name: 'returns min(numwant, swarm - 1) distinct peers',
    async run(s) {
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
    },
  },
  {
    name: 'samples uniformly: every other peer shows up about equally often',
    async run(s) {
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
    },
  },
  {
    name: 'keeps swarms apart',
    async run(s) {
      const h1 = hash();
      const h2 = hash();
      await s.announce(announceOf(h1));
      await s.announce(announceOf(h1, { seeder: true }));
      const r = await s.announce(announceOf(h2));
      expect(r).toMatchObject({ complete: 0, incomplete: 1, peers: [] });
    },
  },
  {
    name: 'expires peers that stop announcing after their TTL',
    async run(s, clock) {
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
    },
  },
  {
    name: 'a peer that stopped can start again',
    async run(s) {
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
      expect(three(c)).toEqual({ complete: 1, incomplete: 1, downloaded: 0 });
    },
  },
  {
    name: 'loses no update under 200 concurrent announces',
    async run(s) {
      const ih = hash();
      const peers = Array.from({ length: 200 }, (_, i) => announceOf(ih, { seeder: i % 4 === 0, numwant: 10 }));
      const results = await Promise.all(peers.map((p) => s.announce(p)));
      for (const r of results) expect(r.peers.length).toBeLessThanOrEqual(10);
      const [c] = await s.scrape([ih]);
      expect(three(c)).toEqual({ complete: 50, incomplete: 150, downloaded: 0 });
      await Promise.all(peers.slice(0, 40).map((p) => s.announce({ ...p, event: 'completed', seeder: true })));
      await Promise.all(peers.slice(100, 130).map((p) => s.announce({ ...p, event: 'stopped' })));
      const [d] = await s.scrape([ih]);
      // 0..39: 40 seeders now (10 of them were seeders already: their completion does not count);
      // 100..129 removed (of which 8 seeders: 100,104,...,128)
      const seeders = new Set<number>();
      for (let i = 0; i < 200; i++) if (i % 4 === 0 || i < 40) seeders.add(i);
      for (let i = 100; i < 130; i++) seeders.delete(i);
      expect(three(d)).toEqual({ complete: seeders.size, incomplete: 170 - seeders.size, downloaded: 30 });
    },
  },
];
