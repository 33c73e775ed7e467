/**
 * Many torrents and many peers in one seeder: 3 torrents, 24 scripted leechers (more than the
 * upload slots), all downloading whole torrents at once. Choked leechers get their requests
 * rejected (Fast) and must wait for a turn, so every leecher finishing proves the slots rotate.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createSeeder, type Seeder } from '../../src/seeder/seeder.js';
import { FakePeer } from './helpers/fake-peer.js';
import { leech } from './helpers/leech.js';
import { makeTorrent, type TorrentFixture } from './helpers/torrent.js';

const seeders: Seeder[] = [];
const peers: FakePeer[] = [];
afterAll(async () => {
  for (const p of peers) p.destroy();
  for (const s of seeders) await s.close();
});

describe('many torrents, many peers', () => {
  it('serves 24 concurrent leechers over 3 torrents with 4 upload slots, everyone completes byte-identical', { timeout: 60_000 }, async () => {
    // All 24 leechers connect from 127.0.0.1: eight per torrent, above the default per-address cap.
    const seeder = await createSeeder({ port: 0, host: '127.0.0.1', announce: false, uploadSlots: 4, rotateInterval: 150, maxConnectionsPerAddress: 8 });
    seeders.push(seeder);
    const fixtures = await Promise.all([0, 1, 2].map((i) => makeTorrent({ name: `t${i}.bin`, size: 300_000 + i * 7777, pieceLength: 32768 })));
    for (const fx of fixtures) await seeder.add(fx.torrentBuffer, fx.dir);
    let maxUnchoked = 0;
    const timer = setInterval(() => {
      maxUnchoked = Math.max(maxUnchoked, seeder.stats().torrents.reduce((n, t) => n + t.unchoked, 0));
    }, 20);
    const jobs = Array.from({ length: 24 }, async (_, i) => {
      const fx = fixtures[i % 3];
      const p = await FakePeer.connect(seeder.port);
      peers.push(p);
      p.handshake(fx.parsed.infoHashBuffer, Buffer.concat([Buffer.from('-TS0001-'), randomBytes(12)]), { fast: true });
      await p.waitFor(() => p.ofType('have-all').length === 1);
      const got = await leech(p, fx);
      expect(got.equals(fx.data), `leecher ${i}`).toBe(true);
      p.destroy();
    });
    await Promise.all(jobs);
    clearInterval(timer);
    expect(maxUnchoked).toBeLessThanOrEqual(5); // 4 regular slots + 1 optimistic
    const stats = seeder.stats();
    expect(stats.torrents).toHaveLength(3);
    expect(stats.uploaded).toBeGreaterThanOrEqual(fixtures.reduce((n, fx) => n + 8 * fx.data.length, 0));
  });
});
