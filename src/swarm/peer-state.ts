/**
 * Private-mode peer state of the in-process stores (memory, and each Keyv-store instance): owner,
 * last accepted announce and the client's counters, per (info hash, peer id).
 *
 * Only private trackers create entries; public mode never touches this table. Expiry needs no timer
 * and no scan: entries live in two generations of Maps (express-rate-limit's MemoryStore does the
 * same). Every `peerTtl` the older generation is dropped whole; an entry read from the older one
 * moves to the newer. An entry whose peer expired (`at + ttl` passed) counts as absent.
 */
import { intervalRefusal } from '../rules/interval.js';
import { ownerRefusal } from '../rules/owner.js';
import type { AnnounceEvent, PeerRefusal, PeerState } from '../types.js';
import type { PrivateAnnounce } from './types.js';

interface Entry extends PeerState {
  /** When the entry (the peer) expires, ms. */
  exp: number;
}

/** The outcome of {@link PeerStateTable.check}. */
export interface PeerVerdict {
  previous: PeerState | undefined;
  refusal: PeerRefusal | undefined;
}

/** Two-generation table of {@link PeerState}s keyed by info hash + peer id (binary strings). */
export class PeerStateTable {
  private current = new Map<string, Entry>();
  private older = new Map<string, Entry>();
  private rotatedAt: number;
  /** Generation length, ms: the longest peer TTL seen. */
  private generation = 0;

  constructor(now: number) {
    this.rotatedAt = now;
  }

  /** Number of entries held (live or not yet dropped). */
  get size(): number {
    return this.current.size + this.older.size;
  }

  /** The live state of a peer, or undefined. */
  get(key: string, now: number): PeerState | undefined {
    this.rotate(now);
    let entry = this.current.get(key);
    if (!entry) {
      entry = this.older.get(key);
      if (!entry) return undefined;
      this.older.delete(key);
      this.current.set(key, entry);
    }
    if (entry.exp < now) {
      this.current.delete(key);
      return undefined;
    }
    return entry;
  }

  /**
   * Judge an announce against the peer's state (ownership, then interval) without changing
   * anything. `event` as the store treats it: a `completed` that does not count is an `update`.
   */
  check(key: string, request: PrivateAnnounce, event: AnnounceEvent, now: number): PeerVerdict {
    const previous = this.get(key, now);
    const refusal = ownerRefusal(previous, request.owner) ?? intervalRefusal(previous, event, request.minInterval, now);
    return { previous, refusal };
  }

  /** Record an accepted announce (`stopped` forgets the peer). `ttl` in ms. */
  record(key: string, request: PrivateAnnounce, event: AnnounceEvent, seeder: boolean, now: number, ttl: number): void {
    if (event === 'stopped') {
      this.current.delete(key);
      this.older.delete(key);
      return;
    }
    if (ttl > this.generation) this.generation = ttl;
    this.older.delete(key);
    this.current.set(key, {
      owner: request.owner,
      at: now,
      seeder,
      uploaded: request.counters ? request.uploaded : 0,
      downloaded: request.counters ? request.downloaded : 0,
      exp: now + ttl,
    });
  }

  /** Forget everything (store closed). */
  clear(): void {
    this.current.clear();
    this.older.clear();
  }

  private rotate(now: number): void {
    if (this.generation === 0 || now - this.rotatedAt < this.generation) return;
    // Every entry of `older` was written at least one generation (the longest TTL) ago: expired.
    this.older = this.current;
    this.current = new Map();
    this.rotatedAt = now;
  }
}

/** Scratch space for {@link peerStateKey} (synchronous: one key at a time). */
const keyScratch = Buffer.allocUnsafe(40);

/** Table key of a peer: 20-byte info hash + 20-byte peer id as one latin1 string (one allocation). */
export function peerStateKey(infoHash: Uint8Array, peerId: Uint8Array): string {
  keyScratch.set(infoHash, 0);
  keyScratch.set(peerId, 20);
  return keyScratch.toString('latin1', 0, 40);
}
