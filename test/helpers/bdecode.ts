/**
 * Decode tracker answers for assertions, with the project's strict decoder (`src/torrent/bdecode`:
 * canonical bencode, sorted keys, no trailing bytes) turned into plain values: byte strings are
 * Buffers, integers numbers, dictionary keys latin1 strings so a raw 20-byte hash key maps back with
 * `Buffer.from(key, 'latin1')`. (The `bencode` package turns keys that are not UTF-8 into hex.)
 */
import { bdecode as strictDecode, type BValue } from '../../src/torrent/bdecode.js';

export type Dict = Record<string, unknown>;

function plain(value: BValue): unknown {
  switch (value.type) {
    case 'int':
      return Number(value.value);
    case 'bytes':
      return value.value;
    case 'list':
      return value.items.map(plain);
    case 'dict': {
      const out: Dict = {};
      for (const [key, item] of value.entries) out[key] = plain(item);
      return out;
    }
  }
}

/** Decode a whole buffer (no trailing bytes allowed). */
export function bdecode(body: Buffer): unknown {
  return plain(strictDecode(body));
}

/** Decode and require a dictionary. */
export function decodeDict(body: Buffer): Dict {
  const value = strictDecode(body);
  if (value.type !== 'dict') throw new Error(`not a bencoded dictionary: ${body.toString('latin1').slice(0, 80)}`);
  return plain(value) as Dict;
}

/** The failure reason of an answer as text, or undefined. */
export function failureOf(body: Buffer): string | undefined {
  const reason = decodeDict(body)['failure reason'];
  return reason === undefined ? undefined : (reason as Buffer).toString('utf8');
}

/** Compact peers (6 bytes IPv4 or 18 bytes IPv6 each) as "ip:port" strings. */
export function compactPeers(value: unknown, family: 4 | 6): string[] {
  if (value === undefined) return [];
  const b = value as Buffer;
  const size = family === 4 ? 6 : 18;
  const out: string[] = [];
  for (let i = 0; i + size <= b.length; i += size) {
    const ip = b.subarray(i, i + size - 2);
    const port = b.readUInt16BE(i + size - 2);
    out.push(`${family === 4 ? [...ip].join('.') : ip.toString('hex')}:${port}`);
  }
  return out;
}
