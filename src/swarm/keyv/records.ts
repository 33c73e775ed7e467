/**
 * The Keyv store's records: one peer (or tombstone) of one instance's shard, their compact binary
 * encoding (stored as base64), the stored shard and chunk values, and how records of several shards
 * merge (the newest record of a peer wins). Pure: no I/O.
 */
/** One peer record (or tombstone) of a shard. Times are milliseconds of the store's clock. */
export interface Rec {
  /** 20-byte peer id. */
  id: Buffer;
  /** The id as a latin1 string: a cheap Map key. */
  key: string;
  ip: Buffer;
  port: number;
  seeder: boolean;
  /** When the peer announced (orders records of the same peer from different shards). */
  at: number;
  /** When it expires. */
  exp: number;
  /** A tombstone: the peer stopped at `at`. */
  gone: boolean;
  /** The client's `key` (32 bits), when it sent one: it may move the peer to another address. */
  k?: number;
  /**
   * The peer has completed: it was listed as a seeder or had a counted completion, so a later
   * `completed` does not count while it stays listed. Absent = false.
   */
  done?: boolean;
  /** A partial seed (BEP 21 `paused`, not done): counted apart as scrape's `downloaders`. Absent = false. */
  partial?: boolean;
}

const FLAG_SEEDER = 1;
const FLAG_V6 = 2;
const FLAG_GONE = 4;
const FLAG_KEY = 8;
const FLAG_DONE = 16;
const FLAG_PARTIAL = 32;

/**
 * Binary shard encoding: per record id(20) flags(1) [ip(4|16) port(2) [key(4)]] at(6) exp(6). Flags:
 * 1 seeder, 2 IPv6, 4 tombstone, 8 has a key, 16 done ({@link Rec.done}), 32 partial seed ({@link Rec.partial}).
 * An older reader ignores flag 32 (the peer then counts as a plain leecher).
 */
export function encodeRecords(recs: Iterable<Rec>): string {
  const parts: Buffer[] = [];
  for (const r of recs) {
    const v6 = r.ip.length === 16;
    const keyed = !r.gone && r.k !== undefined;
    const size = 21 + (r.gone ? 0 : r.ip.length + 2) + (keyed ? 4 : 0) + 12;
    const b = Buffer.allocUnsafe(size);
    r.id.copy(b, 0);
    b[20] =
      (r.seeder ? FLAG_SEEDER : 0) | (v6 ? FLAG_V6 : 0) | (r.gone ? FLAG_GONE : 0) | (keyed ? FLAG_KEY : 0) | (r.done && !r.gone ? FLAG_DONE : 0) |
      (r.partial && !r.gone ? FLAG_PARTIAL : 0);
    let o = 21;
    if (!r.gone) {
      r.ip.copy(b, o);
      o += r.ip.length;
      b.writeUInt16BE(r.port, o);
      o += 2;
      if (keyed) {
        b.writeUInt32BE(r.k! >>> 0, o);
        o += 4;
      }
    }
    b.writeUIntBE(Math.max(0, Math.floor(r.at)), o, 6);
    b.writeUIntBE(Math.max(0, Math.floor(r.exp)), o + 6, 6);
    parts.push(b);
  }
  return Buffer.concat(parts).toString('base64');
}

/** Decode records written by {@link encodeRecords}; a truncated last record is dropped. */
export function decodeRecords(text: string): Rec[] {
  const b = Buffer.from(text, 'base64');
  const out: Rec[] = [];
  let o = 0;
  while (o + 33 <= b.length) {
    const id = Buffer.from(b.subarray(o, o + 20));
    const flags = b[o + 20];
    o += 21;
    const gone = (flags & FLAG_GONE) !== 0;
    let ip = EMPTY;
    let port = 0;
    let k: number | undefined;
    if (!gone) {
      const len = flags & FLAG_V6 ? 16 : 4;
      const keyed = (flags & FLAG_KEY) !== 0;
      if (o + len + (keyed ? 18 : 14) > b.length) break;
      ip = Buffer.from(b.subarray(o, o + len));
      o += len;
      port = b.readUInt16BE(o);
      o += 2;
      if (keyed) {
        k = b.readUInt32BE(o);
        o += 4;
      }
    }
    const at = b.readUIntBE(o, 6);
    const exp = b.readUIntBE(o + 6, 6);
    o += 12;
    const rec: Rec = { id, key: id.toString('latin1'), ip, port, seeder: (flags & FLAG_SEEDER) !== 0, at, exp, gone };
    if (k !== undefined) rec.k = k;
    if (flags & FLAG_DONE && !gone) rec.done = true;
    if (flags & FLAG_PARTIAL && !gone && !rec.seeder) rec.partial = true;
    out.push(rec);
  }
  return out;
}

/** The empty address of a tombstone. */
export const EMPTY = Buffer.alloc(0);

/**
 * Records per stored value. A shard with more records continues in chunk keys `<shard key>:<n>`:
 * MySQL's TEXT column holds 64 KiB, and 400 records are at most 27 KiB of base64.
 */
export const CHUNK_RECORDS = 400;

/** The value stored under a shard key. */
export interface ShardValue {
  /** This instance's `completed` count for the swarm. */
  d: number;
  /** Records, base64 of the binary encoding (the first CHUNK_RECORDS of them). */
  p: string;
  /** Number of chunk keys holding the further records (absent = 0). */
  x?: number;
}

/** The value stored under a chunk key. */
export interface ChunkValue {
  /** Further records of the shard, base64 of the binary encoding. */
  p: string;
}

/** True when a value read from a shard key looks like a {@link ShardValue}. */
export function isShard(value: unknown): value is ShardValue {
  return typeof value === 'object' && value !== null && typeof (value as ShardValue).d === 'number' && typeof (value as ShardValue).p === 'string';
}

/** A shard as read: its writer, counter and records (chunks included). */
export interface ReadShard {
  id: string;
  d: number;
  /** Chunk keys the shard had when written. */
  x: number;
  recs: Rec[];
}

/** May an announce from `ip` with `key` change the listed record `rec` (same address, or same key)? */
export function mayChange(rec: Rec, ip: Uint8Array, key: number | undefined): boolean {
  if (rec.ip.length === ip.length && rec.ip.equals(ip)) return true;
  return key !== undefined && rec.k !== undefined && rec.k === key >>> 0;
}

/** True when `b` should replace `a` as the record of one peer: newer wins; at equal times a tombstone wins. */
export function newer(b: Rec, a: Rec): boolean {
  if (b.at !== a.at) return b.at > a.at;
  if (b.gone !== a.gone) return b.gone;
  return b.exp > a.exp;
}

/** Merge records of several shards: the winning record per peer id (tombstones included). */
export function mergeRecords(sources: Iterable<Iterable<Rec>>): Map<string, Rec> {
  const winners = new Map<string, Rec>();
  for (const source of sources) {
    for (const rec of source) {
      const current = winners.get(rec.key);
      if (!current || newer(rec, current)) winners.set(rec.key, rec);
    }
  }
  return winners;
}

/** The earliest expiry among `recs` (Infinity when none). */
export function earliestExpiry(recs: Map<string, Rec>): number {
  let next = Infinity;
  for (const rec of recs.values()) if (rec.exp < next) next = rec.exp;
  return next;
}
