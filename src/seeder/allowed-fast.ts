/**
 * The canonical allowed-fast set of BEP 6: pieces a peer may request even while choked, derived
 * from its IPv4 address (/24) and the info hash so that a peer cannot get more by reconnecting.
 */
import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';

/**
 * Computes up to `k` allowed-fast piece indexes for a peer at `ip`. Returns an empty list for
 * non-IPv4 addresses (BEP 6 defines the set for IPv4 only) or torrents without pieces.
 */
export function allowedFastSet(ip: string, infoHash: Buffer, pieceCount: number, k: number): number[] {
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  if (!isIPv4(v4) || pieceCount <= 0 || k <= 0) return [];
  const want = Math.min(k, pieceCount);
  const octets = v4.split('.').map(Number);
  let x = Buffer.concat([Buffer.from([octets[0], octets[1], octets[2], 0]), infoHash]);
  const out: number[] = [];
  while (out.length < want) {
    x = createHash('sha1').update(x).digest();
    for (let i = 0; i < 5 && out.length < want; i++) {
      const index = x.readUInt32BE(i * 4) % pieceCount;
      if (!out.includes(index)) out.push(index);
    }
  }
  return out;
}
