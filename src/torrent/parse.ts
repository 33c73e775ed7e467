/**
 * `parseTorrent()`: read a .torrent file strictly.
 *
 * The input must be canonical bencode (see bdecode.ts) and a valid v1 metainfo file: an `info`
 * dictionary with a UTF-8 `name`, a positive `piece length`, `pieces` holding exactly one 20-byte
 * hash per piece, and either `length` (single file) or a non-empty `files` list whose paths are safe
 * relative paths on every common operating system (each component and the name pass
 * {@link unsafeComponentReason}: no empty, `.` or `..` components, no `/` or `\` separators, no
 * control characters, no drive letters, no Windows device names; no duplicates, no file that is
 * also a directory) within {@link PATH_LIMITS} (256 components, 255 bytes a component, 4096 bytes a
 * path). The info hash is the SHA-1 of the exact bytes of the `info` value
 * in the input; nothing is re-encoded. Any violation throws {@link TorrentParseError} with a message
 * naming the field; no input makes it hang or throw anything else.
 *
 * Cost is linear in the size of the input whatever its shape: limits are checked before anything
 * is decoded, and repeated or conflicting paths are found with a tree walked once per component
 * (see file-tree.ts), never by rebuilding prefixes.
 */
import { createHash } from 'node:crypto';
import { bdecode, type BDict, type BValue } from './bdecode.js';
import { TorrentParseError } from './errors.js';
import { FileTree } from './file-tree.js';
import {
  describe,
  expectByteString,
  expectBytes,
  expectDict,
  expectList,
  expectString,
  integer,
  nonNegative,
  optionalString,
  pathComponent,
  required,
} from './parse-fields.js';
import { PATH_LIMITS, quote } from './path-rules.js';
import type { ParsedTorrent, TorrentFile } from './types.js';
import { BLOCK_SIZE } from './merkle.js';
import { checkHybridFiles, isPadEntry, metaVersion, readV2Files, type V1Entry } from './parse-v2.js';

/** Largest piece length accepted when reading (1 GiB; real torrents stay far below). */
const MAX_PIECE_LENGTH = 2 ** 30;

/**
 * Parse and validate a .torrent file.
 * @param input the file's bytes
 * @throws {TorrentParseError} naming the problem.
 */
export function parseTorrent(input: Uint8Array): ParsedTorrent {
  if (!(input instanceof Uint8Array)) throw new TorrentParseError('input must be a Buffer or Uint8Array');
  const buffer = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const root = bdecode(buffer);
  if (root.type !== 'dict') throw new TorrentParseError('a .torrent file must be a bencoded dictionary');
  const infoValue = root.entries.get('info');
  if (infoValue === undefined) throw new TorrentParseError('missing "info" dictionary');
  const info = expectDict(infoValue, 'info');

  const name = pathComponent(expectByteString(required(info, 'name', 'info'), 'info.name'), 'info.name');
  const pieceLength = integer(required(info, 'piece length', 'info'), 'info.piece length');
  if (pieceLength <= 0 || pieceLength > MAX_PIECE_LENGTH) {
    throw new TorrentParseError(`"info.piece length" must be from 1 to ${MAX_PIECE_LENGTH}, got ${pieceLength}`);
  }
  const v2 = metaVersion(info) === 2;
  if (!v2 && info.entries.has('file tree')) throw new TorrentParseError('"info.file tree" without "info.meta version" 2');
  if (!v2 && root.entries.has('piece layers')) throw new TorrentParseError('"piece layers" in a v1 torrent (no "info.meta version")');
  const piecesValue = info.entries.get('pieces');
  if (piecesValue === undefined && !v2) throw new TorrentParseError('missing "info.pieces"');
  if (v2 && (pieceLength < BLOCK_SIZE || (pieceLength & (pieceLength - 1)) !== 0)) {
    throw new TorrentParseError(`"info.piece length" of a v2 torrent must be a power of two of at least ${BLOCK_SIZE}, got ${pieceLength}`);
  }
  const v2Files = v2 ? readV2Files(info, root, name, pieceLength) : undefined;
  if (v2Files !== undefined && piecesValue === undefined) {
    for (const key of ['files', 'length']) {
      if (info.entries.has(key)) throw new TorrentParseError(`"info.${key}" in a v2-only torrent (no "info.pieces")`);
    }
  }

  let files: TorrentFile[];
  let multiFile: boolean;
  let length: number;
  const pieces: Buffer[] = [];
  let lastPieceLength = 0;
  if (piecesValue !== undefined) {
    const piecesBytes = expectBytes(piecesValue, 'info.pieces');
    if (piecesBytes.length % 20 !== 0) {
      throw new TorrentParseError(`"info.pieces" length ${piecesBytes.length} is not a multiple of 20`);
    }
    const v1 = readFiles(info, name, v2Files !== undefined);
    // The v1 byte stream (pad files included) is what the v1 pieces cover.
    const streamLength = v1.entries.reduce((sum, entry) => sum + entry.length, 0);
    if (!Number.isSafeInteger(streamLength)) throw new TorrentParseError('total length is too large');
    const pieceCount = Math.ceil(streamLength / pieceLength);
    if (piecesBytes.length / 20 !== pieceCount) {
      throw new TorrentParseError(
        `"info.pieces" holds ${piecesBytes.length / 20} hashes but ${streamLength} bytes in pieces of ${pieceLength} need ${pieceCount}`,
      );
    }
    for (let i = 0; i < pieceCount; i++) pieces.push(Buffer.from(piecesBytes.subarray(i * 20, i * 20 + 20)));
    lastPieceLength = streamLength === 0 ? 0 : streamLength - (pieceCount - 1) * pieceLength;
    if (v2Files !== undefined) {
      if (v1.multiFile !== v2Files.multiFile) {
        throw new TorrentParseError(
          v1.multiFile
            ? '"info.files" lists files but "info.file tree" holds a single file named like the torrent'
            : '"info.length" makes a single-file torrent but "info.file tree" does not hold one file named like the torrent',
        );
      }
      checkHybridFiles(v1.entries, v2Files.files, pieceLength);
      ({ files, multiFile, length } = v2Files);
    } else {
      ({ files, multiFile } = v1);
      length = streamLength;
    }
  } else {
    ({ files, multiFile, length } = v2Files!);
  }

  let isPrivate = false;
  const privateValue = info.entries.get('private');
  if (privateValue !== undefined) {
    const flag = integer(privateValue, 'info.private');
    if (flag !== 0 && flag !== 1) throw new TorrentParseError(`"info.private" must be 0 or 1, got ${flag}`);
    isPrivate = flag === 1;
  }

  const infoBuffer = Buffer.from(buffer.subarray(info.start, info.end));
  const v2Hash = v2 ? createHash('sha256').update(infoBuffer).digest() : undefined;
  const infoHashBuffer = piecesValue === undefined ? Buffer.from(v2Hash!.subarray(0, 20)) : createHash('sha1').update(infoBuffer).digest();
  const parsed: ParsedTorrent = {
    version: !v2 ? 'v1' : piecesValue === undefined ? 'v2' : 'hybrid',
    name,
    infoHash: infoHashBuffer.toString('hex'),
    infoHashBuffer,
    infoBuffer,
    files,
    length,
    pieceLength,
    lastPieceLength,
    pieces,
    multiFile,
    announce: readAnnounce(root),
    private: isPrivate,
    urlList: readUrlList(root),
  };
  if (v2Hash !== undefined) {
    parsed.infoHashV2 = v2Hash.toString('hex');
    parsed.infoHashV2Buffer = v2Hash;
  }
  const comment = optionalString(root, 'comment');
  if (comment !== undefined) parsed.comment = comment;
  const createdBy = optionalString(root, 'created by');
  if (createdBy !== undefined) parsed.createdBy = createdBy;
  const date = root.entries.get('creation date');
  if (date !== undefined) {
    const seconds = integer(date, 'creation date');
    const when = new Date(seconds * 1000);
    if (Number.isNaN(when.getTime())) throw new TorrentParseError(`"creation date" ${seconds} is out of range`);
    parsed.creationDate = when;
  }
  return parsed;
}

/**
 * The v1 file list. In a hybrid torrent (`hybrid`), pad files (BEP 47) are marked and left out of
 * the path conflict checks (libtorrent names every pad of a size alike, `.pad/<size>`); in a v1
 * torrent they are files like the others.
 */
function readFiles(info: BDict, name: string, hybrid: boolean): { files: TorrentFile[]; entries: V1Entry[]; multiFile: boolean } {
  const lengthValue = info.entries.get('length');
  const filesValue = info.entries.get('files');
  if (lengthValue !== undefined && filesValue !== undefined) {
    throw new TorrentParseError('"info" has both "length" and "files"');
  }
  if (lengthValue !== undefined) {
    const length = nonNegative(lengthValue, 'info.length');
    return { files: [{ path: [name], length, offset: 0 }], entries: [{ path: [name], length, pad: false }], multiFile: false };
  }
  if (filesValue === undefined) throw new TorrentParseError('"info" has neither "length" nor "files"');
  const list = expectList(filesValue, 'info.files');
  if (list.length === 0) throw new TorrentParseError('"info.files" is empty');
  const files: TorrentFile[] = [];
  const entries: V1Entry[] = [];
  const tree = new FileTree();
  let offset = 0;
  for (let index = 0; index < list.length; index++) {
    const where = `info.files[${index}]`;
    const entry = expectDict(list[index], where);
    const length = nonNegative(required(entry, 'length', where), `${where}.length`);
    const path = readPath(required(entry, 'path', where), `${where}.path`);
    const pad = hybrid && isPadEntry(entry, where);
    if (!pad) {
      const conflict = tree.add(path);
      if (conflict?.kind === 'repeats') {
        throw new TorrentParseError(`"${where}.path" repeats or conflicts with the path ${quote(path.join('/'))}`);
      }
      if (conflict?.kind === 'under-file') {
        throw new TorrentParseError(`"${where}.path" puts a file under ${quote(conflict.file.join('/'))}, which is a file`);
      }
    }
    files.push({ path, length, offset });
    entries.push({ path, length, pad });
    offset += length;
    if (!Number.isSafeInteger(offset)) throw new TorrentParseError('total length is too large');
  }
  return { files, entries, multiFile: true };
}

/**
 * Reads one file's `path` list, enforcing the limits of {@link PATH_LIMITS} before decoding
 * anything, so the cost is linear in the bytes of the list.
 */
function readPath(value: BValue, what: string): string[] {
  const components = expectList(value, what);
  if (components.length === 0) throw new TorrentParseError(`"${what}" is empty`);
  if (components.length > PATH_LIMITS.components) {
    throw new TorrentParseError(`"${what}" has ${components.length} components; the limit is ${PATH_LIMITS.components}`, value.start);
  }
  const path: string[] = new Array<string>(components.length);
  let bytes = components.length - 1; // the "/" separators
  for (let i = 0; i < components.length; i++) {
    const component = components[i];
    if (component.type !== 'bytes') {
      throw new TorrentParseError(`"${what}[${i}]" must be a byte string, got ${describe(component)}`, component.start);
    }
    bytes += component.value.length;
    if (bytes > PATH_LIMITS.pathBytes) {
      throw new TorrentParseError(`"${what}" is longer than ${PATH_LIMITS.pathBytes} bytes`, value.start);
    }
    path[i] = pathComponent(component, what, i);
  }
  return path;
}

function readAnnounce(root: BDict): string[][] {
  const listValue = root.entries.get('announce-list');
  const single = root.entries.get('announce');
  const announce = single === undefined ? undefined : expectString(single, 'announce');
  if (listValue !== undefined) {
    const tiers = expectList(listValue, 'announce-list').map((tier, i) =>
      expectList(tier, `announce-list[${i}]`).map((url, j) => expectString(url, `announce-list[${i}][${j}]`)),
    );
    const nonEmpty = tiers.filter((tier) => tier.length > 0);
    if (nonEmpty.length > 0) return nonEmpty; // BEP 12: announce-list takes precedence over announce
  }
  return announce === undefined || announce === '' ? [] : [[announce]];
}

function readUrlList(root: BDict): string[] {
  const value = root.entries.get('url-list');
  if (value === undefined) return [];
  if (value.type === 'bytes') {
    const url = expectString(value, 'url-list');
    return url === '' ? [] : [url];
  }
  return expectList(value, 'url-list')
    .map((url, i) => expectString(url, `url-list[${i}]`))
    .filter((url) => url !== '');
}

