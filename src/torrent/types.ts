/**
 * Shapes shared by torrent creation, parsing and the seeder.
 */

/** One file of a torrent, in the order of the info dictionary. */
export interface TorrentFile {
  /** Path components relative to the torrent's root (for a single-file torrent: `[name]`). */
  path: string[];
  /** Size in bytes. */
  length: number;
  /** Byte offset of this file in the torrent's concatenated data. */
  offset: number;
}

/** A parsed .torrent file (BEP 3, BEP 12 announce-list, BEP 19 url-list, BEP 27 private). */
export interface ParsedTorrent {
  /** Suggested name (file name, or root directory name for multi-file torrents). */
  name: string;
  /** SHA-1 of the exact bytes of the info dictionary, lowercase hex (40 chars). */
  infoHash: string;
  /** The same hash as 20 raw bytes. */
  infoHashBuffer: Buffer;
  /** The exact bencoded bytes of the info dictionary. */
  infoBuffer: Buffer;
  /** Files in info-dictionary order. */
  files: TorrentFile[];
  /** Total size in bytes. */
  length: number;
  /** Bytes per piece. */
  pieceLength: number;
  /** Size of the last piece in bytes. */
  lastPieceLength: number;
  /** 20-byte SHA-1 of every piece. */
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
