/**
 * A strict bencode decoder that remembers where every value sits in the input.
 *
 * Only the canonical form is accepted (the form whose SHA-1 defines an info hash): integers without
 * leading zeros or `-0`, string lengths without leading zeros, dictionary keys strictly increasing
 * in byte order, nothing after the top-level value. Every decoded value carries its byte range, so
 * a caller can hash the exact bytes of a nested value (the `info` dictionary) without re-encoding.
 *
 * Hostile input is bounded: nesting depth is limited (no stack overflow), integers must fit in
 * 64 bits, lengths are checked against the remaining input before anything is allocated.
 */
import { TorrentParseError } from './errors.js';

/** Byte range `[start, end)` of a value in the decoded input. */
export interface BRange {
  /** Offset of the first byte of the value. */
  start: number;
  /** Offset just past the last byte of the value. */
  end: number;
}

/** A bencoded integer (64-bit signed range). */
export interface BInteger extends BRange {
  /** Discriminant. */
  type: 'int';
  /** The value; use {@link asSafeInteger} for arithmetic. */
  value: bigint;
}

/** A bencoded byte string. */
export interface BBytes extends BRange {
  /** Discriminant. */
  type: 'bytes';
  /** The bytes (a view into the input, not a copy). */
  value: Buffer;
}

/** A bencoded list. */
export interface BList extends BRange {
  /** Discriminant. */
  type: 'list';
  /** The items in order. */
  items: BValue[];
}

/** A bencoded dictionary. */
export interface BDict extends BRange {
  /** Discriminant. */
  type: 'dict';
  /**
   * Entries keyed by the key's bytes read as latin1 (one character per byte, so lookups of ASCII
   * keys such as `info` work directly and any key is represented exactly). Insertion order is the
   * (sorted) order of the input.
   */
  entries: Map<string, BValue>;
}

/** Any decoded bencode value. */
export type BValue = BInteger | BBytes | BList | BDict;

/** Limits for {@link bdecode}. */
export interface BDecodeOptions {
  /** Deepest nesting of lists and dictionaries accepted (default 64). */
  maxDepth?: number;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const CH_i = 0x69;
const CH_l = 0x6c;
const CH_d = 0x64;
const CH_e = 0x65;
const CH_colon = 0x3a;
const CH_minus = 0x2d;
const CH_0 = 0x30;
const CH_9 = 0x39;

/**
 * Decode one complete bencoded value from `input`, strictly.
 * @throws {TorrentParseError} naming the problem and its byte offset.
 */
export function bdecode(input: Uint8Array, options: BDecodeOptions = {}): BValue {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const maxDepth = options.maxDepth ?? 64;
  const decoder = new Decoder(buf, maxDepth);
  if (buf.length === 0) throw new TorrentParseError('empty input: expected a bencoded value', 0);
  const value = decoder.value(0);
  if (decoder.pos !== buf.length) {
    throw new TorrentParseError(`unexpected data after the end of the bencoded value at byte ${decoder.pos}`, decoder.pos);
  }
  return value;
}

/** The integer as a JavaScript number, or undefined when it is outside the safe-integer range. */
export function asSafeInteger(value: BInteger): number | undefined {
  if (value.value > BigInt(Number.MAX_SAFE_INTEGER) || value.value < BigInt(Number.MIN_SAFE_INTEGER)) return undefined;
  return Number(value.value);
}

class Decoder {
  pos = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly maxDepth: number,
  ) {}

  private fail(message: string, at = this.pos): never {
    throw new TorrentParseError(`${message} at byte ${at}`, at);
  }

  private need(what: string): number {
    if (this.pos >= this.buf.length) this.fail(`truncated input: expected ${what}`);
    return this.buf[this.pos];
  }

  value(depth: number): BValue {
    const c = this.need('a value');
    if (c === CH_i) return this.integer();
    if (c >= CH_0 && c <= CH_9) return this.bytes();
    if (c === CH_l || c === CH_d) {
      if (depth >= this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth} levels`);
      return c === CH_l ? this.list(depth + 1) : this.dict(depth + 1);
    }
    return this.fail(`unexpected byte 0x${c.toString(16).padStart(2, '0')} where a value should start`);
  }

  /** Reads decimal digits up to `terminator`; returns the digit text (sign handled by callers). */
  private digits(terminator: number, what: string, maxDigits: number): string {
    const start = this.pos;
    while (this.pos < this.buf.length && this.buf[this.pos] >= CH_0 && this.buf[this.pos] <= CH_9) {
      this.pos++;
      if (this.pos - start > maxDigits) this.fail(`${what} has too many digits`, start);
    }
    if (this.pos === start) this.fail(`${what} has no digits`);
    if (this.pos >= this.buf.length) this.fail(`truncated input: ${what} is not terminated`);
    if (this.buf[this.pos] !== terminator) {
      this.fail(`${what} contains an invalid character 0x${this.buf[this.pos].toString(16).padStart(2, '0')}`);
    }
    const text = this.buf.toString('latin1', start, this.pos);
    if (text.length > 1 && text[0] === '0') this.fail(`${what} has a leading zero`, start);
    this.pos++; // terminator
    return text;
  }

  private integer(): BInteger {
    const start = this.pos;
    this.pos++; // 'i'
    let negative = false;
    if (this.pos < this.buf.length && this.buf[this.pos] === CH_minus) {
      negative = true;
      this.pos++;
    }
    const text = this.digits(CH_e, 'integer', 19);
    if (negative && text === '0') this.fail('integer is negative zero', start);
    const value = negative ? -BigInt(text) : BigInt(text);
    if (value < INT64_MIN || value > INT64_MAX) this.fail('integer does not fit in 64 bits', start);
    return { type: 'int', value, start, end: this.pos };
  }

  private bytes(): BBytes {
    const start = this.pos;
    const text = this.digits(CH_colon, 'string length', 15);
    const length = Number(text);
    if (length > this.buf.length - this.pos) {
      this.fail(`truncated input: string of ${length} bytes runs past the end`, start);
    }
    const value = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return { type: 'bytes', value, start, end: this.pos };
  }

  private list(depth: number): BList {
    const start = this.pos;
    this.pos++; // 'l'
    const items: BValue[] = [];
    while (this.need('a list item or "e"') !== CH_e) items.push(this.value(depth));
    this.pos++;
    return { type: 'list', items, start, end: this.pos };
  }

  private dict(depth: number): BDict {
    const start = this.pos;
    this.pos++; // 'd'
    const entries = new Map<string, BValue>();
    let previous: Buffer | undefined;
    for (;;) {
      const c = this.need('a dictionary key or "e"');
      if (c === CH_e) break;
      if (c < CH_0 || c > CH_9) this.fail('dictionary key is not a string');
      const keyStart = this.pos;
      const key = this.bytes().value;
      if (previous !== undefined) {
        const order = Buffer.compare(previous, key);
        if (order === 0) this.fail(`duplicate dictionary key "${printable(key)}"`, keyStart);
        if (order > 0) this.fail(`dictionary keys are not sorted ("${printable(key)}" after "${printable(previous)}")`, keyStart);
      }
      previous = key;
      entries.set(key.toString('latin1'), this.value(depth));
    }
    this.pos++;
    return { type: 'dict', entries, start, end: this.pos };
  }
}

/** A short, safe rendering of a key for error messages. */
function printable(bytes: Buffer): string {
  const text = bytes.subarray(0, 40).toString('latin1').replace(/[^\x20-\x7e]/g, '?');
  return bytes.length > 40 ? `${text}...` : text;
}
