/**
 * The native Redis store: one Lua script per announce does everything for that swarm atomically
 * (see lua.ts for the key layout), so any number of app instances can share one Redis (or one
 * Redis Cluster) and see one and the same swarm.
 *
 * It runs on the node-redis client of a Keyv whose adapter is @keyv/redis: no second connection pool.
 * Keys live under that Keyv's namespace (exactly where Keyv itself would put a key of the same name).
 * Peer ids and addresses travel as binary strings (Buffers), never hex.
 */
import type Keyv from 'keyv';
import type { Peer, PeerState, SwarmCounts, SwarmTotals } from '../../types.js';
import type { BanStore, ListedPeer, PeerPage, StoreBus, SwarmAnnounce, SwarmAnnounceResult, SwarmStore, SwarmStoreOptions, TorrentRegistry } from '../types.js';
import { RedisBus } from './bus.js';
import { isRedisKeyv, RedisConnection, RedisStoreError, withDeadline, type RedisClientLike } from './connection.js';
import { redisTorrentRegistry } from './registry.js';
import { redisBanStore } from './bans.js';
import { redisHistoryStore } from './history.js';
import type { HistoryStore } from '../../history/buckets.js';
import { purgePeers, type PurgeAccess } from './purge.js';
import { ANNOUNCE, evalScript, MERGE_CREDIT, PEERS, SCRAPE, TOTALS_APPLY, TOTALS_READ, type Script } from './scripts.js';

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

const EVENT_CODES = { update: 'u', started: 's', completed: 'c', stopped: 'x' } as const;

/** Native, atomic, multi-instance {@link SwarmStore} on Redis (through a Keyv over @keyv/redis). */
export class RedisSwarmStore implements SwarmStore {
  readonly privateMode = true;
  /** The built-in torrent registry, in the same Redis (`<prefix>:torrent:<hex>` keys of the Keyv). */
  readonly registry: TorrentRegistry;
  /** Bans, in the same Redis (the hash `<prefix>:bans`). */
  readonly bans: BanStore;
  /** Per-torrent history, shared by every instance (`<prefix>:history:{<hex>}:m|h|d` hashes; see src/history/). */
  readonly history: HistoryStore;
  /** Pub/sub between the instances on this Redis (a second connection, opened on first subscribe). */
  readonly bus: StoreBus;
  /** The same bus, as this store closes it. */
  private readonly pubsub: RedisBus;
  private readonly connection: RedisConnection;
  private readonly now: () => number;
  private readonly timeout: number;
  private readonly downloadedTtlMs: number;
  private readonly prefix: string;
  private readonly options: RedisSwarmStoreOptions;
  private readonly siblings = new Map<string, RedisSwarmStore>();
  private readonly closeKeyv: boolean;
  private closed = false;

  /**
   * @param keyv a Keyv whose adapter is @keyv/redis (check with {@link isRedisKeyv}).
   */
  constructor(
    private readonly keyv: Keyv,
    options: RedisSwarmStoreOptions = {},
  ) {
    if (!isRedisKeyv(keyv)) throw new TypeError('RedisSwarmStore needs a Keyv whose adapter is @keyv/redis');
    this.now = options.now ?? Date.now;
    this.timeout = options.commandTimeout ?? 800;
    this.downloadedTtlMs = Math.round((options.downloadedTtl ?? 30 * 24 * 3600) * 1000);
    this.prefix = options.prefix ?? 'swarm';
    this.options = options;
    this.closeKeyv = options.closeKeyv ?? false;
    this.connection = new RedisConnection(keyv, this.timeout);
    this.registry = redisTorrentRegistry(this.connection, this.prefix);
    this.bans = redisBanStore(this.connection, this.prefix);
    this.history = redisHistoryStore(this.connection, this.prefix);
    this.bus = this.pubsub = new RedisBus(this.connection, this.prefix);
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

  /**
   * The full Redis key of `name`: where the Keyv would store a key of that name (its namespace and
   * the adapter's own prefix included).
   */
  redisKey(name: string): string {
    return this.connection.redisKey(name);
  }

  /**
   * The Redis keys of one swarm: seeders, leechers, peer data, downloaded counter, private peer
   * state, partial seeds.
   */
  swarmKeys(infoHash: Uint8Array): [string, string, string, string, string, string] {
    const base = this.redisKey(`${this.prefix}:{${Buffer.from(infoHash).toString('hex')}}:`);
    return [`${base}s`, `${base}l`, `${base}d`, `${base}n`, `${base}p`, `${base}q`];
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
    const cluster = this.connection.isCluster();
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
      request.seeder ? '1' : request.partial ? 'p' : '0',
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
      downloaders: Number(reply[7]),
    };
    const previous = own && reply[4] ? parseState(reply[4] as Buffer) : undefined;
    if (previous) result.previous = previous;
    return result;
  }

  /** {@link SwarmStore.mergeCredit}: one script on `<prefix>:credit:<key>`, shared by every instance. */
  async mergeCredit(key: string, side: 0 | 1, amounts: [number, number, number, number], ttl: number): Promise<[number, number, number, number]> {
    const k = this.connection.redisKey(`${this.prefix}:credit:${key}`);
    const reply = (await this.evalScript(MERGE_CREDIT, [k], [String(side), String(Math.max(1, Math.round(ttl))), ...amounts.map((n) => String(Math.round(n)))])) as unknown[];
    return [0, 1, 2, 3].map((i) => Number(String(reply[i]))) as [number, number, number, number];
  }

  async scrape(infoHashes: Uint8Array[]): Promise<SwarmCounts[]> {
    const now = String(Math.floor(this.now()));
    // One small read-only script per swarm (each swarm may live on another cluster slot); node-redis
    // pipelines them on the one connection.
    return Promise.all(
      infoHashes.map(async (hash) => {
        const [s, l, , n, , q] = this.swarmKeys(hash);
        const reply = (await this.evalScript(SCRAPE, [s, l, n, q], [now])) as number[];
        return { complete: Number(reply[0]), incomplete: Number(reply[1]), downloaded: Number(reply[2]), downloaders: Number(reply[3]) };
      }),
    );
  }

  /**
   * A page of a swarm's live peers (see {@link SwarmStore.peersOf}): seeders first, then leechers,
   * each by expiry; one read-only script, O(log n + offset + limit).
   */
  async peersOf(infoHash: Uint8Array, offset: number, limit: number): Promise<PeerPage> {
    const [s, l, d, , p] = this.swarmKeys(infoHash);
    const reply = (await this.evalScript(PEERS, [s, l, d, p], [String(Math.floor(this.now())), String(offset), String(limit)])) as Array<number | Buffer>;
    const peers: ListedPeer[] = [];
    for (let i = 1; i + 4 < reply.length; i += 5) {
      let data = reply[i + 1] as Buffer;
      if (data.length % 2 === 1) data = data.subarray(0, data.length - 1); // the done mark
      if (data.length === 10 || data.length === 22) data = data.subarray(0, data.length - 4); // the client's key
      if (data.length !== 6 && data.length !== 18) continue; // data gone meanwhile
      const peer: ListedPeer = {
        peerId: reply[i] as Buffer,
        ip: data.subarray(0, data.length - 2),
        port: data.readUInt16BE(data.length - 2),
        seeder: String(reply[i + 3]) === '1',
        expires: Number(String(reply[i + 2])),
      };
      const state = (reply[i + 4] as Buffer).length > 0 ? parseState(reply[i + 4] as Buffer) : undefined;
      if (state) {
        peer.at = state.at;
        peer.owner = state.owner;
      }
      peers.push(peer);
    }
    return { total: Number(reply[0]), peers };
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
      (this.connection.adapter as unknown as { getMasterNodes(): Promise<RedisClientLike[]> }).getMasterNodes(),
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

  /** {@link SwarmStore.removePeers}: a bounded walk in the background, see purge.ts. One walk at a time. */
  removePeers(match: (peer: Peer, owner: string | undefined) => boolean): Promise<number> {
    const access: PurgeAccess = {
      connection: this.connection,
      pattern: this.redisKey(`${this.prefix}:{*}:`).replace(/[?[\]\\]/g, '\\$&') + 'd',
      stop: async (infoHash, peer, key) => {
        await this.announce({ infoHash, peerId: peer.peerId, ip: peer.ip, port: peer.port, seeder: false, event: 'stopped', numwant: 0, ttl: 1, key });
      },
      closed: () => this.closed,
    };
    const walk = this.purging.then(() => purgePeers(access, match));
    this.purging = walk.catch(() => 0);
    return walk;
  }

  private purging: Promise<number> = Promise.resolve(0);

  /** Disconnects the Keyv only when the store was created with `closeKeyv` (as stores opened from a URI are). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.connection.close();
    for (const sibling of this.siblings.values()) await sibling.close();
    this.siblings.clear();
    this.pubsub.close();
    if (this.closeKeyv) {
      try {
        await this.keyv.disconnect();
      } catch {
        // already gone
      }
    }
  }

  /** Run one of the store's scripts on its connection. */
  private evalScript(script: Script, keys: string[], args: Array<string | Buffer>): Promise<unknown> {
    return evalScript(this.connection, script, keys, args);
  }
}

/** A peer state as the script keeps it: "<at> <seeder> <uploaded> <downloaded> <owner>". */
function parseState(raw: Buffer): PeerState | undefined {
  const m = /^(\d+) ([01]) (\d+) (\d+) ([\s\S]*)$/.exec(raw.toString('utf8'));
  if (!m) return undefined;
  return { at: Number(m[1]), seeder: m[2] === '1', uploaded: Number(m[3]), downloaded: Number(m[4]), owner: m[5] };
}
