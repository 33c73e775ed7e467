/**
 * Magnet links (BEP 9): `magnet:?xt=urn:btih:<hex info hash>&dn=<name>&tr=<tracker>...&ws=<web seed>...`.
 * BitTorrent v2 (BEP 52) adds `xt=urn:btmh:1220<hex SHA-256 info hash>` (a multihash: 0x12 is
 * SHA-256, 0x20 its 32 bytes); a hybrid torrent's link has both `xt`s, a v2-only torrent's only `btmh`.
 */

/** What a magnet link is built from; a `ParsedTorrent` or a `createTorrent()` result fits as is. */
export interface MagnetInput {
  /** Info hash: 40 hex characters, or the 20 raw bytes (for a v2-only torrent: ignored). */
  infoHash: string | Uint8Array;
  /** v2 (SHA-256) info hash: 64 hex characters or 32 bytes, written as `xt=urn:btmh:1220…`. */
  infoHashV2?: string | Uint8Array;
  /** `v2` leaves out the `btih` (its `infoHash` is only the truncated v2 hash); default: both as given. */
  version?: 'v1' | 'v2' | 'hybrid';
  /** Display name (`dn`), optional. */
  name?: string;
  /** Trackers (`tr`): a flat list or a list of tiers; every URL is included once, tier order kept. */
  announce?: readonly string[] | readonly (readonly string[])[];
  /** Web seeds (`ws`, BEP 19), optional. */
  urlList?: readonly string[];
}

/**
 * Build a magnet link. Values are percent-encoded with `encodeURIComponent`; info hashes are written
 * in lowercase hex.
 * @throws {TypeError} when the info hash is not 20 bytes / 40 hex characters, or the v2 info hash
 *   not 32 bytes / 64 hex characters.
 */
export function magnetLink(input: MagnetInput): string {
  const parts: string[] = [];
  if (input.version !== 'v2') {
    const hex = typeof input.infoHash === 'string' ? input.infoHash.toLowerCase() : Buffer.from(input.infoHash).toString('hex');
    if (!/^[0-9a-f]{40}$/.test(hex)) throw new TypeError('info hash must be 20 bytes (40 hex characters)');
    parts.push(`xt=urn:btih:${hex}`);
  }
  if (input.infoHashV2 !== undefined) {
    const v2 = typeof input.infoHashV2 === 'string' ? input.infoHashV2.toLowerCase() : Buffer.from(input.infoHashV2).toString('hex');
    if (!/^[0-9a-f]{64}$/.test(v2)) throw new TypeError('v2 info hash must be 32 bytes (64 hex characters)');
    parts.push(`xt=urn:btmh:1220${v2}`);
  } else if (input.version === 'v2') {
    throw new TypeError('a v2 magnet link needs infoHashV2');
  }
  if (input.name !== undefined && input.name !== '') parts.push(`dn=${encodeURIComponent(input.name)}`);
  const trackers = new Set<string>();
  for (const entry of input.announce ?? []) {
    for (const url of typeof entry === 'string' ? [entry] : entry) trackers.add(url);
  }
  for (const url of trackers) parts.push(`tr=${encodeURIComponent(url)}`);
  for (const url of new Set(input.urlList ?? [])) parts.push(`ws=${encodeURIComponent(url)}`);
  return `magnet:?${parts.join('&')}`;
}
