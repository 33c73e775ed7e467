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
 */
import { randomBytes } from 'node:crypto';
import Keyv from 'keyv';
import { ExpiryWheel, KIND_SWARM, peerKind, swarmTotals, WHEEL_KINDS } from '../stats/expiry-wheel.js';
import { PeerStateTable, peerStateKey } from './peer-state.js';
import {
  CHUNK_RECORDS,
  decodeRecords,
  earliestExpiry,
  EMPTY,
  encodeRecords,
  isShard,
  mayChange,
  mergeRecords,
  newer,
  type ChunkValue,
  type ReadShard,
  type Rec,
  type ShardValue,
} from './keyv-records.js';
import { View } from './keyv-view.js';
import { keyvTorrentRegistry } from './registry.js';
import type {
  Peer,
  PeerState,
  SwarmAnnounce,
  SwarmAnnounceResult,
  SwarmCounts,
  SwarmStore,
  SwarmStoreOptions,
  SwarmTotals,
  TorrentRegistry,
} from './types.js';

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

/** An error the store raises itself (timeouts, unreachable backend). */
export class KeyvStoreError extends Error {
  override name = 'KeyvStoreError';
}

/** What this instance holds about one swarm. */
interface Swarm {
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

const kindOf = (rec: Rec): number => peerKind(rec.seeder, rec.ip.length === 16);

/** Lease of an instance slot. */
interface Lease {
  token: string;
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
  private states: PeerStateTable | undefined;
  /** The Keyv used for every call: the given one's adapter, namespace and serializer, throwing on errors. */
  private readonly kv: Keyv;
  private readonly now: () => number;
  private readonly prefix: string;
  private readonly options: KeyvSwarmStoreOptions;
  private readonly siblings = new Map<string, KeyvSwarmStore>();
  private readonly writeInterval: number;
  private readonly maxWrites: number;
  private readonly remoteTtl: number;
  private readonly maxCached: number;
  private readonly heartbeatMs: number;
  /** Milliseconds a lease lives in the database (three heartbeats plus the clock-skew allowance). */
  private readonly leaseTtl: number;
  /** performance.now() when our lease was last set or confirmed: writes trust it for one heartbeat. */
  private leaseCheckedAt = -Infinity;
  private readonly settle: number;
  private readonly timeout: number;
  private readonly fixedId: string | undefined;
  private readonly closeKeyv: boolean;
  private readonly token = randomBytes(12).toString('hex');

  private readonly swarms = new Map<string, Swarm>();
  /** Live totals of the peers that announced through this instance (see {@link totals}). */
  private readonly wheel = new ExpiryWheel(WHEEL_KINDS);
  /** Current instance id, once claimed. */
  private id: string | undefined;
  /** The id whose lease we lost, until we hold a new one. */
  private lostId: string | undefined;
  /** Known registry (always includes our id once claimed). */
  private instances: string[] = [];
  private starting: Promise<void> | undefined;
  private flushing: Promise<void> | undefined;
  /** False after a failed write-behind, until a storage call succeeds again: announces then read fresh. */
  private healthy = true;
  private timer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly keyv: Keyv,
    options: KeyvSwarmStoreOptions = {},
  ) {
    this.kv = new Keyv(keyv.store, {
      namespace: keyv.namespace,
      useKeyPrefix: keyv.useKeyPrefix,
      serialize: keyv.serialize,
      deserialize: keyv.deserialize,
      compression: keyv.compression,
      throwOnErrors: true,
    });
    this.kv.on('error', () => undefined); // every error also rejects the call that caused it
    this.now = options.now ?? Date.now;
    this.prefix = options.prefix ?? 'swarm';
    this.options = options;
    this.writeInterval = options.writeInterval ?? 1000;
    this.maxWrites = options.maxWritesPerFlush ?? 1000;
    this.remoteTtl = options.remoteCacheTtl ?? 1000;
    this.maxCached = options.maxCachedSwarms ?? 10_000;
    this.heartbeatMs = options.heartbeat ?? 5000;
    this.leaseTtl = this.heartbeatMs * 3 + (options.maxClockSkew ?? 10_000);
    this.settle = options.claimSettle ?? 250;
    this.timeout = options.commandTimeout ?? 800;
    this.fixedId = options.instanceId;
    this.closeKeyv = options.closeKeyv ?? false;
    if (this.fixedId !== undefined && !/^[\w.-]{1,64}$/.test(this.fixedId)) {
      throw new TypeError('instanceId: 1 to 64 letters, digits, "_", "-" or "."');
    }
    this.registry = keyvTorrentRegistry(this.kv, this.prefix);
    this.timer = setInterval(() => void this.tick(), this.writeInterval);
    this.timer.unref();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.heartbeatMs);
    this.heartbeatTimer.unref();
    void this.start().catch(() => undefined); // claim early; failures are retried by the next call
  }

  /** This instance's id in the registry (undefined until claimed). */
  get instanceId(): string | undefined {
    return this.id;
  }

  /** Number of swarms held in memory. */
  get swarmCount(): number {
    return this.swarms.size;
  }

  async announce(request: SwarmAnnounce): Promise<SwarmAnnounceResult> {
    await this.start();
    const hex = Buffer.from(request.infoHash).toString('hex');
    const swarm = await this.fresh(hex);
    const now = this.now();
    const id = Buffer.from(request.peerId);
    const key = id.toString('latin1');
    // No hijacking: a listed peer may be changed only from its own address or with its key.
    const listed = swarm.view.get(key);
    if (listed && listed.exp >= now && !mayChange(listed, request.ip, request.key)) {
      return { complete: 0, incomplete: 0, downloaded: 0, peers: [], refusal: { kind: 'address' } };
    }
    if (request.limits && request.event !== 'stopped' && this.atCap(request.limits, swarm, key, now)) {
      return { complete: 0, incomplete: 0, downloaded: 0, peers: [], refusal: { kind: 'full' } };
    }
    let previous: PeerState | undefined;
    const states = request.private ? (this.states ??= new PeerStateTable(now)) : undefined;
    const stateKey = states ? peerStateKey(request.infoHash, request.peerId) : '';
    if (states) {
      const verdict = states.check(stateKey, request.private!, request.event, now);
      if (verdict.refusal) return { complete: 0, incomplete: 0, downloaded: 0, peers: [], refusal: verdict.refusal };
      previous = verdict.previous;
    }
    this.maybeSweep(swarm, now);
    // Whole seconds, so that the totals wheel counts a peer exactly as long as it lives.
    const exp = Math.ceil((now + request.ttl * 1000) / 1000) * 1000;
    if (request.event === 'stopped') {
      this.setOwn(swarm, { id, key, ip: EMPTY, port: 0, seeder: false, at: now, exp, gone: true }, now);
      swarm.view.remove(key);
    } else {
      const rec: Rec = { id, key, ip: Buffer.from(request.ip), port: request.port, seeder: request.seeder, at: now, exp, gone: false };
      // An announce without a key keeps the key the peer has.
      const k = request.key ?? (listed && listed.exp >= now ? listed.k : undefined);
      if (k !== undefined) rec.k = k;
      this.setOwn(swarm, rec, now);
      swarm.view.upsert(rec);
    }
    if (exp < swarm.nextExpiry) swarm.nextExpiry = exp;
    swarm.dirty = true;
    swarm.usedAt = Date.now();
    if (request.event === 'completed') {
      // A completion cannot be recovered from a later announce: write it through before answering,
      // so a crash cannot lose it. If the write fails the client gets a failure and sends it again.
      swarm.downloaded++;
      try {
        await this.writeBehind(Infinity, swarm);
      } catch (error) {
        swarm.downloaded--;
        swarm.dirty = true;
        throw error;
      }
    }
    // Recorded only now: a failed write-through of a completion leaves the peer's state untouched.
    states?.record(stateKey, request.private!, request.event, request.seeder, now, request.ttl * 1000);
    const counts = {
      complete: swarm.view.seeders,
      incomplete: swarm.view.count - swarm.view.seeders,
      downloaded: swarm.downloaded + swarm.remoteDownloaded,
    };
    const result: SwarmAnnounceResult = { ...counts, peers: request.event === 'stopped' ? [] : swarm.view.sample(request.numwant, key) };
    if (previous) result.previous = previous;
    return result;
  }

  async scrape(infoHashes: Uint8Array[]): Promise<SwarmCounts[]> {
    await this.start();
    const hexes = infoHashes.map((h) => Buffer.from(h).toString('hex'));
    const unique = [...new Set(hexes)];
    const shards = await this.readShards(unique, (hex) => !this.swarms.get(hex)?.loaded);
    const now = this.now();
    const counts = new Map<string, SwarmCounts>();
    for (const hex of unique) {
      const read = shards.get(hex) ?? [];
      const swarm = this.swarms.get(hex);
      if (swarm?.loaded) {
        this.applyRemote(swarm, read, now);
        counts.set(hex, {
          complete: swarm.view.seeders,
          incomplete: swarm.view.count - swarm.view.seeders,
          downloaded: swarm.downloaded + swarm.remoteDownloaded,
        });
      } else {
        let downloaded = 0;
        for (const shard of read) downloaded += shard.d;
        let complete = 0;
        let incomplete = 0;
        for (const rec of mergeRecords(read.map((s) => s.recs)).values()) {
          if (rec.gone || rec.exp < now) continue;
          if (rec.seeder) complete++;
          else incomplete++;
        }
        counts.set(hex, { complete, incomplete, downloaded });
      }
    }
    return hexes.map((hex) => counts.get(hex) as SwarmCounts);
  }

  /**
   * Write every pending change now (and make sure this instance is listed in the registry). Once it
   * resolves on every instance, every instance's scrape shows exact counts.
   */
  async flush(): Promise<void> {
    await this.start();
    await this.ensureListed();
    for (let round = 0; round < 1000; round++) {
      await this.writeBehind(Infinity);
      if (![...this.swarms.values()].some((s) => s.dirty)) return;
    }
  }

  /** Write pending changes, release the slot and stop timers. Disconnects the Keyv only with `closeKeyv`. */
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

  async close(): Promise<void> {
    for (const sibling of this.siblings.values()) await sibling.close();
    this.siblings.clear();
    this.states?.clear();
    if (this.closed) return;
    await this.starting?.catch(() => undefined); // a claim in flight would leave a lease behind
    clearInterval(this.timer);
    clearInterval(this.heartbeatTimer);
    try {
      if (this.id !== undefined) {
        await this.writeBehind(Infinity);
        const lease = await this.call(this.kv.get(this.leaseKey(this.id)));
        if ((lease as Lease | undefined)?.token === this.token) await this.call(this.kv.delete(this.leaseKey(this.id)));
      }
    } catch {
      // the backend is gone: the lease expires by itself
    }
    this.closed = true;
    this.swarms.clear();
    if (this.closeKeyv) {
      try {
        await this.keyv.disconnect();
      } catch {
        // already gone
      }
    }
  }

  // ---- keys -------------------------------------------------------------------------------------

  private shardKey(hex: string, id: string): string {
    return `${this.prefix}:${hex}:${id}`;
  }

  private chunkKey(hex: string, id: string, n: number): string {
    return `${this.prefix}:${hex}:${id}:${n}`;
  }

  private leaseKey(id: string): string {
    return `${this.prefix}:lease:${id}`;
  }

  private get registryKey(): string {
    return `${this.prefix}:instances`;
  }

  // ---- storage calls ----------------------------------------------------------------------------

  /** A storage call bounded by `commandTimeout`; success marks the backend healthy again. */
  private async call<T>(promise: Promise<T>): Promise<T> {
    if (this.closed) throw new KeyvStoreError('the Keyv swarm store is closed');
    const value = await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new KeyvStoreError(`storage did not answer within ${this.timeout} ms`)),
        this.timeout,
      );
      promise.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error instanceof Error ? error : new KeyvStoreError(String(error)));
        },
      );
    }).catch((error: unknown) => {
      // From now on announces read the database instead of answering from memory: they fail fast
      // until it answers again.
      this.healthy = false;
      throw error;
    });
    return value;
  }

  /** getMany that rejects on failure whatever the adapter (Keyv's own fallback swallows errors). */
  private getMany(keys: string[]): Promise<unknown[]> {
    if (keys.length === 0) return Promise.resolve([]);
    const store = this.kv.store as { getMany?: unknown };
    if (typeof store.getMany === 'function') return this.call(this.kv.getMany(keys));
    return this.call(Promise.all(keys.map((k) => this.kv.get(k))));
  }

  // ---- instance slot and registry ---------------------------------------------------------------

  /** Claim the instance slot once; a failure (backend down) is retried by the next call. */
  private start(): Promise<void> {
    if (this.id !== undefined) return Promise.resolve();
    if (this.closed) return Promise.reject(new KeyvStoreError('the Keyv swarm store is closed'));
    this.starting ??= this.claim().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async claim(): Promise<void> {
    const leaseTtl = this.leaseTtl;
    if (this.fixedId !== undefined) {
      const id = this.fixedId;
      const lease = (await this.call(this.kv.get(this.leaseKey(id)))) as Lease | undefined;
      if (lease && lease.token !== this.token) {
        throw new KeyvStoreError(`instanceId "${id}" is in use by another running instance`);
      }
      const at = performance.now();
      await this.call(this.kv.set(this.leaseKey(id), { token: this.token } satisfies Lease, leaseTtl));
      this.leaseCheckedAt = at;
      await this.adopt(id);
      return;
    }
    const tried = new Set<string>();
    for (let attempt = 0; attempt < 64; attempt++) {
      await this.readRegistry();
      // The lowest slots first: a restarted instance takes over the shards of a slot left free.
      const candidates: number[] = [];
      for (let n = 1; candidates.length < 8; n++) if (!tried.has(String(n))) candidates.push(n);
      const leases = await this.getMany(candidates.map((n) => this.leaseKey(String(n))));
      const free = candidates.find((_, i) => leases[i] === undefined || leases[i] === null);
      if (free === undefined) {
        for (const n of candidates) tried.add(String(n));
        continue;
      }
      const id = String(free);
      const at = performance.now();
      await this.call(this.kv.set(this.leaseKey(id), { token: this.token } satisfies Lease, leaseTtl));
      await sleep(this.settle + Math.random() * this.settle);
      const check = (await this.call(this.kv.get(this.leaseKey(id)))) as Lease | undefined;
      if (check?.token === this.token) {
        this.leaseCheckedAt = at;
        await this.adopt(id);
        return;
      }
      tried.add(id);
    }
    throw new KeyvStoreError('could not claim an instance slot');
  }

  /** Become instance `id`: list it; after losing a slot, move our swarms to the new one. */
  private async adopt(id: string): Promise<void> {
    const previous = this.id ?? this.lostId;
    this.id = id;
    this.lostId = undefined;
    if (previous !== undefined && previous !== id) {
      // Our former slot belongs to someone else now, who inherits what is stored there: carry over
      // only the completions not written there yet, so nothing is counted twice. Our peers are
      // written again under the new id (duplicates merge: the newest record wins).
      for (const swarm of this.swarms.values()) {
        swarm.downloaded -= Math.max(swarm.written, swarm.inherited);
        swarm.inherited = 0;
        swarm.written = 0;
        swarm.chunks = 0;
        swarm.dirty = true;
      }
    }
    await this.ensureListed();
  }

  private async readRegistry(): Promise<string[]> {
    const list = await this.call(this.kv.get(this.registryKey));
    return this.mergeRegistry(list);
  }

  /** Union of a read registry with what we know (entries are only ever added). */
  private mergeRegistry(list: unknown): string[] {
    const set = new Set(this.instances);
    if (Array.isArray(list)) for (const x of list) if (typeof x === 'string') set.add(x);
    if (this.id !== undefined) set.add(this.id);
    this.instances = [...set].sort();
    return Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : [];
  }

  /**
   * Make sure our id is in the registry list. Several instances may rewrite the list at once and one
   * may drop another's addition; each checks again after a random pause and re-adds itself.
   */
  private async ensureListed(): Promise<void> {
    const id = this.id;
    if (id === undefined) return;
    for (let attempt = 0; attempt < 20; attempt++) {
      const listed = await this.readRegistry();
      if (listed.includes(id)) return;
      await this.call(this.kv.set(this.registryKey, [...new Set([...listed, ...this.instances, id])].sort()));
      await sleep(20 + Math.random() * 80);
    }
    throw new KeyvStoreError('could not register this instance');
  }

  /**
   * The write fence: true when slot `id` is still ours. Confirmed by reading the lease unless it was
   * set or confirmed less than one heartbeat ago (monotonic clock: a paused process finds its
   * confirmation old and reads again). Another instance can take a slot only once its lease has
   * gone unrenewed for three heartbeats plus the clock-skew allowance, so a write that starts within
   * one heartbeat of a confirmation lands while the lease is still ours (unless the database itself
   * holds the write back for longer than two heartbeats). A lost slot moves us to a new one; the
   * caller's data stays dirty and is written there.
   */
  private async ownsSlot(id: string): Promise<boolean> {
    if (performance.now() - this.leaseCheckedAt < this.heartbeatMs) return true;
    const at = performance.now();
    const lease = (await this.call(this.kv.get(this.leaseKey(id)))) as Lease | undefined;
    if (lease?.token === this.token) {
      this.leaseCheckedAt = at;
      return true;
    }
    if (this.id === id) {
      // Someone took our slot (we were paused longer than the lease), or it expired: move on.
      this.lostId = id;
      this.id = undefined;
      void this.start().catch(() => undefined);
    }
    return false;
  }

  /** Renew the lease; when it was lost (we were paused for longer than its TTL) move to a new slot. */
  private async heartbeat(): Promise<void> {
    if (this.closed || this.id === undefined) return;
    try {
      const lease = (await this.call(this.kv.get(this.leaseKey(this.id)))) as Lease | undefined;
      if (lease && lease.token !== this.token) {
        // Someone took our slot (we were paused longer than the lease): move to a free one.
        this.lostId = this.id;
        this.id = undefined;
        await this.start();
        return;
      }
      const at = performance.now();
      await this.call(this.kv.set(this.leaseKey(this.id), { token: this.token } satisfies Lease, this.leaseTtl));
      this.leaseCheckedAt = at;
      await this.ensureListed();
    } catch {
      this.healthy = false;
    }
  }

  // ---- reading shards ---------------------------------------------------------------------------

  /**
   * Read the shards of `hexes` from every listed instance, plus the registry in the same call; reads
   * again for instances the registry reveals. Our own shard is read only where `includeOwn(hex)`.
   */
  private async readShards(hexes: string[], includeOwn: (hex: string) => boolean): Promise<Map<string, ReadShard[]>> {
    const out = new Map<string, ReadShard[]>();
    for (const hex of hexes) out.set(hex, []);
    if (hexes.length === 0) return out;
    let ids = this.instances;
    const done = new Set<string>();
    const chunked: Array<{ hex: string; shard: ReadShard }> = [];
    for (let round = 0; round < 3 && ids.length > 0; round++) {
      const keys: string[] = [this.registryKey];
      const where: Array<[string, string]> = [];
      for (const hex of hexes) {
        for (const id of ids) {
          if (id === this.id && !includeOwn(hex)) continue;
          keys.push(this.shardKey(hex, id));
          where.push([hex, id]);
        }
      }
      const values = await this.getMany(keys);
      for (const id of ids) done.add(id);
      where.forEach(([hex, id], i) => {
        const value = values[i + 1];
        if (!isShard(value)) return;
        const x = Number.isInteger(value.x) && (value.x as number) > 0 ? (value.x as number) : 0;
        const shard: ReadShard = { id, d: value.d, x, recs: decodeRecords(value.p) };
        out.get(hex)?.push(shard);
        if (x > 0) chunked.push({ hex, shard });
      });
      this.mergeRegistry(values[0]);
      ids = this.instances.filter((id) => !done.has(id));
    }
    if (chunked.length > 0) {
      const keys: string[] = [];
      for (const { hex, shard } of chunked) for (let j = 1; j <= shard.x; j++) keys.push(this.chunkKey(hex, shard.id, j));
      const values = await this.getMany(keys);
      let at = 0;
      for (const { shard } of chunked) {
        for (let j = 1; j <= shard.x; j++) {
          const value = values[at++] as ChunkValue | undefined;
          if (value && typeof value.p === 'string') for (const rec of decodeRecords(value.p)) shard.recs.push(rec);
        }
      }
    }
    this.healthy = true;
    return out;
  }

  /** The swarm, loaded, with other instances' shards read within `remoteCacheTtl` (or now if unhealthy). */
  private async fresh(hex: string): Promise<Swarm> {
    let swarm = this.swarms.get(hex);
    if (!swarm) {
      swarm = {
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
      this.swarms.set(hex, swarm);
    }
    if (!swarm.loaded || !this.healthy || Date.now() - swarm.fetchedAt >= this.remoteTtl) {
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
    const id = this.id;
    const shards = (await this.readShards([swarm.hex], () => withOwn)).get(swarm.hex) ?? [];
    const remote: ReadShard[] = [];
    for (const entry of shards) {
      if (entry.id !== id) {
        remote.push(entry);
        continue;
      }
      // What we wrote in an earlier life, or what the previous owner of the slot wrote: take it over.
      for (const rec of entry.recs) {
        const current = swarm.own.get(rec.key);
        if (!current || newer(rec, current)) this.setOwn(swarm, rec, this.now());
      }
      swarm.downloaded += entry.d;
      swarm.inherited += entry.d;
      swarm.chunks = Math.max(swarm.chunks, entry.x);
    }
    if (withOwn) swarm.loaded = true;
    this.applyRemote(swarm, remote, this.now());
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

  /** Put a record into our shard, keeping the totals wheel in step (tombstones and expired records do not count). */
  private setOwn(swarm: Swarm, rec: Rec, now: number): void {
    const nowSecond = Math.ceil(now / 1000);
    const old = swarm.own.get(rec.key);
    swarm.own.set(rec.key, rec);
    const wheel = this.wheel;
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

  /**
   * Live totals of the peers that announced through this instance (and of the swarms they are in).
   * Per instance, not global: sum the instances' peer counts for the whole tracker (a swarm served by
   * several instances is counted by each).
   */
  async totals(): Promise<SwarmTotals> {
    return swarmTotals(this.wheel.totals(Math.ceil(this.now() / 1000)));
  }

  /** Rebuild the swarm's view from our shard (memory) and the other shards just read. */
  private applyRemote(swarm: Swarm, remote: ReadShard[], now: number): void {
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
  private maybeSweep(swarm: Swarm, now: number): void {
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

  // ---- writing shards ---------------------------------------------------------------------------

  /** The timer's work: write behind at a bounded rate, sweep and evict idle swarms. */
  private async tick(): Promise<void> {
    if (this.closed || this.id === undefined) return;
    const now = this.now();
    for (const swarm of this.swarms.values()) this.maybeSweep(swarm, now);
    try {
      await this.writeBehind(this.maxWrites);
    } catch {
      // healthy is false now; retried next tick
    }
    this.evict();
  }

  /**
   * Write up to `limit` dirty shards, or only `only` (one setMany, one deleteMany). Writes never
   * overlap, so two versions of one shard cannot land in the wrong order.
   */
  private async writeBehind(limit: number, only?: Swarm): Promise<void> {
    if (this.flushing && limit !== Infinity && !only) return; // the timer: next round
    while (this.flushing) await this.flushing;
    // Held for the whole write, the slot check included: writes never overlap, so two versions of
    // one shard cannot land in the wrong order.
    let release!: () => void;
    this.flushing = new Promise<void>((resolve) => (release = resolve));
    try {
      await this.writeFenced(limit, only);
    } finally {
      this.flushing = undefined;
      release();
    }
  }

  /** {@link writeBehind}'s work, once it holds the write turn. */
  private async writeFenced(limit: number, only?: Swarm): Promise<void> {
    let id = this.id;
    if (id === undefined) return;
    if (!(await this.ownsSlot(id))) {
      // Fenced: the slot is someone else's now. Write under our new slot once we hold one.
      await this.start();
      id = this.id;
      if (id === undefined || !(await this.ownsSlot(id))) throw new KeyvStoreError('lost the instance slot; retrying under a new one');
    }
    const batch: Swarm[] = [];
    if (only) {
      if (only.dirty) batch.push(only);
    } else {
      for (const swarm of this.swarms.values()) {
        if (swarm.dirty) batch.push(swarm);
        if (batch.length >= limit) break;
      }
    }
    if (batch.length === 0) return;
    const now = this.now();
    const sets: Array<{ key: string; value: ShardValue | ChunkValue; ttl?: number }> = [];
    const writtenCounts = new Map<Swarm, number>();
    const deletes: string[] = [];
    for (const swarm of batch) {
      swarm.dirty = false;
      for (const [key, rec] of swarm.own) if (rec.exp < now) swarm.own.delete(key);
      const key = this.shardKey(swarm.hex, id);
      const recs = [...swarm.own.values()];
      const chunks = Math.max(0, Math.ceil(recs.length / CHUNK_RECORDS) - 1);
      // chunk keys of a bigger earlier version of the shard
      for (let j = chunks + 1; j <= swarm.chunks; j++) deletes.push(this.chunkKey(swarm.hex, id, j));
      swarm.chunks = chunks;
      writtenCounts.set(swarm, swarm.downloaded);
      if (recs.length === 0 && swarm.downloaded === 0) {
        deletes.push(key);
        continue;
      }
      let last = 0;
      for (const rec of recs) if (rec.exp > last) last = rec.exp;
      const ttl = Math.max(1000, Math.ceil(last - now) + 1000);
      const value: ShardValue = { d: swarm.downloaded, p: encodeRecords(recs.slice(0, CHUNK_RECORDS)) };
      if (chunks > 0) value.x = chunks;
      // A shard holding a counter is persistent; otherwise it lives as long as its longest record.
      sets.push(swarm.downloaded > 0 ? { key, value } : { key, value, ttl });
      for (let j = 1; j <= chunks; j++) {
        const part = recs.slice(j * CHUNK_RECORDS, (j + 1) * CHUNK_RECORDS);
        sets.push({ key: this.chunkKey(swarm.hex, id, j), value: { p: encodeRecords(part) }, ttl });
      }
    }
    const work = (async () => {
      if (sets.length > 0) await this.call(this.kv.setMany(sets));
      if (deletes.length > 0) await this.call(this.kv.deleteMany(deletes));
    })();
    try {
      await work;
      this.healthy = true;
      for (const [swarm, d] of writtenCounts) if (this.id === id) swarm.written = d;
    } catch (error) {
      this.healthy = false;
      for (const swarm of batch) swarm.dirty = true;
      throw error;
    }
  }

  /** Forget swarms we hold nothing of (their counter is written): bounded cache of remote views. */
  private evict(): void {
    if (this.flushing) return;
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
