/**
 * A compact table of the peers of one swarm: fixed-size binary records in one dense buffer plus an
 * open-addressing hash index keyed by peer id. Upsert and remove are O(1), a uniform random sample
 * of k peers is O(k), and a peer costs about 60 bytes (record plus index slots) instead of a
 * JavaScript object per peer.
 *
 * Record layout (RECORD_SIZE bytes):
 *   0..19   peer id
 *   20..35  address (IPv4 in the first 4 bytes, IPv6 in all 16)
 *   36..37  port, big-endian
 *   38      flags: bit 0 = seeder, bit 1 = IPv6
 *   39      unused
 *   40..43  expiry, seconds since the owning store's epoch (uint32, little-endian)
 */
import type { Peer } from './types.js';

/** Size in bytes of one peer record. */
export const RECORD_SIZE = 44;
const OFFSET_IP = 20;
const OFFSET_PORT = 36;
const OFFSET_FLAGS = 38;
const OFFSET_EXPIRY = 40;
const FLAG_SEEDER = 1;
const FLAG_IPV6 = 2;
const MIN_CAPACITY = 2;

/** Hash of a 20-byte peer id, mixed with a per-process seed so crafted ids cannot force collisions. */
function hashPeerId(id: Uint8Array, seed: number): number {
  let h = seed;
  for (let i = 0; i < 20; i += 4) {
    const word = id[i] | (id[i + 1] << 8) | (id[i + 2] << 16) | (id[i + 3] << 24);
    h = Math.imul(h ^ word, 0x9e3779b1);
    h ^= h >>> 15;
  }
  h = Math.imul(h ^ (h >>> 13), 0x85ebca6b);
  return (h ^ (h >>> 16)) >>> 0;
}

const HASH_SEED = (Math.random() * 0x100000000) >>> 0;

/** Peers of one swarm. Not safe to share between stores with different epochs. */
export class PeerTable {
  /** Dense records, `count` of them in use. */
  private records: Buffer;
  /** Hash index: slot holds record index + 1, 0 = empty. Length is a power of two. */
  private index: Uint32Array;
  /** Number of peers. */
  count = 0;
  /** Number of peers that are seeders. */
  seeders = 0;

  constructor(capacity = MIN_CAPACITY) {
    this.records = Buffer.allocUnsafeSlow(capacity * RECORD_SIZE);
    this.index = new Uint32Array(nextPowerOfTwo(capacity * 2));
  }

  /** Approximate bytes held by this table's buffers. */
  get byteSize(): number {
    return this.records.byteLength + this.index.byteLength;
  }

  /** Record index of the peer, or -1. */
  find(peerId: Uint8Array): number {
    const mask = this.index.length - 1;
    let slot = hashPeerId(peerId, HASH_SEED) & mask;
    for (;;) {
      const entry = this.index[slot];
      if (entry === 0) return -1;
      if (this.idEquals(entry - 1, peerId)) return entry - 1;
      slot = (slot + 1) & mask;
    }
  }

  /**
   * Insert or update a peer. Returns the previous seeder state: `undefined` when the peer is new.
   */
  upsert(peerId: Uint8Array, ip: Uint8Array, port: number, seeder: boolean, expiry: number): boolean | undefined {
    let at = this.find(peerId);
    let previous: boolean | undefined;
    if (at === -1) {
      if (this.count * RECORD_SIZE === this.records.byteLength) this.resize(this.count * 2);
      at = this.count++;
      this.records.set(peerId, at * RECORD_SIZE);
      this.insertIndex(at, peerId);
    } else {
      previous = (this.records[at * RECORD_SIZE + OFFSET_FLAGS] & FLAG_SEEDER) !== 0;
      if (previous) this.seeders--;
    }
    const base = at * RECORD_SIZE;
    const r = this.records;
    if (ip.length === 4) {
      r.set(ip, base + OFFSET_IP);
      r.fill(0, base + OFFSET_IP + 4, base + OFFSET_PORT);
    } else {
      r.set(ip, base + OFFSET_IP);
    }
    r.writeUInt16BE(port, base + OFFSET_PORT);
    r[base + OFFSET_FLAGS] = (seeder ? FLAG_SEEDER : 0) | (ip.length === 16 ? FLAG_IPV6 : 0);
    r.writeUInt32LE(expiry >>> 0, base + OFFSET_EXPIRY);
    if (seeder) this.seeders++;
    return previous;
  }

  /** Remove a peer by id. Returns true if it was present. */
  remove(peerId: Uint8Array): boolean {
    const at = this.find(peerId);
    if (at === -1) return false;
    this.removeAt(at);
    return true;
  }

  /** Remove every peer whose expiry is before `now` (seconds). Returns how many were removed. */
  removeExpired(now: number): number {
    let removed = 0;
    let i = 0;
    while (i < this.count) {
      if (this.records.readUInt32LE(i * RECORD_SIZE + OFFSET_EXPIRY) < now) {
        this.removeAt(i); // the last record moves into i: look at i again
        removed++;
      } else {
        i++;
      }
    }
    return removed;
  }

  /**
   * A uniform random sample of at most `k` peers, excluding the record at `exclude` (-1 for none).
   * O(k) time: Floyd's algorithm over the other `n` indices.
   */
  sample(k: number, exclude: number): Peer[] {
    const n = exclude >= 0 ? this.count - 1 : this.count;
    if (k > n) k = n;
    const out: Peer[] = new Array(k);
    if (k <= 0) return [];
    if (k === n) {
      let j = 0;
      for (let i = 0; i < this.count; i++) if (i !== exclude) out[j++] = this.peerAt(i);
      shuffle(out);
      return out;
    }
    const chosen = new Set<number>();
    let j = 0;
    for (let t = n - k; t < n; t++) {
      const r = Math.floor(Math.random() * (t + 1));
      const pick = chosen.has(r) ? t : r;
      chosen.add(pick);
      const at = exclude >= 0 && pick >= exclude ? pick + 1 : pick;
      out[j++] = this.peerAt(at);
    }
    return out;
  }

  /** A copy of the peer at record index `at`. */
  peerAt(at: number): Peer {
    const base = at * RECORD_SIZE;
    const r = this.records;
    const v6 = (r[base + OFFSET_FLAGS] & FLAG_IPV6) !== 0;
    // One allocation holds both the id and the address.
    const copy = Buffer.from(r.subarray(base, base + (v6 ? 36 : 24)));
    return {
      peerId: copy.subarray(0, 20),
      ip: copy.subarray(20),
      port: r.readUInt16BE(base + OFFSET_PORT),
    };
  }

  /** Iterate over every peer (used by full scrape and tests). */
  *peers(): IterableIterator<Peer & { seeder: boolean }> {
    for (let i = 0; i < this.count; i++) {
      yield { ...this.peerAt(i), seeder: (this.records[i * RECORD_SIZE + OFFSET_FLAGS] & FLAG_SEEDER) !== 0 };
    }
  }

  private removeAt(at: number): void {
    const r = this.records;
    const base = at * RECORD_SIZE;
    if (r[base + OFFSET_FLAGS] & FLAG_SEEDER) this.seeders--;
    this.deleteIndex(at);
    const last = this.count - 1;
    if (at !== last) {
      // Swap-remove: the last record takes the freed place; its index slot is repointed.
      const slot = this.indexSlotOf(last);
      r.copy(r, base, last * RECORD_SIZE, last * RECORD_SIZE + RECORD_SIZE);
      this.index[slot] = at + 1;
    }
    this.count = last;
    const capacity = this.records.byteLength / RECORD_SIZE;
    if (capacity > MIN_CAPACITY && this.count <= capacity / 4) {
      this.resize(Math.max(MIN_CAPACITY, capacity >>> 1));
    }
  }

  private idEquals(at: number, peerId: Uint8Array): boolean {
    const r = this.records;
    const base = at * RECORD_SIZE;
    for (let i = 0; i < 20; i++) if (r[base + i] !== peerId[i]) return false;
    return true;
  }

  private insertIndex(at: number, peerId: Uint8Array): void {
    const mask = this.index.length - 1;
    let slot = hashPeerId(peerId, HASH_SEED) & mask;
    while (this.index[slot] !== 0) slot = (slot + 1) & mask;
    this.index[slot] = at + 1;
  }

  /** The index slot pointing at record `at` (which must be present). */
  private indexSlotOf(at: number): number {
    const mask = this.index.length - 1;
    const id = this.records.subarray(at * RECORD_SIZE, at * RECORD_SIZE + 20);
    let slot = hashPeerId(id, HASH_SEED) & mask;
    while (this.index[slot] !== at + 1) slot = (slot + 1) & mask;
    return slot;
  }

  /** Delete record `at` from the index with backward-shift deletion (no tombstones). */
  private deleteIndex(at: number): void {
    const index = this.index;
    const mask = index.length - 1;
    let hole = this.indexSlotOf(at);
    index[hole] = 0;
    let slot = (hole + 1) & mask;
    while (index[slot] !== 0) {
      const entry = index[slot];
      const rec = entry - 1;
      const id = this.records.subarray(rec * RECORD_SIZE, rec * RECORD_SIZE + 20);
      const home = hashPeerId(id, HASH_SEED) & mask;
      // Move the entry into the hole if its home is not cyclically in (hole, slot].
      const inRange = hole <= slot ? home > hole && home <= slot : home > hole || home <= slot;
      if (!inRange) {
        index[hole] = entry;
        index[slot] = 0;
        hole = slot;
      }
      slot = (slot + 1) & mask;
    }
  }

  private resize(capacity: number): void {
    const records = Buffer.allocUnsafeSlow(capacity * RECORD_SIZE);
    this.records.copy(records, 0, 0, this.count * RECORD_SIZE);
    this.records = records;
    this.index = new Uint32Array(nextPowerOfTwo(capacity * 2));
    for (let i = 0; i < this.count; i++) {
      this.insertIndex(i, records.subarray(i * RECORD_SIZE, i * RECORD_SIZE + 20));
    }
  }
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

function shuffle<T>(items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
}
