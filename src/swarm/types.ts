/**
 * The storage interface of the tracker. Every backend (memory, Redis, any Keyv adapter, or your own)
 * implements {@link SwarmStore}; the middleware and the standalone server only ever talk to it.
 * The domain types it speaks in (peers, counts, events, refusals) live in `src/types.ts`.
 *
 * All binary values are `Uint8Array`s: info hashes and peer ids are exactly 20 bytes, addresses are
 * 4 (IPv4) or 16 (IPv6) bytes.
 */
import type { Ban } from '../policy/bans.js';
import type { HistoryStore } from '../history/buckets.js';
import type { AnnounceEvent, Peer, PeerRefusal, PeerState, SwarmCounts, SwarmTotals, TorrentRules } from '../types.js';

/** Most peers a store is asked for in one {@link SwarmStore.peersOf} call, and most torrents in one {@link TorrentRegistry.list} call. */
export const MAX_LIST_PAGE = 1000;

/** One announce as handed to a {@link SwarmStore}. */
export interface SwarmAnnounce {
  /** The swarm: 20-byte info hash. */
  infoHash: Uint8Array;
  /** The peer: 20-byte peer id. A peer is identified by (infoHash, peerId). */
  peerId: Uint8Array;
  /** The peer's address: 4 bytes (IPv4) or 16 bytes (IPv6). */
  ip: Uint8Array;
  /** The peer's port, 1..65535. */
  port: number;
  /** True when the peer has the whole torrent (`left=0`). */
  seeder: boolean;
  /**
   * BEP 21: the peer is a partial seed (it announced `event=paused` with `left` > 0: it wants nothing
   * more). It counts among the leechers (`incomplete`) but not among {@link SwarmCounts.downloaders}.
   * Each announce says it again; one without it makes the peer a downloader again. Never set with
   * `seeder`.
   */
  partial?: boolean;
  /**
   * `started`, `completed`, `stopped` (removes the peer) or a regular `update`. A `completed` adds one
   * to `downloaded` only when it counts (see {@link SwarmAnnounceResult.counted}); one that does not
   * count is handled as an `update`.
   */
  event: AnnounceEvent;
  /** How many peers to return at most (already capped by the tracker's options). */
  numwant: number;
  /** Seconds this peer stays in the swarm without announcing again. */
  ttl: number;
  /**
   * The client's `key` (BEP 7 / BEP 15), reduced to 32 bits; undefined when it sent none. A peer
   * that is already in the swarm is updated or removed only by an announce from the address it is
   * listed with, or one carrying the key it first announced with: anything else is refused with
   * {@link PeerRefusal} `address` and changes nothing (no peer hijacking).
   */
  key?: number;
  /**
   * Private mode only (absent in public mode, where a store keeps no per-peer state beyond the
   * peer itself). The store keeps a {@link PeerState} per peer, refuses the announce (changing
   * nothing) when the peer belongs to another owner or announces too soon, and reports the state
   * before this announce so the tracker can credit traffic.
   */
  private?: PrivateAnnounce;
  /**
   * Caps on the store's live totals (see {@link SwarmStore.totals}): an announce that would add a
   * peer past `peers`, or bring a swarm to life past `swarms`, is refused with {@link PeerRefusal}
   * `full` and changes nothing; existing peers keep announcing. 0 = no cap. Absent: no caps.
   */
  limits?: SwarmLimits;
}

/** Caps of {@link SwarmAnnounce.limits}. */
export interface SwarmLimits {
  /** Most live swarms. */
  swarms: number;
  /** Most live peers. */
  peers: number;
}

/** The private-mode part of an announce ({@link SwarmAnnounce.private}). */
export interface PrivateAnnounce {
  /** Who announces: the user id the passkey belongs to, as a string. */
  owner: string;
  /**
   * Milliseconds a regular announce (`update`, or a `completed` that does not count) must wait after
   * the peer's previous accepted announce; 0 = not enforced. `started`, `stopped` and a counted
   * `completed` always pass.
   */
  minInterval: number;
  /** The client's `uploaded` counter; stored only when traffic is accounted (`counters` true). */
  uploaded: number;
  /** The client's `downloaded` counter; stored only when traffic is accounted. */
  downloaded: number;
  /** Keep the counters in the peer's state (traffic accounting is on). */
  counters: boolean;
}

/** The answer of {@link SwarmStore.announce}: counters after this announce and a peer sample. */
export interface SwarmAnnounceResult extends SwarmCounts {
  /**
   * A uniform random sample of other peers of the swarm, at most `numwant` of them, never the
   * requester itself. Empty for `stopped`.
   */
  peers: Peer[];
  /** Private mode: the peer's state before this announce (absent for a peer the store did not know). */
  previous?: PeerState;
  /** Private mode: the announce was refused and changed nothing (counts and peers are then empty). */
  refusal?: PeerRefusal;
  /**
   * True when this announce added one to `downloaded`. A store keeps a sticky "done" bit per listed
   * peer, set once the peer is listed as a seeder or has a counted completion, and forgotten with the
   * peer (`stopped`, expiry). An `event=completed` counts iff the bit is unset (a peer the store does
   * not know counts); one that does not count is a regular update (it obeys the min interval). The
   * tracker credits a `completed` in `onTraffic` only when this is true. Built-in stores set it on
   * every accepted announce; a store that leaves it undefined is taken to count every `completed`.
   */
  counted?: boolean;
}

/**
 * Storage for swarms. Implementations must make each `announce` atomic for its swarm: the peer
 * update, the counters and the sample are one consistent step, even when several app instances share
 * the store.
 */
export interface SwarmStore {
  /** Record one announce and return the swarm's counters and a peer sample. */
  announce(request: SwarmAnnounce): Promise<SwarmAnnounceResult>;
  /** Counters for each info hash, in the order given. Unknown swarms count zero. */
  scrape(infoHashes: Uint8Array[]): Promise<SwarmCounts[]>;
  /**
   * Optional: counters of every live swarm (a "full scrape"), at most `limit` entries. Only called
   * when the tracker's `fullScrape` option is on.
   */
  scrapeAll?(limit: number): Promise<Array<{ infoHash: Uint8Array } & SwarmCounts>>;
  /** Optional: release timers and connections. The tracker never calls it on stores it did not open. */
  close?(): Promise<void>;
  /**
   * True when the store honours {@link SwarmAnnounce.private} (owners, enforced intervals, peer
   * state). A private tracker refuses to start on a store without it. All built-in stores have it.
   */
  readonly privateMode?: boolean;
  /** Optional: the built-in registry of torrents (`torrents: 'registry'`), shared by every instance on the store. */
  readonly registry?: TorrentRegistry;
  /** Optional: the tracker's bans, shared by every instance on the store. Without it bans are kept in the process. */
  readonly bans?: BanStore;
  /**
   * Optional: per-torrent history shared by every instance on the store (see src/history/). Without
   * it the tracker keeps history in the process.
   */
  readonly history?: HistoryStore;
  /**
   * Optional: remove every listed peer for which `match` is true (a new ban), without blocking the
   * event loop for long (the memory store works in slices of a few milliseconds). Resolves with how
   * many were removed. `owner` is the peer's owner in private mode, when the store knows it.
   */
  removePeers?(match: (peer: Peer, owner: string | undefined) => boolean): Promise<number>;
  /**
   * Optional: a message bus between the instances that share the store (Redis pub/sub). The tracker
   * uses it to drop cached passkey and torrent answers on every instance at once.
   */
  readonly bus?: StoreBus;
  /**
   * Optional: a store for a second, separate set of swarms on the same backend and connection, under
   * `name` (WebTorrent peers, which only browsers can reach, live apart from TCP and UDP peers). Asking
   * twice for one name gives the same store; it is closed with this one.
   */
  sibling?(name: string): SwarmStore;
  /**
   * Optional: live totals of every swarm, kept as the store works (never a scan). With a store
   * shared by several instances (Redis) they are global: every instance reads the same numbers.
   */
  totals?(): Promise<SwarmTotals>;
  /**
   * Optional: combine the credit of a hybrid torrent's two swarms for one client, in state shared by
   * every instance on the store: add `amounts` (raw uploaded, raw downloaded, seeding ms, completions)
   * to swarm `side`'s sums under `key`, keep the state `ttl` ms after its last use, and resolve to
   * what the larger of the two sums grew by (see `mergeCredit` in policy/credit-once.ts). Atomic per
   * key. Without it the tracker combines in each process.
   */
  mergeCredit?(key: string, side: 0 | 1, amounts: [number, number, number, number], ttl: number): Promise<[number, number, number, number]>;
  /**
   * Optional: the live peers of one swarm for an administrator (`tracker.peers()`), a page of them:
   * `total` live peers, and at most `limit` of them from position `offset` on, in an order of the
   * store's choosing that stays the same while the swarm does not change. Expired peers are left
   * out. Costs O(offset + limit) or better, never a pass over the whole swarm for a small page.
   * Without it, `tracker.peers()` rejects.
   */
  peersOf?(infoHash: Uint8Array, offset: number, limit: number): Promise<PeerPage>;
}

/** A page of a swarm's peers ({@link SwarmStore.peersOf}). */
export interface PeerPage {
  /** Live peers in the swarm. */
  total: number;
  /** The page. */
  peers: ListedPeer[];
}

/** One peer as {@link SwarmStore.peersOf} lists it. */
export interface ListedPeer extends Peer {
  /** True when the peer has the whole torrent (`left=0`). */
  seeder: boolean;
  /** When the peer expires unless it announces again: milliseconds of the store's clock. */
  expires: number;
  /** When the peer last announced (ms of the store's clock), when the store keeps it (private mode). */
  at?: number;
  /** Private mode: the owner (user id as a string) the store keeps for the peer. */
  owner?: string;
}

/** A registered torrent as {@link TorrentRegistry.list} gives it. */
export interface RegisteredSwarm {
  /** The swarm it is registered under: 20 bytes (a hybrid torrent: its v1 swarm, see {@link TorrentRegistry.list}). */
  infoHash: Uint8Array;
  /** Its rules as stored (a hybrid torrent's carry `infoHash` and `infoHashV2`). */
  rules: TorrentRules;
}

/** Torrents registered with the tracker itself, kept in the store (see `tracker.addTorrent`). */
export interface TorrentRegistry {
  /** The rules of a registered torrent, or undefined when it is not registered. */
  get(infoHash: Uint8Array): Promise<TorrentRules | undefined>;
  /** Register a torrent (again: replaces its rules). */
  add(infoHash: Uint8Array, rules: TorrentRules): Promise<void>;
  /** Unregister a torrent; resolves true when it was registered. */
  remove(infoHash: Uint8Array): Promise<boolean>;
  /**
   * Optional: a page of the registered torrents, ordered by info hash (lowercase hex, ascending), and
   * how many there are (`tracker.listTorrents()`). A hybrid torrent is registered under both its
   * swarms, with rules naming the pair (`rules.infoHash`, `rules.infoHashV2`): it is listed once,
   * under its v1 swarm (see `listedSwarm` in registry-rules.ts). Must not scan the backend: keep an
   * index beside the registry (a Map in memory, a sorted set in Redis, an index key in Keyv).
   * `limit` is at most {@link MAX_LIST_PAGE}. Without it, `tracker.listTorrents()` rejects.
   */
  list?(offset: number, limit: number): Promise<{ total: number; torrents: RegisteredSwarm[] }>;
}

/** The bans of a tracker, kept in the store (see `tracker.ban`). Bans are few (at most 10 000) and read whole. */
export interface BanStore {
  /** Every ban held (expired ones may be among them: the tracker removes those). */
  list(): Promise<Ban[]>;
  /** Keep a ban (a ban with the same id is replaced). */
  add(ban: Ban): Promise<void>;
  /** Drop a ban; resolves true when it was held. */
  remove(id: string): Promise<boolean>;
  /**
   * Milliseconds between re-reads of {@link list} by every instance: how soon a ban made elsewhere
   * applies when the store has no {@link SwarmStore.bus} (and a safety net when it has one).
   * Absent: never re-read (one process).
   */
  readonly refreshInterval?: number;
}

/** A broadcast channel between the instances sharing a store. */
export interface StoreBus {
  /** Send a message to every instance (this one included). */
  publish(message: string): Promise<void>;
  /** Receive every message; resolves once subscribed. The returned function unsubscribes. */
  subscribe(listener: (message: string) => void): Promise<() => Promise<void>>;
  /**
   * Optional: send to the instances listening on one named channel (WebTorrent relays: one channel
   * per instance). Resolves with how many received it (0: nobody listens, the instance is gone).
   */
  publishTo?(channel: string, message: string): Promise<number>;
  /** Optional: receive the messages of one named channel; resolves once subscribed. */
  subscribeTo?(channel: string, listener: (message: string) => void): Promise<() => Promise<void>>;
}

/** Options shared by the built-in stores. */
export interface SwarmStoreOptions {
  /**
   * Clock in milliseconds since the epoch. Defaults to `Date.now`. Tests pass a fake clock to
   * exercise expiry without sleeping.
   */
  now?: () => number;
}

/** True when `value` looks like a {@link SwarmStore} (duck typing). */
export function isSwarmStore(value: unknown): value is SwarmStore {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as SwarmStore).announce === 'function' &&
    typeof (value as SwarmStore).scrape === 'function'
  );
}
