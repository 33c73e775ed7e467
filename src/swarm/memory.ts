/**
 * The default in-process store. Swarms live in a Map keyed by the binary info hash; each swarm's
 * peers live in a {@link PeerTable} (dense binary records, O(1) upsert/remove, O(k) sampling).
 *
 * Expiry needs no timer per peer: each record carries its expiry second, a swarm is swept when it is
 * touched and its last sweep is older than half a TTL (amortised O(1) per announce), and one unref'd
 * timer sweeps swarms nobody touches any more so that dead swarms free their memory.
 */
import { ExpiryWheel, KIND_SWARM, peerKind, swarmTotals, WHEEL_KINDS } from '../stats/expiry-wheel.js';
import { PeerTable } from './peer-table.js';
import { PeerStateTable, peerStateKey, type PeerVerdict } from './peer-state.js';
import type {
  PeerRefusal,
  PeerState,
  SwarmAnnounce,
  SwarmAnnounceResult,
  SwarmCounts,
  SwarmStore,
  SwarmStoreOptions,
  SwarmTotals,
  TorrentRegistry,
  TorrentRules,
} from './types.js';

/** Options of {@link MemorySwarmStore}. */
export interface MemorySwarmStoreOptions extends SwarmStoreOptions {
  /**
   * Milliseconds between background sweeps of idle swarms. Default 60 000. The timer is unref'd and
   * never keeps the process alive.
   */
  sweepInterval?: number;
}

interface Swarm {
  table: PeerTable;
  downloaded: number;
  /** Second (store epoch) of the last sweep. */
  sweptAt: number;
  /** Smallest TTL seen in an announce to this swarm: how often it needs sweeping. */
  ttl: number;
  /** Latest expiry (store seconds) of its peers as counted in the totals; -1 when it has none. */
  last: number;
}



/** Key of a swarm in the Map: the 20 raw bytes as a latin1 string (cheap, exact, hashable). */
function swarmKey(infoHash: Uint8Array): string {
  const bytes = infoHash instanceof Buffer ? infoHash : Buffer.from(infoHash.buffer, infoHash.byteOffset, infoHash.byteLength);
  return bytes.toString('latin1');
}

/** Counters plus the private-mode outcome, filled by {@link MemorySwarmStore.announceCompact}. */
export interface CompactOutcome extends SwarmCounts {
  /** The peer's state before the announce (private mode). */
  previous?: PeerState;
  /** Set when the announce was refused (private mode); nothing changed. */
  refusal?: PeerRefusal;
}

const NO_VERDICT: PeerVerdict = { previous: undefined, refusal: undefined };
/** {@link MemorySwarmStore.locate}: the peer is listed from another address without the matching key. */
const REFUSED = -2;
const ADDRESS_REFUSAL: PeerRefusal = Object.freeze({ kind: 'address' });
/** {@link MemorySwarmStore.locate}: the announce would add a live peer or swarm past a cap. */
const FULL = -3;
const FULL_REFUSAL: PeerRefusal = Object.freeze({ kind: 'full' });

/** In-memory {@link SwarmStore}: the default, for one process. */
export class MemorySwarmStore implements SwarmStore {
  readonly privateMode = true;
  private readonly swarms = new Map<string, Swarm>();
  /** The swarm key and swarm {@link locate} found, for the {@link update} that follows it. */
  private locatedKey = '';
  private locatedSwarm: Swarm | undefined;
  /** Private-mode peer state; created by the first private announce. */
  private states: PeerStateTable | undefined;
  private readonly torrents = new Map<string, TorrentRules>();
  /** The built-in torrent registry (one process: a Map). */
  readonly registry: TorrentRegistry = {
    get: async (infoHash) => this.torrents.get(swarmKey(infoHash)),
    add: async (infoHash, rules) => {
      this.torrents.set(swarmKey(infoHash), { ...rules });
    },
    remove: async (infoHash) => this.torrents.delete(swarmKey(infoHash)),
  };
  private readonly now: () => number;
  private readonly epoch: number;
  /** Live totals (peers by kind, swarms by their last peer's expiry). */
  private readonly wheel = new ExpiryWheel(WHEEL_KINDS);
  private readonly timer: NodeJS.Timeout;

  private readonly options: MemorySwarmStoreOptions;
  private readonly siblings = new Map<string, MemorySwarmStore>();

  constructor(options: MemorySwarmStoreOptions = {}) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.epoch = Math.floor(this.now() / 1000) - 1;
    this.timer = setInterval(() => this.sweep(), options.sweepInterval ?? 60_000);
    this.timer.unref();
  }

  /** Number of swarms held (including ones that only keep a `downloaded` count). */
  get swarmCount(): number {
    return this.swarms.size;
  }

  /** Total number of peers held in all swarms. */
  get peerCount(): number {
    let n = 0;
    for (const swarm of this.swarms.values()) n += swarm.table.count;
    return n;
  }

  async announce(request: SwarmAnnounce): Promise<SwarmAnnounceResult> {
    return this.announceSync(request);
  }

  /** Synchronous core of {@link announce}, for callers in the same process that want no promise. */
  announceSync(request: SwarmAnnounce): SwarmAnnounceResult {
    const found = this.locate(request);
    if (found < -1) return { complete: 0, incomplete: 0, downloaded: 0, peers: [], refusal: found === FULL ? FULL_REFUSAL : ADDRESS_REFUSAL };
    const verdict = request.private ? this.judge(request) : NO_VERDICT;
    if (verdict.refusal) return { complete: 0, incomplete: 0, downloaded: 0, peers: [], refusal: verdict.refusal };
    const swarm = this.update(request, found);
    const result: SwarmAnnounceResult = swarm
      ? this.counts(
          swarm,
          request.event === 'stopped' ? [] : swarm.table.sample(request.numwant, swarm.table.find(request.peerId)),
        )
      : { complete: 0, incomplete: 0, downloaded: 0, peers: [] };
    if (verdict.previous) result.previous = verdict.previous;
    return result;
  }

  /** Private mode: judge the announce and, when it passes, record the peer's new state. */
  private judge(request: SwarmAnnounce): PeerVerdict {
    const now = this.now();
    const states = (this.states ??= new PeerStateTable(now));
    const key = peerStateKey(request.infoHash, request.peerId);
    const verdict = states.check(key, request.private!, request.event, now);
    if (!verdict.refusal) states.record(key, request.private!, request.event, request.seeder, now, request.ttl * 1000);
    return verdict;
  }

  /**
   * The tracker's fast path for compact answers: like {@link announceSync}, but the peer sample is
   * written into `out4` (6-byte IPv4 entries) and `out6` (18-byte IPv6 entries), each large enough
   * for `numwant` entries, and the counters into `counts`. Returns the number of IPv4 entries plus
   * 65536 times the number of IPv6 entries, or -1 when the announce was refused (`counts.refusal`
   * says why). In private mode `counts.previous` is the peer's state before.
   */
  announceCompact(request: SwarmAnnounce, out4: Uint8Array, out6: Uint8Array, counts: CompactOutcome): number {
    const found = this.locate(request);
    if (found < -1) {
      counts.refusal = found === FULL ? FULL_REFUSAL : ADDRESS_REFUSAL;
      return -1;
    }
    if (request.private) {
      const verdict = this.judge(request);
      counts.previous = verdict.previous;
      counts.refusal = verdict.refusal;
      if (verdict.refusal) return -1;
    }
    const swarm = this.update(request, found);
    if (!swarm) {
      counts.complete = counts.incomplete = counts.downloaded = 0;
      return 0;
    }
    const table = swarm.table;
    counts.complete = table.seeders;
    counts.incomplete = table.count - table.seeders;
    counts.downloaded = swarm.downloaded;
    if (request.event === 'stopped') return 0;
    return table.sampleCompact(request.numwant, table.find(request.peerId), out4, out6);
  }

  /**
   * The requester's record index in its swarm (-1: not listed, or listed but expired), or
   * {@link REFUSED} when it is listed from another address without the matching key.
   */
  private locate(request: SwarmAnnounce): number {
    const key = swarmKey(request.infoHash);
    const swarm = this.swarms.get(key);
    // Handed to update(), which runs right after in the same synchronous call.
    this.locatedKey = key;
    this.locatedSwarm = swarm;
    if (!swarm) return request.limits && this.atCap(request, undefined) ? FULL : -1;
    const at = swarm.table.find(request.peerId);
    if (at < 0 || swarm.table.expiryAt(at) < this.second()) return request.limits && this.atCap(request, swarm) ? FULL : at;
    return swarm.table.mayChange(at, request.ip, request.key) ? at : REFUSED;
  }

  /** True when a new live peer (in `swarm`, or a new swarm) would go past `request.limits`. */
  private atCap(request: SwarmAnnounce, swarm: Swarm | undefined): boolean {
    if (request.event === 'stopped') return false;
    const now = this.second();
    const t = this.wheel.totals(now);
    const { peers, swarms } = request.limits!;
    if (peers > 0 && t[0] + t[1] + t[2] + t[3] >= peers) return true;
    return swarms > 0 && (!swarm || swarm.last < now) && t[KIND_SWARM] >= swarms;
  }

  /**
   * Apply one announce to its swarm (`found`: the peer's record index from {@link locate}); the swarm
   * afterwards, or undefined if there is none.
   */
  private update(request: SwarmAnnounce, found: number): Swarm | undefined {
    const now = this.second();
    const key = this.locatedKey;
    let swarm = this.locatedSwarm;
    const wheel = this.wheel;
    // The peer leaves its old bucket of the totals (an expired record was counted out already).
    const oldExpiry = swarm && found >= 0 ? swarm.table.expiryAt(found) : -1;
    if (oldExpiry >= now) wheel.count(swarm!.table.kindAt(found), oldExpiry, -1, now);
    if (request.event === 'stopped') {
      if (!swarm) return undefined;
      swarm.table.remove(request.peerId);
      if (oldExpiry >= 0 && oldExpiry === swarm.last) {
        // The swarm's last peer left: it now lives as long as its latest remaining peer.
        const last = swarm.table.maxExpiry();
        wheel.count(KIND_SWARM, swarm.last, -1, now);
        if (last >= now) wheel.count(KIND_SWARM, last, 1, now);
        swarm.last = last;
      }
      this.maybeSweep(key, swarm, now);
      return swarm;
    }
    if (!swarm) {
      swarm = { table: new PeerTable(), downloaded: 0, sweptAt: now, ttl: request.ttl, last: -1 };
      this.swarms.set(key, swarm);
      found = -1;
    } else if (request.ttl < swarm.ttl) {
      swarm.ttl = request.ttl;
    }
    const expiry = now + request.ttl;
    swarm.table.upsert(request.peerId, request.ip, request.port, request.seeder, expiry, request.key, found);
    wheel.count(peerKind(request.seeder, request.ip.length === 16), expiry, 1, now);
    if (expiry > swarm.last) {
      if (swarm.last >= 0) wheel.count(KIND_SWARM, swarm.last, -1, now);
      wheel.count(KIND_SWARM, expiry, 1, now);
      swarm.last = expiry;
    }
    if (request.event === 'completed') swarm.downloaded++;
    this.maybeSweep(key, swarm, now);
    return swarm;
  }

  async scrape(infoHashes: Uint8Array[]): Promise<SwarmCounts[]> {
    const now = this.second();
    return infoHashes.map((hash) => {
      const key = swarmKey(hash);
      const swarm = this.swarms.get(key);
      if (!swarm) return { complete: 0, incomplete: 0, downloaded: 0 };
      this.maybeSweep(key, swarm, now);
      return this.counts(swarm, undefined);
    });
  }

  async scrapeAll(limit: number): Promise<Array<{ infoHash: Uint8Array } & SwarmCounts>> {
    const out: Array<{ infoHash: Uint8Array } & SwarmCounts> = [];
    for (const [key, swarm] of this.swarms) {
      if (out.length >= limit) break;
      if (swarm.table.count === 0 && swarm.downloaded === 0) continue;
      out.push({ infoHash: Buffer.from(key, 'latin1'), ...this.counts(swarm, undefined) });
    }
    return out;
  }

  /** Remove expired peers from every swarm and drop swarms that hold nothing. */
  sweep(): void {
    const now = this.second();
    for (const [key, swarm] of this.swarms) this.sweepSwarm(key, swarm, now);
  }

  /** Live totals of every swarm, from counters kept as the store works (see {@link ExpiryWheel}). */
  async totals(): Promise<SwarmTotals> {
    return this.totalsNow();
  }

  /** {@link totals} without a promise. */
  totalsNow(): SwarmTotals {
    return swarmTotals(this.wheel.totals(this.second()));
  }

  /** Another set of swarms in this process (see {@link SwarmStore.sibling}). */
  sibling(name: string): MemorySwarmStore {
    let store = this.siblings.get(name);
    if (!store) this.siblings.set(name, (store = new MemorySwarmStore(this.options)));
    return store;
  }

  async close(): Promise<void> {
    for (const sibling of this.siblings.values()) await sibling.close();
    this.siblings.clear();
    clearInterval(this.timer);
    this.states?.clear();
    for (const swarm of this.swarms.values()) swarm.table.release();
    this.swarms.clear();
  }

  private counts(swarm: Swarm, peers: undefined): SwarmCounts;
  private counts(swarm: Swarm, peers: SwarmAnnounceResult['peers']): SwarmAnnounceResult;
  private counts(swarm: Swarm, peers: SwarmAnnounceResult['peers'] | undefined): SwarmCounts | SwarmAnnounceResult {
    const { count, seeders } = swarm.table;
    const counts = { complete: seeders, incomplete: count - seeders, downloaded: swarm.downloaded };
    return peers ? { ...counts, peers } : counts;
  }

  private second(): number {
    return Math.floor(this.now() / 1000) - this.epoch;
  }

  private maybeSweep(key: string, swarm: Swarm, now: number): void {
    if (now - swarm.sweptAt >= Math.max(1, swarm.ttl >>> 1)) this.sweepSwarm(key, swarm, now);
  }

  private sweepSwarm(key: string, swarm: Swarm, now: number): void {
    swarm.table.removeExpired(now);
    swarm.sweptAt = now;
    if (swarm.table.count === 0) {
      swarm.table.release(); // pages go back to the shared pool
      if (swarm.downloaded === 0) this.swarms.delete(key);
    }
  }
}
