/**
 * The tracker's domain types: what an announce says, a peer, a swarm's counters, a peer's private-mode
 * state and why an announce is refused, a torrent's rules, live totals. Every layer (protocol, policy,
 * stats, the stores, the transports) may import this module; it imports nothing and does no I/O.
 * The storage interface itself lives in `swarm/types.ts`.
 *
 * All binary values are `Uint8Array`s: info hashes and peer ids are exactly 20 bytes, addresses are
 * 4 (IPv4) or 16 (IPv6) bytes.
 */

/** What a client says about itself in an announce, after validation. */
export type AnnounceEvent = 'started' | 'completed' | 'stopped' | 'update';

/**
 * What a store remembers about one peer in private mode, as of its last accepted announce. Times are
 * milliseconds of the store's clock.
 */
export interface PeerState {
  /** The owner (user id as a string) that first announced the peer. */
  owner: string;
  /** When the accepted announce happened. */
  at: number;
  /** Whether the peer was a seeder then. */
  seeder: boolean;
  /** The client's counters then (0 when traffic is not accounted). */
  uploaded: number;
  downloaded: number;
}

/** Why a store refused a private announce (nothing was changed). */
export type PeerRefusal =
  | { kind: 'owner' }
  | { kind: 'address' }
  /** The store is at a cap (`SwarmAnnounce.limits`) and the announce would add to it. */
  | { kind: 'full' }
  | {
      kind: 'interval';
      /** Milliseconds until a regular announce of this peer is accepted again. */
      retryIn: number;
    };

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
  /** Completions counted for this swarm: at most one per peer while it is listed (see `SwarmAnnounceResult.counted` in swarm/types.ts). */
  downloaded: number;
  /**
   * BEP 21: leechers that are not partial seeds (`incomplete` minus the peers that announced
   * `event=paused`). Set by stores that keep partial seeds apart (every built-in store); scrape
   * answers carry it as `downloaders` when it is set.
   */
  downloaders?: number;
}

/** Per-torrent rules: traffic credit factors (freeleech is `downloadFactor: 0`). */
export interface TorrentRules {
  /** Multiplies credited upload. Default 1. */
  uploadFactor?: number;
  /** Multiplies credited download. Default 1 (0 = freeleech). */
  downloadFactor?: number;
  /**
   * For a hybrid (v1 + v2) torrent, which announces in two swarms (its v1 info hash, and its v2
   * info hash cut to 20 bytes): the torrent's v1 info hash, 40 hex digits, as `createTorrent()` and
   * `parseTorrent()` return it. Given with {@link infoHashV2} in the answer for either swarm, the
   * tracker treats both swarms as one torrent: traffic is credited once and `onTraffic` records name
   * this hash. `tracker.addTorrent()` of a hybrid torrent sets both for you.
   */
  infoHash?: string;
  /** For a hybrid torrent: its v2 info hash, 64 hex digits (see {@link infoHash}). */
  infoHashV2?: string;
}

/**
 * Live totals of a set of swarms (`SwarmStore.totals`): swarms with at least one live peer,
 * and live peers by kind and address family.
 */
export interface SwarmTotals {
  torrents: number;
  seeders: number;
  leechers: number;
  /** seeders + leechers. */
  peers: number;
  /** Peers listed with an IPv4 address. */
  ipv4: number;
  /** Peers listed with an IPv6 address (WebSocket peers are listed under 16-byte routes and count here). */
  ipv6: number;
}
