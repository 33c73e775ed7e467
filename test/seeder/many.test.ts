/**
 * Many torrents and many peers in one seeder: 3 torrents, 24 scripted leechers (more than the
 * upload slots), all downloading whole torrents at once. Choked leechers get their requests
 * rejected (Fast) and must wait for a turn, so every leecher finishing proves the slots rotate.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createSeeder, type Seeder } from '../../src/seeder/seeder.js';
import { encode } from '../../src/seeder/wire.js';
import { FakePeer } from './helpers/fake-peer.js';
import { makeTorrent, type TorrentFixture } from './helpers/torrent.js';

const BLOCK = 16384;

/** Downloads every block of `fx` over `peer`, re-requesting what gets rejected. */
async function leech(peer: FakePeer, fx: TorrentFixture): Promise<Buffer> {
  const blocks: Array<{ index: number; begin: number; length: number }> = [];
  for (let i = 0; i < fx.parsed.pieces.length; i++) {
    const size = i === fx.parsed.pieces.length - 1 ? fx.parsed.lastPieceLength : fx.parsed.pieceLength;
    for (let b = 0; b < size; b += BLOCK) blocks.push({ index: i, begin: b, length: Math.min(BLOCK, size - b) });
  }
  const out = Buffer.alloc(fx.data.length);
  const done = new Set<number>();
  const outstanding = new Set<number>();
  const keyOf = (index: number, begin: number): number => blocks.findIndex((b) => b.index === index && b.begin === begin);
  let seen = 0;
  let unchoked = false;
  peer.send(encode.interested());
  await peer.waitFor(
    () => {
      for (; seen < peer.messages.length; seen++) {
        const m = peer.messages[seen];
        if (m.type === 'unchoke') unchoked = true;
        else if (m.type === 'choke') unchoked = false;
        else if (m.type === 'piece') {
          const k = keyOf(m.index, m.begin);
          m.block.copy(out, m.index * fx.parsed.pieceLength + m.begin);
          done.add(k);
          outstanding.delete(k);
        } else if (m.type === 'reject') outstanding.delete(keyOf(m.index, m.begin));
      }
      if (unchoked) {
        for (let k = 0; k < blocks.length && outstanding.size < 8; k++) {
          if (done.has(k) || outstanding.has(k)) continue;
          outstanding.add(k);
          peer.send(encode.request(blocks[k]));
        }
      }
      return done.size === blocks.length;
    },
    30_000,
    'the whole torrent',
  );
  return out;
}

const seeders: Seeder[] = [];
const peers: FakePeer[] = [];
afterAll(async () => {
  for (const p of peers) p.destroy();
  for (const s of seeders) await s.close();
});

describe('many torrents, many peers', () => {
  it('serves 24 concurrent leechers over 3 torrents with 4 upload slots, everyone completes byte-identical', { timeout: 60_000 }, async () => {
    const seeder = await createSeeder({ port: 0, host: '127.0.0.1', announce: false, uploadSlots: 4, rotateInterval: 150 });
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
