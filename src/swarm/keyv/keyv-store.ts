/**
 * The generic store on any Keyv adapter (a Map, SQLite, PostgreSQL, MySQL/MariaDB, Mongo, ...), safe
 * for several app instances sharing one database although Keyv has no atomic operation.
 *
 * Design: single-writer shards.
 * - Every instance owns an id (a numeric slot it claims, or a name it is given). For each swarm it
 *   writes exactly one key, `<prefix>:<infohash>:<id>` (its shard; a big shard continues in chunk
 *   keys `<shard key>:<n>`): the peers that announced to it (and tombstones of peers that stopped
 *   through it) plus its own `completed` counter. Nobody else ever writes those keys, so no update
 *   can be lost to a concurrent read-modify-write.
 * - The instance's in-memory copy of its shards is the truth; shards are written behind, at most
 *   `maxWritesPerFlush` keys every `writeInterval` ms, and at once by {@link KeyvSwarmStore.flush}.
 * - A reader finds the shards of a swarm through the instance registry (`<prefix>:instances`, a list
 *   of ids that is only ever added to) and reads `<prefix>:<infohash>:<id>` for every listed id in one
 *   getMany, together with the registry itself. Records are merged per peer id: the newest record
 *   wins (a peer that moved to another instance behind a load balancer counts once; a `stopped` sent
 *   through another instance is a tombstone that wins over older records). Counters are summed.
 * - Announces answer from a merged view of the swarm kept in memory: local changes apply at once,
 *   other instances' shards are re-read at most every `remoteCacheTtl` ms. Scrapes always read fresh.
 * - Slots are leases (`<prefix>:lease:<id>`, renewed every `heartbeat` ms) so a restarted instance
 *   takes over a free slot and with it that slot's shards: its peers and `completed` counters, which
 *   are persistent (a shard with a non-zero counter has no TTL). The registry stays as small as the
 *   largest number of instances that ever ran at once.
 * - Expiry: each record carries its own expiry; shard keys carry a TTL equal to their longest-lived
 *   record, so shards of swarms nobody announces to any more vanish (Keyv expires them on read).
 *
 * This file is the store itself: announces, scrapes, the swarms in memory and their lifecycle. Its
 * parts: storage.ts (bounded calls, health), slots.ts (slot leases, registry, write
 * fence), shards.ts (reading shards, fenced write-behind), swarm.ts (one swarm in memory),
 * records.ts (record codec and merge), view.ts (merged view).
 */
import type Keyv from 'keyv';
import { ExpiryWheel, KIND_SWARM, swarmTotals, WHEEL_KINDS } from '../expiry-wheel.js';
import { PeerStateTable, peerStateKey } from '../peer-state.js';
import { EMPTY, mayChange, newer, type ReadShard, type Rec } from './records.js';
import { ShardIo } from './shards.js';
import { InstanceSlots } from './slots.js';
import { keyvHistoryStore } from './history.js';
import type { HistoryStore } from '../../history/buckets.js';
import { KeyvStorage } from './storage.js';
import { applyRemote, countShards, countsOf, maybeSweep, newSwarm, peerPage, setOwn, type Swarm } from './swarm.js';
import { keyvTorrentRegistry } from './registry.js';
import { keyvBanStore } from './bans.js';
import type { Peer, PeerState, SwarmCounts, SwarmTotals } from '../../types.js';
import type { BanStore, PeerPage, SwarmAnnounce, SwarmAnnounceResult, SwarmStore, SwarmStoreOptions, TorrentRegistry } from '../types.js';

export { KeyvStoreError } from './storage.js';

/** Options of {@link KeyvSwarmStore}. */
export interface KeyvSwarmStoreOptions extends SwarmStoreOptions {
  /**
   * This instance's name in the registry. It must be unique among running instances; a stable name
   * (e.g. `web-1`) lets a restarted instance find its shards again. Default: the lowest free numeric
   * slot, claimed through a lease, which gives the same result without configuration.
   */
  instanceId?: string;
  /** Milliseconds between write-behind flushes. Default 1000. */
  writeInterval?: number;
  /** Most shards (swarms) written per flush (bounds the write rate). Default 1000. */
  maxWritesPerFlush?: number;
  /**
   * Milliseconds an announce may reuse the last read of other instances' shards of its swarm before
   * reading them again. Default 1000. Scrapes always read fresh.
   */
  remoteCacheTtl?: number;
  /** Most swarms kept in memory that this instance holds no peers of (cached remote views). Default 10 000. */
  maxCachedSwarms?: number;
  /** Milliseconds between lease renewals of the instance slot; the lease lasts three times as long. Default 5000. */
  heartbeat?: number;
  /** Milliseconds to wait before checking that a claimed slot is really ours. Default 250. */
  claimSettle?: number;
  /**
   * Largest difference between the clocks of the instances, in milliseconds. Keyv judges a lease's
   * expiry by the reader's clock, so leases live this much longer than three heartbeats: an instance
   * whose clock runs this far ahead still sees live leases as live. Default 10 000.
   */
  maxClockSkew?: number;
  /** Milliseconds one storage call may take before the store rejects. Default 800. */
  commandTimeout?: number;
  /** Prefix of every key name inside the Keyv namespace. Default `swarm`. */
  prefix?: string;
  /** Disconnect the Keyv in {@link KeyvSwarmStore.close}. Default false (stores opened from a URI set it). */
  closeKeyv?: boolean;
}

/** Multi-instance {@link SwarmStore} on any Keyv adapter. See the module comment for the design. */
export class KeyvSwarmStore implements SwarmStore {
  /**
   * Private mode: owners, enforced intervals and traffic baselines are kept in this instance's
   * memory. Exact for a peer that keeps announcing to the same instance; a peer that a load balancer
   * moves to another instance starts a new baseline there (no double credit, but the interval and
   * owner rules only see what that instance saw). Use the Redis store for rules that hold across
   * instances.
   */
  readonly privateMode = true;
  /** The built-in torrent registry, in the same database (`<prefix>:torrent:<hex>`). */
  readonly registry: TorrentRegistry;
  /** Bans, in the same database (`<prefix>:bans`, re-read by every instance every 5 s). */
  readonly bans: BanStore;
  /**
   * Per-torrent history, per instance and merged (`<prefix>:history:<hex>:<m|h|d>:<page>:<id>`, one
   * value per page of buckets written only by its instance; a read sums every instance's pages).
   */
  readonly history: HistoryStore;
  private states: PeerStateTable | undefined;
  private readonly storage: KeyvStorage;
  private readonly slots: InstanceSlots;
  private readonly shards: ShardIo;
  private readonly now: () => number;
  private readonly prefix: string;
  private readonly options: KeyvSwarmStoreOptions;
  private readonly siblings = new Map<string, KeyvSwarmStore>();
  private readonly maxWrites: number;
  private readonly remoteTtl: number;
  private readonly maxCached: number;
  private readonly closeKeyv: boolean;

  private readonly swarms = new Map<string, Swarm>();
  /** Live totals of the peers that announced through this instance (see {@link totals}). */
  private readonly wheel = new ExpiryWheel(WHEEL_KINDS);
  private timer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly keyv: Keyv,
    options: KeyvSwarmStoreOptions = {},
  ) {
    this.storage = new KeyvStorage(keyv, options.commandTimeout ?? 800);
    this.now = options.now ?? Date.now;
    this.prefix = options.prefix ?? 'swarm';
    this.options = options;
    const writeInterval = options.writeInterval ?? 1000;
    this.maxWrites = options.maxWritesPerFlush ?? 1000;
    this.remoteTtl = options.remoteCacheTtl ?? 1000;
    this.maxCached = options.maxCachedSwarms ?? 10_000;
    const heartbeat = options.heartbeat ?? 5000;
    this.closeKeyv = options.closeKeyv ?? false;
    if (options.instanceId !== undefined && !/^[\w.-]{1,64}$/.test(options.instanceId)) {
      throw new TypeError('instanceId: 1 to 64 letters, digits, "_", "-" or "."');
    }
    this.slots = new InstanceSlots(this.storage, {
      prefix: this.prefix,
      instanceId: options.instanceId,
      heartbeat,
      maxClockSkew: options.maxClockSkew ?? 10_000,
      claimSettle: options.claimSettle ?? 250,
      onMove: () => this.moveSlot(),
    });
    this.shards = new ShardIo(this.storage, this.slots, this.swarms, this.prefix, this.now);
    this.registry = keyvTorrentRegistry({
      keyv: this.storage.kv,
      prefix: this.prefix,
      getMany: (keys) => this.storage.getMany(keys),
      slots: this.slots,
      now: this.now,
    });
    this.bans = keyvBanStore(this.storage.kv, this.prefix);
    this.history = keyvHistoryStore({ storage: this.storage, slots: this.slots, prefix: this.prefix });
    this.timer = setInterval(() => void this.tick(), writeInterval);
    this.timer.unref();
    this.heartbeatTimer = setInterval(() => void this.slots.heartbeat(), heartbeat);
    this.heartbeatTimer.unref();
    void this.slots.start().catch(() => undefined); // claim early; failures are retried by the next call
  }

  /** This instance's id in the registry (undefined until claimed). */
  get instanceId(): string | undefined {
    return this.slots.id;
  }

  /** Number of swarms held in memory. */
  get swarmCount(): number {
    return this.swarms.size;
  }

  /** Record an announce in this instance's shard and answer from the merged view (see the module comment). */
  async announce(request: SwarmAnnounce): Promise<SwarmAnnounceResult> {
    await this.slots.start();
    const hex = Buffer.from(request.infoHash).toString('hex');
    const swarm = await this.fresh(hex);
    const now = this.now();
    const id = Buffer.from(request.peerId);
    const key = id.toString('latin1');
    // No hijacking: a listed peer may be changed only from its own address or with its key.
    const listed = swarm.view.get(key);
    const live = listed && listed.exp >= now ? listed : undefined;
    if (live && !mayChange(live, request.ip, request.key)) {
      return { complete: 0, incomplete: 0, downloaded: 0, peers: [], refusal: { kind: 'address' } };
    }
    if (request.limits && request.event !== 'stopped' && this.atCap(request.limits, swarm, key, now)) {
      return { complete: 0, incomplete: 0, downloaded: 0, peers: [], refusal: { kind: 'full' } };
    }
    // A `completed` counts once per listed peer (the done bit of its merged record); one that does
    // not count is a regular update.
    const counted = request.event === 'completed' && live?.done !== true;
    const event = request.event === 'completed' && !counted ? 'update' : request.event;
    let previous: PeerState | undefined;
    const states = request.private ? (this.states ??= new PeerStateTable(now)) : undefined;
    const stateKey = states ? peerStateKey(request.infoHash, request.peerId) : '';
    if (states) {
      const verdict = states.check(stateKey, request.private!, event, now);
      if (verdict.refusal) return { complete: 0, incomplete: 0, downloaded: 0, peers: [], refusal: verdict.refusal };
      previous = verdict.previous;
    }
    maybeSweep(swarm, now);
    // Whole seconds, so that the totals wheel counts a peer exactly as long as it lives.
    const exp = Math.ceil((now + request.ttl * 1000) / 1000) * 1000;
    let rec: Rec | undefined;
    if (request.event === 'stopped') {
      setOwn(this.wheel, swarm, { id, key, ip: EMPTY, port: 0, seeder: false, at: now, exp, gone: true }, now);
      swarm.view.remove(key);
    } else {
      rec = { id, key, ip: Buffer.from(request.ip), port: request.port, seeder: request.seeder, at: now, exp, gone: false };
      // An announce without a key keeps the key the peer has.
      const k = request.key ?? live?.k;
      if (k !== undefined) rec.k = k;
      if (request.seeder || counted || live?.done) rec.done = true;
      if (request.partial && !request.seeder) rec.partial = true;
      setOwn(this.wheel, swarm, rec, now);
      swarm.view.upsert(rec);
    }
    if (exp < swarm.nextExpiry) swarm.nextExpiry = exp;
    swarm.dirty = true;
    swarm.usedAt = Date.now();
    if (counted) {
      // A completion cannot be recovered from a later announce: write it through before answering,
      // so a crash cannot lose it. If the write fails the client gets a failure and sends it again,
      // and that one must count: the peer's record forgets it completed.
      swarm.downloaded++;
      try {
        await this.shards.write(Infinity, swarm);
      } catch (error) {
        swarm.downloaded--;
        if (rec) delete rec.done;
        swarm.dirty = true;
        throw error;
      }
    }
    // Recorded only now: a failed write-through of a completion leaves the peer's state untouched.
    states?.record(stateKey, request.private!, event, request.seeder, now, request.ttl * 1000);
    const result: SwarmAnnounceResult = {
      ...countsOf(swarm),
      peers: request.event === 'stopped' ? [] : swarm.view.sample(request.numwant, key),
      counted,
    };
    if (previous) result.previous = previous;
    return result;
  }

  /** Counts of each hash, always read fresh from every instance's shard. */
  async scrape(infoHashes: Uint8Array[]): Promise<SwarmCounts[]> {
    await this.slots.start();
    const hexes = infoHashes.map((h) => Buffer.from(h).toString('hex'));
    const unique = [...new Set(hexes)];
    const byHash = await this.shards.read(unique, (hex) => !this.swarms.get(hex)?.loaded);
    const now = this.now();
    const counts = new Map<string, SwarmCounts>();
    for (const hex of unique) {
      const read = byHash.get(hex) ?? [];
      const swarm = this.swarms.get(hex);
      if (swarm?.loaded) {
        applyRemote(swarm, read, now);
        counts.set(hex, countsOf(swarm));
      } else {
        counts.set(hex, countShards(read, now));
      }
    }
    return hexes.map((hex) => counts.get(hex) as SwarmCounts);
  }

  /**
   * A page of a swarm's live peers (see {@link SwarmStore.peersOf}), read fresh from every
   * instance's shard (as a scrape), in the merged view's order. Private mode: the owner is known for
   * peers that announced through this instance only.
   */
  async peersOf(infoHash: Uint8Array, offset: number, limit: number): Promise<PeerPage> {
    await this.slots.start();
    const hex = Buffer.from(infoHash).toString('hex');
    const read = (await this.shards.read([hex], (h) => !this.swarms.get(h)?.loaded)).get(hex) ?? [];
    const now = this.now();
    const page = peerPage(this.swarms.get(hex), read, now, offset, limit);
    for (const peer of page.peers) {
      const state = this.states?.get(peerStateKey(infoHash, peer.peerId), now);
      if (state) peer.owner = state.owner;
    }
    return page;
  }

  /**
   * Write every pending change now (and make sure this instance is listed in the registry). Once it
   * resolves on every instance, every instance's scrape shows exact counts.
   */
  async flush(): Promise<void> {
    await this.slots.start();
    await this.slots.ensureListed();
    for (let round = 0; round < 1000; round++) {
      await this.shards.write(Infinity);
      if (![...this.swarms.values()].some((s) => s.dirty)) return;
    }
  }

  /**
   * {@link SwarmStore.removePeers} for the peers this instance listed (its own shards; every instance
   * does the same when it learns of a ban), each removed as by its own `stopped`.
   */
  async removePeers(match: (peer: Peer, owner: string | undefined) => boolean): Promise<number> {
    let removed = 0;
    const now = this.now();
    for (const swarm of [...this.swarms.values()]) {
      const infoHash = Buffer.from(swarm.hex, 'hex');
      const gone = [...swarm.own.values()].filter((rec) => {
        if (rec.gone || rec.exp < now) return false;
        const owner = this.states?.get(peerStateKey(infoHash, rec.id), now)?.owner;
        return match({ peerId: rec.id, ip: rec.ip, port: rec.port }, owner);
      });
      for (const rec of gone) {
        await this.announce({ infoHash, peerId: rec.id, ip: rec.ip, port: rec.port, seeder: false, event: 'stopped', numwant: 0, ttl: 1, key: rec.k });
        removed++;
      }
    }
    return removed;
  }

  /** Another set of swarms in the same database, under `<prefix>:<name>` (see {@link SwarmStore.sibling}). */
  sibling(name: string): KeyvSwarmStore {
    if (!/^[\w-]{1,32}$/.test(name)) throw new TypeError('sibling name: 1 to 32 letters, digits, "_" or "-"');
    let store = this.siblings.get(name);
    if (!store) {
      store = new KeyvSwarmStore(this.keyv, { ...this.options, prefix: `${this.prefix}:${name}`, closeKeyv: false });
      this.siblings.set(name, store);
    }
    return store;
  }

  /** Write pending changes, release the slot and stop timers. Disconnects the Keyv only with `closeKeyv`. */
  async close(): Promise<void> {
    for (const sibling of this.siblings.values()) await sibling.close();
    this.siblings.clear();
    this.states?.clear();
    if (this.storage.closed) return;
    await this.slots.settled(); // a claim in flight would leave a lease behind
    clearInterval(this.timer);
    clearInterval(this.heartbeatTimer);
    try {
      if (this.slots.id !== undefined) {
        await this.shards.write(Infinity);
        await this.slots.release();
      }
    } catch {
      // the backend is gone: the lease expires by itself
    }
    this.storage.closed = true;
    this.swarms.clear();
    if (this.closeKeyv) {
      try {
        await this.keyv.disconnect();
      } catch {
        // already gone
      }
    }
  }

  /**
   * Live totals of the peers that announced through this instance (and of the swarms they are in).
   * Per instance, not global: sum the instances' peer counts for the whole tracker (a swarm served by
   * several instances is counted by each).
   */
  async totals(): Promise<SwarmTotals> {
    return swarmTotals(this.wheel.totals(Math.ceil(this.now() / 1000)));
  }

  /** The swarm, loaded, with other instances' shards read within `remoteCacheTtl` (or now if unhealthy). */
  private async fresh(hex: string): Promise<Swarm> {
    let swarm = this.swarms.get(hex);
    if (!swarm) {
      swarm = newSwarm(hex);
      this.swarms.set(hex, swarm);
    }
    if (!swarm.loaded || !this.storage.healthy || Date.now() - swarm.fetchedAt >= this.remoteTtl) {
      const s = swarm;
      s.reading ??= this.refresh(s, !s.loaded).finally(() => {
        s.reading = undefined;
      });
      await s.reading;
    }
    return swarm;
  }

  /** Read the swarm's shards; on first load also our own shard (left by this slot's previous life). */
  private async refresh(swarm: Swarm, withOwn: boolean): Promise<void> {
    const id = this.slots.id;
    const shards = (await this.shards.read([swarm.hex], () => withOwn)).get(swarm.hex) ?? [];
    const remote: ReadShard[] = [];
    for (const entry of shards) {
      if (entry.id !== id) {
        remote.push(entry);
        continue;
      }
      // What we wrote in an earlier life, or what the previous owner of the slot wrote: take it over.
      for (const rec of entry.recs) {
        const current = swarm.own.get(rec.key);
        if (!current || newer(rec, current)) setOwn(this.wheel, swarm, rec, this.now());
      }
      swarm.downloaded += entry.d;
      swarm.inherited += entry.d;
      swarm.chunks = Math.max(swarm.chunks, entry.x);
    }
    if (withOwn) swarm.loaded = true;
    applyRemote(swarm, remote, this.now());
  }

  /**
   * True when a peer that is not live in our shard would go past the caps: per instance (the totals
   * this store keeps are its own peers).
   */
  private atCap(limits: NonNullable<SwarmAnnounce['limits']>, swarm: Swarm, key: string, now: number): boolean {
    const own = swarm.own.get(key);
    if (own && !own.gone && own.exp >= now) return false;
    const t = this.wheel.totals(Math.ceil(now / 1000));
    if (limits.peers > 0 && t[0] + t[1] + t[2] + t[3] >= limits.peers) return true;
    return limits.swarms > 0 && (swarm.last ?? -1) < Math.ceil(now / 1000) && t[KIND_SWARM] >= limits.swarms;
  }

  /**
   * We lost our slot and took a new one. Our former slot belongs to someone else now, who inherits
   * what is stored there: carry over only the completions not written there yet, so nothing is
   * counted twice. Our peers are written again under the new id (duplicates merge: the newest record
   * wins).
   */
  private moveSlot(): void {
    for (const swarm of this.swarms.values()) {
      swarm.downloaded -= Math.max(swarm.written, swarm.inherited);
      swarm.inherited = 0;
      swarm.written = 0;
      swarm.chunks = 0;
      swarm.dirty = true;
    }
  }

  /** The timer's work: write behind at a bounded rate, sweep and evict idle swarms. */
  private async tick(): Promise<void> {
    if (this.storage.closed || this.slots.id === undefined) return;
    const now = this.now();
    for (const swarm of this.swarms.values()) maybeSweep(swarm, now);
    try {
      await this.shards.write(this.maxWrites);
    } catch {
      // healthy is false now; retried next tick
    }
    this.evict();
  }

  /** Forget swarms we hold nothing of (their counter is written): bounded cache of remote views. */
  private evict(): void {
    if (this.shards.busy) return;
    const idle: Swarm[] = [];
    const cutoff = Date.now() - Math.max(this.remoteTtl, 5000);
    for (const swarm of this.swarms.values()) {
      if (swarm.dirty || swarm.reading || swarm.own.size > 0) continue;
      if (swarm.usedAt < cutoff) this.swarms.delete(swarm.hex);
      else idle.push(swarm);
    }
    if (idle.length > this.maxCached) {
      idle.sort((a, b) => a.usedAt - b.usedAt);
      for (const swarm of idle.slice(0, idle.length - this.maxCached)) this.swarms.delete(swarm.hex);
    }
  }
}
