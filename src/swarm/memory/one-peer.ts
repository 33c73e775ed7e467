/**
 * The peers of a swarm that has at most one, read and written where the peer lives: inline in the
 * swarm's row of the {@link SwarmDirectory}. It answers the same calls as a {@link PeerTable} (the
 * record index of the one peer is 0), so the memory store treats both alike. One instance per
 * directory is re-bound to a row for each use; a second peer promotes the swarm to a PeerTable
 * through the `promote` function the directory hands in (so this file does not know the directory).
 */
import type { Peer } from '../../types.js';
import {
  RECORD_SIZE,
  clearRecordDone,
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
import type { PeerTable } from './peer-table.js';

/** Offset of the flags byte in a directory row. */
export const OFFSET_ROW_FLAGS = 92;
/** Row flag: the row holds one inline peer record at offset 0. */
export const FLAG_ONE = 2;

/** Moves the inline peer of row `id` into a new {@link PeerTable} and returns that table. */
export type PromoteRow = (id: number) => PeerTable;

/** A row's inline peer, seen as a table of at most one peer (see the file comment). */
export class OnePeer {
  private page: Buffer = Buffer.alloc(0);
  private base = 0;
  private id = 0;

  constructor(private readonly promote: PromoteRow) {}

  /** Look at the row at `base` of `page` (row id `id`) from now on. */
  bind(page: Buffer, base: number, id: number): this {
    this.page = page;
    this.base = base;
    this.id = id;
    return this;
  }

  /** Number of peers: 0 or 1. */
  get count(): number {
    return this.page[this.base + OFFSET_ROW_FLAGS] & FLAG_ONE ? 1 : 0;
  }

  /** Number of seeders: 0 or 1. */
  get seeders(): number {
    return this.count === 1 && recordSeeder(this.page, this.base) ? 1 : 0;
  }

  /** Number of partial seeds (BEP 21): 0 or 1. */
  get partials(): number {
    return this.count === 1 && recordPartial(this.page, this.base) ? 1 : 0;
  }

  /** Copy the inline record to `target` at `targetBase` (RECORD_SIZE bytes; `at` must be 0). */
  copyRecord(_at: number, target: Buffer, targetBase: number): void {
    this.page.copy(target, targetBase, this.base, this.base + RECORD_SIZE);
  }

  /** 0 when the peer is the one here, else -1. */
  find(peerId: Uint8Array): number {
    return this.count === 1 && recordIdEquals(this.page, this.base, peerId) ? 0 : -1;
  }

  /** As {@link PeerTable.mayChange} (`at` is 0). */
  mayChange(_at: number, ip: Uint8Array, key: number | undefined): boolean {
    return recordMayChange(this.page, this.base, ip, key);
  }

  /** Expiry of the peer (`at` is 0). */
  expiryAt(_at: number): number {
    return recordExpiry(this.page, this.base);
  }

  /** As {@link PeerTable.doneAt} (`at` is 0). */
  doneAt(_at: number): boolean {
    return recordDone(this.page, this.base);
  }

  /** As {@link PeerTable.forgetDone} (`at` is 0). */
  forgetDone(_at: number): void {
    clearRecordDone(this.page, this.base);
  }

  /** Kind of the peer for the totals wheel (`at` is 0). */
  kindAt(_at: number): number {
    return recordKind(this.page, this.base);
  }

  /** The peer's expiry, or -1 without a peer. */
  maxExpiry(): number {
    return this.count === 1 ? recordExpiry(this.page, this.base) : -1;
  }

  /** As {@link PeerTable.upsert}; a second peer promotes the swarm to a PeerTable. */
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
    const at = found ?? this.find(peerId);
    if (at === 0) {
      const previous = recordSeeder(this.page, this.base);
      writeRecord(this.page, this.base, ip, port, seeder, expiry, key, true, completed, partial);
      return previous;
    }
    if (this.count === 1) return this.promote(this.id).upsert(peerId, ip, port, seeder, expiry, key, -1, completed, partial);
    for (let i = 0; i < 20; i++) this.page[this.base + i] = peerId[i];
    writeRecord(this.page, this.base, ip, port, seeder, expiry, key, false, completed, partial);
    this.page[this.base + OFFSET_ROW_FLAGS] |= FLAG_ONE;
    return undefined;
  }

  /** Remove the peer if it is the one here. */
  remove(peerId: Uint8Array): boolean {
    if (this.find(peerId) !== 0) return false;
    this.release();
    return true;
  }

  /** Remove the peer if it expired before `now`; how many were removed. */
  removeExpired(now: number): number {
    if (this.count === 0 || recordExpiry(this.page, this.base) >= now) return 0;
    this.release();
    return 1;
  }

  /** Forget the peer. */
  release(): void {
    this.page[this.base + OFFSET_ROW_FLAGS] &= ~FLAG_ONE;
  }

  /** As {@link PeerTable.sample}. */
  sample(k: number, exclude: number): Peer[] {
    return this.count === 1 && k > 0 && exclude !== 0 ? [recordPeer(this.page, this.base)] : [];
  }

  /** As {@link PeerTable.sampleCompact}. */
  sampleCompact(k: number, exclude: number, out4: Uint8Array, out6: Uint8Array): number {
    if (this.count === 0 || k <= 0 || exclude === 0) return 0;
    return recordCompact(this.page, this.base, out4, 0, out6, 0) ? 65536 : 1;
  }

  /** A copy of the peer (`at` is 0). */
  peerAt(_at: number): Peer {
    return recordPeer(this.page, this.base);
  }

  /** Is the peer a seeder (`at` is 0)? */
  seederAt(_at: number): boolean {
    return recordSeeder(this.page, this.base);
  }

  /** The peer, if any (used by tests). */
  *peers(): IterableIterator<Peer & { seeder: boolean }> {
    if (this.count === 1) yield { ...recordPeer(this.page, this.base), seeder: recordSeeder(this.page, this.base) };
  }
}
