/**
 * Piece length rules: a power of two from 16 KiB to 16 MiB, and a default chosen from the total size.
 */
import { TorrentCreateError } from './errors.js';

/** Smallest piece length accepted: 16 KiB (the block size of the wire protocol). */
export const MIN_PIECE_LENGTH = 16 * 1024;
/** Largest piece length accepted: 16 MiB. */
export const MAX_PIECE_LENGTH = 16 * 1024 * 1024;
/** The default aims at about this many pieces (as Transmission, libtorrent and WebTorrent roughly do). */
const TARGET_PIECES = 1000;

/**
 * Default piece length for `totalBytes` of content: the largest power of two not above
 * `totalBytes / 1000`, clamped to 16 KiB..16 MiB. So a torrent has roughly 1000–2000 pieces (a small
 * .torrent file, fine-grained verification), e.g. 100 MB → 64 KiB, 700 MiB → 512 KiB,
 * 1 GiB → 1 MiB, 4 GiB → 4 MiB, ≥ 16 GiB → 16 MiB; anything under 32 MB → 16 KiB.
 */
export function defaultPieceLength(totalBytes: number): number {
  let length = MIN_PIECE_LENGTH;
  while (length * 2 <= totalBytes / TARGET_PIECES && length < MAX_PIECE_LENGTH) length *= 2;
  return length;
}

/**
 * Check a piece length given by the user.
 * @throws {TorrentCreateError} unless it is a power of two from 16 KiB to 16 MiB.
 */
export function validatePieceLength(length: number): number {
  const power = Number.isSafeInteger(length) && length > 0 && (length & (length - 1)) === 0;
  if (!power || length < MIN_PIECE_LENGTH || length > MAX_PIECE_LENGTH) {
    throw new TorrentCreateError(
      `invalid piece length ${String(length)}: it must be a power of two from ${MIN_PIECE_LENGTH} (16 KiB) to ${MAX_PIECE_LENGTH} (16 MiB) bytes`,
    );
  }
  return length;
}
