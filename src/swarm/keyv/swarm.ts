/**
 * What one instance of the Keyv store holds about one swarm in memory: its own shard (the truth,
 * written behind), its `completed` counter and how much of it is stored, and the merged view of the
 * live peers of every instance. How a read of the other shards rebuilds the view, how expired
 * records are swept, how the counts are taken, and how changes to our own shard keep the store's
 * totals wheel in step. No I/O.
 */
import { KIND_SWARM, peerKind, type ExpiryWheel } from '../expiry-wheel.js';
import { earliestExpiry, mergeRecords, type ReadShard, type Rec } from './records.js';
import { View } from './view.js';
import type { SwarmCounts } from '../../types.js';
import type { ListedPeer, PeerPage } from '../types.js';

/** What this instance holds about one swarm. */
export interface Swarm {
  /** The info hash, hex. */
  hex: string;
  /** This instance's shard: records and tombstones it wrote (or inherited with its slot). */
  own: Map<string, Rec>;
  /** This instance's `completed` counter (persisted in its shard). */
  downloaded: number;
  /** The part of `downloaded` that was loaded from the slot's previous life. */
  inherited: number;
  /** `downloaded` as last written to the database under the current id. */
  written: number;
  /** Sum of the other instances' counters at the last read. */
  remoteDownloaded: number;
  /** Live merged peers (own and other instances'). */
  view: View;
  /** Date.now() of the last read of the other shards (0 = never). */
  fetchedAt: number;
  /** Earliest expiry (store clock) among `own` and `view`; sweep when passed. */
  nextExpiry: number;
  /** Our shard changed since it was last written. */
  dirty: boolean;
  /** A read of the shards in flight. */
  reading: Promise<void> | undefined;
  /** Date.now() of the last use (for eviction). */
  usedAt: number;
  /** Our own shard has been read (or there was nothing to read). */
  loaded: boolean;
  /** Chunk keys our shard has in the database (to delete those no longer needed). */
  chunks: number;
  /** Latest expiry (whole seconds) of our live records as counted in the totals; -1 when none. */
  last?: number;
}

/** A swarm nothing is known of yet (not loaded). */
export function newSwarm(hex: string): Swarm {
  return {
    hex,
    own: new Map(),
    downloaded: 0,
    inherited: 0,
    written: 0,
    remoteDownloaded: 0,
    view: new View(),
    fetchedAt: 0,
    nextExpiry: Infinity,
    dirty: false,
    reading: undefined,
    usedAt: Date.now(),
    loaded: false,
    chunks: 0,
  };
}

/** The swarm's counts as this instance sees them (merged view, all counters). */
export function countsOf(swarm: Swarm): SwarmCounts {
  return {
    complete: swarm.view.seeders,
    incomplete: swarm.view.count - swarm.view.seeders,
    downloaded: swarm.downloaded + swarm.remoteDownloaded,
    downloaders: swarm.view.count - swarm.view.seeders - swarm.view.partials,
  };
}

/** The counts of a swarm from its shards as read (for a swarm this instance has not loaded). */
export function countShards(read: ReadShard[], now: number): SwarmCounts {
  let downloaded = 0;
  for (const shard of read) downloaded += shard.d;
  let complete = 0;
  let incomplete = 0;
  let partials = 0;
  for (const rec of mergeRecords(read.map((s) => s.recs)).values()) {
    if (rec.gone || rec.exp < now) continue;
    if (rec.seeder) complete++;
    else incomplete++;
    if (rec.partial) partials++;
  }
  return { complete, incomplete, downloaded, downloaders: incomplete - partials };
}

/**
 * A page of the swarm's live peers from its shards as just read: through the swarm's view when this
 * instance holds it (`swarm` loaded; the view is rebuilt from `read`), else merged from `read`.
 */
export function peerPage(swarm: Swarm | undefined, read: ReadShard[], now: number, offset: number, limit: number): PeerPage {
  let live: readonly Rec[];
  if (swarm?.loaded) {
    applyRemote(swarm, read, now);
    live = swarm.view.records();
  } else {
    live = [...mergeRecords(read.map((s) => s.recs)).values()].filter((rec) => !rec.gone && rec.exp >= now);
  }
  const peers = live.slice(offset, offset + limit).map((r): ListedPeer => ({ peerId: r.id, ip: r.ip, port: r.port, seeder: r.seeder, expires: r.exp, at: r.at }));
  return { total: live.length, peers };
}

/** Rebuild the swarm's view from our shard (memory) and the other shards just read. */
export function applyRemote(swarm: Swarm, remote: ReadShard[], now: number): void {
  let remoteDownloaded = 0;
  for (const shard of remote) remoteDownloaded += shard.d;
  const winners = mergeRecords([swarm.own.values(), ...remote.map((s) => s.recs)]);
  const live: Rec[] = [];
  let next = Infinity;
  for (const rec of winners.values()) {
    if (rec.gone || rec.exp < now) continue;
    live.push(rec);
    if (rec.exp < next) next = rec.exp;
  }
  swarm.view.reset(live);
  swarm.remoteDownloaded = remoteDownloaded;
  swarm.fetchedAt = Date.now();
  swarm.nextExpiry = Math.min(next, earliestExpiry(swarm.own));
}

/** Remove expired records from the view and from our shard once the earliest expiry has passed. */
export function maybeSweep(swarm: Swarm, now: number): void {
  if (now <= swarm.nextExpiry) return;
  const next = swarm.view.sweep(now);
  let removed = false;
  for (const [key, rec] of swarm.own) {
    if (rec.exp < now) {
      swarm.own.delete(key);
      removed = true;
    }
  }
  if (removed) swarm.dirty = true;
  swarm.nextExpiry = Math.min(next, earliestExpiry(swarm.own));
}

const kindOf = (rec: Rec): number => peerKind(rec.seeder, rec.ip.length === 16);

/**
 * Put a record into our shard, keeping the totals `wheel` in step (tombstones and expired records
 * do not count).
 */
export function setOwn(wheel: ExpiryWheel, swarm: Swarm, rec: Rec, now: number): void {
  const nowSecond = Math.ceil(now / 1000);
  const old = swarm.own.get(rec.key);
  swarm.own.set(rec.key, rec);
  if (old && !old.gone && old.exp >= now) wheel.count(kindOf(old), Math.ceil(old.exp / 1000), -1, nowSecond);
  const last = swarm.last ?? -1;
  if (!rec.gone && rec.exp >= now) {
    const second = Math.ceil(rec.exp / 1000);
    wheel.count(kindOf(rec), second, 1, nowSecond);
    if (second > last) {
      if (last >= 0) wheel.count(KIND_SWARM, last, -1, nowSecond);
      wheel.count(KIND_SWARM, second, 1, nowSecond);
      swarm.last = second;
    }
  } else if (old && !old.gone && last >= 0 && Math.ceil(old.exp / 1000) === last) {
    // The latest peer left: the swarm lives as long as its latest remaining one.
    let next = -1;
    for (const r of swarm.own.values()) if (!r.gone && r.exp >= now) next = Math.max(next, Math.ceil(r.exp / 1000));
    wheel.count(KIND_SWARM, last, -1, nowSecond);
    if (next >= 0) wheel.count(KIND_SWARM, next, 1, nowSecond);
    swarm.last = next;
  }
}
