/**
 * Raw query string → parameters, without losing bytes.
 *
 * `req.query` and `URLSearchParams` decode %-escapes as UTF-8 text, which destroys binary info
 * hashes and peer ids. Here values stay raw until a field asks for them as bytes or as text:
 * - `%XX` escapes are decoded case-insensitively (`%3f` = `%3F`);
 * - any other character is taken as its own byte (clients leave unreserved bytes such as `)` or
 *   `~` unescaped);
 * - `+` is the literal byte 0x2B, not a space: BitTorrent clients escape every byte they do not send
 *   literally, so a `+` in an info hash is a `+`.
 */
import { TrackerFailure } from './errors.js';

/** Limits applied while splitting a query. */
export interface QueryLimits {
  /** Most `name=value` pairs accepted. */
  maxParameters: number;
}

/** Parameters in the order they appear; names decoded as text, values still escaped. */
export interface RawQuery {
  names: string[];
  values: string[];
}

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[65 + i] = 10 + i;
  HEX[97 + i] = 10 + i;
}

function hexValue(code: number): number {
  return code < 128 ? HEX[code] : -1;
}

/**
 * Throw a {@link TrackerFailure} for the first malformed or truncated %-escape anywhere in the
 * query, in a parameter the tracker uses or not (a request with broken escaping is broken).
 */
function checkEscapes(raw: string): void {
  for (let i = raw.indexOf('%'); i !== -1; i = raw.indexOf('%', i + 3)) {
    // The escape ends where its parameter ends (the next `&`) or where the query does.
    const amp = raw.indexOf('&', i);
    const end = amp === -1 || amp > i + 2 ? raw.length : amp;
    const hi = i + 1 < end ? hexValue(raw.charCodeAt(i + 1)) : -2;
    const lo = i + 2 < end ? hexValue(raw.charCodeAt(i + 2)) : -2;
    if (hi >= 0 && lo >= 0) continue;
    const start = raw.lastIndexOf('&', i) + 1;
    const eq = raw.indexOf('=', start);
    const inValue = eq !== -1 && eq < i;
    const name = inValue ? decodeName(raw.slice(start, eq)) : 'a parameter name';
    const field = /^[\x20-\x7e]{1,40}$/.test(name) ? name : 'a parameter';
    throw new TrackerFailure(`${hi === -2 || lo === -2 ? 'truncated' : 'malformed'} %-escape in ${field}`);
  }
}

/** Split a raw query string (the part after `?`, without it) into parameters. */
export function splitQuery(raw: string, limits: QueryLimits): RawQuery {
  checkEscapes(raw);
  const names: string[] = [];
  const values: string[] = [];
  let start = 0;
  const length = raw.length;
  while (start <= length) {
    let end = raw.indexOf('&', start);
    if (end === -1) end = length;
    if (end > start) {
      if (names.length >= limits.maxParameters) {
        throw new TrackerFailure(`too many query parameters (limit ${limits.maxParameters})`);
      }
      const eq = raw.indexOf('=', start);
      if (eq === -1 || eq > end) {
        names.push(decodeName(raw.slice(start, end)));
        values.push('');
      } else {
        names.push(decodeName(raw.slice(start, eq)));
        values.push(raw.slice(eq + 1, end));
      }
    }
    start = end + 1;
  }
  return { names, values };
}

/** Parameter names are ASCII; escapes in them are decoded, anything odd is kept as-is. */
function decodeName(raw: string): string {
  if (raw.indexOf('%') === -1) return raw;
  try {
    return decodeBytes(raw, 'parameter name').toString('latin1');
  } catch {
    return raw;
  }
}

/**
 * Decode a raw value into bytes. Throws a {@link TrackerFailure} naming `field` on a malformed or
 * truncated escape or a character that is not a single byte.
 */
export function decodeBytes(raw: string, field: string): Buffer {
  const out = Buffer.allocUnsafe(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 37 /* % */) {
      const hi = i + 1 < raw.length ? hexValue(raw.charCodeAt(i + 1)) : -2;
      const lo = i + 2 < raw.length ? hexValue(raw.charCodeAt(i + 2)) : -2;
      if (hi === -2 || lo === -2) throw new TrackerFailure(`truncated %-escape in ${field}`);
      if (hi < 0 || lo < 0) throw new TrackerFailure(`malformed %-escape in ${field}`);
      out[n++] = (hi << 4) | lo;
      i += 2;
    } else if (c < 256) {
      out[n++] = c;
    } else {
      throw new TrackerFailure(`invalid character in ${field}`);
    }
  }
  return out.subarray(0, n);
}

/**
 * Decode a value that must be exactly `length` bytes (info_hash, peer_id). Throws a
 * {@link TrackerFailure} naming the field otherwise.
 */
export function decodeFixed(raw: string, field: string, length: number): Buffer {
  // Fast path: exactly `length` bytes written straight into their own buffer.
  const out = Buffer.allocUnsafe(length);
  let n = 0;
  for (let i = 0; i < raw.length && n < length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 37 /* % */) {
      const hi = i + 1 < raw.length ? hexValue(raw.charCodeAt(i + 1)) : -1;
      const lo = i + 2 < raw.length ? hexValue(raw.charCodeAt(i + 2)) : -1;
      if (hi < 0 || lo < 0) break; // let the general decoder name the problem
      out[n++] = (hi << 4) | lo;
      i += 2;
    } else if (c < 256) {
      out[n++] = c;
    } else {
      break;
    }
    if (n === length && i === raw.length - 1) return out;
  }
  const bytes = decodeBytes(raw, field);
  if (bytes.length !== length) {
    throw new TrackerFailure(`${field} must be exactly ${length} bytes (got ${bytes.length})`);
  }
  return Buffer.from(bytes);
}

/** Decode a value as text (latin1: one character per byte). */
export function decodeText(raw: string, field: string): string {
  if (raw.indexOf('%') === -1) return raw;
  return decodeBytes(raw, field).toString('latin1');
}
