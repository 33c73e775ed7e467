/**
 * Hashing started ahead of its caller. The command line's `create` starts hashing a single file
 * from a quick look at its arguments, while it is still loading commander and the modules that
 * build the torrent (see `src/cli/create-early.ts`). {@link createTorrent} then takes over the
 * running hash if it would hash exactly that: the same file (absolute path, size and modification
 * time) with the same piece length, for the same kind of torrent (v1, v2 or hybrid). Otherwise the
 * early hash is cancelled and nothing changes.
 *
 * One early hash at most per process; an early hash that nobody takes must be cancelled
 * ({@link cancelEarlyHash}).
 */
import { hashPieces, type PieceFile } from './pieces.js';
import type { TorrentVersion } from './v2-info.js';
import type { HashV2Result } from './v2-pieces.js';

interface EarlyHash {
  key: string;
  result: Promise<Buffer | HashV2Result>;
  controller: AbortController;
  total: number;
  /** Bytes hashed so far, and who hears about more (the taker's onProgress). */
  progress: { done: number; listener: ((hashedBytes: number, totalBytes: number) => void) | undefined };
}

let pending: EarlyHash | undefined;

function keyOf(file: PieceFile, pieceLength: number, version: TorrentVersion): string {
  return JSON.stringify([file.absolutePath, file.length, file.mtimeMs, pieceLength, version]);
}

/**
 * Start hashing `file` (a single-file torrent) in pieces of `pieceLength` bytes on `threads`
 * threads (the calling thread among them), for a later {@link takeEarlyHash} (v1) or
 * {@link takeEarlyHashV2} (v2, hybrid). Cancels any early hash still pending.
 */
export function startEarlyHash(file: PieceFile, pieceLength: number, threads?: number, version: TorrentVersion = 'v1'): void {
  cancelEarlyHash();
  const controller = new AbortController();
  const progress: EarlyHash['progress'] = { done: 0, listener: undefined };
  const common = {
    pieceLength,
    threads,
    callerHashes: true,
    signal: controller.signal,
    onProgress: (done: number, total: number) => {
      progress.done = done;
      progress.listener?.(done, total);
    },
  };
  const result: Promise<Buffer | HashV2Result> =
    version === 'v1'
      ? hashPieces([file], common)
      : import('./v2-pieces.js').then(({ hashV2 }) => hashV2([file], { ...common, hybrid: version === 'hybrid', padPieces: false }));
  result.catch(() => undefined); // reported to whoever takes it; ignored if nobody does
  pending = { key: keyOf(file, pieceLength, version), result, controller, total: file.length, progress };
}

function take(
  files: readonly PieceFile[],
  pieceLength: number,
  version: TorrentVersion,
  onProgress: ((hashedBytes: number, totalBytes: number) => void) | undefined,
  signal: AbortSignal | undefined,
): Promise<Buffer | HashV2Result> | undefined {
  const entry = pending;
  if (entry === undefined || files.length !== 1 || keyOf(files[0], pieceLength, version) !== entry.key) return undefined;
  pending = undefined;
  entry.progress.listener = onProgress;
  if (entry.progress.done > 0) onProgress?.(entry.progress.done, entry.total);
  if (signal !== undefined) {
    if (signal.aborted) entry.controller.abort(signal.reason);
    else signal.addEventListener('abort', () => entry.controller.abort(signal.reason), { once: true });
  }
  return entry.result;
}

/**
 * The pending early hash if it hashes exactly `files` (one file) in pieces of `pieceLength` for a
 * v1 torrent: its result, with `onProgress` called from now on (at once with the progress so far)
 * and `signal` aborting it. Undefined otherwise (the early hash, if any, stays pending).
 */
export function takeEarlyHash(
  files: readonly PieceFile[],
  pieceLength: number,
  onProgress?: (hashedBytes: number, totalBytes: number) => void,
  signal?: AbortSignal,
): Promise<Buffer> | undefined {
  return take(files, pieceLength, 'v1', onProgress, signal) as Promise<Buffer> | undefined;
}

/**
 * As {@link takeEarlyHash}, for a single-file v2 or hybrid torrent (no pad file: the caller asks
 * only when `padPieces` is false).
 */
export function takeEarlyHashV2(
  files: readonly PieceFile[],
  pieceLength: number,
  version: 'v2' | 'hybrid',
  onProgress?: (hashedBytes: number, totalBytes: number) => void,
  signal?: AbortSignal,
): Promise<HashV2Result> | undefined {
  return take(files, pieceLength, version, onProgress, signal) as Promise<HashV2Result> | undefined;
}

/** Stop the pending early hash, if any (nobody is going to take it). */
export function cancelEarlyHash(): void {
  pending?.controller.abort(new Error('early hash not needed'));
  pending = undefined;
}
