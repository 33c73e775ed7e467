/**
 * `createTorrent()`: make a .torrent file from a file or a directory tree: BitTorrent v1 (default),
 * v2 or hybrid (BEP 52).
 *
 * v1: the info dictionary holds exactly what mktorrent puts there (`files` or `length`, `name`,
 * `piece length`, `pieces`, and `private` when set), and files are listed in mktorrent's order (see
 * files.ts), so for the same content, name and piece length the info hash equals mktorrent's.
 * v2 and hybrid: laid out as libtorrent 2 lays them out (see v2-info.ts), so the info hashes equal
 * libtorrent's; the data is read once for both hashes of a hybrid torrent (see v2-pieces.ts).
 */
import { booleanOption, functionOption, optionsObject, warnUnknownKeys, wholeNumber } from '../option-checks.js';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TorrentCreateError } from './errors.js';
import { collectFiles } from './files.js';
import { magnetLink } from './magnet.js';
import { defaultPieceLength, validatePieceLength } from './piece-length.js';
import { takeEarlyHash, takeEarlyHashV2 } from './early-hash.js';
import { hashPieces } from './pieces.js';
import type { TorrentFile } from './types.js';
import { BencodeDict, encodeCanonical } from './bencode-canonical.js';
import type { TorrentVersion } from './v2-info.js';

/**
 * Trackers: one URL; a flat list of URLs (each becomes its own tier, i.e. backup trackers tried in
 * order, like repeated `mktorrent -a`); or a list of tiers (BEP 12), each a list of URLs.
 */
export type AnnounceInput = string | readonly string[] | readonly (readonly string[])[];

/** Every option of {@link createTorrent} (unknown keys are warned about once). */
const CREATE_OPTIONS: ReadonlySet<string> = new Set([
  'announce', 'pieceLength', 'private', 'comment', 'createdBy', 'creationDate', 'webSeeds', 'name', 'onProgress', 'signal', 'threads', 'version',
] satisfies Array<keyof CreateTorrentOptions>);

/** Options of {@link createTorrent}. */
export interface CreateTorrentOptions {
  /**
   * Tracker URLs (http, https, udp, or ws/wss for WebTorrent trackers). The first URL is written as
   * `announce`; when there is more than one URL the tiers are also written as `announce-list`
   * (BEP 12). Omit for a trackerless torrent.
   */
  announce?: AnnounceInput;
  /**
   * Bytes per piece: a power of two from 16 KiB to 16 MiB. Default: chosen from the total size
   * (see `defaultPieceLength`: about 1000–2000 pieces, e.g. 1 GiB → 1 MiB).
   */
  pieceLength?: number;
  /** BEP 27 private flag (`private: 1` in the info dictionary): peers only from the tracker. */
  private?: boolean;
  /** Free-text `comment`. */
  comment?: string;
  /** `created by`; default `express-torrent-tracker/<version>`. Pass `null` or `false` to omit it. */
  createdBy?: string | false | null;
  /**
   * `creation date`: a Date, or seconds since the Unix epoch. Default: now. Pass `false` or `null`
   * to omit it, for reproducible output.
   */
  creationDate?: Date | number | false | null;
  /**
   * Web seeds (BEP 19, written as `url-list`, always as a list), http or https. URLs are written
   * exactly as given. Per BEP 19, for a single-file torrent a URL ending in `/` names a directory (the
   * client appends the torrent name) and any other URL is the file itself; for a multi-file torrent
   * the URL is the directory that holds the torrent's root directory (the client appends
   * `<name>/<path>`).
   */
  webSeeds?: string | readonly string[];
  /** Torrent name; default: the base name of `path`. Must be a single path component. */
  name?: string;
  /** Called while hashing with bytes hashed so far and the total. */
  onProgress?: (hashedBytes: number, totalBytes: number) => void;
  /** Aborts the creation; the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
  /**
   * Hashing threads; default one per CPU core. 0 hashes on the calling thread only. The calling
   * thread is one of them (it hashes a few MiB at a time between yields to its event loop, and
   * starts while the workers boot), so N threads start N - 1 workers.
   */
  threads?: number;
  /**
   * `v1` (default: BitTorrent v1, byte-identical to mktorrent), `v2` (BEP 52 only: SHA-256 merkle
   * trees per file, read by libtorrent 2 / qBittorrent 4.4+ / Transmission 4), or `hybrid` (both in
   * one file: v1 and v2 clients alike; two info hashes, two swarms).
   */
  version?: TorrentVersion;
}

/** The result of {@link createTorrent}. */
export interface CreatedTorrent {
  /** The bencoded .torrent file. */
  torrent: Buffer;
  /** `v1`, `v2` or `hybrid`. */
  version: TorrentVersion;
  /**
   * Info hash, lowercase hex (40 characters): the SHA-1 v1 info hash of a v1 or hybrid torrent; for
   * a v2-only torrent the first 20 bytes of the SHA-256 v2 info hash (what trackers and the wire
   * handshake use).
   */
  infoHash: string;
  /** {@link CreatedTorrent.infoHash} as 20 raw bytes. */
  infoHashBuffer: Buffer;
  /** v2 and hybrid: the SHA-256 v2 info hash, lowercase hex (64 characters). */
  infoHashV2?: string;
  /** v2 and hybrid: the v2 info hash, 32 raw bytes. */
  infoHashV2Buffer?: Buffer;
  /** Magnet link with both info hashes (`btih`, `btmh`) as the version has them, name, every tracker and every web seed. */
  magnet: string;
  /** Torrent name. */
  name: string;
  /** Total size in bytes. */
  length: number;
  /** Bytes per piece. */
  pieceLength: number;
  /**
   * Files in info-dictionary order (a single-file torrent has one file whose path is `[name]`);
   * pad files are not listed. v2 and hybrid: files are in file-tree order and each `offset` is on
   * a piece boundary.
   */
  files: TorrentFile[];
  /** True when the target was a directory (the info dictionary has `files`). */
  multiFile: boolean;
  /** Announce tiers as written. */
  announce: string[][];
  /** Web seeds as written. */
  urlList: string[];
  /** Entries left out because they are neither regular files nor directories (FIFOs, sockets...). */
  skipped: string[];
}

/**
 * Make a .torrent for the file or directory at `path`. Files are streamed and hashed on worker
 * threads; nothing is loaded whole.
 * @throws {TorrentCreateError} for a missing or unreadable path, an empty directory, a file that
 *   changes while it is hashed, an invalid piece length or URL.
 */
export async function createTorrent(path: string, options: CreateTorrentOptions = {}): Promise<CreatedTorrent> {
  warnUnknownKeys('createTorrent', optionsObject('createTorrent', options), CREATE_OPTIONS);
  booleanOption('createTorrent', 'private', options.private, false);
  functionOption('createTorrent', 'onProgress', options.onProgress, '(hashedBytes, totalBytes) => void');
  if (options.threads !== undefined) wholeNumber('createTorrent', 'threads', options.threads, 0, { max: 256 });
  options.signal?.throwIfAborted();
  const announce = normalizeAnnounce(options.announce);
  const urlList = normalizeWebSeeds(options.webSeeds);
  if (options.pieceLength !== undefined) validatePieceLength(options.pieceLength);
  const creationDate = normalizeDate(options.creationDate);

  const version = options.version ?? 'v1';
  if (version !== 'v1' && version !== 'v2' && version !== 'hybrid') {
    throw new TorrentCreateError(`invalid version ${JSON.stringify(version)}: expected v1, v2 or hybrid`);
  }

  const set = await collectFiles(path, options.name);
  const pieceLength = options.pieceLength ?? defaultPieceLength(set.length);
  let infoBuffer: Buffer;
  let pieceLayers: Buffer | undefined;
  let files: TorrentFile[];
  if (version === 'v1') {
    const pieces = await (takeEarlyHash(set.files, pieceLength, options.onProgress, options.signal) ??
      hashPieces(set.files, {
        pieceLength,
        onProgress: options.onProgress,
        signal: options.signal,
        threads: options.threads,
        callerHashes: true,
      }));
    const info = new BencodeDict().set('name', set.name).set('piece length', pieceLength).set('pieces', pieces);
    if (set.multiFile) info.set('files', set.files.map((file) => new BencodeDict().set('length', file.length).set('path', [...file.path])));
    else info.set('length', set.length);
    if (options.private) info.set('private', 1);
    infoBuffer = encodeCanonical(info);
    let offset = 0;
    files = set.files.map((file) => {
      const entry = { path: file.path, length: file.length, offset };
      offset += file.length;
      return entry;
    });
  } else {
    // Loaded on demand: a v1 run (the default, and what scripts time) starts faster without them.
    const [{ buildV2Info, compareTreePaths, padLength }, { hashV2 }] = await Promise.all([import('./v2-info.js'), import('./v2-pieces.js')]);
    const ordered = [...set.files].sort((a, b) => compareTreePaths(a.path, b.path));
    const early = set.multiFile ? undefined : takeEarlyHashV2(ordered, pieceLength, version, options.onProgress, options.signal);
    const hashes = await (early ??
      hashV2(ordered, {
        pieceLength,
        hybrid: version === 'hybrid',
        padPieces: set.multiFile,
        onProgress: options.onProgress,
        signal: options.signal,
        threads: options.threads,
        callerHashes: true,
      }));
    const built = buildV2Info({
      name: set.name,
      pieceLength,
      multiFile: set.multiFile,
      private: options.private === true,
      files: ordered.map((file, i) => ({ path: file.path, length: file.length, ...hashes.files[i] })),
      v1Pieces: hashes.pieces,
    });
    infoBuffer = encodeCanonical(built.info);
    pieceLayers = encodeCanonical(built.pieceLayers);
    let offset = 0;
    files = ordered.map((file, i) => {
      const entry: TorrentFile = { path: file.path, length: file.length, offset, ...hashes.files[i] };
      offset += file.length + padLength(file.length, pieceLength);
      return entry;
    });
  }
  const v2Hash = version === 'v1' ? undefined : createHash('sha256').update(infoBuffer).digest();
  const infoHashBuffer = version === 'v2' ? Buffer.from(v2Hash!.subarray(0, 20)) : createHash('sha1').update(infoBuffer).digest();
  const infoHash = infoHashBuffer.toString('hex');

  // The outer dictionary's keys sort around "info" (announce, announce-list, comment, created by,
  // creation date < info < piece layers < url-list), so the torrent is assembled around the info
  // bytes that were hashed: they are encoded once and the file holds exactly them.
  const before = new BencodeDict();
  if (announce.length > 0) before.set('announce', announce[0][0]);
  if (announce.flat().length > 1) before.set('announce-list', announce.map((tier) => [...tier]));
  if (options.comment !== undefined && options.comment !== '') before.set('comment', options.comment);
  const createdBy = options.createdBy === undefined ? defaultCreatedBy() : options.createdBy;
  if (createdBy) before.set('created by', createdBy);
  if (creationDate !== undefined) before.set('creation date', creationDate);
  const after = new BencodeDict();
  if (urlList.length > 0) after.set('url-list', [...urlList]);
  const torrent = Buffer.concat([
    encodeCanonical(before).subarray(0, -1), // "d...", without its closing "e"
    Buffer.from('4:info'),
    infoBuffer,
    ...(pieceLayers === undefined ? [] : [Buffer.from('12:piece layers'), pieceLayers]),
    encodeCanonical(after).subarray(1), // "...e", without its opening "d"
  ]);

  const infoHashV2 = v2Hash?.toString('hex');
  const result: CreatedTorrent = {
    torrent,
    version,
    infoHash,
    infoHashBuffer,
    magnet: magnetLink({ infoHash, infoHashV2, version, name: set.name, announce, urlList }),
    name: set.name,
    length: set.length,
    pieceLength,
    files,
    multiFile: set.multiFile,
    announce,
    urlList,
    skipped: set.skipped,
  };
  if (v2Hash !== undefined) {
    result.infoHashV2 = infoHashV2;
    result.infoHashV2Buffer = v2Hash;
  }
  return result;
}

export function normalizeAnnounce(input: AnnounceInput | undefined): string[][] {
  if (input === undefined) return [];
  const tiers: string[][] =
    typeof input === 'string' ? [[input]] : input.map((entry) => (typeof entry === 'string' ? [entry] : [...entry]));
  for (const tier of tiers) {
    if (!Array.isArray(tier) || tier.length === 0) throw new TorrentCreateError('invalid announce option: empty tracker tier');
    for (const url of tier) checkUrl(url, 'announce', ['http:', 'https:', 'udp:', 'ws:', 'wss:']);
  }
  return tiers;
}

export function normalizeWebSeeds(input: string | readonly string[] | undefined): string[] {
  const urls = input === undefined ? [] : typeof input === 'string' ? [input] : [...input];
  for (const url of urls) checkUrl(url, 'web seed', ['http:', 'https:']);
  return urls;
}

function checkUrl(url: unknown, what: string, protocols: string[]): void {
  let parsed: URL | undefined;
  try {
    parsed = typeof url === 'string' ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || !protocols.includes(parsed.protocol) || parsed.host === '') {
    throw new TorrentCreateError(
      `invalid ${what} URL ${JSON.stringify(url)}: expected an absolute ${protocols.map((p) => p.slice(0, -1)).join('/')} URL`,
    );
  }
}

function normalizeDate(input: CreateTorrentOptions['creationDate']): number | undefined {
  if (input === false || input === null) return undefined;
  if (input === undefined) return Math.floor(Date.now() / 1000);
  const seconds = input instanceof Date ? Math.floor(input.getTime() / 1000) : input;
  if (!Number.isSafeInteger(seconds)) throw new TorrentCreateError(`invalid creation date ${String(input)}`);
  return seconds;
}

let cachedCreatedBy: string | undefined;

/** `express-torrent-tracker/<version>`, the version read from the package's package.json. */
function defaultCreatedBy(): string {
  if (cachedCreatedBy === undefined) {
    let version = '';
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
      if (typeof pkg.version === 'string') version = `/${pkg.version}`;
    } catch {
      /* not found: leave the version out */
    }
    cachedCreatedBy = `express-torrent-tracker${version}`;
  }
  return cachedCreatedBy;
}
