/**
 * `withTrackers()`: the same torrent with other trackers or web seeds, byte for byte otherwise. A
 * private site hands every member a .torrent carrying their own passkey in the announce URL; the
 * info dictionary (and the v2 `piece layers`, keyed by binary roots) must stay exactly as published,
 * so the info hashes stay the same. General-purpose bencode libraries decode dictionary keys as text
 * and would damage `piece layers`; this splices the raw bytes of every other entry instead.
 */
import { bdecode, type BDict } from './bdecode.js';
import { normalizeAnnounce, normalizeWebSeeds, type AnnounceInput } from './create.js';
import { encodeCanonical } from './bencode-canonical.js';
import { TorrentParseError } from './errors.js';

/** What {@link withTrackers} replaces; an option left out keeps the torrent's own entries. */
export interface WithTrackersOptions {
  /**
   * The trackers: one URL, several (one tier each, in order), or tiers of URLs (BEP 12), written as
   * `announce` (the first URL) and, when there is more than one URL, `announce-list`. An empty list
   * removes both.
   */
  announce?: AnnounceInput;
  /** Web seed URLs (BEP 19 `url-list`); an empty list removes it. */
  webSeeds?: string | readonly string[];
}

/**
 * The torrent with `announce` / `webSeeds` replaced and everything else (the info dictionary, piece
 * layers, comment, dates, unknown keys) kept byte for byte, so the info hashes are unchanged.
 * @throws {TorrentParseError} when `torrent` is not a bencoded dictionary with an `info` entry.
 * @throws {TorrentCreateError} when a URL is not valid (same rules as `createTorrent`).
 */
export function withTrackers(torrent: Uint8Array, options: WithTrackersOptions): Buffer {
  const input = Buffer.isBuffer(torrent) ? torrent : Buffer.from(torrent.buffer, torrent.byteOffset, torrent.byteLength);
  const root = bdecode(input);
  if (root.type !== 'dict') throw new TorrentParseError('a torrent is a bencoded dictionary');
  if (!root.entries.has('info')) throw new TorrentParseError('the torrent has no "info" dictionary');
  const entries = new Map<string, Buffer>();
  for (const [key, value] of (root as BDict).entries) entries.set(key, input.subarray(value.start, value.end));
  if (options.announce !== undefined) {
    const tiers = normalizeAnnounce(options.announce);
    entries.delete('announce');
    entries.delete('announce-list');
    if (tiers.length > 0) entries.set('announce', encodeCanonical(tiers[0]![0]!));
    if (tiers.flat().length > 1) entries.set('announce-list', encodeCanonical(tiers.map((tier) => [...tier])));
  }
  if (options.webSeeds !== undefined) {
    const urls = normalizeWebSeeds(options.webSeeds);
    entries.delete('url-list');
    if (urls.length > 0) entries.set('url-list', encodeCanonical(urls));
  }
  const keys = [...entries.keys()].map((key) => Buffer.from(key, 'latin1')).sort(Buffer.compare);
  const parts: Buffer[] = [Buffer.from('d')];
  for (const key of keys) parts.push(Buffer.from(`${key.length}:`), key, entries.get(key.toString('latin1'))!);
  parts.push(Buffer.from('e'));
  return Buffer.concat(parts);
}
