/**
 * A canonical bencode writer for the dictionaries BEP 52 adds (`file tree`, `piece layers`): keys
 * are sorted by their raw bytes (not by UTF-16 code units) and may be binary (the 32-byte roots
 * that key `piece layers`).
 */

/** A value {@link encodeCanonical} can write. */
export type BencodeValue = number | string | Buffer | BencodeValue[] | BencodeDict;

/** A dictionary: its keys are UTF-8 strings or raw bytes. */
export class BencodeDict {
  /** Entries, in any order (they are sorted when written). */
  readonly entries: Array<[Buffer, BencodeValue]> = [];

  /** Add an entry (keys must be unique; not checked). */
  set(key: string | Buffer, value: BencodeValue): this {
    this.entries.push([typeof key === 'string' ? Buffer.from(key, 'utf8') : key, value]);
    return this;
  }
}

/** Bencode `value`, dictionary keys sorted byte-wise. */
export function encodeCanonical(value: BencodeValue): Buffer {
  const parts: Buffer[] = [];
  write(value, parts);
  return Buffer.concat(parts);
}

function write(value: BencodeValue, parts: Buffer[]): void {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`cannot bencode ${value}: not a safe integer`);
    parts.push(Buffer.from(`i${value}e`));
  } else if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    parts.push(Buffer.from(`${bytes.length}:`), bytes);
  } else if (Buffer.isBuffer(value)) {
    parts.push(Buffer.from(`${value.length}:`), value);
  } else if (Array.isArray(value)) {
    parts.push(Buffer.from('l'));
    for (const item of value) write(item, parts);
    parts.push(Buffer.from('e'));
  } else {
    parts.push(Buffer.from('d'));
    const sorted = [...value.entries].sort((a, b) => Buffer.compare(a[0], b[0]));
    for (const [key, item] of sorted) {
      parts.push(Buffer.from(`${key.length}:`), key);
      write(item, parts);
    }
    parts.push(Buffer.from('e'));
  }
}
