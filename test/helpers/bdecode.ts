/**
 * Decode tracker answers for assertions. A tiny strict decoder (not the `bencode` package, which
 * turns dictionary keys that are not UTF-8 into hex): byte strings are Buffers, dictionary keys are
 * latin1 strings so a raw 20-byte hash key maps back with `Buffer.from(key, 'latin1')`.
 */

export type Dict = Record<string, unknown>;

function decodeAt(b: Buffer, at: number): [unknown, number] {
  const c = b[at];
  if (c === 0x69 /* i */) {
    const end = b.indexOf(0x65, at);
    const text = b.toString('latin1', at + 1, end);
    if (end < 0 || !/^(0|-?[1-9]\d*)$/.test(text)) throw new Error(`bad integer at ${at}`);
    return [Number(text), end + 1];
  }
  if (c === 0x6c /* l */) {
    const list: unknown[] = [];
    at++;
    while (b[at] !== 0x65) {
      if (at >= b.length) throw new Error('unterminated list');
      const [v, next] = decodeAt(b, at);
      list.push(v);
      at = next;
    }
    return [list, at + 1];
  }
  if (c === 0x64 /* d */) {
    const dict: Dict = {};
    let previous: Buffer | undefined;
    at++;
    while (b[at] !== 0x65) {
      if (at >= b.length) throw new Error('unterminated dictionary');
      const [k, next] = decodeAt(b, at);
      if (!Buffer.isBuffer(k)) throw new Error(`dictionary key is not a string at ${at}`);
      if (previous && Buffer.compare(previous, k) >= 0) throw new Error('dictionary keys not sorted');
      previous = k;
      const [v, after] = decodeAt(b, next);
      dict[k.toString('latin1')] = v;
      at = after;
    }
    return [dict, at + 1];
  }
  const colon = b.indexOf(0x3a, at);
  const lengthText = b.toString('latin1', at, colon);
  if (colon < 0 || !/^(0|[1-9]\d*)$/.test(lengthText)) throw new Error(`bad string length at ${at}`);
  const end = colon + 1 + Number(lengthText);
  if (end > b.length) throw new Error('string past the end');
  return [b.subarray(colon + 1, end), end];
}

/** Decode a whole buffer (no trailing bytes allowed). */
export function bdecode(body: Buffer): unknown {
  const [value, end] = decodeAt(body, 0);
  if (end !== body.length) throw new Error('trailing bytes after the bencoded value');
  return value;
}

/** Decode and require a dictionary. */
export function decodeDict(body: Buffer): Dict {
  const value = bdecode(body);
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Buffer.isBuffer(value)) {
    throw new Error(`not a bencoded dictionary: ${body.toString('latin1').slice(0, 80)}`);
  }
  return value as Dict;
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
