import { createHash } from 'node:crypto';
import { appendFileSync, statSync, truncateSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TorrentCreateError } from '../../src/torrent/errors.js';
import { hashPieces, type PieceFile } from '../../src/torrent/pieces.js';
import { bytes, tempDir, writeTree } from './fixtures.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** Reference: hash the concatenation piece by piece, all in memory. */
function reference(contents: Buffer[], pieceLength: number): Buffer {
  const all = Buffer.concat(contents);
  const out: Buffer[] = [];
  for (let at = 0; at < all.length; at += pieceLength) out.push(createHash('sha1').update(all.subarray(at, at + pieceLength)).digest());
  return Buffer.concat(out);
}

function makeFiles(dir: string, sizes: number[]): { files: PieceFile[]; contents: Buffer[] } {
  const contents = sizes.map((size, i) => bytes(size, 100 + i));
  writeTree(dir, Object.fromEntries(contents.map((content, i) => [`f${i}`, content])));
  const files = contents.map((content, i) => {
    const absolutePath = path.join(dir, `f${i}`);
    return { absolutePath, length: content.length, mtimeMs: statSync(absolutePath).mtimeMs };
  });
  return { files, contents };
}

describe('hashPieces', () => {
  // Odd sizes so that pieces span files; empty files first, in the middle and last; > 2 chunks of
  // 4 MiB so the worker pool is used.
  const big = makeFiles(path.join(tmp.dir, 'big'), [0, 1_234_567, 0, 16_383, 1, 5_000_000, 3_333_333, 0]);
  const total = big.contents.reduce((sum, c) => sum + c.length, 0);

  it('hashes on workers exactly like the in-memory reference, pieces spanning files', async () => {
    for (const pieceLength of [16_384, 262_144, 4 * 1024 * 1024]) {
      const expected = reference(big.contents, pieceLength);
      const progress: number[] = [];
      const got = await hashPieces(big.files, { pieceLength, threads: 2, onProgress: (done, all) => progress.push(done, all) });
      expect(got.equals(expected)).toBe(true);
      expect(progress.at(-2)).toBe(total);
      expect(progress.at(-1)).toBe(total);
    }
  });

  it('gives the same result on the calling thread and with one or three workers', async () => {
    const expected = reference(big.contents, 32_768);
    for (const threads of [0, 1, 3]) {
      expect((await hashPieces(big.files, { pieceLength: 32_768, threads })).equals(expected)).toBe(true);
    }
  });

  it('hashes small inputs inline, including a last partial piece and an all-empty input', async () => {
    const small = makeFiles(path.join(tmp.dir, 'small'), [100, 0, 70_000]);
    expect((await hashPieces(small.files, { pieceLength: 16_384 })).equals(reference(small.contents, 16_384))).toBe(true);
    const empty = makeFiles(path.join(tmp.dir, 'empty'), [0, 0]);
    expect(await hashPieces(empty.files, { pieceLength: 16_384 })).toHaveLength(0);
  });

  it('fails when a file grows while it is hashed (calling thread)', async () => {
    const { files } = makeFiles(path.join(tmp.dir, 'grow'), [6 * 1024 * 1024]);
    let grown = false;
    const run = hashPieces(files, {
      pieceLength: 16_384,
      onProgress: () => {
        if (!grown) appendFileSync(files[0].absolutePath, 'more');
        grown = true;
      },
    });
    await expect(run).rejects.toThrow(TorrentCreateError);
    await expect(run).rejects.toThrow(/f0 changed while it was being hashed/);
  });

  it('fails when a file shrinks while it is hashed (workers)', async () => {
    const { files } = makeFiles(path.join(tmp.dir, 'shrink'), [5_000_000, 5_000_000, 5_000_000]);
    let cut = false;
    const run = hashPieces(files, {
      pieceLength: 16_384,
      threads: 1,
      onProgress: () => {
        if (!cut) truncateSync(files[2].absolutePath, 10);
        cut = true;
      },
    });
    await expect(run).rejects.toThrow(/f2 changed while it was being hashed/);
  });

  it('hashes many small files on workers (per-file reads and checks)', async () => {
    const sizes = Array.from({ length: 300 }, (_, i) => (i * 7919) % 5000);
    const many = makeFiles(path.join(tmp.dir, 'many'), sizes);
    for (const threads of [1, 2]) {
      expect((await hashPieces(many.files, { pieceLength: 16_384, threads })).equals(reference(many.contents, 16_384))).toBe(true);
    }
  });

  it('fails when a file is rewritten in place (same size, new time) while it is hashed (workers)', async () => {
    const sizes = Array.from({ length: 200 }, () => 4000);
    const { files } = makeFiles(path.join(tmp.dir, 'touched'), sizes);
    let touched = false;
    const run = hashPieces(files, {
      pieceLength: 16_384,
      threads: 1,
      onProgress: () => {
        if (!touched) utimesSync(files[199].absolutePath, new Date(2_000_000_000_000), new Date(2_000_000_000_000));
        touched = true;
      },
    });
    await expect(run).rejects.toThrow(/f199 changed while it was being hashed: it was modified/);
  });

  it('fails clearly when a file is missing', async () => {
    const files = [{ absolutePath: path.join(tmp.dir, 'nope'), length: 10 }];
    await expect(hashPieces(files, { pieceLength: 16_384 })).rejects.toThrow(/cannot read .*nope: no such file or directory/);
    const many = [...big.files, { absolutePath: path.join(tmp.dir, 'nope'), length: 10 }];
    await expect(hashPieces(many, { pieceLength: 16_384, threads: 2 })).rejects.toThrow(/cannot read .*nope: no such file or directory/);
  });

  it('stops when aborted, with the signal reason', async () => {
    const controller = new AbortController();
    const reason = new Error('stop now');
    const run = hashPieces(big.files, { pieceLength: 16_384, threads: 2, signal: controller.signal, onProgress: () => controller.abort(reason) });
    await expect(run).rejects.toBe(reason);
    const already = AbortSignal.abort(reason);
    await expect(hashPieces(big.files, { pieceLength: 16_384, signal: already })).rejects.toBe(reason);
  });

  it('rejects a non-positive piece length and a negative thread count', async () => {
    await expect(hashPieces(big.files, { pieceLength: 0 })).rejects.toThrow(RangeError);
    await expect(hashPieces(big.files, { pieceLength: 16_384, threads: -1 })).rejects.toThrow(RangeError);
  });
});
