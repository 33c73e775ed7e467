/**
 * Contract cases of BEP 21 partial seeds: a peer announcing with `partial` counts among the leechers
 * (`incomplete`) but not among the `downloaders`, says so again on every announce, and stops being
 * one when it announces without it, becomes a seeder, stops or expires. A store that does not keep
 * partial seeds apart skips these cases with `partialSeeds: false` in its factory.
 */
import { expect } from './expect.js';
import { type ContractCase, announceOf, hash, v4 } from './fixtures.js';

/** BEP 21 partial seeds. */
export const partialCases: ContractCase[] = [
  {
    name: 'a partial seed counts as a leecher but not as a downloader; unknown swarms have 0 downloaders',
    async run(s) {
      const ih = hash();
      await s.announce(announceOf(ih));
      await s.announce(announceOf(ih, { ip: v4(10, 0, 0, 2), partial: true }));
      await s.announce(announceOf(ih, { ip: v4(10, 0, 0, 3), partial: true }));
      await s.announce(announceOf(ih, { ip: v4(10, 0, 0, 4), seeder: true }));
      const [counts, unknown] = await s.scrape([ih, hash()]);
      expect(counts).toEqual({ complete: 1, incomplete: 3, downloaded: 0, downloaders: 1 });
      expect(unknown).toEqual({ complete: 0, incomplete: 0, downloaded: 0, downloaders: 0 });
    },
  },
  {
    name: 'a partial seed is one only while it says so: an update without it, a completion or stopped ends it',
    async run(s) {
      const ih = hash();
      const p = announceOf(ih, { partial: true });
      await s.announce(p);
      await s.announce(announceOf(ih, { ip: v4(10, 0, 0, 2) }));
      expect((await s.scrape([ih]))[0]).toMatchObject({ incomplete: 2, downloaders: 1 });
      await s.announce({ ...p, event: 'update', partial: false });
      expect((await s.scrape([ih]))[0]).toMatchObject({ incomplete: 2, downloaders: 2 });
      await s.announce({ ...p, event: 'update', partial: true });
      await s.announce({ ...p, event: 'update', partial: true }); // said again: still one partial seed
      expect((await s.scrape([ih]))[0]).toMatchObject({ complete: 0, incomplete: 2, downloaders: 1 });
      await s.announce({ ...p, event: 'completed', seeder: true, partial: false });
      expect((await s.scrape([ih]))[0]).toMatchObject({ complete: 1, incomplete: 1, downloaders: 1 });
      const q = announceOf(ih, { ip: v4(10, 0, 0, 3), partial: true });
      await s.announce(q);
      expect((await s.scrape([ih]))[0]).toMatchObject({ complete: 1, incomplete: 2, downloaders: 1 });
      await s.announce({ ...q, event: 'stopped' });
      expect((await s.scrape([ih]))[0]).toMatchObject({ complete: 1, incomplete: 1, downloaders: 1 });
    },
  },
  {
    name: 'an expired partial seed leaves both incomplete and the difference to downloaders',
    async run(s, clock) {
      const ih = hash();
      await s.announce(announceOf(ih, { partial: true, ttl: 30 }));
      await s.announce(announceOf(ih, { ip: v4(10, 0, 0, 2), ttl: 300 }));
      expect((await s.scrape([ih]))[0]).toMatchObject({ incomplete: 2, downloaders: 1 });
      clock.advance(31);
      await s.announce(announceOf(ih, { ip: v4(10, 0, 0, 3), ttl: 300 }));
      expect((await s.scrape([ih]))[0]).toMatchObject({ complete: 0, incomplete: 2, downloaders: 2 });
    },
  },
];
