/**
 * The seeder's narrow, typed view of the `bencode` package (used for BEP 10 extension messages and
 * tracker answers). Decoded strings are byte arrays; helpers below read them safely.
 */
import lib from 'bencode';

/** Bencodes a value (strings as UTF-8, Buffers as bytes, integers, lists, dictionaries). */
export function bencode(value: unknown): Buffer {
  const out = lib.encode(value);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/** Decodes bencoded bytes; throws on malformed input. */
export function bdecode(data: Uint8Array): unknown {
  return lib.decode(data);
}

/** A decoded dictionary, or undefined when `value` is not one. */
export function asDict(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** A decoded integer, or undefined. */
export function asInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) ? value : undefined;
}

/** A decoded byte string as a Buffer, or undefined. */
export function asBytes(value: unknown): Buffer | undefined {
  return value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : undefined;
}

/** A decoded byte string as UTF-8 text, or undefined. */
export function asText(value: unknown): string | undefined {
  const bytes = asBytes(value);
  return bytes === undefined ? undefined : bytes.toString('utf8');
}
