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
 * we refuse an empty directory (mktorrent writes a torrent with no pieces), file names that are
 * not valid UTF-8 (the info dictionary would not be valid UTF-8), and names or paths that
 * `parseTorrent()` would refuse (not portable, see path-rules.ts, or beyond its limits).
 */
import { lstatSync, readdirSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { TorrentCreateError, fsReason } from './errors.js';
import { PATH_LIMITS, quote, unsafeComponentReason } from './path-rules.js';

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
 *   empty directory, a non-UTF-8 file name, an invalid name, or a file name or path that
 *   `parseTorrent()` would refuse.
 */
export async function collectFiles(target: string, name?: string): Promise<FileSet> {
  if (target === '') throw new TorrentCreateError('no path given');
  const root = path.resolve(target);
  const torrentName = name ?? path.basename(root);
  validateName(torrentName);
  let info: Stats;
  try {
    info = statSync(root); // synchronous: one call, and no thread-pool round trip
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
  for (const file of files) validatePath(file);
  const keyed = files.map((file) => ({ file, key: Buffer.from(file.path.join('/'), 'utf8') }));
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  const ordered = keyed.map((entry) => entry.file);
  const length = ordered.reduce((sum, file) => sum + file.length, 0);
  return { name: torrentName, multiFile: true, files: ordered, skipped, length };
}

/** A torrent name must be usable as a single path component (the rule of `parseTorrent()`). */
function validateName(name: string): void {
  const unsafe = unsafeComponentReason(name);
  if (unsafe !== undefined) {
    throw new TorrentCreateError(`invalid torrent name ${quote(name)}: ${unsafe}; it must be a single, portable path component`);
  }
  if (Buffer.byteLength(name) > PATH_LIMITS.componentBytes) {
    throw new TorrentCreateError(`invalid torrent name: longer than ${PATH_LIMITS.componentBytes} bytes`);
  }
}

/**
 * The paths `parseTorrent()` accepts are the only ones a torrent may hold: refuse a file whose name
 * is not portable (a Windows device name, a control character, a backslash...) or whose path is
 * beyond {@link PATH_LIMITS}, naming it, rather than write a torrent nobody can read safely.
 */
function validatePath(file: SourceFile): void {
  for (const component of file.path) {
    const unsafe = unsafeComponentReason(component);
    if (unsafe !== undefined) {
      throw new TorrentCreateError(`cannot put ${quote(file.absolutePath)} in a torrent: the name ${quote(component)} is not portable (${unsafe})`, {
        path: file.absolutePath,
      });
    }
  }
  const bytes = Buffer.byteLength(file.path.join('/'));
  if (file.path.length > PATH_LIMITS.components || bytes > PATH_LIMITS.pathBytes) {
    throw new TorrentCreateError(
      `cannot put ${quote(file.absolutePath)} in a torrent: its path is deeper than ${PATH_LIMITS.components} components or longer than ${PATH_LIMITS.pathBytes} bytes`,
      { path: file.absolutePath },
    );
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
