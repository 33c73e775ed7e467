/**
 * IP address text ↔ bytes. Pure functions: IPv4 as 4 bytes, IPv6 as 16 bytes, IPv4-mapped IPv6
 * (`::ffff:a.b.c.d`) normalised to IPv4.
 */

const MAPPED_PREFIX = Buffer.from('00000000000000000000ffff', 'hex');

/** Parse dotted-quad IPv4 text (from `start`) into 4 bytes, or undefined. No leading zeros. */
function parseIPv4(text: string, start = 0): Buffer | undefined {
  const out = Buffer.allocUnsafe(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = start; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46; /* end acts as a final '.' */
    if (c === 46 /* . */) {
      if (digits === 0 || part > 3) return undefined;
      out[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && value === 0) return undefined; // leading zero
      value = value * 10 + (c - 48);
      if (++digits > 3 || value > 255) return undefined;
    } else {
      return undefined;
    }
  }
  return part === 4 ? out : undefined;
}

/** Parse IPv6 text (with `::`, embedded IPv4 and an optional `%zone`) into 16 bytes, or undefined. */
function parseIPv6(input: string): Buffer | undefined {
  let text = input;
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  const groups: number[] = [];
  let tail: Buffer | undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parseHalf = (half: string, allowV4: boolean): number[] | undefined => {
    if (half === '') return [];
    const out: number[] = [];
    const pieces = half.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i];
      if (allowV4 && i === pieces.length - 1 && piece.includes('.')) {
        tail = parseIPv4(piece);
        if (!tail) return undefined;
        out.push((tail[0] << 8) | tail[1], (tail[2] << 8) | tail[3]);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return undefined;
      out.push(parseInt(piece, 16));
    }
    return out;
  };
  const head = parseHalf(halves[0], halves.length === 1);
  if (!head) return undefined;
  if (halves.length === 1) {
    if (head.length !== 8) return undefined;
    groups.push(...head);
  } else {
    const rest = parseHalf(halves[1], true);
    if (!rest) return undefined;
    const missing = 8 - head.length - rest.length;
    if (missing < 1) return undefined;
    groups.push(...head, ...new Array<number>(missing).fill(0), ...rest);
  }
  const out = Buffer.allocUnsafe(16);
  for (let i = 0; i < 8; i++) out.writeUInt16BE(groups[i], i * 2);
  return out;
}

/**
 * Parse an IP address as Node reports it (`req.ip`, `socket.remoteAddress`) into bytes. IPv4-mapped
 * IPv6 becomes 4 bytes. Returns undefined for anything that is not an IP literal.
 */
export function parseAddress(text: string | undefined): Buffer | undefined {
  if (!text) return undefined;
  // Fast path: what a dual-stack server reports for every IPv4 client.
  if (text.startsWith('::ffff:')) {
    const v4 = parseIPv4(text, 7);
    if (v4) return v4;
  }
  if (text.includes(':')) {
    const v6 = parseIPv6(text);
    if (v6 && v6.subarray(0, 12).equals(MAPPED_PREFIX)) return Buffer.from(v6.subarray(12));
    return v6;
  }
  return parseIPv4(text);
}

/** Format 4 or 16 address bytes as text (IPv6 in its shortest RFC 5952 form). */
export function formatAddress(ip: Uint8Array): string {
  if (ip.length === 4) return `${ip[0]}.${ip[1]}.${ip[2]}.${ip[3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((ip[i] << 8) | ip[i + 1]);
  // Longest run of at least two zero groups becomes "::".
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
