/**
 * Streaming hashes for BitTorrent v2 and hybrid torrents (BEP 52), on every core.
 *
 * In a v2 torrent every file starts on a piece boundary, so each piece belongs to one file. The
 * pieces of all non-empty files, in torrent order, are cut into tasks of a few MiB; each thread of
 * the hash pool (see hash-pool.ts) claims a task, reads its byte range once in 1 MiB reads
 * and, from the same reads, computes the SHA-256 of every 16 KiB block (folded at once into the
 * piece's merkle subtree, its *piece-layer node*) and, for a hybrid torrent, the SHA-1 of the
 * piece as v1 sees it (the piece followed by the zeros of the pad file). The calling thread then
 * builds each file's tree above its piece layer. So the data is read exactly once, for both hashes.
 *
 * Every file is checked against the size and modification time it had when listed, as for v1.
 */
import { availableParallelism } from 'node:os';
import { runHashPool, type KernelFactory } from './hash-pool.js';
import { BLOCK_SIZE, HASH_SIZE, pieceNodeWidth, rootFromPieceLayer } from './merkle.js';
import { verifyAll, type PieceFile } from './pieces.js';

/** Options of {@link hashV2}. */
export interface HashV2Options {
  /** Bytes per piece: a power of two, at least 16 KiB. */
  pieceLength: number;
  /** Also compute the v1 SHA-1 piece hashes of the hybrid layout (one pass over the data). */
  hybrid: boolean;
  /**
   * Hybrid only: the v1 hash of a file's last, partial piece covers the pad file's zeros too
   * (multi-file torrents, where every file is followed by a pad file up to a piece boundary). A
   * single-file hybrid torrent has no pad file: its last piece is hashed as it is.
   */
  padPieces: boolean;
  /** Called as hashing advances with bytes hashed so far and the total. */
  onProgress?: (hashedBytes: number, totalBytes: number) => void;
  /** Aborts hashing; the promise then rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Hashing threads (default: one per CPU core, at most 16; 0 = the calling thread only). */
  threads?: number;
  /**
   * Whether the calling thread is one of the `threads`, hashing a task at a time between yields to
   * its event loop (default false: all are workers). It starts at once, while the workers boot.
   */
  callerHashes?: boolean;
}

/** The v2 hashes of one file. */
export interface V2FileHashes {
  /** The root of the file's merkle tree; undefined for an empty file. */
  piecesRoot?: Buffer;
  /** The piece layer (32 bytes per piece), for files longer than one piece. */
  pieceLayer?: Buffer;
}

/** The result of {@link hashV2}. */
export interface HashV2Result {
  /** Per file, in the order given. */
  files: V2FileHashes[];
  /** Hybrid only: the v1 SHA-1 of every piece of the padded layout, 20 bytes each. */
  pieces?: Buffer;
}

/** Tasks are about this many bytes. */
const TASK_BYTES = 4 * 1024 * 1024;
/** Bytes per read (at most; a whole number of pieces, or of blocks for larger pieces): see pieces.ts. */
const READ_BYTES = 1024 * 1024;
/** Inputs of at most this many bytes and files are hashed on the calling thread alone. */
const INLINE_BYTES = 8 * 1024 * 1024;
const INLINE_FILES = 64;

interface KernelFile {
  path: string;
  length: number;
  mtimeMs?: number;
  /** Index of the file's first piece among the pieces of all files. */
  firstPiece: number;
}

interface V2KernelData {
  files: KernelFile[];
  pieceLength: number;
  hybrid: boolean;
  padPieces: boolean;
  readBytes: number;
  blockSize: number;
  /** Task k covers pieces taskStarts[k] to taskStarts[k + 1] - 1. */
  taskStarts: number[];
}

interface V2KernelResult {
  [key: string]: number | Uint8Array;
  bytes: number;
  /** 32-byte piece-layer node per piece. */
  nodes: Uint8Array;
  /** 20-byte v1 hash per piece (hybrid), else empty. */
  sha1: Uint8Array;
}

/**
 * The kernel (runs in workers from its source text: it must stay self-contained). It reads its
 * pieces in windows of up to `readBytes` (whole pieces of one file, or a part of one large piece)
 * into a buffer it keeps, hashes each 16 KiB block of a window into a leaf, folds a piece's leaves
 * (padded with zero leaves to the piece's width) into the piece's node as soon as the piece is
 * complete, and feeds the same bytes to SHA-1. The views of the blocks and of the leaf pairs are
 * made once, so a block costs one call into the hash and nothing else.
 */
const v2Kernel: KernelFactory<V2KernelData, V2KernelResult> = (deps, data) => {
  const { files, pieceLength, hybrid, padPieces, readBytes, blockSize, taskStarts } = data;
  // A whole number of pieces, or (pieces larger than a read) a whole number of blocks.
  const size = pieceLength <= readBytes ? Math.floor(readBytes / pieceLength) * pieceLength : readBytes - (readBytes % blockSize);
  let largest = 0;
  for (const file of files) largest = Math.max(largest, file.length);
  const buffer = Buffer.allocUnsafe(Math.min(size, Math.ceil(largest / blockSize) * blockSize));
  const blocks: Buffer[] = [];
  for (let at = 0; at + blockSize <= buffer.length; at += blockSize) blocks.push(buffer.subarray(at, at + blockSize));
  const maxWidth = pieceLength / blockSize;
  const leaves = Buffer.alloc(maxWidth * 32);
  const pairs: Buffer[] = [];
  for (let i = 0; i < maxWidth / 2; i++) pairs.push(leaves.subarray(i * 64, i * 64 + 64));
  let zeros: Buffer | undefined;
  let fd = -1;
  let openIndex = -1;
  const nextPow2 = (n: number): number => {
    let p = 1;
    while (p < n) p *= 2;
    return p;
  };
  const changed = (file: KernelFile, detail: string): never => {
    throw Object.assign(new Error(detail), { code: 'CHANGED', path: file.path });
  };
  const descriptor = (i: number): number => {
    if (i !== openIndex) {
      if (fd >= 0) deps.closeSync(fd);
      fd = -1;
      openIndex = -1;
      try {
        fd = deps.openSync(files[i].path, 'r');
      } catch (error) {
        throw Object.assign(error as Error, { path: files[i].path });
      }
      openIndex = i;
    }
    return fd;
  };
  const fileOf = (piece: number): number => {
    let lo = 0;
    let hi = files.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (files[mid].firstPiece <= piece) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  /** Fill buffer[0, length) from byte `position` of file f. */
  const fill = (f: number, position: number, length: number): void => {
    const file = files[f];
    const handle = descriptor(f);
    let got = 0;
    while (got < length) {
      let n: number;
      try {
        n = deps.readSync(handle, buffer, got, length - got, position + got);
      } catch (error) {
        throw Object.assign(error as Error, { path: file.path });
      }
      if (n === 0) changed(file, `it is now shorter than ${file.length} bytes`);
      got += n;
    }
    if (position + length === file.length) {
      // Last byte of this file read: it must still have the size and time it was listed with.
      const now = deps.fstatSync(handle);
      if (now.size !== file.length) changed(file, `its size went from ${file.length} to ${now.size} bytes`);
      if (file.mtimeMs !== undefined && now.mtimeMs !== file.mtimeMs) changed(file, 'it was modified');
    }
  };
  return {
    run(index: number): V2KernelResult {
      const first = taskStarts[index];
      const count = taskStarts[index + 1] - first;
      const nodes = new Uint8Array(count * 32);
      const sha1 = new Uint8Array(hybrid ? count * 20 : 0);
      let bytes = 0;
      let k = 0;
      let f = fileOf(first);
      while (k < count) {
        const piece = first + k;
        while (f + 1 < files.length && files[f + 1].firstPiece <= piece) f++;
        const file = files[f];
        // This task's pieces of this file: bytes [position, stop) of the file.
        const lastPiece = Math.min(first + count, file.firstPiece + Math.ceil(file.length / pieceLength));
        let position = (piece - file.firstPiece) * pieceLength;
        const stop = Math.min(file.length, (lastPiece - file.firstPiece) * pieceLength);
        // Leaves of a piece's subtree: a whole piece of blocks, or fewer for a one-piece file.
        const width = file.length > pieceLength ? maxWidth : nextPow2(Math.ceil(file.length / blockSize));
        let pieceEnd = Math.min(file.length, position + pieceLength);
        let leaf = 0;
        let v1 = hybrid ? deps.createHash('sha1') : undefined;
        while (position < stop) {
          const length = Math.min(buffer.length, stop - position);
          fill(f, position, length);
          for (let at = 0; at < length; ) {
            const n = Math.min(length - at, pieceEnd - (position + at));
            // The blocks of this piece in the window: `at` is on a block boundary, and only the
            // file's last block can be short.
            let b = at;
            for (; b + blockSize <= at + n; b += blockSize) {
              leaves.write(deps.sha256Latin1(blocks[b / blockSize]), leaf * 32, 'latin1');
              leaf++;
            }
            if (b < at + n) {
              leaves.write(deps.sha256Latin1(buffer.subarray(b, at + n)), leaf * 32, 'latin1');
              leaf++;
            }
            if (v1 !== undefined) v1.update(n === buffer.length ? buffer : buffer.subarray(at, at + n));
            at += n;
            if (position + at !== pieceEnd) continue;
            // A piece is complete: fold its leaves into its node, in place.
            const start = pieceEnd - ((pieceEnd - 1) % pieceLength) - 1;
            if (leaf < width) leaves.fill(0, leaf * 32, width * 32);
            for (let level = width; level > 1; level /= 2) {
              for (let i = 0; i < level / 2; i++) leaves.write(deps.sha256Latin1(pairs[i]), i * 32, 'latin1');
            }
            nodes.set(leaves.subarray(0, 32), k * 32);
            if (v1 !== undefined) {
              if (padPieces && pieceEnd - start < pieceLength) {
                let missing = pieceLength - (pieceEnd - start);
                zeros ??= Buffer.alloc(Math.min(pieceLength, 1024 * 1024));
                while (missing > 0) {
                  const z = Math.min(missing, zeros.length);
                  v1.update(zeros.subarray(0, z));
                  missing -= z;
                }
              }
              sha1.set(v1.digest(), k * 20);
              v1 = deps.createHash('sha1');
            }
            bytes += pieceEnd - start;
            k++;
            leaf = 0;
            pieceEnd = Math.min(file.length, pieceEnd + pieceLength);
          }
          position += length;
        }
      }
      return { bytes, nodes, sha1 };
    },
    close(): void {
      if (fd >= 0) deps.closeSync(fd);
      fd = -1;
      openIndex = -1;
    },
  };
};

/**
 * The v2 hashes (merkle roots and piece layers) of `files`, each aligned to a piece boundary, and
 * for a hybrid torrent the v1 piece hashes of the padded layout, from one read of the data.
 * @throws {TorrentCreateError} when a file cannot be read or changes while it is read.
 */
export async function hashV2(files: readonly PieceFile[], options: HashV2Options): Promise<HashV2Result> {
  const { pieceLength, hybrid, signal } = options;
  if (!Number.isSafeInteger(pieceLength) || pieceLength < BLOCK_SIZE || (pieceLength & (pieceLength - 1)) !== 0) {
    throw new RangeError('pieceLength must be a power of two of at least 16 KiB');
  }
  signal?.throwIfAborted();
  const kernelFiles: KernelFile[] = [];
  const firstPieces: number[] = [];
  let pieceCount = 0;
  let total = 0;
  for (const file of files) {
    firstPieces.push(pieceCount);
    if (file.length > 0) {
      kernelFiles.push({ path: file.absolutePath, length: file.length, mtimeMs: file.mtimeMs, firstPiece: pieceCount });
      pieceCount += Math.ceil(file.length / pieceLength);
      total += file.length;
    }
  }
  const wanted = options.threads ?? Math.min(16, availableParallelism());
  if (!Number.isSafeInteger(wanted) || wanted < 0) throw new RangeError('threads must be a non-negative integer');
  const inline = wanted === 0 || (total <= INLINE_BYTES && files.length <= INLINE_FILES);
  const callerHashes = inline || options.callerHashes === true;
  const threads = inline ? 1 : wanted;
  const taskStarts = cutTasks(kernelFiles, pieceLength, total, threads);
  const taskCount = taskStarts.length - 1;
  const workers = inline ? 0 : Math.min(callerHashes ? threads - 1 : threads, taskCount);

  const nodes = Buffer.alloc(pieceCount * HASH_SIZE);
  const pieces = hybrid ? Buffer.alloc(pieceCount * 20) : undefined;
  let hashed = 0;
  await runHashPool({
    kernel: v2Kernel,
    data: { files: kernelFiles, pieceLength, hybrid, padPieces: options.padPieces, readBytes: READ_BYTES, blockSize: BLOCK_SIZE, taskStarts },
    taskCount,
    workers,
    callerHashes,
    signal,
    onResult: (index, result) => {
      nodes.set(result.nodes, taskStarts[index] * HASH_SIZE);
      pieces?.set(result.sha1, taskStarts[index] * 20);
      hashed += result.bytes;
      options.onProgress?.(hashed, total);
    },
  });
  await verifyAll(files, signal);

  const out: V2FileHashes[] = files.map((file, i) => {
    if (file.length === 0) return {};
    const count = Math.ceil(file.length / pieceLength);
    const layer = nodes.subarray(firstPieces[i] * HASH_SIZE, (firstPieces[i] + count) * HASH_SIZE);
    const piecesRoot = rootFromPieceLayer(layer, pieceLength);
    return count > 1 ? { piecesRoot, pieceLayer: Buffer.from(layer) } : { piecesRoot };
  });
  if (total === 0) options.onProgress?.(0, 0);
  return pieces === undefined ? { files: out } : { files: out, pieces };
}

/** Task boundaries (piece indexes): about TASK_BYTES each, and at least 8 per thread when possible. */
function cutTasks(files: readonly KernelFile[], pieceLength: number, total: number, threads: number): number[] {
  const target = Math.max(1, Math.min(TASK_BYTES, Math.ceil(total / (threads * 8))));
  const starts = [0];
  let bytes = 0;
  let piece = 0;
  for (const file of files) {
    for (let at = 0; at < file.length; at += pieceLength) {
      bytes += Math.min(pieceLength, file.length - at);
      piece++;
      if (bytes >= target) {
        starts.push(piece);
        bytes = 0;
      }
    }
  }
  if (starts[starts.length - 1] !== piece) starts.push(piece);
  return starts;
}

