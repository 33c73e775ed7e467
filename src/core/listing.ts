/**
 * What an administrator reads: the registered torrents with their live counts, and the peers of a
 * torrent's swarms. Pages only, each bounded; the stores' optional `registry.list` and `peersOf` do
 * the reading (a store without them makes these reject with an Error saying so).
 */
import { clientName } from '../protocol/peer-id.js';
import { formatAddress } from '../protocol/address.js';
import { MAX_LIST_PAGE, type ListedPeer, type SwarmStore } from '../swarm/types.js';
import type { SwarmCounts, TorrentRules } from '../types.js';
import { swarmHashes, type TorrentInput } from './registry.js';
import type { StorageAccess } from './storage.js';

/** A registered torrent as `tracker.listTorrents()` lists it. */
export interface RegisteredTorrent {
  /** The v1 info hash (or the only swarm's hash), 40 lowercase hex digits. */
  infoHash: string;
  /** A hybrid torrent's v2 info hash, 64 hex digits (its two swarms are one entry). */
  infoHashV2?: string;
  /** Its rules (credit factors). */
  rules: TorrentRules;
  /** Live counts, a hybrid torrent's counted once across its swarms (as `tracker.counts()`). */
  counts: SwarmCounts;
}

/** Options of `tracker.listTorrents()`. */
export interface ListTorrentsOptions {
  /** Entries to skip. Default 0. */
  offset?: number;
  /** Most entries to return, 0..500. Default 50. */
  limit?: number;
  /**
   * `infoHash` (default): by info hash, ascending. `peers`: by seeders + leechers, most first (ties
   * by info hash); needs the counts of every registered torrent, so it is refused past
   * {@link MAX_SORTED_TORRENTS} registered torrents.
   */
  sort?: 'infoHash' | 'peers';
}

/** A page of registered torrents. */
export interface TorrentPage {
  /** Registered torrents (a hybrid torrent once). */
  total: number;
  torrents: RegisteredTorrent[];
}

/** A peer as `tracker.peers()` lists it for an administrator. */
export interface AdminPeer {
  /** The swarm (info hash, hex) the peer is listed in. */
  infoHash: string;
  /** The peer id, hex. */
  peerId: string;
  /** The client's name and version decoded from the peer id (`qBittorrent 4.6.5`); undefined when unknown. */
  client?: string;
  /** Its address (IPv4 dotted, IPv6 as Node prints it). A WebTorrent peer has none: `''`. */
  ip: string;
  /** Its port (0 for a WebTorrent peer). */
  port: number;
  seeder: boolean;
  /**
   * When it last announced, ms since the epoch: as the store keeps it (private mode, Keyv), or else
   * derived from its expiry and `peerTtl` (to the second).
   */
  lastAnnounce?: number;
  /** Private mode: the user the peer belongs to, as the store keeps it (a string; never a passkey). */
  user?: string | number;
  /** A WebTorrent (browser) peer, listed in the WebTorrent swarm of the torrent. */
  webrtc?: true;
}

/** Options of `tracker.peers()`. */
export interface PeersOptions {
  /** Peers to skip. Default 0. */
  offset?: number;
  /** Most peers to return, 0..500. Default 50. */
  limit?: number;
}

/** A page of a torrent's peers. */
export interface PeerListPage {
  /** Live peers across the torrent's swarms (a client in both swarms of a hybrid torrent: twice). */
  total: number;
  peers: AdminPeer[];
}

/** Default page size. */
const DEFAULT_LIMIT = 50;
/** Largest page. */
const MAX_LIMIT = 500;
/** Most registered torrents `sort: 'peers'` counts. */
export const MAX_SORTED_TORRENTS = 10_000;
/** Torrents counted in one store call while sorting. */
const COUNT_BATCH = 500;

/** What listing needs of the core. */
export interface ListingAccess {
  storage: StorageAccess;
  /** `tracker.counts()`. */
  counts(torrents: TorrentInput[]): Promise<SwarmCounts[]>;
  /** Seconds a peer lives without announcing (`peerTtl`). */
  peerTtl: number;
}

function page(options: { offset?: number; limit?: number } | undefined, what: string): { offset: number; limit: number } {
  const offset = options?.offset ?? 0;
  const limit = options?.limit ?? DEFAULT_LIMIT;
  if (!Number.isSafeInteger(offset) || offset < 0) throw new TypeError(`${what}: offset must be a whole number >= 0`);
  if (!Number.isSafeInteger(limit) || limit < 0 || limit > MAX_LIMIT) throw new TypeError(`${what}: limit must be a whole number from 0 to ${MAX_LIMIT}`);
  return { offset, limit };
}

/** See the file comment. */
export class Listing {
  constructor(private readonly core: ListingAccess) {}

  /** A page of the registered torrents with live counts (`tracker.listTorrents()`). */
  async torrents(options?: ListTorrentsOptions): Promise<TorrentPage> {
    const { offset, limit } = page(options, 'listTorrents');
    const sort = options?.sort ?? 'infoHash';
    if (sort !== 'infoHash' && sort !== 'peers') throw new TypeError("listTorrents: sort must be 'infoHash' or 'peers'");
    const store = await this.core.storage.opened();
    const list = store.registry?.list?.bind(store.registry);
    if (!list) throw new Error('listTorrents: this store cannot list its torrent registry (it has no registry.list)');
    const bounded = <T>(p: Promise<T>) => this.core.storage.bounded(p);
    if (sort === 'infoHash') {
      const { total, torrents } = await bounded(list(offset, limit));
      return { total, torrents: await this.withCounts(torrents.map(entryOf)) };
    }
    const { total } = await bounded(list(0, 0));
    if (total > MAX_SORTED_TORRENTS) {
      throw new Error(`listTorrents: sort 'peers' counts every registered torrent, and there are ${total} (at most ${MAX_SORTED_TORRENTS}); sort by 'infoHash' instead`);
    }
    const all: Array<Omit<RegisteredTorrent, 'counts'>> = [];
    for (let from = 0; from < total; from += MAX_LIST_PAGE) {
      const chunk = await bounded(list(from, MAX_LIST_PAGE));
      all.push(...chunk.torrents.map(entryOf));
      if (chunk.torrents.length === 0) break;
    }
    const counted: RegisteredTorrent[] = [];
    for (let from = 0; from < all.length; from += COUNT_BATCH) counted.push(...(await this.withCounts(all.slice(from, from + COUNT_BATCH))));
    const peers = (t: RegisteredTorrent) => t.counts.complete + t.counts.incomplete;
    counted.sort((a, b) => peers(b) - peers(a) || (a.infoHash < b.infoHash ? -1 : 1));
    return { total: counted.length, torrents: counted.slice(offset, offset + limit) };
  }

  /**
   * A page of the peers of every swarm of `torrent` (`tracker.peers()`): its swarm (a hybrid
   * torrent's two, v1 first), then its WebTorrent swarm(s).
   */
  async peers(torrent: TorrentInput, options?: PeersOptions): Promise<PeerListPage> {
    const { offset, limit } = page(options, 'peers');
    const hashes = swarmHashes(torrent);
    const main = await this.core.storage.opened();
    if (!main.peersOf) throw new Error('peers: this store cannot list the peers of a swarm (it has no peersOf)');
    const rtc = await this.core.storage.opened(true);
    const swarms: Array<[SwarmStore, Buffer, boolean]> = hashes.map((h) => [main, h, false]);
    if (rtc.peersOf) swarms.push(...hashes.map((h): [SwarmStore, Buffer, boolean] => [rtc, h, true]));
    let total = 0;
    const out: AdminPeer[] = [];
    for (const [store, hash, webrtc] of swarms) {
      const from = Math.max(0, offset - total);
      const want = Math.min(MAX_LIST_PAGE, limit - out.length);
      const got = await this.core.storage.bounded(store.peersOf!(hash, from, want));
      total += got.total;
      for (const peer of got.peers.slice(0, want)) out.push(this.adminPeer(hash, peer, webrtc));
    }
    return { total, peers: out };
  }

  private adminPeer(infoHash: Buffer, peer: ListedPeer, webrtc: boolean): AdminPeer {
    const out: AdminPeer = {
      infoHash: infoHash.toString('hex'),
      peerId: Buffer.from(peer.peerId).toString('hex'),
      ip: webrtc ? '' : formatAddress(peer.ip),
      port: webrtc ? 0 : peer.port,
      seeder: peer.seeder,
    };
    const client = clientName(peer.peerId);
    if (client !== undefined) out.client = client;
    const at = peer.at ?? (Number.isFinite(peer.expires) ? peer.expires - this.core.peerTtl * 1000 : undefined);
    if (at !== undefined) out.lastAnnounce = at;
    if (peer.owner !== undefined) out.user = peer.owner;
    if (webrtc) out.webrtc = true;
    return out;
  }

  /** The entries with their live counts (one batched count). */
  private async withCounts(entries: Array<Omit<RegisteredTorrent, 'counts'>>): Promise<RegisteredTorrent[]> {
    const counts = await this.core.counts(entries.map((e) => ({ infoHash: e.infoHash, infoHashV2: e.infoHashV2 })));
    return entries.map((e, i) => ({ ...e, counts: counts[i]! }));
  }
}

/** A store's registry entry as a torrent: its names, and its rules without the pairing fields. */
function entryOf(entry: { infoHash: Uint8Array; rules: TorrentRules }): Omit<RegisteredTorrent, 'counts'> {
  const { infoHash, infoHashV2, ...rules } = entry.rules;
  const out: Omit<RegisteredTorrent, 'counts'> = { infoHash: infoHash ?? Buffer.from(entry.infoHash).toString('hex'), rules };
  if (infoHashV2 !== undefined) out.infoHashV2 = infoHashV2;
  return out;
}
