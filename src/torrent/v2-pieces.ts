/**
 * Streaming hashes for BitTorrent v2 and hybrid torrents (BEP 52), on every core.
 *
 * In a v2 torrent every file starts on a piece boundary, so each piece belongs to one file. The
 * pieces of all non-empty files, in torrent order, are cut into tasks of a few MiB; each thread of
 * the hash pool (see hash-pool.ts) claims a task, reads its byte range once in cache-sized reads
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
/** Bytes per read: a multiple of the block size, small enough to stay in cache. */
const READ_BYTES = 256 * 1024;
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
 * The kernel (runs in workers from its source text: it must stay self-contained). For each piece it
 * reads the piece's bytes, hashes each 16 KiB block into a leaf, folds the leaves (padded with zero
 * leaves to the piece's width) into the piece's node, and feeds the same reads to SHA-1.
 */
const v2Kernel: KernelFactory<V2KernelData, V2KernelResult> = (deps, data) => {
  const { files, pieceLength, hybrid, padPieces, readBytes, blockSize, taskStarts } = data;
  const buffer = Buffer.allocUnsafe(Math.min(readBytes, pieceLength));
  let zeros: Buffer | undefined;
  let leaves = Buffer.alloc(32);
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
  return {
    run(index: number): V2KernelResult {
      const first = taskStarts[index];
      const count = taskStarts[index + 1] - first;
      const nodes = new Uint8Array(count * 32);
      const sha1 = new Uint8Array(hybrid ? count * 20 : 0);
      let bytes = 0;
      let f = fileOf(first);
      for (let k = 0; k < count; k++) {
        const piece = first + k;
        while (f + 1 < files.length && files[f + 1].firstPiece <= piece) f++;
        const file = files[f];
        const start = (piece - file.firstPiece) * pieceLength;
        const end = Math.min(file.length, start + pieceLength);
        // Leaves of this piece's subtree: a whole piece of blocks, or fewer for a one-piece file.
        const width = file.length > pieceLength ? pieceLength / blockSize : nextPow2(Math.ceil(file.length / blockSize));
        if (leaves.length < width * 32) leaves = Buffer.alloc(width * 32);
        else leaves.fill(0, 0, width * 32);
        const v1 = hybrid ? deps.createHash('sha1') : undefined;
        let leaf = 0;
        let position = start;
        const handle = descriptor(f);
        while (position < end) {
          const want = Math.min(buffer.length, end - position);
          let got = 0;
          while (got < want) {
            let n: number;
            try {
              n = deps.readSync(handle, buffer, got, want - got, position + got);
            } catch (error) {
              throw Object.assign(error as Error, { path: file.path });
            }
            if (n === 0) changed(file, `it is now shorter than ${file.length} bytes`);
            got += n;
          }
          for (let at = 0; at < got; at += blockSize) {
            deps.sha256(buffer.subarray(at, Math.min(got, at + blockSize))).copy(leaves, leaf * 32);
            leaf++;
          }
          v1?.update(buffer.subarray(0, got));
          position += got;
        }
        bytes += end - start;
        if (end === file.length) {
          // Last byte of this file read: it must still have the size and time it was listed with.
          const now = deps.fstatSync(handle);
          if (now.size !== file.length) changed(file, `its size went from ${file.length} to ${now.size} bytes`);
          if (file.mtimeMs !== undefined && now.mtimeMs !== file.mtimeMs) changed(file, 'it was modified');
        }
        // Fold the leaves into the piece's node, in place.
        for (let size = width; size > 1; size /= 2) {
          for (let i = 0; i < size / 2; i++) deps.sha256(leaves.subarray(i * 64, i * 64 + 64)).copy(leaves, i * 32);
        }
        nodes.set(leaves.subarray(0, 32), k * 32);
        if (v1 !== undefined) {
          if (padPieces && end - start < pieceLength) {
            let missing = pieceLength - (end - start);
            zeros ??= Buffer.alloc(Math.min(pieceLength, 1024 * 1024));
            while (missing > 0) {
              const n = Math.min(missing, zeros.length);
              v1.update(zeros.subarray(0, n));
              missing -= n;
            }
          }
          sha1.set(v1.digest(), k * 20);
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

