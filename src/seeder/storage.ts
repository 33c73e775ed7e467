/**
 * Read access to one torrent's data: maps (piece, offset, length) onto the torrent's files and
 * verifies pieces against their SHA-1 hashes.
 */
import { stat } from 'node:fs/promises';
import { hashPieces } from '../torrent/pieces.js';
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
  /** @param files the torrent's files with local paths, in torrent order
   *  @param geometry sizes
   *  @param pool the shared file-handle pool */
  constructor(
    readonly files: LocalFile[],
    readonly geometry: TorrentGeometry,
    private readonly pool: FilePool,
  ) {}

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

  /** Fills `target` with the torrent's bytes starting at absolute offset `offset`. */
  async readInto(target: Buffer, offset: number): Promise<void> {
    const end = offset + target.length;
    if (offset < 0 || end > this.geometry.length) throw new RangeError('read outside the torrent');
    let written = 0;
    for (const file of this.fileSpan(offset, end)) {
      const from = Math.max(offset, file.offset) - file.offset;
      const to = Math.min(end, file.offset + file.length) - file.offset;
      const len = to - from;
      if (len <= 0) continue;
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
