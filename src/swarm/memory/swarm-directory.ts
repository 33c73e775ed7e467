/**
 * The memory store's swarms, by info hash, as fixed-size binary rows: no JavaScript object, string
 * or Map entry per swarm. A swarm of one peer keeps that peer inline in its row (the same record
 * layout as a {@link PeerTable}); a second peer promotes it to a PeerTable, and a sweep that leaves
 * one peer demotes it again. So the common case of the public internet, swarms of one peer (and
 * floods of random info hashes), costs one row plus index slots: about 110 bytes.
 *
 * Row layout (ROW_SIZE bytes, rows in pages of ROWS_PER_PAGE):
 *   0..47   the inline peer record (valid when flag ONE is set)
 *   48..67  info hash
 *   68..71  downloaded (number of `completed` events, uint32, saturating)
 *   72..75  second (store epoch) of the last sweep
 *   76..79  smallest peer TTL seen (seconds): how often the swarm needs sweeping
 *   80..83  latest expiry of its peers as counted in the totals, plus one (0: none)
 *   84..87  retained: the second the swarm lost its last peer
 *   88..91  retained: the row's position in the list of retained rows
 *   92      flags (USED, ONE, RETAINED; {@link OFFSET_ROW_FLAGS})
 *
 * Rows of swarms that lost their last peer but keep a `downloaded` count are "retained": listed
 * densely so that, past the retention cap, a victim is found in O(1) (the oldest of a few random
 * ones, as Redis approximates LRU).
 *
 * The hash index (open addressing, linear probing, backward-shift deletion) is keyed by the info
 * hash with the seeded hash of {@link hashPeerId}: attacker-chosen hashes cannot aim at slots. It is
 * split into {@link INDEX_SHARDS} tables by the hash's top bits, each growing on its own, so that
 * growing never rehashes more than a small fraction of the swarms at once (no pause of the event
 * loop at a million swarms). Like the row pages, the index keeps its peak size: memory freed by
 * swarms that went away is reused by new ones.
 */
import { deleteSlot, hashPeerId, place } from './hash-index.js';
import { recordDone, recordExpiry, recordKey, recordPartial, recordPeer, recordSeeder } from './peer-record.js';
import { PeerTable } from './peer-table.js';
import { FLAG_ONE, OFFSET_ROW_FLAGS, OnePeer } from './one-peer.js';

/** Bytes per swarm row. */
export const ROW_SIZE = 96;
const ROWS_PER_PAGE = 1024;
const ROW_SHIFT = 10;
const ROW_MASK = ROWS_PER_PAGE - 1;
const OFFSET_HASH = 48;
const OFFSET_DOWNLOADED = 68;
const OFFSET_SWEPT = 72;
const OFFSET_TTL = 76;
const OFFSET_LAST = 80;
const OFFSET_EMPTY_SINCE = 84;
const OFFSET_RETAINED_AT = 88;
const FLAG_USED = 1;
const FLAG_RETAINED = 4;
const MIN_INDEX = 16;
/** Tables of the hash index (a power of two; the top bits of a hash choose one). */
const INDEX_SHARDS = 256;
const SHARD_SHIFT = 24;
/** Random retained rows looked at to pick the one to evict (the oldest of them goes). */
const EVICTION_SAMPLES = 8;

function newShards(): Uint32Array[] {
  return Array.from({ length: INDEX_SHARDS }, () => new Uint32Array(MIN_INDEX));
}

/** The peers of one swarm: its PeerTable, or its inline peer. */
export type SwarmPeers = PeerTable | OnePeer;

/** Swarms by info hash (see the file comment). */
export class SwarmDirectory {
  private pages: Buffer[] = [];
  /** The PeerTable of each row with two peers or more. */
  private tables: Array<PeerTable | undefined> = [];
  private freeIds: number[] = [];
  /** Index shards: slot → row id + 1 (0: empty); each a power of two, at least twice its entries. */
  private shards = newShards();
  private shardSizes = new Int32Array(INDEX_SHARDS);
  /** Ids below this were handed out (they are in use or free). */
  high = 0;
  /** Rows in use. */
  size = 0;
  private retainedList = new Uint32Array(64);
  /** Rows that hold no peer but keep a `downloaded` count. */
  retainedCount = 0;
  private readonly one = new OnePeer((id) => this.promote(id));

  /** Row id of the swarm, or -1. */
  find(infoHash: Uint8Array): number {
    const hash = hashPeerId(infoHash, 0);
    const index = this.shards[hash >>> SHARD_SHIFT];
    const mask = index.length - 1;
    let slot = hash & mask;
    for (;;) {
      const entry = index[slot];
      if (entry === 0) return -1;
      const id = entry - 1;
      const page = this.pages[id >>> ROW_SHIFT];
      const base = (id & ROW_MASK) * ROW_SIZE + OFFSET_HASH;
      let same = true;
      for (let i = 0; i < 20; i++) {
        if (page[base + i] !== infoHash[i]) {
          same = false;
          break;
        }
      }
      if (same) return id;
      slot = (slot + 1) & mask;
    }
  }

  /** Add an empty swarm (which must not exist yet); its row id. */
  add(infoHash: Uint8Array, now: number, ttl: number): number {
    let id = this.freeIds.pop();
    if (id === undefined) {
      id = this.high++;
      if (id >>> ROW_SHIFT === this.pages.length) {
        this.pages.push(Buffer.allocUnsafeSlow(ROWS_PER_PAGE * ROW_SIZE));
        for (let i = 0; i < ROWS_PER_PAGE; i++) this.tables.push(undefined);
      }
    }
    const page = this.pages[id >>> ROW_SHIFT];
    const base = (id & ROW_MASK) * ROW_SIZE;
    page.fill(0, base + OFFSET_HASH, base + ROW_SIZE);
    for (let i = 0; i < 20; i++) page[base + OFFSET_HASH + i] = infoHash[i];
    page.writeUInt32LE(now >>> 0, base + OFFSET_SWEPT);
    page.writeUInt32LE(ttl >>> 0, base + OFFSET_TTL);
    page[base + OFFSET_ROW_FLAGS] = FLAG_USED;
    this.size++;
    this.insertIndex(id);
    return id;
  }

  /** Drop a swarm: its peers, its counters and its row. */
  remove(id: number): void {
    this.tables[id]?.dispose();
    this.tables[id] = undefined;
    if (this.isRetained(id)) this.unretain(id);
    this.deleteIndex(id);
    this.pages[id >>> ROW_SHIFT][(id & ROW_MASK) * ROW_SIZE + OFFSET_ROW_FLAGS] = 0;
    this.freeIds.push(id);
    this.size--;
  }

  /** Drop every swarm. */
  clear(): void {
    for (const table of this.tables) table?.dispose();
    this.pages = [];
    this.tables = [];
    this.freeIds = [];
    this.shards = newShards();
    this.shardSizes.fill(0);
    this.high = this.size = this.retainedCount = 0;
  }

  /** Is row `id` in use? */
  used(id: number): boolean {
    return (this.pages[id >>> ROW_SHIFT][(id & ROW_MASK) * ROW_SIZE + OFFSET_ROW_FLAGS] & FLAG_USED) !== 0;
  }

  /**
   * The peers of swarm `id`. The inline view is shared: valid until the next call of this method,
   * and an upsert through it may promote the swarm to a PeerTable (call again afterwards).
   */
  peers(id: number): SwarmPeers {
    return this.tables[id] ?? this.one.bind(this.pages[id >>> ROW_SHIFT], (id & ROW_MASK) * ROW_SIZE, id);
  }

  /** Move swarm `id`'s inline peer into a new PeerTable (a second peer arrives); the table. */
  promote(id: number): PeerTable {
    const page = this.pages[id >>> ROW_SHIFT];
    const base = (id & ROW_MASK) * ROW_SIZE;
    const table = new PeerTable();
    const peer = recordPeer(page, base);
    const done = recordDone(page, base);
    table.upsert(peer.peerId, peer.ip, peer.port, recordSeeder(page, base), recordExpiry(page, base), recordKey(page, base), -1, done, recordPartial(page, base));
    page[base + OFFSET_ROW_FLAGS] &= ~FLAG_ONE;
    this.tables[id] = table;
    return table;
  }

  /** A swarm whose PeerTable is down to one peer or none goes back to its row (memory returns). */
  demote(id: number): void {
    const table = this.tables[id];
    if (!table || table.count > 1) return;
    const page = this.pages[id >>> ROW_SHIFT];
    const base = (id & ROW_MASK) * ROW_SIZE;
    if (table.count === 1) {
      table.copyRecord(0, page, base);
      page[base + OFFSET_ROW_FLAGS] |= FLAG_ONE;
    }
    table.dispose();
    this.tables[id] = undefined;
  }

  /** A copy of the swarm's info hash. */
  infoHash(id: number): Buffer {
    const base = (id & ROW_MASK) * ROW_SIZE + OFFSET_HASH;
    return Buffer.from(this.pages[id >>> ROW_SHIFT].subarray(base, base + 20));
  }

  /** Copy the swarm's info hash into `target` at `at` (no allocation). */
  copyInfoHash(id: number, target: Buffer, at: number): void {
    const base = (id & ROW_MASK) * ROW_SIZE + OFFSET_HASH;
    this.pages[id >>> ROW_SHIFT].copy(target, at, base, base + 20);
  }

  /** The swarm's `downloaded` count. */
  downloaded(id: number): number {
    return this.pages[id >>> ROW_SHIFT].readUInt32LE((id & ROW_MASK) * ROW_SIZE + OFFSET_DOWNLOADED);
  }

  /** Set the swarm's `downloaded` count (a snapshot being loaded). */
  setDownloaded(id: number, n: number): void {
    this.pages[id >>> ROW_SHIFT].writeUInt32LE(Math.min(n, 0xffffffff) >>> 0, (id & ROW_MASK) * ROW_SIZE + OFFSET_DOWNLOADED);
  }

  /** Count one `completed` (saturating at 2^32 - 1). */
  addDownloaded(id: number): void {
    const n = this.downloaded(id);
    if (n < 0xffffffff) this.pages[id >>> ROW_SHIFT].writeUInt32LE(n + 1, (id & ROW_MASK) * ROW_SIZE + OFFSET_DOWNLOADED);
  }

  /** Second of the swarm's last sweep. */
  sweptAt(id: number): number {
    return this.pages[id >>> ROW_SHIFT].readUInt32LE((id & ROW_MASK) * ROW_SIZE + OFFSET_SWEPT);
  }

  /** Record a sweep at `now`. */
  setSweptAt(id: number, now: number): void {
    this.pages[id >>> ROW_SHIFT].writeUInt32LE(now >>> 0, (id & ROW_MASK) * ROW_SIZE + OFFSET_SWEPT);
  }

  /** Smallest peer TTL seen by the swarm (seconds). */
  ttl(id: number): number {
    return this.pages[id >>> ROW_SHIFT].readUInt32LE((id & ROW_MASK) * ROW_SIZE + OFFSET_TTL);
  }

  /** Lower the swarm's TTL to `ttl` if it is smaller. */
  lowerTtl(id: number, ttl: number): void {
    if (ttl < this.ttl(id)) this.pages[id >>> ROW_SHIFT].writeUInt32LE(ttl >>> 0, (id & ROW_MASK) * ROW_SIZE + OFFSET_TTL);
  }

  /** Latest expiry of the swarm's peers as counted in the totals (-1: none). */
  last(id: number): number {
    return this.pages[id >>> ROW_SHIFT].readUInt32LE((id & ROW_MASK) * ROW_SIZE + OFFSET_LAST) - 1;
  }

  /** Set {@link last}. */
  setLast(id: number, last: number): void {
    this.pages[id >>> ROW_SHIFT].writeUInt32LE((last + 1) >>> 0, (id & ROW_MASK) * ROW_SIZE + OFFSET_LAST);
  }

  /** Does the swarm hold no peer but a `downloaded` count, listed for retention? */
  isRetained(id: number): boolean {
    return (this.pages[id >>> ROW_SHIFT][(id & ROW_MASK) * ROW_SIZE + OFFSET_ROW_FLAGS] & FLAG_RETAINED) !== 0;
  }

  /** Second at which a retained swarm lost its last peer. */
  emptySince(id: number): number {
    return this.pages[id >>> ROW_SHIFT].readUInt32LE((id & ROW_MASK) * ROW_SIZE + OFFSET_EMPTY_SINCE);
  }

  /**
   * List swarm `id` (no peers, a `downloaded` count) as retained since `now`. When `max` are retained
   * already, one of them goes first: the longest-empty of a few picked at random.
   */
  retain(id: number, now: number, max: number): void {
    while (this.retainedCount >= max && this.retainedCount > 0) this.remove(this.evictionVictim());
    if (this.retainedCount === this.retainedList.length) {
      const grown = new Uint32Array(this.retainedList.length * 2);
      grown.set(this.retainedList);
      this.retainedList = grown;
    }
    const page = this.pages[id >>> ROW_SHIFT];
    const base = (id & ROW_MASK) * ROW_SIZE;
    page.writeUInt32LE(now >>> 0, base + OFFSET_EMPTY_SINCE);
    page.writeUInt32LE(this.retainedCount, base + OFFSET_RETAINED_AT);
    page[base + OFFSET_ROW_FLAGS] |= FLAG_RETAINED;
    this.retainedList[this.retainedCount++] = id;
  }

  /** Take swarm `id` off the retained list (it has a peer again, or goes). */
  unretain(id: number): void {
    const page = this.pages[id >>> ROW_SHIFT];
    const base = (id & ROW_MASK) * ROW_SIZE;
    const at = page.readUInt32LE(base + OFFSET_RETAINED_AT);
    const moved = this.retainedList[--this.retainedCount];
    this.retainedList[at] = moved;
    this.pages[moved >>> ROW_SHIFT].writeUInt32LE(at, (moved & ROW_MASK) * ROW_SIZE + OFFSET_RETAINED_AT);
    page[base + OFFSET_ROW_FLAGS] &= ~FLAG_RETAINED;
    if (this.retainedList.length > 64 && this.retainedCount * 4 < this.retainedList.length) {
      this.retainedList = this.retainedList.slice(0, this.retainedList.length / 2);
    }
  }

  /** Bytes held by rows, index and retained list (not the PeerTables). */
  get byteSize(): number {
    let index = 0;
    for (const shard of this.shards) index += shard.byteLength;
    return this.pages.length * ROWS_PER_PAGE * ROW_SIZE + index + this.retainedList.byteLength + this.tables.length * 8;
  }

  private evictionVictim(): number {
    let victim = -1;
    let oldest = Infinity;
    for (let i = 0; i < EVICTION_SAMPLES; i++) {
      const id = this.retainedList[Math.floor(Math.random() * this.retainedCount)];
      const since = this.emptySince(id);
      if (since < oldest) {
        oldest = since;
        victim = id;
      }
    }
    return victim;
  }

  private hashOf(id: number): number {
    return hashPeerId(this.pages[id >>> ROW_SHIFT], (id & ROW_MASK) * ROW_SIZE + OFFSET_HASH);
  }

  private insertIndex(id: number): void {
    const hash = this.hashOf(id);
    const shard = hash >>> SHARD_SHIFT;
    if (++this.shardSizes[shard] * 2 > this.shards[shard].length) this.growShard(shard);
    place(this.shards[shard], hash, id + 1);
  }

  private deleteIndex(id: number): void {
    const hash = this.hashOf(id);
    const shard = hash >>> SHARD_SHIFT;
    const index = this.shards[shard];
    const mask = index.length - 1;
    let hole = hash & mask;
    while (index[hole] !== id + 1) hole = (hole + 1) & mask;
    deleteSlot(index, hole, (entry) => this.hashOf(entry - 1));
    this.shardSizes[shard]--;
  }

  /** Double one shard of the index (rehashing only its own entries). */
  private growShard(shard: number): void {
    const old = this.shards[shard];
    const grown = new Uint32Array(old.length * 2);
    for (const entry of old) if (entry !== 0) place(grown, this.hashOf(entry - 1), entry);
    this.shards[shard] = grown;
  }
}
