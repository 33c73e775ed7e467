/**
 * The storage interface of the tracker. Every backend (memory, Redis, any Keyv adapter, or your own)
 * implements {@link SwarmStore}; the middleware and the standalone server only ever talk to it.
 *
 * All binary values are `Uint8Array`s: info hashes and peer ids are exactly 20 bytes, addresses are
 * 4 (IPv4) or 16 (IPv6) bytes.
 */

/** What a client says about itself in an announce, after validation. */
export type AnnounceEvent = 'started' | 'completed' | 'stopped' | 'update';

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
  /** `started`, `completed` (adds one to `downloaded`), `stopped` (removes the peer) or a regular `update`. */
  event: AnnounceEvent;
  /** How many peers to return at most (already capped by the tracker's options). */
  numwant: number;
  /** Seconds this peer stays in the swarm without announcing again. */
  ttl: number;
}

/** A peer returned by a store. */
export interface Peer {
  /** 20-byte peer id. */
  peerId: Uint8Array;
  /** 4 bytes (IPv4) or 16 bytes (IPv6). */
  ip: Uint8Array;
  /** Port, 1..65535. */
  port: number;
}

/** The three counters of a swarm, as reported by announce and scrape answers. */
export interface SwarmCounts {
  /** Seeders (peers with `left=0`). */
  complete: number;
  /** Leechers. */
  incomplete: number;
  /** Number of `event=completed` announces ever seen for this swarm. */
  downloaded: number;
}

/** The answer of {@link SwarmStore.announce}: counters after this announce and a peer sample. */
export interface SwarmAnnounceResult extends SwarmCounts {
  /**
   * A uniform random sample of other peers of the swarm, at most `numwant` of them, never the
   * requester itself. Empty for `stopped`.
   */
  peers: Peer[];
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
