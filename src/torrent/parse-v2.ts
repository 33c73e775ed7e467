/**
 * Reading the BitTorrent v2 parts of a .torrent file (BEP 52) strictly: the `file tree`, the
 * `piece layers`, and, for a hybrid torrent, the agreement of the v1 file list with the tree.
 *
 * - `file tree`: nested dictionaries keyed by path components (each one passes the v1 path rules);
 *   a file is a dictionary whose only key is the empty string, holding `length` and, for a
 *   non-empty file, a 32-byte `pieces root`. A name that is both a file and a directory, an empty
 *   directory, a missing or extra root, a pad file in the tree: refused.
 * - `piece layers`: for every file longer than one piece, the layer keyed by its root must hold one
 *   32-byte node per piece, and the tree built on it must give the root. A layer for no file of the
 *   torrent, or one whose size or tree is wrong, is refused.
 * - hybrid: the v1 `files` list, without its pad files, must list the same files with the same
 *   lengths in the same order, each non-empty file at the byte of the v1 stream where the v2
 *   layout puts it (a piece boundary), pad files (BEP 47 `attr` containing `p`) only where they
 *   fill a piece, the one after the last file optional (see {@link checkHybridFiles}); a
 *   single-file hybrid torrent's `length` must be the tree's one file, named like the torrent.
 * Any violation is a {@link TorrentParseError} naming the field; cost is linear in the input.
 */
import type { BDict, BValue } from './bdecode.js';
import { TorrentParseError } from './errors.js';
import { HASH_SIZE, rootFromPieceLayer } from './merkle.js';
import { componentText, describe, expectBytes, expectDict, expectString, integer, nonNegative, required } from './parse-fields.js';
import { PATH_LIMITS, quote } from './path-rules.js';
import type { TorrentFile } from './types.js';
import { padLength } from './v2-info.js';

/** The v2 view of a torrent's files. */
export interface V2Files {
  /** Files in file-tree order, offsets on piece boundaries, with their roots and layers. */
  files: TorrentFile[];
  /** False when the tree holds one file named like the torrent (a single-file torrent). */
  multiFile: boolean;
  /** Total bytes of the files. */
  length: number;
}

/**
 * Read `info.file tree` and the `piece layers` of `root`, checking each layer against its root.
 * @throws {TorrentParseError} naming the problem.
 */
export function readV2Files(info: BDict, root: BDict, name: string, pieceLength: number): V2Files {
  const tree = expectDict(required(info, 'file tree', 'info'), 'info.file tree');
  const files: TorrentFile[] = [];
  walkTree(tree, [], files);
  if (files.length === 0) throw new TorrentParseError('"info.file tree" holds no files');
  let offset = 0;
  let length = 0;
  for (const file of files) {
    file.offset = offset;
    offset += file.length + padLength(file.length, pieceLength);
    length += file.length;
    if (!Number.isSafeInteger(offset)) throw new TorrentParseError('total length is too large');
  }
  readPieceLayers(root, files, pieceLength);
  const multiFile = !(files.length === 1 && files[0].path.length === 1 && files[0].path[0] === name);
  return { files, multiFile, length };
}

function walkTree(dir: BDict, path: string[], out: TorrentFile[]): void {
  if (path.length > 0 && dir.entries.size === 0) {
    throw new TorrentParseError(`"info.file tree" has an empty directory ${quote(path.join('/'))}`, dir.start);
  }
  for (const [key, value] of dir.entries) {
    const where = `info.file tree/${[...path, ''].join('/')}`;
    if (key === '') {
      throw new TorrentParseError(
        path.length === 0 ? '"info.file tree" has a file with an empty name' : `"info.file tree" entry ${quote(path.join('/'))} is both a file and a directory`,
        value.start,
      );
    }
    const component = componentText(Buffer.from(key, 'latin1'), `${where}${Buffer.from(key, 'latin1').toString('utf8')}`, value.start);
    const childPath = [...path, component];
    if (childPath.length > PATH_LIMITS.components) {
      throw new TorrentParseError(`"info.file tree" is deeper than ${PATH_LIMITS.components} components`, value.start);
    }
    if (Buffer.byteLength(childPath.join('/')) > PATH_LIMITS.pathBytes) {
      throw new TorrentParseError(`a path in "info.file tree" is longer than ${PATH_LIMITS.pathBytes} bytes`, value.start);
    }
    const child = expectDict(value, `info.file tree/${childPath.join('/')}`);
    const leaf = child.entries.get('');
    if (leaf === undefined) {
      walkTree(child, childPath, out);
      continue;
    }
    if (child.entries.size !== 1) {
      throw new TorrentParseError(`"info.file tree" entry ${quote(childPath.join('/'))} is both a file and a directory`, child.start);
    }
    out.push(readLeaf(leaf, childPath));
  }
}

function readLeaf(value: BValue, path: string[]): TorrentFile {
  const what = `info.file tree/${path.join('/')}`;
  const leaf = expectDict(value, what);
  const length = nonNegative(required(leaf, 'length', what), `${what}.length`);
  const attr = leaf.entries.get('attr');
  if (attr !== undefined && expectBytes(attr, `${what}.attr`).includes('p')) {
    throw new TorrentParseError(`"${what}" is a pad file: pad files belong in the v1 "files" list, not in the file tree`);
  }
  const rootValue = leaf.entries.get('pieces root');
  const file: TorrentFile = { path, length, offset: 0 };
  if (length === 0) {
    if (rootValue !== undefined) throw new TorrentParseError(`"${what}" is empty but has a "pieces root"`, rootValue.start);
    return file;
  }
  if (rootValue === undefined) throw new TorrentParseError(`missing "${what}.pieces root"`, leaf.start);
  const root = expectBytes(rootValue, `${what}.pieces root`);
  if (root.length !== HASH_SIZE) {
    throw new TorrentParseError(`"${what}.pieces root" must be ${HASH_SIZE} bytes, got ${root.length}`, rootValue.start);
  }
  file.piecesRoot = Buffer.from(root);
  return file;
}

function readPieceLayers(root: BDict, files: TorrentFile[], pieceLength: number): void {
  const value = root.entries.get('piece layers');
  const layers = value === undefined ? undefined : expectDict(value, 'piece layers');
  const owners = new Map<string, TorrentFile[]>();
  for (const file of files) {
    if (file.piecesRoot === undefined) continue;
    const key = file.piecesRoot.toString('latin1');
    const list = owners.get(key);
    if (list === undefined) owners.set(key, [file]);
    else list.push(file);
  }
  if (layers !== undefined) {
    for (const [key, layerValue] of layers.entries) {
      const keyBytes = Buffer.from(key, 'latin1');
      if (keyBytes.length !== HASH_SIZE) {
        throw new TorrentParseError(`"piece layers" has a key of ${keyBytes.length} bytes; keys are ${HASH_SIZE}-byte pieces roots`, layerValue.start);
      }
      const sharing = owners.get(key);
      if (sharing === undefined) {
        throw new TorrentParseError(`"piece layers" has a layer for the root ${keyBytes.toString('hex')}, which is no file's "pieces root"`, layerValue.start);
      }
      const layer = expectBytes(layerValue, `piece layers[${keyBytes.toString('hex')}]`);
      const file = sharing[0];
      const pieces = Math.ceil(file.length / pieceLength);
      const label = quote(file.path.join('/'));
      if (layer.length !== pieces * HASH_SIZE) {
        throw new TorrentParseError(
          `the piece layer of ${label} has ${layer.length} bytes; ${file.length} bytes in pieces of ${pieceLength} need ${pieces * HASH_SIZE}`,
          layerValue.start,
        );
      }
      if (!rootFromPieceLayer(layer, pieceLength).equals(file.piecesRoot!)) {
        throw new TorrentParseError(`the piece layer of ${label} does not match its "pieces root"`, layerValue.start);
      }
      for (const owner of sharing) if (owner.length > pieceLength) owner.pieceLayer = Buffer.from(layer);
    }
  }
  for (const file of files) {
    if (file.length > pieceLength && file.pieceLayer === undefined) {
      throw new TorrentParseError(`missing "piece layers" entry for ${quote(file.path.join('/'))} (${file.length} bytes, more than one piece)`);
    }
  }
}

/** One entry of a hybrid torrent's v1 `files` list. */
export interface V1Entry {
  path: string[];
  length: number;
  pad: boolean;
}

/**
 * Check a hybrid torrent's v1 file list (entries of `info.files`, pad files marked) against its
 * v2 files (file-tree order, `offset` on piece boundaries). What is checked, and why it accepts
 * every layout libtorrent 2.0 writes (with or without `canonical_files_no_tail_padding`):
 * - the v1 entries that are not pad files are the v2 files, one for one, in the same order, with
 *   the same paths and lengths (empty files included);
 * - each non-empty file starts at the same byte of the v1 stream as in the v2 layout, that is on
 *   a piece boundary: a file that does not end on a boundary is followed by one pad file up to the
 *   boundary before the next non-empty file. Empty files may stand before or after that pad file
 *   (libtorrent puts them after it, or before it with `canonical_files_no_tail_padding`), since
 *   they take no bytes;
 * - a pad file is only where the stream is not on a piece boundary, and has exactly the bytes to
 *   the next one; so there is at most one pad in a row, never one before the first file, never one
 *   after an aligned file;
 * - after the last non-empty file the pad is optional (BEP 52 leaves tail padding open; libtorrent
 *   2.0.0 to 2.0.7 and `canonical_files_no_tail_padding` leave it out, the other flags of 2.0.8 put
 *   it in). The v1 pieces cover the v1 stream as it is (checked by the caller), so the last v1
 *   piece is short without the tail pad and whole with it.
 * The one `piece length` serves both parts, so the v1 pieces and the v2 piece layers agree on it.
 * @throws {TorrentParseError} naming the first disagreement.
 */
export function checkHybridFiles(v1: readonly V1Entry[], v2: readonly TorrentFile[], pieceLength: number): void {
  let j = 0;
  /** Byte of the v1 stream where entry j starts. */
  let position = 0;
  /** The last non-empty file so far, for messages about the pad after it. */
  let previous = '';
  /** Take the pad files at entry j, each one filling the stream to the next piece boundary. */
  const takePads = (): void => {
    for (let entry = v1[j]; entry?.pad === true; entry = v1[j]) {
      const need = padLength(position, pieceLength);
      if (need === 0) {
        throw new TorrentParseError(
          `"info.files[${j}]" is an unexpected pad file (${entry.length} bytes${previous === '' ? '' : ` after ${previous}`}, where the data is already on a piece boundary)`,
        );
      }
      if (entry.length !== need) {
        throw new TorrentParseError(`"info.files[${j}]": the pad file after ${previous} has ${entry.length} bytes; the piece needs ${need}`);
      }
      position += entry.length;
      j++;
    }
  };
  for (let i = 0; i < v2.length; i++) {
    const file = v2[i];
    const label = quote(file.path.join('/'));
    takePads();
    const entry = v1[j];
    if (entry === undefined) throw new TorrentParseError(`"info.files" and "info.file tree" disagree: ${label} is missing from "info.files"`);
    if (entry.path.length !== file.path.length || entry.path.some((c, k) => c !== file.path[k])) {
      throw new TorrentParseError(
        `"info.files" and "info.file tree" disagree: file ${i} is ${quote(entry.path.join('/'))} in one and ${label} in the other`,
      );
    }
    if (entry.length !== file.length) {
      throw new TorrentParseError(`"info.files" and "info.file tree" disagree on the length of ${label}: ${entry.length} and ${file.length}`);
    }
    if (file.length > 0) {
      if (position !== file.offset) {
        throw new TorrentParseError(
          `"info.files": missing pad file after ${previous} (${padLength(position, pieceLength)} bytes to the next piece boundary, where ${label} starts)`,
        );
      }
      previous = label;
    }
    position += entry.length;
    j++;
  }
  takePads(); // the optional tail pad
  if (j < v1.length) {
    const extra = v1[j];
    throw new TorrentParseError(`"info.files" and "info.file tree" disagree: ${quote(extra.path.join('/'))} is missing from "info.file tree"`);
  }
}

/** Whether a v1 `files` entry is a BEP 47 pad file (`attr` containing `p`). */
export function isPadEntry(entry: BDict, where: string): boolean {
  const attr = entry.entries.get('attr');
  if (attr === undefined) return false;
  if (attr.type !== 'bytes') throw new TorrentParseError(`"${where}.attr" must be a byte string, got ${describe(attr)}`, attr.start);
  return expectString(attr, `${where}.attr`).includes('p');
}

/** The `meta version` of an info dictionary: undefined (v1), or 2. */
export function metaVersion(info: BDict): 2 | undefined {
  const value = info.entries.get('meta version');
  if (value === undefined) return undefined;
  const version = integer(value, 'info.meta version');
  if (version !== 2) throw new TorrentParseError(`unsupported "info.meta version" ${version} (only 2 is defined)`, value.start);
  return 2;
}
