/**
 * Which files go into a torrent, and in which order.
 *
 * The rules are mktorrent's (checked against mktorrent 1.1), so that the same tree gives the same
 * info dictionary:
 * - a directory is walked recursively; symbolic links are followed (to files and to directories);
 * - hidden files and directories (names starting with `.`) are included;
 * - empty files are included (length 0); empty directories contribute nothing;
 * - anything that is not a regular file or a directory (FIFOs, sockets, devices) is left out;
 *   we report those in `skipped`, mktorrent drops them silently;
 * - files are ordered by byte-wise comparison of their UTF-8 relative paths joined with `/`
 *   (so `sub dir/x` < `sub-x` < `sub/x`).
 * Where mktorrent fails we fail too, with a clearer message: a broken symbolic link, and a symbolic
 * link loop (mktorrent walks it until the OS reports ELOOP; we detect the cycle). Unlike mktorrent
 * we refuse an empty directory (mktorrent writes a torrent with no pieces) and file names that are
 * not valid UTF-8 (the info dictionary would not be valid UTF-8).
 */
import { lstatSync, readdirSync, statSync, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { TorrentCreateError, fsReason } from './errors.js';

/** One file to be included. */
export interface SourceFile {
  /** Where to read it. */
  absolutePath: string;
  /** Path components inside the torrent (for a single-file torrent: `[name]`). */
  path: string[];
  /** Size in bytes when it was listed. */
  length: number;
  /** Modification time (ms) when it was listed, to notice changes while hashing. */
  mtimeMs: number;
}

/** The result of {@link collectFiles}. */
export interface FileSet {
  /** Torrent name: the option, or the base name of the target. */
  name: string;
  /** True when the target is a directory (a multi-file torrent, even with one file inside). */
  multiFile: boolean;
  /** Files in info-dictionary order. */
  files: SourceFile[];
  /** Entries left out because they are neither regular files nor directories (absolute paths). */
  skipped: string[];
  /** Total size in bytes. */
  length: number;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * List the files of `target` (a file or a directory) in torrent order.
 * @param target file or directory to share
 * @param name torrent name; defaults to the base name of `target`
 * @throws {TorrentCreateError} for a missing or unreadable path, a broken link, a link loop, an
 *   empty directory, a non-UTF-8 file name or an invalid name.
 */
export async function collectFiles(target: string, name?: string): Promise<FileSet> {
  if (target === '') throw new TorrentCreateError('no path given');
  const root = path.resolve(target);
  const torrentName = name ?? path.basename(root);
  validateName(torrentName);
  let info: Stats;
  try {
    info = await stat(root);
  } catch (error) {
    throw new TorrentCreateError(`cannot read ${target}: ${fsReason(error)}`, { path: target, cause: error });
  }
  if (info.isFile()) {
    const file: SourceFile = { absolutePath: root, path: [torrentName], length: info.size, mtimeMs: info.mtimeMs };
    return { name: torrentName, multiFile: false, files: [file], skipped: [], length: info.size };
  }
  if (!info.isDirectory()) throw new TorrentCreateError(`${target} is neither a regular file nor a directory`, { path: target });

  const files: SourceFile[] = [];
  const skipped: string[] = [];
  await new Walker(files, skipped).walk(root, [], new Set([identity(info)]));
  if (files.length === 0) throw new TorrentCreateError(`${target} contains no files`, { path: target });
  const keyed = files.map((file) => ({ file, key: Buffer.from(file.path.join('/'), 'utf8') }));
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  const ordered = keyed.map((entry) => entry.file);
  const length = ordered.reduce((sum, file) => sum + file.length, 0);
  return { name: torrentName, multiFile: true, files: ordered, skipped, length };
}

/** A torrent name must be usable as a single path component. */
function validateName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new TorrentCreateError(`invalid torrent name ${JSON.stringify(name)}: it must be a single, non-empty path component`);
  }
}

function identity(info: Stats): string {
  return `${info.dev}:${info.ino}`;
}

/**
 * The walk uses synchronous file-system calls (an asynchronous stat costs a thread-pool round trip,
 * ten times the call itself) but yields to the event loop after every this many calls, so a large
 * tree never blocks the caller's event loop for more than about a millisecond at a time.
 */
const CALLS_PER_SLICE = 200;

class Walker {
  private calls = 0;

  constructor(
    readonly files: SourceFile[],
    readonly skipped: string[],
  ) {}

  /** Count one file-system call; every CALLS_PER_SLICE calls, let the event loop run. */
  private async tick(): Promise<void> {
    if (++this.calls % CALLS_PER_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
  }

  async walk(dir: string, relative: string[], ancestors: Set<string>): Promise<void> {
    let raw: Buffer[];
    try {
      raw = readdirSync(dir, { encoding: 'buffer' });
    } catch (error) {
      throw new TorrentCreateError(`cannot read directory ${dir}: ${fsReason(error)}`, { path: dir, cause: error });
    }
    await this.tick();
    const subdirectories: Array<{ name: string; full: string; id: string }> = [];
    for (const bytes of raw) {
      let name: string;
      try {
        name = strictUtf8.decode(bytes);
      } catch {
        throw new TorrentCreateError(`file name is not valid UTF-8: ${path.join(dir, bytes.toString('latin1'))}`, { path: dir });
      }
      const full = path.join(dir, name);
      const info = statEntry(full);
      await this.tick();
      if (info.isFile()) {
        this.files.push({ absolutePath: full, path: [...relative, name], length: info.size, mtimeMs: info.mtimeMs });
      } else if (info.isDirectory()) {
        subdirectories.push({ name, full, id: identity(info) });
      } else {
        this.skipped.push(full);
      }
    }
    for (const { name, full, id } of subdirectories) {
      if (ancestors.has(id)) throw new TorrentCreateError(`symbolic link loop at ${full}`, { path: full });
      ancestors.add(id);
      await this.walk(full, [...relative, name], ancestors);
      ancestors.delete(id);
    }
  }
}

/** stat (following symbolic links), with a clear message for a broken link. */
function statEntry(full: string): Stats {
  try {
    return statSync(full);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    let link = false;
    if (code === 'ENOENT') {
      try {
        link = lstatSync(full).isSymbolicLink();
      } catch {
        link = false;
      }
    }
    const reason = link ? 'broken symbolic link' : fsReason(error);
    throw new TorrentCreateError(`cannot read ${full}: ${reason}`, { path: full, cause: error });
  }
}
