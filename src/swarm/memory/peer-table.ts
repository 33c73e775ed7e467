/**
 * A compact table of the peers of one swarm: fixed-size binary records plus an open-addressing hash
 * index keyed by peer id. Upsert and remove are O(1), a uniform random sample of k peers is O(k),
 * and a peer costs about 63 bytes (record, wire entry and index slots) instead of a JavaScript object
 * per peer.
 *
 * Records are dense (indices 0..count-1) but stored in pages of {@link PAGE_RECORDS}, taken from and
 * given back to the shared pools of page-pool.ts. Small swarms keep a single small first page that
 * doubles up to a full page. Samples are drawn by random-sample.ts.
 *
 * Records are {@link RECORD_SIZE} bytes each, laid out as peer-record.ts describes.
 *
 * Beside each page of records lies a page of 8-byte wire entries, one per record at the same index:
 *   0..5    an IPv4 peer's compact form (address + port); unused for IPv6
 *   6       flags, as in the record
 * A sample of k peers out of a large swarm reads k random entries: from these small entries
 * (8 bytes a peer, about a sixth of the records' memory) instead of one cache line per peer from
 * the records, most of them stay in the CPU cache. Only IPv6 peers are read from their records.
 */
import { deleteSlot, hashPeerId, place } from './hash-index.js';
import {
  clearRecordDone,
  FLAG_IPV6,
  OFFSET_FLAGS,
  RECORD_SIZE,
  recordCompact,
  recordDone,
  recordExpiry,
  recordIdEquals,
  recordKind,
  recordMayChange,
  recordPeer,
  recordPartial,
  recordSeeder,
  writeRecord,
} from './peer-record.js';
import type { Peer } from '../../types.js';
import { PAGE_BYTES, PAGE_RECORDS, pagePool, WIRE_PAGE_BYTES, WIRE_SIZE, wirePool } from './page-pool.js';
import { picked, pickRecords } from './random-sample.js';

/** log2 of {@link PAGE_RECORDS}. */
const PAGE_SHIFT = 6;
const PAGE_MASK = PAGE_RECORDS - 1;
/** Offset of the flags byte in a wire entry. */
const WIRE_FLAGS = 6;
const MIN_CAPACITY = 2;
const MIN_INDEX = 4;

/** Peers of one swarm. Not safe to share between stores with different epochs. */
export class PeerTable {
  /** Record pages: page 0 may be small (< PAGE_RECORDS records); all others are full pool pages. */
  private pages: Buffer[];
  /** Wire-entry pages, one per record page, for the same records (page 0 as small as its records). */
  private wire: Buffer[];
  /** Records that fit in the pages. */
  private capacity: number;
  /** Hash index: slot holds record index + 1, 0 = empty. Length is a power of two, >= 2 * count. */
  private index: Uint32Array;
  /** Number of peers. */
  count = 0;
  /** Number of peers that are seeders. */
  seeders = 0;
  /** Number of peers that are partial seeds (BEP 21; among the leechers). */
  partials = 0;

  constructor() {
    this.pages = [Buffer.allocUnsafeSlow(MIN_CAPACITY * RECORD_SIZE)];
    this.wire = [Buffer.allocUnsafeSlow(MIN_CAPACITY * WIRE_SIZE)];
    this.capacity = MIN_CAPACITY;
    this.index = new Uint32Array(MIN_INDEX);
  }

  /** Approximate bytes held by this table (its pages and index). */
  get byteSize(): number {
    let n = this.index.byteLength;
    for (const p of this.pages) n += p.byteLength;
    for (const p of this.wire) n += p.byteLength;
    return n;
  }

  /** Record index of the peer, or -1. */
  find(peerId: Uint8Array): number {
    const mask = this.index.length - 1;
    let slot = hashPeerId(peerId, 0) & mask;
    for (;;) {
      const entry = this.index[slot];
      if (entry === 0) return -1;
      if (this.idEquals(entry - 1, peerId)) return entry - 1;
      slot = (slot + 1) & mask;
    }
  }

  /**
   * May the announce from `ip` with `key` update or remove the peer at record `at`? Yes when it comes
   * from the address the peer is listed with, or carries the key the peer was recorded with.
   */
  mayChange(at: number, ip: Uint8Array, key: number | undefined): boolean {
    return recordMayChange(this.pages[at >>> PAGE_SHIFT], (at & PAGE_MASK) * RECORD_SIZE, ip, key);
  }

  /** Kind of the record at `at` for the totals wheel ({@link peerKind}). */
  kindAt(at: number): number {
    return recordKind(this.pages[at >>> PAGE_SHIFT], (at & PAGE_MASK) * RECORD_SIZE);
  }

  /** The latest expiry of any record (-1 when empty). O(count). */
  maxExpiry(): number {
    let max = -1;
    for (let at = 0; at < this.count; at++) max = Math.max(max, this.expiryAt(at));
    return max;
  }

  /** Expiry (store seconds) of the record at `at`. */
  expiryAt(at: number): number {
    return recordExpiry(this.pages[at >>> PAGE_SHIFT], (at & PAGE_MASK) * RECORD_SIZE);
  }

  /**
   * Has the peer at `at` completed (been listed as a seeder or had a counted completion)? Its next
   * `completed` then does not count. Check its expiry as well: an expired record says nothing.
   */
  doneAt(at: number): boolean {
    return recordDone(this.pages[at >>> PAGE_SHIFT], (at & PAGE_MASK) * RECORD_SIZE);
  }

  /** Forget that the peer at `at` completed (its record expired and is about to be reused). */
  forgetDone(at: number): void {
    clearRecordDone(this.pages[at >>> PAGE_SHIFT], (at & PAGE_MASK) * RECORD_SIZE);
  }

  /**
   * Insert or update a peer. Returns the previous seeder state: `undefined` when the peer is new.
   * `found` is the peer's record index if the caller already looked it up (-1: new; undefined: look).
   * `completed`: this announce is a counted completion (sets the record's done bit, as does a seeder).
   * `partial`: the peer is a partial seed (BEP 21).
   */
  upsert(
    peerId: Uint8Array,
    ip: Uint8Array,
    port: number,
    seeder: boolean,
    expiry: number,
    key?: number,
    found?: number,
    completed = false,
    partial = false,
  ): boolean | undefined {
    let at = found ?? this.find(peerId);
    let previous: boolean | undefined;
    let page: Buffer;
    let base: number;
    if (at === -1) {
      if (this.count === this.capacity) this.grow();
      // Grow the index before the new record counts: a rebuild must not index its stale bytes.
      if ((this.count + 1) * 2 > this.index.length) this.rebuildIndex(this.index.length * 2);
      at = this.count++;
      page = this.pages[at >>> PAGE_SHIFT];
      base = (at & PAGE_MASK) * RECORD_SIZE;
      for (let i = 0; i < 20; i++) page[base + i] = peerId[i];
      this.insertIndex(at, hashPeerId(peerId, 0));
    } else {
      page = this.pages[at >>> PAGE_SHIFT];
      base = (at & PAGE_MASK) * RECORD_SIZE;
      previous = recordSeeder(page, base);
      if (previous) this.seeders--;
      else if (recordPartial(page, base)) this.partials--;
    }
    writeRecord(page, base, ip, port, seeder, expiry, key, previous !== undefined, completed, partial);
    const wire = this.wire[at >>> PAGE_SHIFT];
    const w = (at & PAGE_MASK) * WIRE_SIZE;
    if (ip.length === 4) {
      wire[w] = ip[0];
      wire[w + 1] = ip[1];
      wire[w + 2] = ip[2];
      wire[w + 3] = ip[3];
      wire[w + 4] = port >>> 8;
      wire[w + 5] = port & 0xff;
    }
    wire[w + WIRE_FLAGS] = page[base + OFFSET_FLAGS];
    if (seeder) this.seeders++;
    else if (partial) this.partials++;
    return previous;
  }

  /** Remove a peer by id. Returns true if it was present. */
  remove(peerId: Uint8Array): boolean {
    const at = this.find(peerId);
    if (at === -1) return false;
    this.removeAt(at);
    this.shrink();
    return true;
  }

  /** Remove every peer whose expiry is before `now` (seconds). Returns how many were removed. */
  removeExpired(now: number): number {
    let removed = 0;
    let i = 0;
    while (i < this.count) {
      if (recordExpiry(this.pages[i >>> PAGE_SHIFT], (i & PAGE_MASK) * RECORD_SIZE) < now) {
        this.removeAt(i); // the last record moves into i: look at i again
        removed++;
      } else {
        i++;
      }
    }
    if (removed > 0) this.shrink();
    return removed;
  }

  /** Give every page back for good: the table is dropped and must not be used again. */
  dispose(): void {
    this.givePagesBack();
    this.pages = [];
    this.wire = [];
    this.capacity = this.count = this.seeders = this.partials = 0;
  }

  /** Return the full pages to the shared pools (a small first page is not a pool page). */
  private givePagesBack(): void {
    for (let p = this.pages[0].length === PAGE_BYTES ? 0 : 1; p < this.pages.length; p++) pagePool.give(this.pages[p]);
    for (let p = this.wire[0].length === WIRE_PAGE_BYTES ? 0 : 1; p < this.wire.length; p++) wirePool.give(this.wire[p]);
  }

  /** Copy the record at `at` to `target` at `targetBase` ({@link RECORD_SIZE} bytes). */
  copyRecord(at: number, target: Buffer, targetBase: number): void {
    const base = (at & PAGE_MASK) * RECORD_SIZE;
    this.pages[at >>> PAGE_SHIFT].copy(target, targetBase, base, base + RECORD_SIZE);
  }

  /** Give every page back (the table is being emptied). */
  release(): void {
    this.givePagesBack();
    this.pages = [Buffer.allocUnsafeSlow(MIN_CAPACITY * RECORD_SIZE)];
    this.wire = [Buffer.allocUnsafeSlow(MIN_CAPACITY * WIRE_SIZE)];
    this.capacity = MIN_CAPACITY;
    this.count = 0;
    this.seeders = 0;
    this.partials = 0;
    this.index = new Uint32Array(MIN_INDEX);
  }

  /**
   * A uniform random sample of at most `k` peers, excluding the record at `exclude` (-1 for none),
   * as objects. O(k) time.
   */
  sample(k: number, exclude: number): Peer[] {
    const n = pickRecords(this.count, k, exclude);
    const picks = picked();
    const out: Peer[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.peerAt(picks[i]);
    return out;
  }

  /**
   * The same sample written straight into compact form: IPv4 peers as 6-byte entries into `out4`,
   * IPv6 peers as 18-byte entries into `out6` (each must hold `k` entries). No allocation.
   * Returns the number of IPv4 entries plus 65536 times the number of IPv6 entries.
   */
  sampleCompact(k: number, exclude: number, out4: Uint8Array, out6: Uint8Array): number {
    const n = pickRecords(this.count, k, exclude);
    const picks = picked();
    let n4 = 0;
    let n6 = 0;
    for (let i = 0; i < n; i++) {
      const at = picks[i];
      const w = this.wire[at >>> PAGE_SHIFT];
      const from = (at & PAGE_MASK) * WIRE_SIZE;
      if (w[from + WIRE_FLAGS] & FLAG_IPV6) {
        recordCompact(this.pages[at >>> PAGE_SHIFT], (at & PAGE_MASK) * RECORD_SIZE, out4, n4, out6, n6++);
      } else {
        const to = n4++ * 6;
        out4[to] = w[from];
        out4[to + 1] = w[from + 1];
        out4[to + 2] = w[from + 2];
        out4[to + 3] = w[from + 3];
        out4[to + 4] = w[from + 4];
        out4[to + 5] = w[from + 5];
      }
    }
    return n4 + n6 * 65536;
  }

  /** Is the peer at record index `at` a seeder? */
  seederAt(at: number): boolean {
    return recordSeeder(this.pages[at >>> PAGE_SHIFT], (at & PAGE_MASK) * RECORD_SIZE);
  }

  /** A copy of the peer at record index `at`. */
  peerAt(at: number): Peer {
    return recordPeer(this.pages[at >>> PAGE_SHIFT], (at & PAGE_MASK) * RECORD_SIZE);
  }

  /** Iterate over every peer (used by tests). */
  *peers(): IterableIterator<Peer & { seeder: boolean }> {
    for (let i = 0; i < this.count; i++) {
      const seeder = recordSeeder(this.pages[i >>> PAGE_SHIFT], (i & PAGE_MASK) * RECORD_SIZE);
      yield { ...this.peerAt(i), seeder };
    }
  }

  private removeAt(at: number): void {
    const page = this.pages[at >>> PAGE_SHIFT];
    const base = (at & PAGE_MASK) * RECORD_SIZE;
    if (recordSeeder(page, base)) this.seeders--;
    else if (recordPartial(page, base)) this.partials--;
    this.deleteIndex(at);
    const last = this.count - 1;
    if (at !== last) {
      // Swap-remove: the last record takes the freed place; its index slot is repointed.
      const slot = this.indexSlotOf(last);
      const lastPage = this.pages[last >>> PAGE_SHIFT];
      const lastBase = (last & PAGE_MASK) * RECORD_SIZE;
      lastPage.copy(page, base, lastBase, lastBase + RECORD_SIZE);
      const lastWire = (last & PAGE_MASK) * WIRE_SIZE;
      this.wire[last >>> PAGE_SHIFT].copy(this.wire[at >>> PAGE_SHIFT], (at & PAGE_MASK) * WIRE_SIZE, lastWire, lastWire + WIRE_SIZE);
      this.index[slot] = at + 1;
    }
    this.count = last;
  }

  /** Add room for at least one more record. */
  private grow(): void {
    if (this.capacity < PAGE_RECORDS) {
      // Double the small first page, or replace it by a full pool page.
      const full = this.capacity * 2 >= PAGE_RECORDS;
      const next = full ? pagePool.take() : Buffer.allocUnsafeSlow(this.capacity * 2 * RECORD_SIZE);
      const nextWire = full ? wirePool.take() : Buffer.allocUnsafeSlow(this.capacity * 2 * WIRE_SIZE);
      this.pages[0].copy(next, 0, 0, this.count * RECORD_SIZE);
      this.wire[0].copy(nextWire, 0, 0, this.count * WIRE_SIZE);
      this.pages[0] = next;
      this.wire[0] = nextWire;
      this.capacity = next.length / RECORD_SIZE;
    } else {
      this.pages.push(pagePool.take());
      this.wire.push(wirePool.take());
      this.capacity += PAGE_RECORDS;
    }
  }

  /** Return pages and index space the table no longer needs (with hysteresis). */
  private shrink(): void {
    while (this.pages.length > 1 && this.count <= this.capacity - PAGE_RECORDS - PAGE_RECORDS / 2) {
      pagePool.give(this.pages.pop()!);
      wirePool.give(this.wire.pop()!);
      this.capacity -= PAGE_RECORDS;
    }
    if (this.pages.length === 1 && this.capacity > MIN_CAPACITY && this.count <= this.capacity / 4) {
      const next = Buffer.allocUnsafeSlow((this.capacity / 2) * RECORD_SIZE);
      const nextWire = Buffer.allocUnsafeSlow((this.capacity / 2) * WIRE_SIZE);
      this.pages[0].copy(next, 0, 0, this.count * RECORD_SIZE);
      this.wire[0].copy(nextWire, 0, 0, this.count * WIRE_SIZE);
      if (this.pages[0].length === PAGE_BYTES) pagePool.give(this.pages[0]);
      if (this.wire[0].length === WIRE_PAGE_BYTES) wirePool.give(this.wire[0]);
      this.pages[0] = next;
      this.wire[0] = nextWire;
      this.capacity /= 2;
    }
    if (this.index.length > MIN_INDEX && this.count * 8 <= this.index.length) this.rebuildIndex(this.index.length / 2);
  }

  private idEquals(at: number, peerId: Uint8Array): boolean {
    return recordIdEquals(this.pages[at >>> PAGE_SHIFT], (at & PAGE_MASK) * RECORD_SIZE, peerId);
  }

  /** Hash of the peer id stored in record `at`. */
  private hashOf(at: number): number {
    return hashPeerId(this.pages[at >>> PAGE_SHIFT], (at & PAGE_MASK) * RECORD_SIZE);
  }

  private insertIndex(at: number, hash: number): void {
    place(this.index, hash, at + 1);
  }

  /** The index slot pointing at record `at` (which must be present). */
  private indexSlotOf(at: number): number {
    const mask = this.index.length - 1;
    let slot = this.hashOf(at) & mask;
    while (this.index[slot] !== at + 1) slot = (slot + 1) & mask;
    return slot;
  }

  private deleteIndex(at: number): void {
    deleteSlot(this.index, this.indexSlotOf(at), (entry) => this.hashOf(entry - 1));
  }

  private rebuildIndex(length: number): void {
    this.index = new Uint32Array(Math.max(MIN_INDEX, length));
    for (let i = 0; i < this.count; i++) this.insertIndex(i, this.hashOf(i));
  }
}
