/**
 * The default in-process store. Swarms live in a {@link SwarmDirectory}: fixed-size binary rows
 * keyed by the binary info hash, a swarm's only peer inline in its row, bigger swarms' peers in a
 * {@link PeerTable} (dense binary records, O(1) upsert/remove, O(k) sampling).
 *
 * Expiry needs no timer per peer: each record carries its expiry second, a swarm is swept when it is
 * touched and its last sweep is older than half a TTL (amortised O(1) per announce), and one unref'd
 * timer walks every swarm in slices of a few milliseconds so that swarms nobody touches any more
 * free their memory without pausing the event loop. A swarm without peers keeps only its
 * `downloaded` count, for `downloadedTtl` seconds and among at most `maxRetained` such swarms.
 */
import { ExpiryWheel, KIND_SWARM, peerKind, swarmTotals, WHEEL_KINDS } from '../expiry-wheel.js';
import { PeerStateTable, peerStateKey, type PeerVerdict } from '../peer-state.js';
import { SwarmDirectory } from './swarm-directory.js';
import { MemoryTorrentRegistry } from './registry.js';
import type { Peer, PeerRefusal, PeerState, SwarmCounts, SwarmTotals } from '../../types.js';
import type { BanStore, ListedPeer, PeerPage, SwarmAnnounce, SwarmAnnounceResult, SwarmStore, SwarmStoreOptions, TorrentRegistry } from '../types.js';
import { memoryBanStore, type MemoryBanStore } from './bans.js';
import { loadSnapshot, saveSnapshot, type SnapshotAccess, type SnapshotLoad, type SnapshotSave } from './store-snapshot.js';

export type { SnapshotLoad, SnapshotSave } from './store-snapshot.js';

/** Options of {@link MemorySwarmStore}. */
export interface MemorySwarmStoreOptions extends SwarmStoreOptions {
  /**
   * Milliseconds between background sweeps of idle swarms. Default 60 000. The timer is unref'd and
   * never keeps the process alive; a sweep runs in slices of at most a few milliseconds.
   */
  sweepInterval?: number;
  /**
   * Seconds a swarm's `downloaded` count outlives its last peer (as the Redis store's option of the
   * same name). Default 30 days; 0 keeps it as long as {@link maxRetained} allows.
   */
  downloadedTtl?: number;
  /**
   * Most swarms kept with no peer only for their `downloaded` count (about 110 bytes each). Past
   * it, the longest-empty of a few picked at random is dropped. Default 1 000 000.
   */
  maxRetained?: number;
  /**
   * Snapshot file: loaded when the store is created (peers keep their remaining lifetime, peers
   * whose lifetime ran out meanwhile are dropped; `downloaded` counts, the registry and bans are
   * kept) and written by {@link MemorySwarmStore.save}, by {@link MemorySwarmStore.close} and every
   * {@link saveInterval} seconds. A damaged, truncated or foreign file is refused as a whole (one
   * warning with its code; the store starts empty). Siblings use `<file>-<name>`.
   */
  file?: string;
  /** Seconds between periodic saves to {@link file} (none when absent or 0). */
  saveInterval?: number;
}

/** Milliseconds a serialization slice of {@link MemorySwarmStore.save} may run before yielding. */
const SAVE_SLICE_MS = 5;

/** Milliseconds a background sweep slice may run before it yields to the event loop. */
const SLICE_MS = 4;

/** @internal Counters plus the private-mode outcome, filled by {@link MemorySwarmStore.announceCompact}. */
export interface CompactOutcome extends SwarmCounts {
  /** The peer's state before the announce (private mode). */
  previous?: PeerState;
  /** Set when the announce was refused (private mode); nothing changed. */
  refusal?: PeerRefusal;
  /** The announce added one to `downloaded` (see {@link SwarmAnnounceResult.counted}). */
  counted?: boolean;
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
  private readonly directory = new SwarmDirectory();
  /** The swarm {@link locate} found (-1: none), for the {@link update} that follows it. */
  private locatedId = -1;
  /** Private-mode peer state; created by the first private announce. */
  private states: PeerStateTable | undefined;
  /** The built-in torrent registry (one process: a Map). */
  readonly registry: TorrentRegistry = new MemoryTorrentRegistry();
  /** Bans (one process: a Map). */
  readonly bans: BanStore = memoryBanStore();
  /** What loading {@link MemorySwarmStoreOptions.file} did (undefined without a file). */
  readonly snapshot: SnapshotLoad | undefined;
  /** Figures of the last completed save. */
  lastSave: SnapshotSave | undefined;
  private saving: Promise<void> = Promise.resolve();
  private saveTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly now: () => number;
  private readonly epoch: number;
  /** Live totals (peers by kind, swarms by their last peer's expiry). */
  private wheel = new ExpiryWheel(WHEEL_KINDS);
  private readonly timer: NodeJS.Timeout;
  /** Next row of the background sweep in progress (-1: none in progress). */
  private cursor = -1;
  private slice: NodeJS.Immediate | undefined;
  private readonly downloadedTtl: number;
  private readonly maxRetained: number;
  /** Longest a background sweep slice took (ms), for tests and benchmarks. */
  longestSlice = 0;

  private readonly options: MemorySwarmStoreOptions;
  private readonly siblings = new Map<string, MemorySwarmStore>();

  constructor(options: MemorySwarmStoreOptions = {}) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.epoch = Math.floor(this.now() / 1000) - 1;
    this.downloadedTtl = options.downloadedTtl ?? 30 * 24 * 3600;
    this.maxRetained = Math.max(1, options.maxRetained ?? 1_000_000);
    this.timer = setInterval(() => this.startSweep(), options.sweepInterval ?? 60_000);
    this.timer.unref();
    if (options.file) {
      this.snapshot = loadSnapshot(options.file, this.snapshotAccess());
      if (options.saveInterval && options.saveInterval > 0) {
        let running = false;
        this.saveTimer = setInterval(() => {
          // A save slower than the interval is not queued behind itself.
          if (running) return;
          running = true;
          this.save()
            .catch((error: Error) => console.warn(`express-torrent-tracker: periodic save of ${options.file} failed: ${error.message}`))
            .finally(() => (running = false));
        }, options.saveInterval * 1000);
        this.saveTimer.unref();
      }
    }
  }

  /**
   * Write the store to its {@link MemorySwarmStoreOptions.file} (no-op without one), atomically.
   * The store is serialized in slices of a few milliseconds (the event loop keeps running; each swarm
   * is copied whole, as it is between two announces), then written off the event loop. Saves are
   * queued: one runs at a time.
   */
  save(): Promise<void> {
    const file = this.options.file;
    if (!file) return Promise.resolve();
    const run = this.saving
      .catch(() => undefined)
      .then(async () => {
        this.lastSave = await saveSnapshot(file, this.snapshotAccess());
      });
    this.saving = run;
    return run;
  }

  /** What saving and loading the snapshot need of the store (store-snapshot.ts). */
  private snapshotAccess(): SnapshotAccess {
    return {
      directory: this.directory,
      wheel: () => this.wheel,
      epoch: this.epoch,
      now: this.now,
      second: () => this.second(),
      registry: this.registry as MemoryTorrentRegistry,
      bans: this.bans as MemoryBanStore,
      maxRetained: this.maxRetained,
      reset: () => {
        this.directory.clear();
        this.wheel = new ExpiryWheel(WHEEL_KINDS);
      },
    };
  }

  /** Number of swarms held (including ones that only keep a `downloaded` count). */
  get swarmCount(): number {
    return this.directory.size;
  }

  /** Number of swarms held only for their `downloaded` count. */
  get retainedCount(): number {
    return this.directory.retainedCount;
  }

  /** Total number of peers held in all swarms. */
  get peerCount(): number {
    let n = 0;
    const directory = this.directory;
    for (let id = 0; id < directory.high; id++) if (directory.used(id)) n += directory.peers(id).count;
    return n;
  }

  /** Bytes held by the swarm rows and their index (PeerTables of big swarms not included). */
  get directoryBytes(): number {
    return this.directory.byteSize;
  }

  async announce(request: SwarmAnnounce): Promise<SwarmAnnounceResult> {
    return this.announceSync(request);
  }

  /** Synchronous core of {@link announce}, for callers in the same process that want no promise. */
  announceSync(request: SwarmAnnounce): SwarmAnnounceResult {
    const found = this.locate(request);
    if (found < -1) return { complete: 0, incomplete: 0, downloaded: 0, peers: [], refusal: found === FULL ? FULL_REFUSAL : ADDRESS_REFUSAL };
    const counted = request.event === 'completed' && this.completionCounts(found);
    const verdict = request.private ? this.judge(request, counted) : NO_VERDICT;
    if (verdict.refusal) return { complete: 0, incomplete: 0, downloaded: 0, peers: [], refusal: verdict.refusal };
    const id = this.update(request, found, counted);
    let result: SwarmAnnounceResult;
    if (id < 0) {
      result = { complete: 0, incomplete: 0, downloaded: 0, peers: [] };
    } else {
      const peers = this.directory.peers(id);
      const sample = request.event === 'stopped' ? [] : peers.sample(request.numwant, peers.find(request.peerId));
      result = { ...this.counts(id, peers), peers: sample };
    }
    if (verdict.previous) result.previous = verdict.previous;
    result.counted = counted;
    return result;
  }

  /**
   * Would `event=completed` from the peer at record `found` ({@link locate}) count? Yes unless the
   * peer is listed, live, and has completed already (been listed as a seeder or had a counted
   * completion): the done bit of its record.
   */
  private completionCounts(found: number): boolean {
    if (found < 0) return true;
    const peers = this.directory.peers(this.locatedId);
    return !peers.doneAt(found) || peers.expiryAt(found) < this.second();
  }

  /**
   * Private mode: judge the announce and, when it passes, record the peer's new state. A `completed`
   * that does not count (`counted` false) is judged as a regular update (min interval).
   */
  private judge(request: SwarmAnnounce, counted: boolean): PeerVerdict {
    const now = this.now();
    const states = (this.states ??= new PeerStateTable(now));
    const key = peerStateKey(request.infoHash, request.peerId);
    const event = request.event === 'completed' && !counted ? 'update' : request.event;
    const verdict = states.check(key, request.private!, event, now);
    if (!verdict.refusal) states.record(key, request.private!, event, request.seeder, now, request.ttl * 1000);
    return verdict;
  }

  /**
   * @internal The tracker's fast path for compact answers: like {@link announceSync}, but the peer sample is
   * written into `out4` (6-byte IPv4 entries) and `out6` (18-byte IPv6 entries), each large enough
   * for `numwant` entries, and the counters into `counts`. Returns the number of IPv4 entries plus
   * 65536 times the number of IPv6 entries, or -1 when the announce was refused (`counts.refusal`
   * says why). `counts.counted` says whether the announce added one to `downloaded`; in private mode
   * `counts.previous` is the peer's state before.
   */
  announceCompact(request: SwarmAnnounce, out4: Uint8Array, out6: Uint8Array, counts: CompactOutcome): number {
    const found = this.locate(request);
    if (found < -1) {
      counts.refusal = found === FULL ? FULL_REFUSAL : ADDRESS_REFUSAL;
      return -1;
    }
    const counted = request.event === 'completed' && this.completionCounts(found);
    counts.counted = counted;
    if (request.private) {
      const verdict = this.judge(request, counted);
      counts.previous = verdict.previous;
      counts.refusal = verdict.refusal;
      if (verdict.refusal) return -1;
    }
    const id = this.update(request, found, counted);
    if (id < 0) {
      counts.complete = counts.incomplete = counts.downloaded = 0;
      return 0;
    }
    const peers = this.directory.peers(id);
    counts.complete = peers.seeders;
    counts.incomplete = peers.count - peers.seeders;
    counts.downloaded = this.directory.downloaded(id);
    if (request.event === 'stopped') return 0;
    return peers.sampleCompact(request.numwant, peers.find(request.peerId), out4, out6);
  }

  /**
   * The requester's record index in its swarm (-1: not listed, or listed but expired), or
   * {@link REFUSED} when it is listed from another address without the matching key.
   */
  private locate(request: SwarmAnnounce): number {
    const id = this.directory.find(request.infoHash);
    // Handed to update(), which runs right after in the same synchronous call.
    this.locatedId = id;
    if (id < 0) return request.limits && this.atCap(request, -1) ? FULL : -1;
    const peers = this.directory.peers(id);
    const at = peers.find(request.peerId);
    if (at < 0 || peers.expiryAt(at) < this.second()) return request.limits && this.atCap(request, id) ? FULL : at;
    return peers.mayChange(at, request.ip, request.key) ? at : REFUSED;
  }

  /** True when a new live peer (in swarm `id`, or a new swarm when -1) would go past `request.limits`. */
  private atCap(request: SwarmAnnounce, id: number): boolean {
    if (request.event === 'stopped') return false;
    const now = this.second();
    const t = this.wheel.totals(now);
    const { peers, swarms } = request.limits!;
    if (peers > 0 && t[0] + t[1] + t[2] + t[3] >= peers) return true;
    return swarms > 0 && (id < 0 || this.directory.last(id) < now) && t[KIND_SWARM] >= swarms;
  }

  /**
   * Apply one announce to its swarm (`found`: the peer's record index from {@link locate};
   * `counted`: a `completed` that adds one to `downloaded`); the swarm's row id afterwards, or -1 if
   * there is none.
   */
  private update(request: SwarmAnnounce, found: number, counted: boolean): number {
    const now = this.second();
    const directory = this.directory;
    let id = this.locatedId;
    const wheel = this.wheel;
    const peers = id >= 0 ? directory.peers(id) : undefined;
    // The peer leaves its old bucket of the totals (an expired record was counted out already).
    const oldExpiry = peers && found >= 0 ? peers.expiryAt(found) : -1;
    if (oldExpiry >= now) wheel.count(peers!.kindAt(found), oldExpiry, -1, now);
    // An expired record about to be reused: the peer it was is forgotten, and so is its done bit.
    else if (oldExpiry >= 0) peers!.forgetDone(found);
    if (request.event === 'stopped') {
      if (!peers) return -1;
      peers.remove(request.peerId);
      const last = directory.last(id);
      if (oldExpiry >= 0 && oldExpiry === last) {
        // The swarm's last peer left: it now lives as long as its latest remaining peer.
        const next = directory.peers(id).maxExpiry();
        wheel.count(KIND_SWARM, last, -1, now);
        if (next >= now) wheel.count(KIND_SWARM, next, 1, now);
        directory.setLast(id, next);
      }
      return this.maybeSweep(id, now) ? id : -1;
    }
    if (id < 0) {
      id = directory.add(request.infoHash, now, request.ttl);
      found = -1;
    } else {
      directory.lowerTtl(id, request.ttl);
      if (directory.isRetained(id)) directory.unretain(id);
    }
    const expiry = now + request.ttl;
    directory.peers(id).upsert(request.peerId, request.ip, request.port, request.seeder, expiry, request.key, found, counted, request.partial === true);
    wheel.count(peerKind(request.seeder, request.ip.length === 16), expiry, 1, now);
    const last = directory.last(id);
    if (expiry > last) {
      if (last >= 0) wheel.count(KIND_SWARM, last, -1, now);
      wheel.count(KIND_SWARM, expiry, 1, now);
      directory.setLast(id, expiry);
    }
    if (counted) directory.addDownloaded(id);
    this.maybeSweep(id, now);
    return id;
  }

  async scrape(infoHashes: Uint8Array[]): Promise<SwarmCounts[]> {
    const now = this.second();
    return infoHashes.map((hash) => {
      const id = this.directory.find(hash);
      if (id < 0 || !this.maybeSweep(id, now)) return { complete: 0, incomplete: 0, downloaded: 0, downloaders: 0 };
      return this.counts(id, this.directory.peers(id));
    });
  }

  async scrapeAll(limit: number): Promise<Array<{ infoHash: Uint8Array } & SwarmCounts>> {
    const out: Array<{ infoHash: Uint8Array } & SwarmCounts> = [];
    const directory = this.directory;
    for (let id = 0; id < directory.high && out.length < limit; id++) {
      if (!directory.used(id)) continue;
      const peers = directory.peers(id);
      if (peers.count === 0 && directory.downloaded(id) === 0) continue;
      out.push({ infoHash: directory.infoHash(id), ...this.counts(id, peers) });
    }
    return out;
  }

  /**
   * A page of a swarm's live peers (see {@link SwarmStore.peersOf}), in the store's record order.
   * Sweeps the swarm first (O(swarm), as an announce's sweep), then copies O(limit) records.
   */
  async peersOf(infoHash: Uint8Array, offset: number, limit: number): Promise<PeerPage> {
    const id = this.directory.find(infoHash);
    if (id < 0 || !this.sweepSwarm(id, this.second(), true)) return { total: 0, peers: [] };
    const peers = this.directory.peers(id);
    const out: ListedPeer[] = [];
    const now = this.now();
    for (let at = offset; at < Math.min(peers.count, offset + limit); at++) {
      const peer: ListedPeer = { ...peers.peerAt(at), seeder: peers.seederAt(at), expires: (peers.expiryAt(at) + this.epoch) * 1000 };
      const state = this.states?.get(peerStateKey(infoHash, peer.peerId), now);
      if (state) {
        peer.at = state.at;
        peer.owner = state.owner;
      }
      out.push(peer);
    }
    return { total: peers.count, peers: out };
  }

  /** Remove expired peers from every swarm and drop swarms that hold nothing, all at once. */
  sweep(): void {
    const now = this.second();
    const directory = this.directory;
    for (let id = 0; id < directory.high; id++) if (directory.used(id)) this.sweepSwarm(id, now, true);
  }

  /** Live totals of every swarm, from counters kept as the store works (see {@link ExpiryWheel}). */
  async totals(): Promise<SwarmTotals> {
    return this.totalsNow();
  }

  /** {@link totals} without a promise. */
  totalsNow(): SwarmTotals {
    return swarmTotals(this.wheel.totals(this.second()));
  }

  /**
   * Remove every listed peer `match` picks (see {@link SwarmStore.removePeers}): the swarms are walked
   * in slices of a few milliseconds, each peer removed as by its own `stopped`.
   */
  removePeers(match: (peer: Peer, owner: string | undefined) => boolean): Promise<number> {
    const directory = this.directory;
    let id = 0;
    let removed = 0;
    return new Promise((resolve) => {
      const slice = (): void => {
        const end = performance.now() + SLICE_MS;
        for (; id < directory.high && performance.now() < end; id++) {
          if (!directory.used(id)) continue;
          const infoHash = directory.infoHash(id);
          const gone: Peer[] = [];
          for (const peer of directory.peers(id).peers()) {
            const owner = this.states?.get(peerStateKey(infoHash, peer.peerId), this.now())?.owner;
            if (match(peer, owner)) gone.push(peer);
          }
          for (const peer of gone) {
            this.announceSync({ infoHash, peerId: peer.peerId, ip: peer.ip, port: peer.port, seeder: false, event: 'stopped', numwant: 0, ttl: 0 });
            removed++;
          }
        }
        if (id < directory.high) setImmediate(slice);
        else resolve(removed);
      };
      slice();
    });
  }

  /** Another set of swarms in this process (see {@link SwarmStore.sibling}). */
  sibling(name: string): MemorySwarmStore {
    let store = this.siblings.get(name);
    if (!store) {
      const file = this.options.file === undefined ? undefined : `${this.options.file}-${name.replace(/[^a-zA-Z0-9_.-]/g, '_')}`;
      this.siblings.set(name, (store = new MemorySwarmStore({ ...this.options, file })));
    }
    return store;
  }

  async close(): Promise<void> {
    if (this.saveTimer) clearInterval(this.saveTimer);
    this.saveTimer = undefined;
    // The last word is written before anything is dropped (a failure is reported, then thrown).
    let failure: unknown;
    if (this.options.file && !this.closed) await this.save().catch((error: unknown) => (failure = error));
    this.closed = true;
    for (const sibling of this.siblings.values()) await sibling.close();
    this.siblings.clear();
    clearInterval(this.timer);
    if (this.slice) clearImmediate(this.slice);
    this.slice = undefined;
    this.cursor = -1;
    this.states?.clear();
    this.directory.clear();
    if (failure) throw failure;
  }

  private counts(id: number, peers: { count: number; seeders: number; partials: number }): SwarmCounts {
    const { count, seeders, partials } = peers;
    return { complete: seeders, incomplete: count - seeders, downloaded: this.directory.downloaded(id), downloaders: count - seeders - partials };
  }

  private second(): number {
    return Math.floor(this.now() / 1000) - this.epoch;
  }

  /** Is swarm `id` due for a sweep (its last one is older than half its smallest peer TTL)? */
  private due(id: number, now: number): boolean {
    return now - this.directory.sweptAt(id) >= Math.max(1, this.directory.ttl(id) >>> 1);
  }

  /** Sweep swarm `id` if it is due; false when that dropped it. */
  private maybeSweep(id: number, now: number): boolean {
    return this.due(id, now) ? this.sweepSwarm(id, now, true) : true;
  }

  /**
   * Remove swarm `id`'s expired peers (all of them at once when its latest expired, without looking
   * at each; only when a sweep is due or `force`), give a big swarm's table back once it is down to
   * one peer, and drop the swarm once it holds nothing worth keeping. False when it was dropped.
   */
  private sweepSwarm(id: number, now: number, force: boolean): boolean {
    const directory = this.directory;
    const peers = directory.peers(id);
    if (peers.count > 0) {
      if (directory.last(id) < now) peers.release();
      else if (force || this.due(id, now)) peers.removeExpired(now);
      else return true;
      directory.setSweptAt(id, now);
      directory.demote(id);
    }
    if (directory.peers(id).count > 0) return true;
    const downloaded = directory.downloaded(id);
    const retained = directory.isRetained(id);
    if (downloaded === 0 || (retained && this.downloadedTtl > 0 && now - directory.emptySince(id) >= this.downloadedTtl)) {
      directory.remove(id);
      return false;
    }
    if (!retained) directory.retain(id, now, this.maxRetained);
    return true;
  }

  /** Start a background sweep of every swarm, run in slices (unless one is still running). */
  private startSweep(): void {
    if (this.cursor >= 0) return;
    this.cursor = 0;
    this.sweepSlice();
  }

  private sweepSlice(): void {
    this.slice = undefined;
    const started = performance.now();
    const now = this.second();
    const directory = this.directory;
    let id = this.cursor;
    for (let n = 1; id < directory.high; id++, n++) {
      if (directory.used(id)) this.sweepSwarm(id, now, false);
      if ((n & 255) === 0 && performance.now() - started >= SLICE_MS) {
        this.cursor = id + 1;
        this.longestSlice = Math.max(this.longestSlice, performance.now() - started);
        this.slice = setImmediate(() => this.sweepSlice());
        this.slice.unref();
        return;
      }
    }
    this.longestSlice = Math.max(this.longestSlice, performance.now() - started);
    this.cursor = -1;
  }
}
