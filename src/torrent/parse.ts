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
import { asSafeInteger, bdecode, type BBytes, type BDict, type BValue } from './bdecode.js';
import { TorrentParseError } from './errors.js';
import { FileTree } from './file-tree.js';
import { PATH_LIMITS, quote, unsafeComponentReason } from './path-rules.js';
import type { ParsedTorrent, TorrentFile } from './types.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

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
  const piecesValue = info.entries.get('pieces');
  if (piecesValue === undefined) {
    const v2 = info.entries.get('meta version');
    throw new TorrentParseError(
      v2 !== undefined ? 'v2-only torrents (no "info.pieces") are not supported' : 'missing "info.pieces"',
    );
  }
  const piecesBytes = expectBytes(piecesValue, 'info.pieces');
  if (piecesBytes.length % 20 !== 0) {
    throw new TorrentParseError(`"info.pieces" length ${piecesBytes.length} is not a multiple of 20`);
  }

  const { files, multiFile } = readFiles(info, name);
  const length = files.reduce((sum, file) => sum + file.length, 0);
  if (!Number.isSafeInteger(length)) throw new TorrentParseError('total length is too large');
  const pieceCount = Math.ceil(length / pieceLength);
  if (piecesBytes.length / 20 !== pieceCount) {
    throw new TorrentParseError(
      `"info.pieces" holds ${piecesBytes.length / 20} hashes but ${length} bytes in pieces of ${pieceLength} need ${pieceCount}`,
    );
  }
  const pieces: Buffer[] = [];
  for (let i = 0; i < pieceCount; i++) pieces.push(Buffer.from(piecesBytes.subarray(i * 20, i * 20 + 20)));

  let isPrivate = false;
  const privateValue = info.entries.get('private');
  if (privateValue !== undefined) {
    const flag = integer(privateValue, 'info.private');
    if (flag !== 0 && flag !== 1) throw new TorrentParseError(`"info.private" must be 0 or 1, got ${flag}`);
    isPrivate = flag === 1;
  }

  const infoBuffer = Buffer.from(buffer.subarray(info.start, info.end));
  const infoHashBuffer = createHash('sha1').update(infoBuffer).digest();
  const parsed: ParsedTorrent = {
    name,
    infoHash: infoHashBuffer.toString('hex'),
    infoHashBuffer,
    infoBuffer,
    files,
    length,
    pieceLength,
    lastPieceLength: length === 0 ? 0 : length - (pieceCount - 1) * pieceLength,
    pieces,
    multiFile,
    announce: readAnnounce(root),
    private: isPrivate,
    urlList: readUrlList(root),
  };
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

function readFiles(info: BDict, name: string): { files: TorrentFile[]; multiFile: boolean } {
  const lengthValue = info.entries.get('length');
  const filesValue = info.entries.get('files');
  if (lengthValue !== undefined && filesValue !== undefined) {
    throw new TorrentParseError('"info" has both "length" and "files"');
  }
  if (lengthValue !== undefined) {
    const length = nonNegative(lengthValue, 'info.length');
    return { files: [{ path: [name], length, offset: 0 }], multiFile: false };
  }
  if (filesValue === undefined) throw new TorrentParseError('"info" has neither "length" nor "files"');
  const list = expectList(filesValue, 'info.files');
  if (list.length === 0) throw new TorrentParseError('"info.files" is empty');
  const files: TorrentFile[] = [];
  const tree = new FileTree();
  let offset = 0;
  for (let index = 0; index < list.length; index++) {
    const where = `info.files[${index}]`;
    const entry = expectDict(list[index], where);
    const length = nonNegative(required(entry, 'length', where), `${where}.length`);
    const path = readPath(required(entry, 'path', where), `${where}.path`);
    const conflict = tree.add(path);
    if (conflict?.kind === 'repeats') {
      throw new TorrentParseError(`"${where}.path" repeats or conflicts with the path ${quote(path.join('/'))}`);
    }
    if (conflict?.kind === 'under-file') {
      throw new TorrentParseError(`"${where}.path" puts a file under ${quote(conflict.file.join('/'))}, which is a file`);
    }
    files.push({ path, length, offset });
    offset += length;
    if (!Number.isSafeInteger(offset)) throw new TorrentParseError('total length is too large');
  }
  return { files, multiFile: true };
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

function optionalString(dict: BDict, key: string): string | undefined {
  const value = dict.entries.get(key);
  return value === undefined ? undefined : expectString(value, key);
}

function required(dict: BDict, key: string, where: string): BValue {
  const value = dict.entries.get(key);
  if (value === undefined) throw new TorrentParseError(`missing "${where}.${key}"`);
  return value;
}

function expectDict(value: BValue, what: string): BDict {
  if (value.type !== 'dict') throw new TorrentParseError(`"${what}" must be a dictionary, got ${describe(value)}`, value.start);
  return value;
}

function expectList(value: BValue, what: string): BValue[] {
  if (value.type !== 'list') throw new TorrentParseError(`"${what}" must be a list, got ${describe(value)}`, value.start);
  return value.items;
}

function expectByteString(value: BValue, what: string): BBytes {
  if (value.type !== 'bytes') throw new TorrentParseError(`"${what}" must be a byte string, got ${describe(value)}`, value.start);
  return value;
}

function expectBytes(value: BValue, what: string): Buffer {
  return expectByteString(value, what).value;
}

function expectString(value: BValue, what: string): string {
  const bytes = expectBytes(value, what);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new TorrentParseError(`"${what}" is not valid UTF-8`, value.start);
  }
}

function integer(value: BValue, what: string): number {
  if (value.type !== 'int') throw new TorrentParseError(`"${what}" must be an integer, got ${describe(value)}`, value.start);
  const number = asSafeInteger(value);
  if (number === undefined) throw new TorrentParseError(`"${what}" is out of range`, value.start);
  return number;
}

function nonNegative(value: BValue, what: string): number {
  const number = integer(value, what);
  if (number < 0) throw new TorrentParseError(`"${what}" must not be negative, got ${number}`, value.start);
  return number;
}

/**
 * Decodes one path component (or the name) and checks it: valid UTF-8, at most
 * {@link PATH_LIMITS}.componentBytes bytes, a safe component. The label for messages is only built
 * on failure (`what`, plus `[index]` when given).
 */
function pathComponent(value: BBytes, what: string, index?: number): string {
  const label = (): string => (index === undefined ? what : `${what}[${index}]`);
  if (value.value.length > PATH_LIMITS.componentBytes) {
    throw new TorrentParseError(`"${label()}" is longer than ${PATH_LIMITS.componentBytes} bytes`, value.start);
  }
  let text: string;
  try {
    text = strictUtf8.decode(value.value);
  } catch {
    throw new TorrentParseError(`"${label()}" is not valid UTF-8`, value.start);
  }
  const unsafe = unsafeComponentReason(text);
  if (unsafe !== undefined) throw new TorrentParseError(`"${label()}" is not a safe path component (${unsafe}): ${quote(text)}`, value.start);
  return text;
}

function describe(value: BValue): string {
  return value.type === 'int' ? 'an integer' : value.type === 'bytes' ? 'a byte string' : value.type === 'list' ? 'a list' : 'a dictionary';
}
