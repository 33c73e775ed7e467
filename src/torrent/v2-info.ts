/**
 * The info dictionary of BitTorrent v2 and hybrid torrents (BEP 52), laid out as libtorrent 2 lays
 * it out, so that for the same files, name and piece length the info hashes equal libtorrent's:
 * - files are ordered as the `file tree` dictionary orders them: component by component, each
 *   compared byte-wise (not by the joined path, as mktorrent orders v1 files);
 * - every file starts on a piece boundary. A hybrid torrent's v1 `files` list therefore has a pad
 *   file (BEP 47: `attr` `p`, path `.pad/<size>`) after each file whose length is not a multiple of
 *   the piece length, the last file included; a single-file hybrid torrent has `length` and no pad;
 * - `piece layers` (outside the info dictionary) holds the piece layer of each file longer than one
 *   piece, keyed by the file's `pieces root`.
 */
import { BencodeDict, type BencodeValue } from './bencode-canonical.js';

/** Which metainfo format a torrent uses. */
export type TorrentVersion = 'v1' | 'v2' | 'hybrid';

/** The directory of BEP 47 pad files in a hybrid torrent's v1 file list. */
export const PAD_DIRECTORY = '.pad';

/** Bytes of padding after a file of `length` bytes so that the next file starts on a piece boundary. */
export function padLength(length: number, pieceLength: number): number {
  const rest = length % pieceLength;
  return rest === 0 ? 0 : pieceLength - rest;
}

/** Compare two paths as a `file tree` orders them: component by component, byte-wise. */
export function compareTreePaths(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return Buffer.compare(Buffer.from(a[i], 'utf8'), Buffer.from(b[i], 'utf8'));
  }
  return a.length - b.length;
}

/** One file of a v2 or hybrid torrent, with its hashes. */
export interface V2InfoFile {
  /** Path components below the torrent's root (a single-file torrent: `[name]`). */
  path: string[];
  /** Size in bytes. */
  length: number;
  /** Merkle root of the file (absent for an empty file). */
  piecesRoot?: Buffer;
  /** Piece layer, for files longer than one piece. */
  pieceLayer?: Buffer;
}

/** What {@link buildV2Info} needs. */
export interface V2InfoInput {
  /** Torrent name. */
  name: string;
  /** Bytes per piece. */
  pieceLength: number;
  /** Files in file-tree order. */
  files: readonly V2InfoFile[];
  /** True for a directory (the file tree has the files below the name). */
  multiFile: boolean;
  /** BEP 27 private flag. */
  private: boolean;
  /** For a hybrid torrent: the v1 piece hashes of the padded layout. */
  v1Pieces?: Buffer;
}

/** The info dictionary and the `piece layers` dictionary of a v2 or hybrid torrent. */
export function buildV2Info(input: V2InfoInput): { info: BencodeDict; pieceLayers: BencodeDict } {
  const root = new BencodeDict();
  const directories = new Map<string, BencodeDict>();
  const pieceLayers = new BencodeDict();
  const seenRoots = new Set<string>();
  for (const file of input.files) {
    let dir = root;
    for (let i = 0; i < file.path.length - 1; i++) {
      const key = file.path.slice(0, i + 1).join('/');
      let child = directories.get(key);
      if (child === undefined) {
        child = new BencodeDict();
        directories.set(key, child);
        dir.set(file.path[i], child);
      }
      dir = child;
    }
    const leaf = new BencodeDict().set('length', file.length);
    if (file.piecesRoot !== undefined) leaf.set('pieces root', file.piecesRoot);
    dir.set(file.path[file.path.length - 1], new BencodeDict().set('', leaf));
    // Identical files share a root and so one entry.
    if (file.pieceLayer !== undefined && file.piecesRoot !== undefined && !seenRoots.has(file.piecesRoot.toString('hex'))) {
      seenRoots.add(file.piecesRoot.toString('hex'));
      pieceLayers.set(file.piecesRoot, file.pieceLayer);
    }
  }
  const info = new BencodeDict()
    .set('file tree', root)
    .set('meta version', 2)
    .set('name', input.name)
    .set('piece length', input.pieceLength);
  if (input.private) info.set('private', 1);
  if (input.v1Pieces !== undefined) {
    info.set('pieces', input.v1Pieces);
    if (input.multiFile) {
      const list: BencodeValue[] = [];
      for (const file of input.files) {
        list.push(new BencodeDict().set('length', file.length).set('path', [...file.path]));
        const pad = padLength(file.length, input.pieceLength);
        if (pad > 0) {
          list.push(new BencodeDict().set('attr', 'p').set('length', pad).set('path', [PAD_DIRECTORY, String(pad)]));
        }
      }
      info.set('files', list);
    } else {
      info.set('length', input.files[0].length);
    }
  }
  return { info, pieceLayers };
}
