/**
 * Hashing started ahead of its caller. The command line's `create` starts hashing a single file
 * from a quick look at its arguments, while it is still loading commander and the modules that
 * build the torrent (see `src/cli/create-early.ts`). {@link createTorrent} then takes over the
 * running hash if it would hash exactly that: the same file (absolute path, size and modification
 * time) with the same piece length. Otherwise the early hash is cancelled and nothing changes.
 *
 * One early hash at most per process; an early hash that nobody takes must be cancelled
 * ({@link cancelEarlyHash}).
 */
import { hashPieces, type PieceFile } from './pieces.js';

interface EarlyHash {
  key: string;
  result: Promise<Buffer>;
  controller: AbortController;
  total: number;
  /** Bytes hashed so far, and who hears about more (the taker's onProgress). */
  progress: { done: number; listener: ((hashedBytes: number, totalBytes: number) => void) | undefined };
}

let pending: EarlyHash | undefined;

function keyOf(file: PieceFile, pieceLength: number): string {
  return JSON.stringify([file.absolutePath, file.length, file.mtimeMs, pieceLength]);
}

/**
 * Start hashing `file` in pieces of `pieceLength` bytes on `threads` threads (the calling thread
 * among them), for a later {@link takeEarlyHash}. Cancels any early hash still pending.
 */
export function startEarlyHash(file: PieceFile, pieceLength: number, threads?: number): void {
  cancelEarlyHash();
  const controller = new AbortController();
  const progress: EarlyHash['progress'] = { done: 0, listener: undefined };
  const result = hashPieces([file], {
    pieceLength,
    threads,
    callerHashes: true,
    signal: controller.signal,
    onProgress: (done, total) => {
      progress.done = done;
      progress.listener?.(done, total);
    },
  });
  result.catch(() => undefined); // reported to whoever takes it; ignored if nobody does
  pending = { key: keyOf(file, pieceLength), result, controller, total: file.length, progress };
}

/**
 * The pending early hash if it hashes exactly `files` (one file) in pieces of `pieceLength`:
 * its result, with `onProgress` called from now on (at once with the progress so far) and
 * `signal` aborting it. Undefined otherwise (the early hash, if any, stays pending).
 */
export function takeEarlyHash(
  files: readonly PieceFile[],
  pieceLength: number,
  onProgress?: (hashedBytes: number, totalBytes: number) => void,
  signal?: AbortSignal,
): Promise<Buffer> | undefined {
  const entry = pending;
  if (entry === undefined || files.length !== 1 || keyOf(files[0], pieceLength) !== entry.key) return undefined;
  pending = undefined;
  entry.progress.listener = onProgress;
  if (entry.progress.done > 0) onProgress?.(entry.progress.done, entry.total);
  if (signal !== undefined) {
    if (signal.aborted) entry.controller.abort(signal.reason);
    else signal.addEventListener('abort', () => entry.controller.abort(signal.reason), { once: true });
  }
  return entry.result;
}

/** Stop the pending early hash, if any (nobody is going to take it). */
export function cancelEarlyHash(): void {
  pending?.controller.abort(new Error('early hash not needed'));
  pending = undefined;
}
