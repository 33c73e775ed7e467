/**
 * Magnet links (BEP 9): `magnet:?xt=urn:btih:<hex info hash>&dn=<name>&tr=<tracker>...&ws=<web seed>...`.
 */

/** What a magnet link is built from; a `ParsedTorrent` fits as is. */
export interface MagnetInput {
  /** Info hash: 40 hex characters, or the 20 raw bytes. */
  infoHash: string | Uint8Array;
  /** Display name (`dn`), optional. */
  name?: string;
  /** Trackers (`tr`): a flat list or a list of tiers; every URL is included once, tier order kept. */
  announce?: readonly string[] | readonly (readonly string[])[];
  /** Web seeds (`ws`, BEP 19), optional. */
  urlList?: readonly string[];
}

/**
 * Build a magnet link. Values are percent-encoded with `encodeURIComponent`; the info hash is written
 * in lowercase hex.
 * @throws {TypeError} when the info hash is not 20 bytes / 40 hex characters.
 */
export function magnetLink(input: MagnetInput): string {
  const hex = typeof input.infoHash === 'string' ? input.infoHash.toLowerCase() : Buffer.from(input.infoHash).toString('hex');
  if (!/^[0-9a-f]{40}$/.test(hex)) throw new TypeError('info hash must be 20 bytes (40 hex characters)');
  const parts = [`xt=urn:btih:${hex}`];
  if (input.name !== undefined && input.name !== '') parts.push(`dn=${encodeURIComponent(input.name)}`);
  const trackers = new Set<string>();
  for (const entry of input.announce ?? []) {
    for (const url of typeof entry === 'string' ? [entry] : entry) trackers.add(url);
  }
  for (const url of trackers) parts.push(`tr=${encodeURIComponent(url)}`);
  for (const url of new Set(input.urlList ?? [])) parts.push(`ws=${encodeURIComponent(url)}`);
  return `magnet:?${parts.join('&')}`;
}
