/**
 * Shapes shared by torrent creation, parsing and the seeder.
 */
import type { TorrentVersion } from './v2-info.js';

export type { TorrentVersion };

/** One file of a torrent, in the order of the info dictionary. */
export interface TorrentFile {
  /** Path components relative to the torrent's root (for a single-file torrent: `[name]`). */
  path: string[];
  /** Size in bytes. */
  length: number;
  /**
   * Byte offset of this file in the torrent's concatenated data. In v2 and hybrid torrents every
   * file starts on a piece boundary (in a hybrid torrent's v1 data, pad files fill the gaps).
   */
  offset: number;
  /** v2 and hybrid, non-empty files: the root of the file's SHA-256 merkle tree (32 bytes). */
  piecesRoot?: Buffer;
  /** v2 and hybrid, files longer than one piece: the file's piece layer (32 bytes per piece). */
  pieceLayer?: Buffer;
}

/**
 * A parsed .torrent file (BEP 3, BEP 12 announce-list, BEP 19 url-list, BEP 27 private; BEP 52 v2
 * and hybrid torrents).
 */
export interface ParsedTorrent {
  /** `v1`, `v2` (BEP 52 only) or `hybrid` (both; two info hashes, two swarms). */
  version: TorrentVersion;
  /** Suggested name (file name, or root directory name for multi-file torrents). */
  name: string;
  /**
   * SHA-1 of the exact bytes of the info dictionary, lowercase hex (40 chars). For a v2-only
   * torrent: the first 20 bytes of the SHA-256 v2 info hash (what trackers and the handshake use).
   */
  infoHash: string;
  /** The same hash as 20 raw bytes. */
  infoHashBuffer: Buffer;
  /** v2 and hybrid: SHA-256 of the exact bytes of the info dictionary, lowercase hex (64 chars). */
  infoHashV2?: string;
  /** v2 and hybrid: the v2 info hash as 32 raw bytes. */
  infoHashV2Buffer?: Buffer;
  /** The exact bencoded bytes of the info dictionary. */
  infoBuffer: Buffer;
  /**
   * Files in info-dictionary order. v2 and hybrid: in file-tree order, without pad files, each
   * with its `piecesRoot` (and `pieceLayer` when longer than a piece).
   */
  files: TorrentFile[];
  /** Total size in bytes (of the files; a hybrid torrent's pad files are not counted). */
  length: number;
  /** Bytes per piece. */
  pieceLength: number;
  /** Size of the last v1 piece in bytes (0 for a v2-only torrent). */
  lastPieceLength: number;
  /** 20-byte SHA-1 of every v1 piece (a hybrid torrent's pad files included; empty for a v2-only torrent). */
  pieces: Buffer[];
  /** True when the info dictionary has a `files` list (even of one file). */
  multiFile: boolean;
  /** Announce URL tiers (from `announce-list`, or `[[announce]]`). */
  announce: string[][];
  /** BEP 27 private flag. */
  private: boolean;
  /** BEP 19 web seeds (`url-list`). */
  urlList: string[];
  /** Free-text comment, if any. */
  comment?: string;
  /** `created by`, if any. */
  createdBy?: string;
  /** Creation date, if any. */
  creationDate?: Date;
}
