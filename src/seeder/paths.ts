/**
 * Maps a torrent's file list onto the local file system without ever leaving the data directory.
 * Torrent paths come from strangers: every component is checked with the rule `parseTorrent()`
 * applies (no `..`, `.`, empty components, separators, control characters, drive prefixes or
 * Windows device names) before anything is joined.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { quote, unsafeComponentReason } from '../torrent/path-rules.js';
import type { ParsedTorrent } from '../torrent/types.js';

/** A torrent file with the absolute local path it is read from. */
export interface LocalFile {
  /** Absolute path on disk. */
  path: string;
  /** Size in bytes (from the torrent). */
  length: number;
  /** Byte offset of this file in the torrent's concatenated data. */
  offset: number;
}

/** Thrown when a torrent's paths are unsafe or its data cannot be found. */
export class TorrentPathError extends Error {
  /** @param message what is wrong */
  constructor(message: string) {
    super(message);
    this.name = 'TorrentPathError';
  }
}

/**
 * Throws {@link TorrentPathError} unless `component` is one safe path component: the rule of
 * `parseTorrent()` ({@link unsafeComponentReason}), checked again here because a caller may hand
 * the seeder a {@link ParsedTorrent} it built itself.
 */
export function assertSafeComponent(component: string): void {
  if (typeof component !== 'string') throw new TorrentPathError('torrent path has a component that is not a string');
  const unsafe = unsafeComponentReason(component);
  if (unsafe !== undefined) throw new TorrentPathError(`torrent path component ${quote(component)} is not safe: ${unsafe}`);
}

async function kind(p: string): Promise<'file' | 'dir' | undefined> {
  try {
    const s = await stat(p);
    return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : undefined;
  } catch {
    return undefined;
  }
}

function inside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

/**
 * Resolves where a torrent's files live under `dataPath`:
 * - single-file torrent: `dataPath` is the file itself, or a directory holding a file named like
 *   the torrent;
 * - multi-file torrent: `dataPath` is a directory holding the torrent's root directory (named like
 *   the torrent), or that root directory itself.
 * Every torrent path is validated; the result never points outside the chosen root.
 */
export async function resolveLocalFiles(torrent: Pick<ParsedTorrent, 'name' | 'files' | 'multiFile'>, dataPath: string): Promise<LocalFile[]> {
  assertSafeComponent(torrent.name);
  for (const file of torrent.files) {
    if (!Array.isArray(file.path) || file.path.length === 0) throw new TorrentPathError('torrent file has an empty path');
    for (const component of file.path) assertSafeComponent(component);
  }
  const base = path.resolve(dataPath);
  const baseKind = await kind(base);
  if (baseKind === undefined) throw new TorrentPathError(`data path ${dataPath} does not exist`);

  let root: string;
  if (!torrent.multiFile) {
    if (torrent.files.length !== 1) throw new TorrentPathError('single-file torrent must have exactly one file');
    if (baseKind === 'file') {
      return [{ path: base, length: torrent.files[0].length, offset: 0 }];
    }
    root = base;
    const only = torrent.files[0];
    const p = path.join(root, ...only.path);
    if (!inside(root, p)) throw new TorrentPathError('torrent path escapes the data directory');
    return [{ path: p, length: only.length, offset: only.offset }];
  }

  if (baseKind !== 'dir') throw new TorrentPathError(`data path ${dataPath} must be a directory for a multi-file torrent`);
  const nested = path.join(base, torrent.name);
  root = (await kind(nested)) === 'dir' ? nested : base;
  return torrent.files.map((file) => {
    const p = path.join(root, ...file.path);
    if (!inside(root, p)) throw new TorrentPathError('torrent path escapes the data directory');
    return { path: p, length: file.length, offset: file.offset };
  });
}
