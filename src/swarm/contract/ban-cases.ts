/**
 * Contract cases of the optional ban parts of a store: {@link BanStore} (list, add, remove; a ban
 * written is read back equal) and `removePeers` (the peers picked leave their swarms, counts follow,
 * others stay). A store without them passes these cases trivially.
 */
import type { Ban } from '../../policy/bans.js';
import { expect } from './expect.js';
import { type ContractCase, announceOf, hash, v4, three } from './fixtures.js';

/** Bans. */
export const banCases: ContractCase[] = [
  {
    name: 'bans: a ban added is listed equal, removed once, and gone',
    async run(s, clock) {
      if (!s.bans) return;
      const now = clock.now();
      const bans: Ban[] = [
        { id: `a${now}`, address: '203.0.113.0/24', reason: 'abuse', createdAt: now },
        { id: `u${now}`, user: 42, expiresAt: now + 60_000, createdAt: now },
        { id: `c${now}`, client: '-XL0012-', createdAt: now },
      ];
      for (const ban of bans) await s.bans.add(ban);
      const listed = await s.bans.list();
      for (const ban of bans) expect(listed.find((b) => b.id === ban.id)).toEqual(ban);
      expect(await s.bans.remove(bans[0].id)).toBe(true);
      expect(await s.bans.remove(bans[0].id)).toBe(false);
      const after = (await s.bans.list()).map((b) => b.id);
      expect(after.includes(bans[0].id)).toBe(false);
      expect(after).toContain(bans[1].id);
      for (const ban of bans.slice(1)) await s.bans.remove(ban.id);
    },
  },
  {
    name: 'removePeers: the peers picked leave their swarms and counts follow; the others stay',
    async run(s) {
      if (!s.removePeers) return;
      const h1 = hash();
      const h2 = hash();
      const banned = v4(10, 9, 9, 9);
      await s.announce(announceOf(h1, { ip: banned, seeder: true }));
      await s.announce(announceOf(h1, { ip: v4(10, 0, 0, 2) }));
      await s.announce(announceOf(h2, { ip: banned }));
      const keep = announceOf(h2, { ip: v4(10, 0, 0, 3) });
      await s.announce(keep);
      const removed = await s.removePeers((peer) => Buffer.from(peer.ip).equals(banned));
      expect(removed).toBe(2);
      expect((await s.scrape([h1, h2])).map(three)).toEqual([
        { complete: 0, incomplete: 1, downloaded: 0 },
        { complete: 0, incomplete: 1, downloaded: 0 },
      ]);
      const answer = await s.announce({ ...announceOf(h2, { ip: v4(10, 0, 0, 4) }) });
      expect(answer.peers.map((p) => Buffer.from(p.ip).join('.'))).toEqual(['10.0.0.3']);
    },
  },
];
