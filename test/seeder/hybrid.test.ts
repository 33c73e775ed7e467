/**
 * The seeder and hybrid torrents (BEP 52 + BEP 47 pad files): pieces are served over the v1 wire
 * protocol with the pad files' zeros between the files, and data is verified against both the v1
 * pieces and the v2 roots. v2-only torrents are seeded too (verified against their piece layers;
 * their hash requests are tested in v2-hashes.test.ts).
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FilePool } from '../../src/seeder/file-pool.js';
import { resolveLocalFiles } from '../../src/seeder/paths.js';
import { createSeeder, type Seeder } from '../../src/seeder/seeder.js';
import { TorrentDataError, TorrentStorage } from '../../src/seeder/storage.js';
import { createTorrent } from '../../src/torrent/create.js';
import { parseTorrent } from '../../src/torrent/parse.js';
import { bytes, tempDir, writeTree } from '../torrent/fixtures.js';

const tmp = tempDir('ett-seed-hybrid-');
const seeders: Seeder[] = [];
afterAll(async () => {
  for (const s of seeders) await s.close();
  tmp.cleanup();
});

async function seeder(): Promise<Seeder> {
  const s = await createSeeder({ port: 0, host: '127.0.0.1', announce: false });
  seeders.push(s);
  return s;
}

let counter = 0;
function tree(): string {
  const root = path.join(tmp.dir, `case-${counter++}`, 'set');
  writeTree(root, { 'a.bin': bytes(40_000, 1), 'b.txt': bytes(100, 2), 'c.empty': Buffer.alloc(0), 'sub/d.bin': bytes(70_000, 3) });
  return root;
}

describe('seeding hybrid torrents', () => {
  it('reads every v1 piece, pad zeros included, so that it matches its SHA-1', async () => {
    const root = tree();
    for (const target of [root, path.join(root, 'a.bin')]) {
      const parsed = parseTorrent((await createTorrent(target, { version: 'hybrid', pieceLength: 16_384 })).torrent);
      const files = await resolveLocalFiles(parsed, target);
      const pieceCount = parsed.pieces.length;
      const length = (pieceCount - 1) * parsed.pieceLength + parsed.lastPieceLength;
      const storage = new TorrentStorage(files, { length, pieceLength: parsed.pieceLength, pieceCount }, new FilePool(8), true);
      for (let i = 0; i < pieceCount; i++) {
        const piece = await storage.read(i * parsed.pieceLength, storage.pieceSize(i));
        expect(createHash('sha1').update(piece).digest().equals(parsed.pieces[i]), `piece ${i}`).toBe(true);
      }
      if (parsed.multiFile) {
        // A block that starts inside a pad file is all zeros.
        const padStart = parsed.files[0].offset + parsed.files[0].length;
        expect((await storage.read(padStart, 100)).equals(Buffer.alloc(100))).toBe(true);
      }
      storage.close();
    }
  });

  it('verifies the data when added and finds a changed byte, for hybrid and v2-only torrents', async () => {
    const root = tree();
    const hybrid = await createTorrent(root, { version: 'hybrid', pieceLength: 16_384 });
    const s = await seeder();
    const info = await s.add(hybrid.torrent, root);
    expect(info).toMatchObject({ infoHash: hybrid.infoHash, pieceCount: parseTorrent(hybrid.torrent).pieces.length });
    await s.remove(hybrid.infoHash);

    const content = readFileSync(path.join(root, 'sub/d.bin'));
    content[69_999] ^= 1;
    writeFileSync(path.join(root, 'sub/d.bin'), content);
    await expect(s.add(hybrid.torrent, root)).rejects.toThrow(TorrentDataError);
    await expect(s.add(hybrid.torrent, root)).rejects.toThrow(/pieces do not match the torrent/);

    expect(s.list()).toEqual([]);

    // v2-only: seeded under its truncated v2 info hash; a changed byte is found by the piece layers.
    const v2 = await createTorrent(root, { version: 'v2', pieceLength: 16_384 });
    const v2Info = await s.add(v2.torrent, root);
    expect(v2Info).toMatchObject({ infoHash: v2.infoHashV2!.slice(0, 40), pieceCount: 3 + 1 + 5 });
    expect(s.list()).toEqual([v2.infoHashV2!.slice(0, 40)]);
    await s.remove(v2Info.infoHash);
    content[1] ^= 1;
    writeFileSync(path.join(root, 'sub/d.bin'), content);
    await expect(s.add(v2.torrent, root)).rejects.toThrow(/1 of 9 pieces do not match the torrent \(first: piece 4\)/);
    expect(s.list()).toEqual([]);
  });
});
