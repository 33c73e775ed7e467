/** Temporary trees and deterministic data for the torrent tests. */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { prng } from '../helpers/prng.js';

export { prng };

/** A fresh directory under the OS temp dir; `cleanup()` removes it. */
export function tempDir(prefix = 'ett-torrent-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `length` deterministic bytes from `seed`. */
export function bytes(length: number, seed: number): Buffer {
  const random = prng(seed);
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = (random() * 256) | 0;
  return out;
}

/** Write `files` (relative path → content) under `root`, creating directories. */
export function writeTree(root: string, files: Record<string, Buffer | string>): void {
  for (const [relative, content] of Object.entries(files)) {
    const full = path.join(root, relative);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, content);
  }
}

/**
 * A tree exercising the ordering rules: spaces, non-ASCII names, an empty file, a hidden file,
 * names where byte order differs from "natural" order, and sizes that make pieces span files.
 */
export function sampleTree(root: string): void {
  writeTree(root, {
    'a.txt': bytes(70_000, 1),
    'B.txt': bytes(5, 2),
    'empty': Buffer.alloc(0),
    '.hidden': 'dot file',
    'sub dir/Z': bytes(40_000, 3),
    'sub dir/ä/ö file.bin': bytes(300_000, 4),
    'sub-x': bytes(1, 5),
    'sub/r': bytes(262_144, 6),
    '日本語/名前.txt': bytes(12_345, 7),
  });
}
