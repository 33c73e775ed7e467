/**
 * Streaming SHA-1 piece hashing over a list of files read as one continuous byte stream.
 *
 * Files are read in large chunks (a whole number of pieces, about 4 MiB) into a small ring of
 * reusable buffers; a piece that spans a file boundary is simply assembled in the chunk buffer. Chunks
 * are handed to a pool of worker threads (one per CPU core by default) by transferring the buffer
 * (no copy), so reading and hashing overlap and all cores hash. Memory use is bounded by
 * `2 × threads` chunk buffers. Small inputs (a couple of chunks) are hashed on the calling thread,
 * where starting workers would cost more than it saves.
 *
 * Every file is checked against the size and modification time it had when it was listed; a file
 * that shrinks, grows or is rewritten while it is read makes hashing fail rather than produce a
 * torrent that matches no data.
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { TorrentCreateError, fsReason } from './errors.js';

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
  /** Worker threads to hash with (default: the number of CPU cores, at most 16; 0 = calling thread). */
  threads?: number;
}

/** Target size of one read (rounded down to whole pieces, at least one piece). */
const CHUNK_BYTES = 4 * 1024 * 1024;
/** Inputs of at most this many chunks are hashed on the calling thread. */
const INLINE_CHUNKS = 2;

/**
 * The worker's code. It is evaluated from this string (a CommonJS script) rather than loaded from a
 * separate file so that it works the same from compiled `dist/` and from TypeScript sources under a
 * test runner. It hashes every piece of a chunk and sends the chunk buffer back for reuse.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', (job) => {
  const data = new Uint8Array(job.buffer, 0, job.length);
  const count = Math.ceil(job.length / job.pieceLength);
  const hashes = new Uint8Array(count * 20);
  for (let i = 0; i < count; i++) {
    const piece = data.subarray(i * job.pieceLength, Math.min((i + 1) * job.pieceLength, job.length));
    hashes.set(createHash('sha1').update(piece).digest(), i * 20);
  }
  parentPort.postMessage({ index: job.index, length: job.length, buffer: job.buffer, hashes: hashes.buffer }, [job.buffer, hashes.buffer]);
});
`;

interface ChunkJob {
  index: number;
  length: number;
  pieceLength: number;
  buffer: ArrayBuffer;
}

interface ChunkResult {
  index: number;
  length: number;
  buffer: ArrayBuffer;
  hashes: ArrayBuffer;
}

/**
 * SHA-1 of every piece of the concatenation of `files`, as one Buffer of `20 × pieces` bytes.
 * @throws {TorrentCreateError} when a file cannot be read or changes while it is read.
 */
export async function hashPieces(files: readonly PieceFile[], options: HashPiecesOptions): Promise<Buffer> {
  const { pieceLength, signal } = options;
  if (!Number.isSafeInteger(pieceLength) || pieceLength <= 0) throw new RangeError('pieceLength must be a positive integer');
  signal?.throwIfAborted();
  const total = files.reduce((sum, file) => sum + file.length, 0);
  const piecesPerChunk = Math.max(1, Math.floor(CHUNK_BYTES / pieceLength));
  const layout: Layout = {
    total,
    pieceLength,
    chunkSize: piecesPerChunk * pieceLength,
    piecesPerChunk,
    chunkCount: Math.ceil(total / (piecesPerChunk * pieceLength)),
  };
  const out = Buffer.alloc(Math.ceil(total / pieceLength) * 20);
  const reader = new ConcatenatedReader(files);
  try {
    const wanted = options.threads ?? Math.min(16, availableParallelism());
    const threads = layout.chunkCount <= INLINE_CHUNKS ? 0 : Math.max(0, Math.min(wanted, layout.chunkCount));
    if (threads === 0) await hashInline(reader, out, layout, options);
    else await hashWithWorkers(reader, out, layout, threads, options);
    await reader.finish();
  } finally {
    await reader.close();
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
  reader: ConcatenatedReader,
  out: Buffer,
  layout: Layout,
  threads: number,
  options: HashPiecesOptions,
): Promise<void> {
  const { signal, onProgress } = options;
  const workers = Array.from({ length: threads }, () => new Worker(WORKER_SOURCE, { eval: true }));
  const idle = [...workers];
  const queue: ChunkJob[] = [];
  const freeBuffers: ArrayBuffer[] = [];
  const maxBuffers = threads * 2;
  let allocated = 0;
  let outstanding = 0;
  let hashed = 0;
  let failure: unknown;
  let finished = false;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  // Callers check their condition and then wait in the same synchronous step, so no wake-up is lost.
  const nextEvent = (): Promise<void> => new Promise((resolve) => (wake = resolve));
  const check = (): void => {
    if (failure !== undefined) throw failure;
    signal?.throwIfAborted();
  };
  const dispatch = (): void => {
    while (idle.length > 0 && queue.length > 0) {
      const job = queue.shift() as ChunkJob;
      (idle.pop() as Worker).postMessage(job, [job.buffer]);
    }
  };
  for (const worker of workers) {
    worker.on('message', (result: ChunkResult) => {
      out.set(new Uint8Array(result.hashes), result.index * layout.piecesPerChunk * 20);
      freeBuffers.push(result.buffer);
      idle.push(worker);
      outstanding--;
      hashed += result.length;
      try {
        onProgress?.(hashed, layout.total);
      } catch (error) {
        failure ??= error;
      }
      dispatch();
      notify();
    });
    worker.on('error', (error) => {
      failure ??= error;
      notify();
    });
    worker.on('exit', (code) => {
      if (!finished) failure ??= new Error(`hashing worker exited unexpectedly (code ${code})`);
      notify();
    });
  }
  signal?.addEventListener('abort', notify);
  try {
    for (let chunk = 0; chunk < layout.chunkCount; chunk++) {
      for (;;) {
        check();
        if (freeBuffers.length > 0 || allocated < maxBuffers) break;
        await nextEvent();
      }
      let buffer = freeBuffers.pop();
      if (buffer === undefined) {
        buffer = new ArrayBuffer(layout.chunkSize);
        allocated++;
      }
      const length = Math.min(layout.chunkSize, layout.total - chunk * layout.chunkSize);
      await reader.fill(Buffer.from(buffer, 0, length));
      queue.push({ index: chunk, length, pieceLength: layout.pieceLength, buffer });
      outstanding++;
      dispatch();
    }
    for (;;) {
      check();
      if (outstanding === 0) break;
      await nextEvent();
    }
  } finally {
    finished = true;
    signal?.removeEventListener('abort', notify);
    await Promise.all(workers.map((worker) => worker.terminate()));
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
    await this.verify(file, handle);
    return handle;
  }

  private async closeCurrent(): Promise<void> {
    const file = this.files[this.index];
    const handle = this.handle as FileHandle;
    await this.verify(file, handle);
    this.handle = undefined;
    await handle.close();
    this.index++;
    this.position = 0;
  }

  private async verify(file: PieceFile, handle: FileHandle): Promise<void> {
    const now = await handle.stat();
    if (now.size !== file.length) throw changed(file, `its size went from ${file.length} to ${now.size} bytes`);
    if (file.mtimeMs !== undefined && now.mtimeMs !== file.mtimeMs) throw changed(file, 'it was modified');
  }
}

function changed(file: PieceFile, detail: string): TorrentCreateError {
  return new TorrentCreateError(`${file.absolutePath} changed while it was being hashed: ${detail}`, { path: file.absolutePath });
}
