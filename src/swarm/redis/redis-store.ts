/**
 * The native Redis store: one Lua script per announce does everything for that swarm atomically
 * (see lua.ts for the key layout), so any number of app instances can share one Redis (or one
 * Redis Cluster) and see one and the same swarm.
 *
 * It runs on the node-redis client of a Keyv whose adapter is @keyv/redis: no second connection pool.
 * Keys live under that Keyv's namespace (exactly where Keyv itself would put a key of the same name).
 * Peer ids and addresses travel as binary strings (Buffers), never hex.
 */
import { withDeadline as settleWithin } from '../../util/deadline.js';
import { createHash } from 'node:crypto';
import type Keyv from 'keyv';
import { ANNOUNCE_LUA, SCRAPE_LUA, TOTALS_APPLY_LUA, TOTALS_READ_LUA } from './lua.js';
import type { Peer, PeerState, SwarmCounts, SwarmTotals, TorrentRules } from '../../types.js';
import type { StoreBus, SwarmAnnounce, SwarmAnnounceResult, SwarmStore, SwarmStoreOptions, TorrentRegistry } from '../types.js';

/** Options of {@link RedisSwarmStore}. */
export interface RedisSwarmStoreOptions extends SwarmStoreOptions {
  /**
   * Milliseconds one Redis call (including waiting for a connection) may take before the store
   * rejects. Default 800, so a tracker answers with a failure within about a second when Redis is
   * down.
   */
  commandTimeout?: number;
  /**
   * Seconds the `downloaded` counter of a swarm is kept after the swarm's last announce (it outlives
   * the swarm's peers so that scrapes keep reporting it). Default 30 days. 0 keeps counters forever
   * (memory then grows with the number of swarms ever completed).
   */
  downloadedTtl?: number;
  /** Name prefix of the swarm keys inside the Keyv namespace. Default `swarm`. */
  prefix?: string;
  /** Close the Keyv (and its connection) in {@link RedisSwarmStore.close}. Default false. */
  closeKeyv?: boolean;
}

/** The parts of a node-redis client (v5) the store uses; a cluster client has a different `sendCommand`. */
interface RedisClientLike {
  readonly isOpen: boolean;
  duplicate?(): RedisClientLike;
  connect?(): Promise<unknown>;
  subscribe?(channel: string, listener: (message: string) => void): Promise<unknown>;
  unsubscribe?(channel: string): Promise<unknown>;
  destroy?(): void;
  readonly isReady?: boolean;
  sendCommand(...args: unknown[]): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
}

/** The parts of a @keyv/redis adapter the store uses. */
interface KeyvRedisLike {
  readonly client: RedisClientLike;
  readonly namespace?: string;
  getClient(): Promise<unknown>;
  createKeyPrefix(key: string, namespace?: string): string;
  isCluster(): boolean;
}

/** RESP "blob string" type code: with this type mapping node-redis returns bulk strings as Buffers. */
const RESP_BLOB_STRING = 36;
const BUFFER_REPLIES = { [RESP_BLOB_STRING]: Buffer };

/** True when `keyv` is a Keyv instance whose adapter is @keyv/redis (duck-typed: a node-redis client inside). */
export function isRedisKeyv(keyv: unknown): keyv is Keyv {
  const store = (keyv as { store?: unknown } | null)?.store as Partial<KeyvRedisLike> | undefined;
  return (
    typeof store === 'object' &&
    store !== null &&
    typeof store.createKeyPrefix === 'function' &&
    typeof store.getClient === 'function' &&
    typeof store.client === 'object' &&
    store.client !== null &&
    typeof (store.client as RedisClientLike).sendCommand === 'function'
  );
}

/** An error the store raises itself (timeouts, Redis unavailable). */
export class RedisStoreError extends Error {
  override name = 'RedisStoreError';
}

/** A loaded Lua script: its text and SHA-1 for EVALSHA. */
class Script {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }
}

const ANNOUNCE = new Script(ANNOUNCE_LUA);
const SCRAPE = new Script(SCRAPE_LUA);
const TOTALS_APPLY = new Script(TOTALS_APPLY_LUA);
const TOTALS_READ = new Script(TOTALS_READ_LUA);

const EVENT_CODES = { update: 'u', started: 's', completed: 'c', stopped: 'x' } as const;

/** Native, atomic, multi-instance {@link SwarmStore} on Redis (through a Keyv over @keyv/redis). */
export class RedisSwarmStore implements SwarmStore {
  readonly privateMode = true;
  /** The built-in torrent registry, in the same Redis (`<prefix>:torrent:<hex>` keys of the Keyv). */
  readonly registry: TorrentRegistry;
  /** Pub/sub between the instances on this Redis (a second connection, opened on first subscribe). */
  readonly bus: StoreBus;
  private readonly adapter: KeyvRedisLike;
  private readonly now: () => number;
  private readonly timeout: number;
  private readonly downloadedTtlMs: number;
  private readonly prefix: string;
  private readonly options: RedisSwarmStoreOptions;
  private readonly siblings = new Map<string, RedisSwarmStore>();
  private readonly closeKeyv: boolean;
  private connecting: Promise<unknown> | undefined;
  private ready: Promise<void> | undefined;
  private closed = false;

  /**
   * @param keyv a Keyv whose adapter is @keyv/redis (check with {@link isRedisKeyv}).
   */
  constructor(
    private readonly keyv: Keyv,
    options: RedisSwarmStoreOptions = {},
  ) {
    if (!isRedisKeyv(keyv)) throw new TypeError('RedisSwarmStore needs a Keyv whose adapter is @keyv/redis');
    this.adapter = keyv.store as KeyvRedisLike;
    this.now = options.now ?? Date.now;
    this.timeout = options.commandTimeout ?? 800;
    this.downloadedTtlMs = Math.round((options.downloadedTtl ?? 30 * 24 * 3600) * 1000);
    this.prefix = options.prefix ?? 'swarm';
    this.options = options;
    this.closeKeyv = options.closeKeyv ?? false;
    this.registry = {
      // Through the store's own command path: bounded waiting for the connection, errors surface.
      get: async (infoHash) => {
        const key = this.registryKey(infoHash);
        const value = await this.command(key, ['GET', key]);
        return value === null || value === undefined ? undefined : parseRules(String(value));
      },
      add: async (infoHash, rules) => {
        const key = this.registryKey(infoHash);
        await this.command(key, ['SET', key, JSON.stringify(rules)]);
      },
      remove: async (infoHash) => {
        const key = this.registryKey(infoHash);
        return Number(await this.command(key, ['DEL', key])) > 0;
      },
    };
    this.bus = {
      publish: async (message) => {
        const channel = this.channel;
        await this.command(channel, ['PUBLISH', channel, message]);
      },
      subscribe: (listener) => this.subscribe(this.channel, listener),
      publishTo: async (name, message) => {
        const channel = this.redisKey(`${this.prefix}:bus:${name}`);
        return Number(await this.command(channel, ['PUBLISH', channel, message]));
      },
      subscribeTo: (name, listener) => this.subscribe(this.redisKey(`${this.prefix}:bus:${name}`), listener),
    };
  }

  /** Another set of swarms on the same Redis and connection, under `<prefix>:<name>` (see {@link SwarmStore.sibling}). */
  sibling(name: string): RedisSwarmStore {
    if (!/^[\w-]{1,32}$/.test(name)) throw new TypeError('sibling name: 1 to 32 letters, digits, "_" or "-"');
    let store = this.siblings.get(name);
    if (!store) {
      store = new RedisSwarmStore(this.keyv, { ...this.options, prefix: `${this.prefix}:${name}`, closeKeyv: false });
      this.siblings.set(name, store);
    }
    return store;
  }

  /** Redis key of a registered torrent (value: its rules as JSON). */
  private registryKey(infoHash: Uint8Array): string {
    return this.redisKey(`${this.prefix}:torrent:${Buffer.from(infoHash).toString('hex')}`);
  }

  /** The pub/sub channel of the tracker's instances. */
  private get channel(): string {
    return this.redisKey(`${this.prefix}:bus`);
  }

  /** Subscribe on a duplicate of the adapter's client (a subscribed connection serves nothing else). */
  private async subscribe(channel: string, listener: (message: string) => void): Promise<() => Promise<void>> {
    const base = this.adapter.client;
    if (typeof base.duplicate !== 'function') throw new RedisStoreError('this Redis client cannot open a subscriber connection');
    const sub = base.duplicate();
    sub.on('error', () => undefined); // it reconnects by itself; a missed message is a lost offer or a later cache expiry
    try {
      await withDeadline(Promise.resolve(sub.connect?.()), this.timeout, 'connecting the Redis subscriber');
      await withDeadline(Promise.resolve(sub.subscribe?.(channel, listener)), this.timeout, 'Redis SUBSCRIBE');
    } catch (error) {
      sub.destroy?.();
      throw error;
    }
    this.subscribers.add(sub);
    return async () => {
      if (!this.subscribers.delete(sub)) return;
      sub.destroy?.();
    };
  }

  private readonly subscribers = new Set<RedisClientLike>();

  /**
   * The full Redis key of `name`: where the Keyv would store a key of that name (its namespace and
   * the adapter's own prefix included).
   */
  redisKey(name: string): string {
    return this.adapter.createKeyPrefix(this.keyv._getKeyPrefix(name), this.adapter.namespace);
  }

  /** The Redis keys of one swarm: seeders, leechers, peer data, downloaded counter, private peer state. */
  swarmKeys(infoHash: Uint8Array): [string, string, string, string, string] {
    const base = this.redisKey(`${this.prefix}:{${Buffer.from(infoHash).toString('hex')}}:`);
    return [`${base}s`, `${base}l`, `${base}d`, `${base}n`, `${base}p`];
  }

  /** The expiry wheel and totals of this store's swarms (their own slot, `{totals}`). */
  private totalsKeys(): [string, string] {
    const base = this.redisKey(`${this.prefix}:{totals}:`);
    return [`${base}w`, `${base}t`];
  }

  /**
   * Redis Cluster: live peers and swarms for the caps, read at most once a second (the script cannot
   * reach the totals' slot, so caps there are approximate by up to a second of announces).
   */
  private async capTotals(): Promise<[string, string]> {
    const now = Date.now();
    if (!this.capRead || now - this.capRead.at > 1000) {
      // Concurrent announces meanwhile use the previous value; only this one waits for the read.
      this.capRead = { at: now, value: this.capRead?.value ?? ['0', '0'] };
      try {
        const t = await this.totals();
        this.capRead = { at: Date.now(), value: [String(t.peers), String(t.torrents)] };
      } catch {
        // the announce itself will report the trouble
      }
    }
    return this.capRead.value;
  }

  private capRead: { at: number; value: [string, string] } | undefined;

  /** Live totals of every swarm on this Redis (every instance reads the same numbers). */
  async totals(): Promise<SwarmTotals> {
    const reply = (await this.evalScript(TOTALS_READ, this.totalsKeys(), [String(Math.floor(this.now()))])) as number[];
    const [s4, l4, s6, l6, torrents] = reply.map(Number);
    return { torrents, seeders: s4 + s6, leechers: l4 + l6, peers: s4 + s6 + l4 + l6, ipv4: s4 + l4, ipv6: s6 + l6 };
  }

  async announce(request: SwarmAnnounce): Promise<SwarmAnnounceResult> {
    const keys: string[] = this.swarmKeys(request.infoHash);
    // The totals live in their own slot: with Redis Cluster the script returns its moves instead.
    const cluster = this.adapter.isCluster();
    if (!cluster) keys.push(...this.totalsKeys());
    const now = String(Math.floor(this.now()));
    const data = Buffer.allocUnsafe(request.ip.length + (request.key === undefined ? 2 : 6));
    data.set(request.ip, 0);
    data.writeUInt16BE(request.port, request.ip.length);
    if (request.key !== undefined) data.writeUInt32BE(request.key >>> 0, request.ip.length + 2);
    const own = request.private;
    const reply = (await this.evalScript(ANNOUNCE, keys, [
      now,
      Buffer.from(request.peerId.buffer, request.peerId.byteOffset, request.peerId.byteLength),
      data,
      request.seeder ? '1' : '0',
      EVENT_CODES[request.event],
      String(Math.max(0, Math.floor(request.numwant))),
      String(Math.round(request.ttl * 1000)),
      String(this.downloadedTtlMs),
      own ? 'p' : '',
      own ? own.owner : '',
      own ? String(Math.max(0, Math.floor(own.minInterval))) : '0',
      own?.counters ? String(own.uploaded) : '0',
      own?.counters ? String(own.downloaded) : '0',
      String(request.limits?.peers ?? 0),
      String(request.limits?.swarms ?? 0),
      ...(cluster && request.limits ? await this.capTotals() : []),
    ])) as Array<number | Buffer>;
    if (Number(reply[0]) === -1) {
      const kind = String(reply[1]);
      return {
        complete: 0,
        incomplete: 0,
        downloaded: 0,
        peers: [],
        refusal:
          kind === 'o'
            ? { kind: 'owner' }
            : kind === 'a'
              ? { kind: 'address' }
              : kind === 'f'
                ? { kind: 'full' }
                : { kind: 'interval', retryIn: Number(reply[2]) },
      };
    }
    if (cluster && reply[5] && (reply[5] as Buffer).length > 0) {
      // A second round trip to the totals' slot; its failure never fails the announce (the totals
      // then miss this move: the only way they drift, and only with Redis Cluster).
      await this.evalScript(TOTALS_APPLY, this.totalsKeys(), [now, reply[5] as Buffer]).catch(() => undefined);
    }
    const packed = reply[3] as Buffer;
    const peers: Peer[] = [];
    for (let at = 0; at + 21 <= packed.length; ) {
      const size = packed[at + 20];
      const end = at + 21 + size;
      if (end > packed.length) break;
      peers.push({
        peerId: packed.subarray(at, at + 20),
        ip: packed.subarray(at + 21, end - 2),
        port: (packed[end - 2] << 8) | packed[end - 1],
      });
      at = end;
    }
    // The script asked for numwant + 1 so that dropping the requester still leaves numwant; when the
    // requester was not among them, drop a random one (keeps the sample uniform).
    if (peers.length > request.numwant) peers.splice(Math.floor(Math.random() * peers.length), 1);
    const result: SwarmAnnounceResult = {
      complete: Number(reply[0]),
      incomplete: Number(reply[1]),
      downloaded: Number(reply[2]),
      peers,
      counted: Number(reply[6]) === 1,
    };
    const previous = own && reply[4] ? parseState(reply[4] as Buffer) : undefined;
    if (previous) result.previous = previous;
    return result;
  }

  async scrape(infoHashes: Uint8Array[]): Promise<SwarmCounts[]> {
    const now = String(Math.floor(this.now()));
    // One small read-only script per swarm (each swarm may live on another cluster slot); node-redis
    // pipelines them on the one connection.
    return Promise.all(
      infoHashes.map(async (hash) => {
        const [s, l, , n] = this.swarmKeys(hash);
        const reply = (await this.evalScript(SCRAPE, [s, l, n], [now])) as number[];
        return { complete: Number(reply[0]), incomplete: Number(reply[1]), downloaded: Number(reply[2]) };
      }),
    );
  }

  /**
   * Counters of up to `limit` live swarms (a "full scrape", only when the tracker's `fullScrape`
   * option is on). This one does scan: it walks the swarm keys with SCAN on every master node.
   */
  scrapeAll(limit: number): Promise<Array<{ infoHash: Uint8Array } & SwarmCounts>> {
    // One full scrape at a time (concurrent callers share it), bounded by one overall deadline: a
    // client that gave up never leaves SCANs running behind it.
    this.fullScrape ??= this.scanSwarms(limit, Date.now() + this.timeout).finally(() => {
      this.fullScrape = undefined;
    });
    return this.fullScrape;
  }

  private fullScrape: Promise<Array<{ infoHash: Uint8Array } & SwarmCounts>> | undefined;

  private async scanSwarms(limit: number, deadline: number): Promise<Array<{ infoHash: Uint8Array } & SwarmCounts>> {
    const left = (): number => {
      const ms = deadline - Date.now();
      if (ms <= 0) throw new RedisStoreError(`full scrape did not finish within ${this.timeout} ms`);
      return ms;
    };
    const pattern = this.redisKey(`${this.prefix}:{*}:`).replace(/[?[\]\\]/g, '\\$&') + '[sln]';
    const hashes = new Set<string>();
    const nodes = (await withDeadline(
      (this.adapter as unknown as { getMasterNodes(): Promise<RedisClientLike[]> }).getMasterNodes(),
      left(),
      'listing Redis nodes',
    )) as RedisClientLike[];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const reply = (await withDeadline(
          node.sendCommand(['SCAN', cursor, 'MATCH', pattern, 'COUNT', '1000']),
          left(),
          'Redis SCAN',
        )) as [string | Buffer, Array<string | Buffer>];
        cursor = String(reply[0]);
        for (const key of reply[1]) {
          const tag = /\{([0-9a-f]{40})\}:[sln]$/.exec(String(key));
          if (tag) hashes.add(tag[1]);
        }
      } while (cursor !== '0' && hashes.size < limit * 2);
    }
    const infoHashes = [...hashes].map((h) => Buffer.from(h, 'hex'));
    left();
    const counts = await this.scrape(infoHashes);
    const out: Array<{ infoHash: Uint8Array } & SwarmCounts> = [];
    counts.forEach((c, i) => {
      if (out.length < limit && c.complete + c.incomplete + c.downloaded > 0) out.push({ infoHash: infoHashes[i], ...c });
    });
    return out;
  }

  /** Disconnects the Keyv only when the store was created with `closeKeyv` (as stores opened from a URI are). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const sibling of this.siblings.values()) await sibling.close();
    this.siblings.clear();
    for (const sub of this.subscribers) sub.destroy?.();
    this.subscribers.clear();
    if (this.closeKeyv) {
      try {
        await this.keyv.disconnect();
      } catch {
        // already gone
      }
    }
  }

  /** EVALSHA, falling back to EVAL (which also caches the script) when Redis does not know it yet. */
  private async evalScript(script: Script, keys: string[], args: Array<string | Buffer>): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await this.command(keys[0], ['EVALSHA', script.sha, ...tail]);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
        return this.command(keys[0], ['EVAL', script.source, ...tail]);
      }
      throw error;
    }
  }

  /** Send one command on the adapter's client with Buffer replies, failing within `commandTimeout`. */
  private async command(firstKey: string, args: Array<string | Buffer>): Promise<unknown> {
    if (this.closed) throw new RedisStoreError('the Redis swarm store is closed');
    const deadline = Date.now() + this.timeout;
    const client = await this.readyClient(deadline);
    const remaining = Math.max(1, deadline - Date.now());
    const options = { typeMapping: BUFFER_REPLIES, timeout: remaining };
    if (!this.adapter.isCluster()) return withDeadline(client.sendCommand(args, options), remaining, 'Redis command');
    try {
      return await withDeadline(client.sendCommand(firstKey, false, args, options), remaining, 'Redis command');
    } catch (error) {
      this.refreshClusterSlots(client); // cheap and throttled: on any failure, not only connection errors
      throw error;
    }
  }

  private lastSlotRefresh = 0;

  /**
   * After a failed cluster call: read the slot map again (at most every 500 ms, one read at a time).
   * node-redis re-reads it only on a MOVED or ASK reply, and a killed master sends none: without
   * this, the client keeps sending its slots' commands to the dead address forever, also after a
   * replica took them over. The client's own `rediscover` (not a public API of node-redis 5) asks a
   * live master first, then the root nodes; it drops clients of nodes that left the map (their
   * queued commands fail) and connects to new masters.
   */
  private refreshClusterSlots(client: RedisClientLike): void {
    const cluster = client as unknown as {
      _slots?: { rediscover?(startWith: unknown): Promise<void> };
      masters?: Array<{ client?: { isReady?: boolean } }>;
    };
    const slots = cluster._slots;
    if (typeof slots?.rediscover !== 'function' || Date.now() - this.lastSlotRefresh < 500) return;
    const masters = cluster.masters ?? [];
    const startWith = (masters.find((m) => m.client?.isReady) ?? masters.find((m) => m.client))?.client;
    if (!startWith) return;
    this.lastSlotRefresh = Date.now();
    slots.rediscover(startWith).catch(() => undefined);
  }

  /** The adapter's client once it is ready; starts connecting if nobody has yet. */
  private async readyClient(deadline: number): Promise<RedisClientLike> {
    const client = this.adapter.client;
    if (!client.isOpen && !this.connecting) {
      // getClient() connects (and on failure tears the client down so the next call retries).
      this.connecting = this.adapter
        .getClient()
        .catch(() => undefined)
        .finally(() => {
          this.connecting = undefined;
        });
    }
    if (this.adapter.isCluster()) {
      // A cluster client has no offline state of its own to wait for: wait for its first connection.
      if (this.connecting) {
        await withDeadline(this.connecting, Math.max(1, deadline - Date.now()), 'connecting to Redis Cluster');
      }
      if (!client.isOpen) throw new RedisStoreError('Redis Cluster is not reachable');
      return client;
    }
    if (client.isReady) return client;
    // One shared listener however many calls wait for the connection.
    this.ready ??= new Promise<void>((resolve) => {
      const onReady = (): void => {
        client.off('ready', onReady);
        this.ready = undefined;
        resolve();
      };
      client.on('ready', onReady);
    });
    await withDeadline(this.ready, Math.max(1, deadline - Date.now()), 'waiting for Redis').catch(() => {
      throw new RedisStoreError('Redis is not reachable');
    });
    return client;
  }
}

/** Rules of a registered torrent as stored (JSON); unknown fields ignored. */
function parseRules(text: string): TorrentRules {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return {};
  }
  const rules: TorrentRules = {};
  const v = value as TorrentRules | null;
  if (typeof v?.uploadFactor === 'number') rules.uploadFactor = v.uploadFactor;
  if (typeof v?.downloadFactor === 'number') rules.downloadFactor = v.downloadFactor;
  return rules;
}

/** A peer state as the script keeps it: "<at> <seeder> <uploaded> <downloaded> <owner>". */
function parseState(raw: Buffer): PeerState | undefined {
  const m = /^(\d+) ([01]) (\d+) (\d+) ([\s\S]*)$/.exec(raw.toString('utf8'));
  if (!m) return undefined;
  return { at: Number(m[1]), seeder: m[2] === '1', uploaded: Number(m[3]), downloaded: Number(m[4]), owner: m[5] };
}

/** `promise`, or a rejection after `ms` milliseconds (the late result is ignored). */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return settleWithin(promise, ms, () => new RedisStoreError(`${what} timed out after ${ms} ms`));
}
