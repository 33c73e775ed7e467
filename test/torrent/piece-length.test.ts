import { describe, expect, it } from 'vitest';
import { TorrentCreateError } from '../../src/torrent/errors.js';
import { defaultPieceLength, validatePieceLength } from '../../src/torrent/piece-length.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

describe('piece length', () => {
  it('defaults to about 1000-2000 pieces, clamped to 16 KiB..16 MiB', () => {
    expect(defaultPieceLength(0)).toBe(16 * KiB);
    expect(defaultPieceLength(10 * MiB)).toBe(16 * KiB);
    expect(defaultPieceLength(100_000_000)).toBe(64 * KiB);
    expect(defaultPieceLength(700 * MiB)).toBe(512 * KiB);
    expect(defaultPieceLength(GiB)).toBe(MiB);
    expect(defaultPieceLength(4 * GiB)).toBe(4 * MiB);
    expect(defaultPieceLength(100 * GiB)).toBe(16 * MiB);
    for (const size of [33 * MiB, 1.5 * GiB, 7 * GiB]) {
      const pieces = Math.ceil(size / defaultPieceLength(size));
      expect(pieces).toBeGreaterThanOrEqual(1000);
      expect(pieces).toBeLessThanOrEqual(2000);
    }
  });

  it('accepts powers of two from 16 KiB to 16 MiB only', () => {
    expect(validatePieceLength(16 * KiB)).toBe(16 * KiB);
    expect(validatePieceLength(16 * MiB)).toBe(16 * MiB);
    for (const bad of [8 * KiB, 32 * MiB, 300_000, 0, -16384, 16384.5, Number.NaN]) {
      expect(() => validatePieceLength(bad)).toThrow(TorrentCreateError);
    }
    expect(() => validatePieceLength(300_000)).toThrow(/invalid piece length 300000: it must be a power of two/);
  });
});
