/**
 * Streaming SHA-1 piece hashing over a list of files read as one continuous byte stream.
 *
 * The stream is cut into chunks of whole pieces (about 4 MiB). A pool of worker threads (one per CPU
 * core by default) claims chunks from a shared atomic counter; each worker reads its chunk's byte
 * range itself, in reads of up to 1 MiB into a buffer it keeps (crossing file boundaries where a
 * piece spans two files), and feeds the bytes straight into the pieces' SHA-1. So reading and
 * hashing run on all cores, nothing is loaded whole, and memory use is 1 MiB per thread.
 * Small inputs (a couple of chunks) are hashed on the calling thread, where starting workers would
 * cost more than it saves.
 *
 * Every file is checked against the size and modification time it had when it was listed; a file
 * that shrinks, grows or is rewritten while it is read makes hashing fail rather than produce a
 * torrent that matches no data.
 */
import { createHash } from 'node:crypto';
import { statSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { TorrentCreateError, fsReason } from './errors.js';
import { runHashPool, type KernelFactory } from './hash-pool.js';

/** A file to hash, in torrent order. */
export interface PieceFile {
  /** Where to read it. */
  absolutePath: string;
  /** Its size in bytes when it was listed. */
  length: number;
  /** Its modification time (ms) when it was listed; when given, a change makes hashing fail. */
  mtimeMs?: number;
}

/** Options of {@link hashPieces}. */
export interface HashPiecesOptions {
  /** Bytes per piece (positive integer). */
  pieceLength: number;
  /** Called as hashing advances with the number of bytes hashed so far and the total. */
  onProgress?: (hashedBytes: number, totalBytes: number) => void;
  /** Aborts hashing; the promise then rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Threads to hash with (default: the number of CPU cores, at most 16; 0 = calling thread). */
  threads?: number;
  /**
   * Whether the calling thread is one of the `threads` (default false: all are workers). It then
   * hashes a chunk at a time between yields to its event loop (a few milliseconds each), and starts
   * at once while the workers boot: what a command-line tool wants.
   */
  callerHashes?: boolean;
}

/** Pieces are handed out in chunks of about this many bytes (whole pieces, at least one). */
const CHUNK_BYTES = 4 * 1024 * 1024;
/**
 * Bytes of one read in a hashing thread (into a buffer it keeps): a GiB takes a thousand system
 * calls (4 096 with the 256 KiB reads of before), and the bytes are still in the core's own cache
 * when they are hashed. Measured on 1 GiB (2 threads, 1 MiB pieces): 1 MiB reads were as fast as
 * 2 and 4 MiB ones, or slightly faster; 256 KiB reads cost 2–3% more for v1, 8–10% for v2.
 */
const READ_BYTES = 1024 * 1024;
/** Inputs of at most this many chunks and files are hashed on the calling thread. */
const INLINE_CHUNKS = 2;
const INLINE_FILES = 64;
/** Files checked between two yields to the event loop at the end of hashing. */
const STATS_PER_SLICE = 200;

interface V1KernelFile {
  path: string;
  length: number;
  mtimeMs?: number;
  offset: number;
}

interface V1KernelData {
  files: V1KernelFile[];
  total: number;
  pieceLength: number;
  chunkSize: number;
  readBytes: number;
}

interface V1KernelResult {
  [key: string]: number | Uint8Array;
  bytes: number;
  hashes: Uint8Array;
}

/**
 * The hashing kernel (see hash-pool.ts; it runs in workers from its source text, so it stays
 * self-contained). Task k is the chunk of whole pieces starting at byte k × chunkSize: the kernel
 * reads that byte range itself (synchronously, in reads of up to `readBytes` into one buffer it
 * keeps, across file boundaries) and hashes it piece by piece, so reading and hashing both run on
 * every thread with no hand-off of data, and a 1 GiB file takes about a thousand system calls.
 */
const v1Kernel: KernelFactory<V1KernelData, V1KernelResult> = (deps, data) => {
  const { files, total, pieceLength, chunkSize, readBytes } = data;
  const buffer = Buffer.allocUnsafe(Math.min(readBytes, chunkSize, total));
  let openIndex = -1;
  let fd = -1;
  const descriptor = (i: number): number => {
    if (i !== openIndex) {
      if (fd >= 0) deps.closeSync(fd);
      fd = -1;
      openIndex = -1;
      fd = deps.openSync(files[i].path, 'r');
      openIndex = i;
    }
    return fd;
  };
  const fileAt = (position: number): number => {
    let lo = 0;
    let hi = files.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (files[mid].offset <= position) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const changed = (file: V1KernelFile, detail: string): never => {
    throw Object.assign(new Error(detail), { code: 'CHANGED', path: file.path });
  };
  /** Fill buffer[0, length) with the stream's bytes from `from`, across files. */
  const fill = (from: number, length: number): void => {
    let done = 0;
    let i = fileAt(from);
    while (done < length) {
      const file = files[i];
      const inFile = from + done - file.offset;
      const want = Math.min(length - done, file.length - inFile);
      if (want <= 0) {
        i++;
        continue;
      }
      let got: number;
      try {
        got = deps.readSync(descriptor(i), buffer, done, want, inFile);
      } catch (error) {
        throw Object.assign(error as Error, { path: file.path });
      }
      if (got === 0) changed(file, `it is now shorter than ${file.length} bytes`);
      done += got;
      if (inFile + got === file.length) {
        // Last byte of this file read: it must still have the size and time it was listed with.
        const now = deps.fstatSync(fd);
        if (now.size !== file.length) changed(file, `its size went from ${file.length} to ${now.size} bytes`);
        if (file.mtimeMs !== undefined && now.mtimeMs !== file.mtimeMs) changed(file, 'it was modified');
      }
    }
  };
  return {
    run(index: number): V1KernelResult {
      const start = index * chunkSize;
      const end = Math.min(total, start + chunkSize);
      const count = Math.ceil((end - start) / pieceLength);
      const hashes = new Uint8Array(count * 20);
      let piece = 0;
      let hash = deps.createHash('sha1');
      let pieceEnd = Math.min(end, start + pieceLength);
      for (let position = start; position < end; ) {
        const length = Math.min(buffer.length, end - position);
        fill(position, length);
        for (let at = 0; at < length; ) {
          const n = Math.min(length - at, pieceEnd - (position + at));
          hash.update(n === buffer.length ? buffer : buffer.subarray(at, at + n));
          at += n;
          if (position + at === pieceEnd) {
            hashes.set(hash.digest(), piece * 20);
            piece++;
            hash = deps.createHash('sha1');
            pieceEnd = Math.min(end, pieceEnd + pieceLength);
          }
        }
        position += length;
      }
      return { bytes: end - start, hashes };
    },
    close(): void {
      if (fd >= 0) deps.closeSync(fd);
      fd = -1;
      openIndex = -1;
    },
  };
};

/**
 * SHA-1 of every piece of the concatenation of `files`, as one Buffer of `20 × pieces` bytes.
 * @throws {TorrentCreateError} when a file cannot be read or changes while it is read.
 */
export async function hashPieces(files: readonly PieceFile[], options: HashPiecesOptions): Promise<Buffer> {
  const { pieceLength, signal } = options;
  if (!Number.isSafeInteger(pieceLength) || pieceLength <= 0) throw new RangeError('pieceLength must be a positive integer');
  signal?.throwIfAborted();
  const total = files.reduce((sum, file) => sum + file.length, 0);
  const pieceCount = Math.ceil(total / pieceLength);
  const maxPiecesPerChunk = Math.max(1, Math.floor(CHUNK_BYTES / pieceLength));
  const wanted = options.threads ?? Math.min(16, availableParallelism());
  if (!Number.isSafeInteger(wanted) || wanted < 0) throw new RangeError('threads must be a non-negative integer');
  const inline = wanted === 0 || pieceCount === 0 || (Math.ceil(pieceCount / maxPiecesPerChunk) <= INLINE_CHUNKS && files.length <= INLINE_FILES);
  // With workers, cut at least 8 chunks per worker when the input allows it, so that they finish
  // together (a tree of many small files is slow per byte).
  const piecesPerChunk = inline ? maxPiecesPerChunk : Math.max(1, Math.min(maxPiecesPerChunk, Math.ceil(pieceCount / (wanted * 8))));
  const layout: Layout = {
    total,
    pieceLength,
    chunkSize: piecesPerChunk * pieceLength,
    piecesPerChunk,
    chunkCount: Math.ceil(pieceCount / piecesPerChunk),
  };
  const out = Buffer.alloc(pieceCount * 20);
  const threads = inline ? 0 : Math.max(1, Math.min(wanted, layout.chunkCount));
  if (threads === 0) {
    const reader = new ConcatenatedReader(files);
    try {
      await hashInline(reader, out, layout, options);
      await reader.finish();
    } finally {
      await reader.close();
    }
  } else {
    await hashWithWorkers(files, out, layout, threads, options);
    // Workers checked each file when they read its last byte; check all once more at the end, so a
    // change at any moment before hashing completes is noticed (and empty files, never opened).
    await verifyAll(files, signal);
  }
  return out;
}

interface Layout {
  total: number;
  pieceLength: number;
  chunkSize: number;
  piecesPerChunk: number;
  chunkCount: number;
}

async function hashInline(reader: ConcatenatedReader, out: Buffer, layout: Layout, options: HashPiecesOptions): Promise<void> {
  const buffer = Buffer.allocUnsafe(Math.min(layout.chunkSize, layout.total));
  let piece = 0;
  for (let chunk = 0; chunk < layout.chunkCount; chunk++) {
    options.signal?.throwIfAborted();
    const length = Math.min(layout.chunkSize, layout.total - chunk * layout.chunkSize);
    await reader.fill(buffer.subarray(0, length));
    for (let at = 0; at < length; at += layout.pieceLength) {
      const data = buffer.subarray(at, Math.min(at + layout.pieceLength, length));
      createHash('sha1').update(data).digest().copy(out, piece * 20);
      piece++;
    }
    options.onProgress?.(chunk * layout.chunkSize + length, layout.total);
  }
}

async function hashWithWorkers(
  files: readonly PieceFile[],
  out: Buffer,
  layout: Layout,
  threads: number,
  options: HashPiecesOptions,
): Promise<void> {
  let offset = 0;
  const kernelFiles = files.map((file) => {
    const entry = { path: file.absolutePath, length: file.length, mtimeMs: file.mtimeMs, offset };
    offset += file.length;
    return entry;
  });
  let hashed = 0;
  const callerHashes = options.callerHashes === true;
  await runHashPool({
    kernel: v1Kernel,
    data: { files: kernelFiles, total: layout.total, pieceLength: layout.pieceLength, chunkSize: layout.chunkSize, readBytes: READ_BYTES },
    taskCount: layout.chunkCount,
    workers: callerHashes ? threads - 1 : threads,
    callerHashes,
    signal: options.signal,
    onResult: (index, result) => {
      out.set(result.hashes, index * layout.piecesPerChunk * 20);
      hashed += result.bytes;
      options.onProgress?.(hashed, layout.total);
    },
  });
}

/**
 * After hashing: every file must still have the size and time it was listed with. Synchronous stat
 * calls (a tenth of the cost of asynchronous ones) in slices, yielding to the event loop in between.
 */
export async function verifyAll(files: readonly PieceFile[], signal: AbortSignal | undefined): Promise<void> {
  for (let at = 0; at < files.length; at += STATS_PER_SLICE) {
    signal?.throwIfAborted();
    for (const file of files.slice(at, at + STATS_PER_SLICE)) {
      let now: Stats;
      try {
        now = statSync(file.absolutePath);
      } catch (error) {
        throw new TorrentCreateError(`cannot read ${file.absolutePath}: ${fsReason(error)}`, { path: file.absolutePath, cause: error });
      }
      checkStats(file, now);
    }
    if (at + STATS_PER_SLICE < files.length) await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Reads a list of files as one stream, checking that each one still has the size it was listed with. */
class ConcatenatedReader {
  private index = 0;
  private handle: FileHandle | undefined;
  private position = 0;

  constructor(private readonly files: readonly PieceFile[]) {}

  /** Fill `target` completely with the next bytes of the stream. */
  async fill(target: Buffer): Promise<void> {
    let filled = 0;
    while (filled < target.length) {
      const file = this.files[this.index];
      if (file === undefined) throw new TorrentCreateError('files are shorter than expected: a file shrank while it was being hashed');
      const handle = this.handle ?? (await this.openCurrent());
      const want = Math.min(target.length - filled, file.length - this.position);
      if (want > 0) {
        let bytesRead: number;
        try {
          ({ bytesRead } = await handle.read(target, filled, want, this.position));
        } catch (error) {
          throw new TorrentCreateError(`cannot read ${file.absolutePath}: ${fsReason(error)}`, { path: file.absolutePath, cause: error });
        }
        if (bytesRead === 0) throw changed(file, `it is now shorter than ${file.length} bytes`);
        filled += bytesRead;
        this.position += bytesRead;
      }
      if (this.position === file.length) await this.closeCurrent();
    }
  }

  /** Check the remaining (empty) files, after the last byte was read. */
  async finish(): Promise<void> {
    while (this.index < this.files.length) {
      const file = this.files[this.index];
      if (file.length !== this.position) throw new TorrentCreateError('internal error: data left unread');
      if (this.handle === undefined) await this.openCurrent();
      await this.closeCurrent();
    }
  }

  /** Release the open file, if any (after success or failure). */
  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => undefined);
  }

  private async openCurrent(): Promise<FileHandle> {
    const file = this.files[this.index];
    let handle: FileHandle;
    try {
      handle = await open(file.absolutePath, 'r');
    } catch (error) {
      throw new TorrentCreateError(`cannot read ${file.absolutePath}: ${fsReason(error)}`, { path: file.absolutePath, cause: error });
    }
    this.handle = handle;
    this.position = 0;
    await verify(file, handle);
    return handle;
  }

  private async closeCurrent(): Promise<void> {
    const file = this.files[this.index];
    const handle = this.handle as FileHandle;
    await verify(file, handle);
    this.handle = undefined;
    await handle.close();
    this.index++;
    this.position = 0;
  }

}

async function verify(file: PieceFile, handle: FileHandle): Promise<void> {
  checkStats(file, await handle.stat());
}

function checkStats(file: PieceFile, now: Stats): void {
  if (now.size !== file.length) throw changed(file, `its size went from ${file.length} to ${now.size} bytes`);
  if (file.mtimeMs !== undefined && now.mtimeMs !== file.mtimeMs) throw changed(file, 'it was modified');
}

function changed(file: PieceFile, detail: string): TorrentCreateError {
  return new TorrentCreateError(`${file.absolutePath} changed while it was being hashed: ${detail}`, { path: file.absolutePath });
}
