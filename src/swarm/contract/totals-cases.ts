/**
 * Contract cases of live totals (`SwarmStore.totals`) and of the caps on them (`SwarmAnnounce.limits`).
 */
import { expect } from './expect.js';
import { type ContractCase, announceOf, hash, v4, three } from './fixtures.js';

/** Live totals. */
export const totalsCases: ContractCase[] = [
  {
    name: 'keeps live totals of every swarm: torrents, seeders and leechers by address family, through moves, stops and expiry',
    async run(s, clock) {
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
    },
  },
];

/** Caps on live peers and swarms. */
export const capsCases: ContractCase[] = [
  {
    name: 'refuses, changing nothing, an announce that would add a live peer or swarm past the caps; existing peers go on',
    async run(s, _clock, factory) {
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
      expect((await s.scrape([a, b])).map(three)).toEqual([
        { complete: 0, incomplete: 2, downloaded: 0 },
        { complete: 0, incomplete: 1, downloaded: 0 },
      ]);
      // existing peers keep announcing and completing
      expect((await s.announce({ ...a1, event: 'completed', seeder: true })).refusal).toBeUndefined();
      // once a peer leaves, a new one fits again
      await s.announce({ ...b1, event: 'stopped' });
      await settle();
      expect((await s.announce(announceOf(a, { limits, ip: v4(10, 0, 0, 5) }))).refusal).toBeUndefined();
      expect((await s.scrape([a])).map(three)).toEqual([{ complete: 1, incomplete: 2, downloaded: 1 }]);
    },
  },
];
