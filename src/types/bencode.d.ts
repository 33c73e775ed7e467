/** Minimal typings for the `bencode` package (4.x ships none). */
declare module 'bencode' {
  /** Encode a value (objects with sorted keys, arrays, integers, strings and Uint8Arrays). */
  export function encode(data: unknown): Uint8Array;
  /** Decode bencoded bytes; byte strings come back as Uint8Array. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  export function decode(data: Uint8Array, start?: number, end?: number): any;
  /** Size in bytes of the encoding of `data`. */
  export function byteLength(data: unknown): number;
  const bencode: { encode: typeof encode; decode: typeof decode; byteLength: typeof byteLength };
  export default bencode;
}
