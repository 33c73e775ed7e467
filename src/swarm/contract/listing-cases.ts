/**
 * Contract cases of the optional listing methods: `peersOf` (a page of a swarm's live peers) and
 * `registry.list` (a page of the registered torrents, a hybrid pair once). A store without the
 * method passes its cases without running them (the tracker then refuses to list).
 */
import { expect } from './expect.js';
import { type ContractCase, announceOf, hash, hex, v4 } from './fixtures.js';

/** Listing. */
export const listingCases: ContractCase[] = [
  {
    name: 'peersOf lists the live peers of a swarm, a page at a time',
    async run(s, clock) {
      if (!s.peersOf) return;
      const ih = hash();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const a = announceOf(ih, { ip: v4(10, 0, 0, i + 1), port: 6000 + i, seeder: i < 2 });
        ids.push(hex(a.peerId));
        await s.announce(a);
      }
      const all = await s.peersOf(ih, 0, 10);
      expect(all.total).toBe(5);
      expect(all.peers.map((p) => hex(p.peerId)).sort()).toEqual([...ids].sort());
      for (const p of all.peers) {
        const i = ids.indexOf(hex(p.peerId));
        expect(p.seeder, 'seeder flag').toBe(i < 2);
        expect(hex(p.ip)).toBe(hex(v4(10, 0, 0, i + 1)));
        expect(p.port).toBe(6000 + i);
        expect(p.expires >= clock.now() + 119_000 && p.expires <= clock.now() + 121_000, `expires ${p.expires}`).toBe(true);
      }
      const first = await s.peersOf(ih, 0, 2);
      const second = await s.peersOf(ih, 2, 2);
      const third = await s.peersOf(ih, 4, 2);
      expect(first.total).toBe(5);
      expect([first.peers.length, second.peers.length, third.peers.length]).toEqual([2, 2, 1]);
      const paged = [...first.peers, ...second.peers, ...third.peers].map((p) => hex(p.peerId));
      expect(paged.sort()).toEqual([...ids].sort());
      expect((await s.peersOf(ih, 0, 0)).peers).toHaveLength(0);
      expect(await s.peersOf(hash(), 0, 10)).toEqual({ total: 0, peers: [] });
    },
  },
  {
    name: 'peersOf leaves out expired and stopped peers',
    async run(s, clock) {
      if (!s.peersOf) return;
      const ih = hash();
      const old = announceOf(ih, { ttl: 30 });
      const stopped = announceOf(ih, { ttl: 300 });
      await s.announce(old);
      await s.announce(stopped);
      await s.announce({ ...stopped, event: 'stopped' });
      clock.advance(31);
      const fresh = announceOf(ih, { ttl: 300, ip: v4(10, 0, 0, 9) });
      await s.announce(fresh);
      const page = await s.peersOf(ih, 0, 10);
      expect(page.total).toBe(1);
      expect(page.peers.map((p) => hex(p.peerId))).toEqual([hex(fresh.peerId)]);
    },
  },
  {
    name: 'peersOf gives the owner and last announce of a private peer',
    async run(s, clock) {
      if (!s.peersOf || !s.privateMode) return;
      const ih = hash();
      const own = { owner: 'alice', minInterval: 0, uploaded: 0, downloaded: 0, counters: false };
      await s.announce(announceOf(ih, { private: own }));
      const [peer] = (await s.peersOf(ih, 0, 10)).peers;
      expect(peer?.owner).toBe('alice');
      expect(peer?.at).toBe(clock.now());
    },
  },
  {
    name: 'registry.list pages through the registered torrents by info hash, a hybrid pair once',
    async run(s) {
      const registry = s.registry;
      if (!registry?.list) return;
      expect(await registry.list(0, 10)).toEqual({ total: 0, torrents: [] });
      const plain = [hash(), hash(), hash()];
      for (const [i, h] of plain.entries()) await registry.add(h, { uploadFactor: i + 1 });
      const v1 = hash();
      const v2 = Buffer.concat([hash(), hash()]).subarray(0, 32);
      const pair = { infoHash: hex(v1), infoHashV2: hex(v2) };
      await registry.add(v1, { downloadFactor: 0, ...pair });
      await registry.add(v2.subarray(0, 20), { downloadFactor: 0, ...pair });
      const listed = [...plain.map(hex), hex(v1)].sort();
      const all = await registry.list(0, 10);
      expect(all.total).toBe(4);
      expect(all.torrents.map((t) => hex(t.infoHash))).toEqual(listed);
      expect(all.torrents.find((t) => hex(t.infoHash) === hex(v1))?.rules).toEqual({ downloadFactor: 0, ...pair });
      expect(all.torrents.find((t) => hex(t.infoHash) === hex(plain[1]!))?.rules).toEqual({ uploadFactor: 2 });
      const page = await registry.list(1, 2);
      expect(page.total).toBe(4);
      expect(page.torrents.map((t) => hex(t.infoHash))).toEqual(listed.slice(1, 3));
      // adding again replaces the rules and lists it once
      await registry.add(plain[0]!, { uploadFactor: 9 });
      expect((await registry.list(0, 10)).total).toBe(4);
      expect(await registry.remove(plain[0]!)).toBe(true);
      expect(await registry.remove(v1)).toBe(true);
      expect(await registry.remove(v2.subarray(0, 20))).toBe(true);
      const left = await registry.list(0, 10);
      expect(left.total).toBe(2);
      expect(left.torrents.map((t) => hex(t.infoHash))).toEqual(plain.slice(1).map(hex).sort());
    },
  },
];
