/**
 * Contract cases of `completed`: it adds one to `downloaded` at most once per listed peer, and
 * `counted` says whether it did.
 */
import { expect } from './expect.js';
import { type ContractCase, announceOf, hash, hex, three } from './fixtures.js';

/** Completions and `counted`. */
export const completionCases: ContractCase[] = [
  {
    name: 'event=completed adds one to downloaded for each peer that completes',
    async run(s) {
      const ih = hash();
      const a = announceOf(ih);
      const b = announceOf(ih);
      await s.announce(a);
      await s.announce(b);
      expect((await s.announce({ ...a, event: 'completed', seeder: true })).counted).toBe(true);
      const r = await s.announce({ ...b, event: 'completed', seeder: true });
      expect(r).toMatchObject({ complete: 2, incomplete: 0, downloaded: 2, counted: true });
    },
  },
  {
    name: 'a peer counts one completion while it is listed: repeats do not count, as leecher or seeder',
    async run(s) {
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
      expect((await s.scrape([ih])).map(three)).toEqual([{ complete: 2, incomplete: 0, downloaded: 2 }]);
    },
  },
  {
    name: 'a peer listed as a seeder does not count a completion, even after it turned leecher again',
    async run(s) {
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
      expect((await s.scrape([ih])).map(three)).toEqual([{ complete: 1, incomplete: 6, downloaded: 0 }]);
    },
  },
  {
    name: 'a peer the store does not know counts its completion (the tracker restarted under it)',
    async run(s) {
      const ih = hash();
      const a = announceOf(ih, { event: 'completed', seeder: true });
      expect(await s.announce(a)).toMatchObject({ complete: 1, downloaded: 1, counted: true });
      expect(await s.announce(a)).toMatchObject({ complete: 1, downloaded: 1, counted: false });
    },
  },
  {
    name: 'a peer forgotten by stopped or expiry counts a new completion',
    async run(s, clock) {
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
      expect((await s.scrape([ih])).map(three)).toEqual([{ complete: 1, incomplete: 1, downloaded: 4 }]);
    },
  },
];
