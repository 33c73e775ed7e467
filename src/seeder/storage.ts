/**
 * Read access to one torrent's data: maps (piece, offset, length) onto the torrent's files and
 * verifies pieces against their SHA-1 hashes (and, for hybrid torrents, the files' v2 roots; for
 * v2-only torrents, the files' piece layers and roots).
 */
import { stat } from 'node:fs/promises';
import { hashPieces } from '../torrent/pieces.js';
import { hashV2 } from '../torrent/v2-pieces.js';
import type { FilePool } from './file-pool.js';
import type { LocalFile } from './paths.js';

/** Geometry of a torrent's data. */
export interface TorrentGeometry {
  /** Total bytes. */
  length: number;
  /** Bytes per piece. */
  pieceLength: number;
  /** Number of pieces. */
  pieceCount: number;
}

/** Thrown when the data on disk does not match the torrent. */
export class TorrentDataError extends Error {
  /** @param message what does not match */
  constructor(message: string) {
    super(message);
    this.name = 'TorrentDataError';
  }
}

/** Reads byte ranges of one torrent's concatenated data. */
export class TorrentStorage {
  /** True when the files are laid out on piece boundaries with zeros between them (hybrid torrents). */
  private readonly padded: boolean;

  /** @param files the torrent's files with local paths, in torrent order
   *  @param geometry sizes
   *  @param pool the shared file-handle pool
   *  @param padded true for a hybrid torrent: gaps between files are pad files, read as zeros */
  constructor(
    readonly files: LocalFile[],
    readonly geometry: TorrentGeometry,
    private readonly pool: FilePool,
    padded = false,
  ) {
    this.padded = padded;
  }

  /** Size in bytes of piece `index`. */
  pieceSize(index: number): number {
    const { length, pieceLength, pieceCount } = this.geometry;
    if (index < 0 || index >= pieceCount) return 0;
    return index === pieceCount - 1 ? length - pieceLength * (pieceCount - 1) : pieceLength;
  }

  /** Checks every file exists with at least its torrent length. */
  async checkSizes(): Promise<void> {
    for (const file of this.files) {
      let size: number;
      try {
        size = (await stat(file.path)).size;
      } catch {
        throw new TorrentDataError(`missing file ${file.path}`);
      }
      if (size < file.length) throw new TorrentDataError(`file ${file.path} has ${size} bytes, the torrent says ${file.length}`);
    }
  }

  /** Reads `length` bytes at absolute torrent offset `offset` into a new buffer. */
  async read(offset: number, length: number): Promise<Buffer> {
    const out = Buffer.allocUnsafe(length);
    await this.readInto(out, offset);
    return out;
  }

  /**
   * Fills `target` with the torrent's bytes starting at absolute offset `offset`. Where the files
   * leave a gap (a hybrid torrent's pad files, BEP 47) the bytes are zeros.
   */
  async readInto(target: Buffer, offset: number): Promise<void> {
    const end = offset + target.length;
    if (offset < 0 || end > this.geometry.length) throw new RangeError('read outside the torrent');
    let written = 0;
    for (const file of this.fileSpan(offset, end)) {
      const from = Math.max(offset, file.offset) - file.offset;
      const to = Math.min(end, file.offset + file.length) - file.offset;
      const len = to - from;
      if (len <= 0) continue;
      const gap = file.offset + from - (offset + written);
      if (gap > 0 && this.padded) {
        target.fill(0, written, written + gap);
        written += gap;
      }
      await this.pool.with(file.path, async (handle) => {
        let done = 0;
        while (done < len) {
          const { bytesRead } = await handle.read(target, written + done, len - done, from + done);
          if (bytesRead === 0) throw new TorrentDataError(`file ${file.path} is shorter than the torrent says`);
          done += bytesRead;
        }
      });
      written += len;
    }
    if (written < target.length && this.padded) {
      target.fill(0, written);
      written = target.length;
    }
    if (written !== target.length) throw new TorrentDataError('torrent files do not cover the requested range');
  }

  /** Reads a block of a piece. */
  readBlock(index: number, begin: number, length: number): Promise<Buffer> {
    return this.read(index * this.geometry.pieceLength + begin, length);
  }

  /**
   * Hashes every piece (on worker threads, through the torrent module's `hashPieces`) and compares
   * with `hashes`; returns the indexes of pieces that do not match. `onProgress` gets bytes hashed
   * so far and the total; `signal` aborts (the promise rejects with its reason).
   */
  async verify(hashes: Buffer[], onProgress?: (doneBytes: number, totalBytes: number) => void, signal?: AbortSignal): Promise<number[]> {
    let actual: Buffer;
    try {
      actual = await hashPieces(
        this.files.map((f) => ({ absolutePath: f.path, length: f.length })),
        { pieceLength: this.geometry.pieceLength, onProgress, signal },
      );
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new TorrentDataError(`cannot verify the data: ${(error as Error).message}`);
    }
    const bad: number[] = [];
    for (let i = 0; i < this.geometry.pieceCount; i++) {
      const digest = actual.subarray(i * 20, i * 20 + 20);
      if (!hashes[i] || digest.length !== 20 || !digest.equals(hashes[i])) bad.push(i);
    }
    return bad;
  }

  /** The v2 (and, for `hybrid`, v1) hashes of the data on disk; a read failure is a TorrentDataError. */
  private async hashFiles(
    hybrid: boolean,
    padPieces: boolean,
    onProgress?: (doneBytes: number, totalBytes: number) => void,
    signal?: AbortSignal,
  ): Promise<Awaited<ReturnType<typeof hashV2>>> {
    try {
      return await hashV2(
        this.files.map((f) => ({ absolutePath: f.path, length: f.length })),
        { pieceLength: this.geometry.pieceLength, hybrid, padPieces, onProgress, signal },
      );
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new TorrentDataError(`cannot verify the data: ${(error as Error).message}`);
    }
  }

  /**
   * Hybrid torrents: hashes every file once (SHA-1 of the padded v1 pieces and SHA-256 merkle trees,
   * from the same reads) and returns the indexes of v1 pieces that do not match `hashes`, plus every
   * piece of a file whose v2 root differs from `roots` (given per file, in order).
   */
  async verifyHybrid(
    hashes: Buffer[],
    roots: Array<Buffer | undefined>,
    multiFile: boolean,
    onProgress?: (doneBytes: number, totalBytes: number) => void,
    signal?: AbortSignal,
  ): Promise<number[]> {
    const actual = await this.hashFiles(true, multiFile, onProgress, signal);
    const bad = new Set<number>();
    const pieces = actual.pieces ?? Buffer.alloc(0);
    for (let i = 0; i < this.geometry.pieceCount; i++) {
      const digest = pieces.subarray(i * 20, i * 20 + 20);
      if (!hashes[i] || digest.length !== 20 || !digest.equals(hashes[i])) bad.add(i);
    }
    this.files.forEach((file, i) => {
      const root = actual.files[i]?.piecesRoot;
      if (root === undefined ? roots[i] === undefined : roots[i] !== undefined && root.equals(roots[i]!)) return;
      const first = Math.floor(file.offset / this.geometry.pieceLength);
      const count = Math.max(1, Math.ceil(file.length / this.geometry.pieceLength));
      for (let k = 0; k < count; k++) bad.add(first + k);
    });
    return [...bad].sort((a, b) => a - b);
  }

  /**
   * v2-only torrents: hashes every file's merkle tree and returns the indexes of the pieces that do
   * not match: by the piece layer where the torrent has one, else (a file of one piece) by the
   * file's root. `files` are the torrent's files in order, with `piecesRoot` and `pieceLayer`.
   */
  async verifyV2(
    files: ReadonlyArray<{ piecesRoot?: Buffer; pieceLayer?: Buffer }>,
    onProgress?: (doneBytes: number, totalBytes: number) => void,
    signal?: AbortSignal,
  ): Promise<number[]> {
    const actual = await this.hashFiles(false, false, onProgress, signal);
    const bad: number[] = [];
    this.files.forEach((file, i) => {
      const want = files[i];
      const got = actual.files[i];
      if (file.length === 0) return;
      const first = Math.floor(file.offset / this.geometry.pieceLength);
      const count = Math.ceil(file.length / this.geometry.pieceLength);
      if (want.pieceLayer !== undefined && got.pieceLayer !== undefined && want.pieceLayer.length === got.pieceLayer.length) {
        for (let k = 0; k < count; k++) {
          if (!want.pieceLayer.subarray(k * 32, k * 32 + 32).equals(got.pieceLayer.subarray(k * 32, k * 32 + 32))) bad.push(first + k);
        }
      } else if (want.piecesRoot === undefined || got.piecesRoot === undefined || !want.piecesRoot.equals(got.piecesRoot)) {
        for (let k = 0; k < count; k++) bad.push(first + k);
      }
    });
    return bad;
  }

  /** Releases idle file handles of this torrent. */
  close(): void {
    for (const file of this.files) this.pool.forget(file.path);
  }

  private *fileSpan(start: number, end: number): Iterable<LocalFile> {
    // Binary search for the first file that ends after `start`, then walk forward.
    let lo = 0;
    let hi = this.files.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const f = this.files[mid];
      if (f.offset + f.length <= start) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.files.length; i++) {
      const f = this.files[i];
      if (f.offset >= end) break;
      yield f;
    }
  }
}
