/**
 * Contract cases of scrape: counters in request order, zeros for unknown swarms, `downloaded` kept
 * after the swarm empties.
 */
import { expect } from './expect.js';
import { type ContractCase, announceOf, hash, three } from './fixtures.js';

/** Scrape. */
export const scrapeCases: ContractCase[] = [
  {
    name: 'scrape returns counters in request order, zeros for unknown swarms',
    async run(s) {
      const h1 = hash();
      const h2 = hash();
      const h3 = hash();
      await s.announce(announceOf(h1));
      await s.announce(announceOf(h1, { seeder: true, event: 'completed' }));
      await s.announce(announceOf(h3, { seeder: true }));
      const counts = (await s.scrape([h3, h2, h1])).map(three);
      expect(counts).toEqual([
        { complete: 1, incomplete: 0, downloaded: 0 },
        { complete: 0, incomplete: 0, downloaded: 0 },
        { complete: 1, incomplete: 1, downloaded: 1 },
      ]);
    },
  },
  {
    name: 'keeps the downloaded counter after the swarm empties',
    async run(s) {
      const ih = hash();
      const a = announceOf(ih, { ttl: 30 });
      await s.announce(a);
      await s.announce({ ...a, event: 'completed', seeder: true });
      await s.announce({ ...a, event: 'stopped' });
      const [c] = await s.scrape([ih]);
      expect(three(c)).toEqual({ complete: 0, incomplete: 0, downloaded: 1 });
    },
  },
  {
    name: 'scrape answers a repeated info hash at every position',
    async run(s) {
      const ih = hash();
      await s.announce(announceOf(ih, { seeder: true }));
      const counts = (await s.scrape([ih, hash(), ih])).map(three);
      expect(counts[0]).toEqual({ complete: 1, incomplete: 0, downloaded: 0 });
      expect(counts[2]).toEqual(counts[0]);
      expect(counts[1]).toEqual({ complete: 0, incomplete: 0, downloaded: 0 });
    },
  },
];
