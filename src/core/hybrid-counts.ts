/**
 * Counts of hybrid torrents: a torrent with two swarms (its v1 info hash, and its v2 info hash cut
 * to 20 bytes) is counted once. Every accepted announce in a swarm the tracker knows to be half of a
 * pair (the torrent's rules name both hashes: `addTorrent()` of a hybrid torrent, or the site's
 * `torrents` function) is also recorded, without a peer list, in a set of torrent-level swarms beside
 * the store's own (its `sibling('torrents')`, on the same backend, so global with Redis), under the
 * v1 hash. There a client in both swarms is one peer (by peer id), and its completion counts once
 * (a store counts at most one completion per listed peer). `tracker.counts()` reads them.
 *
 * The same announces are mirrored, swarm by swarm, in a second set beside the store
 * (`sibling('paired')`), so that live totals can be told once per torrent without any scan: the
 * store's totals, minus the paired swarms', plus the torrent-level swarms'.
 */
import type { SwarmCounts, SwarmTotals, TorrentRules } from '../types.js';
import type { SwarmAnnounce, SwarmAnnounceResult, SwarmStore } from '../swarm/types.js';
import type { StorageAccess } from './storage.js';

/** The name of the torrent-level swarms beside the store. */
const TORRENTS = 'torrents';
/** The name of the mirror of the paired swarms beside the store. */
const PAIRED = 'paired';

const TOTAL_FIELDS = ['torrents', 'seeders', 'leechers', 'peers', 'ipv4', 'ipv6'] as const;

/** See the module comment. */
export class HybridCounts {
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    private readonly storage: StorageAccess,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** The torrent-level swarms (undefined until the store is open, or for a store without siblings). */
  store(): SwarmStore | undefined {
    return this.storage.store?.sibling?.(TORRENTS);
  }

  /**
   * Record an accepted announce of `request` (in a swarm of the pair `rules` names) at torrent level,
   * and in the mirror of its own swarm. `level` is handed the torrent-level answer (for history).
   */
  record(rules: TorrentRules, request: SwarmAnnounce, level?: (result: SwarmAnnounceResult) => void): void {
    const store = this.store();
    const mirror = this.storage.store?.sibling?.(PAIRED);
    if (!store || !mirror || rules.infoHash === undefined) return;
    const copy = (infoHash: Uint8Array): SwarmAnnounce => ({
      infoHash,
      peerId: request.peerId,
      ip: request.ip,
      port: request.port,
      seeder: request.seeder,
      ...(request.partial ? { partial: true } : {}),
      event: request.event,
      numwant: 0,
      ttl: request.ttl,
      key: request.key,
    });
    for (const [target, announce, after] of [
      [store, copy(Buffer.from(rules.infoHash, 'hex')), level],
      [mirror, copy(request.infoHash), undefined],
    ] as const) {
      const done = this.storage
        .bounded(target.announce(announce))
        .then((result) => after?.(result))
        .catch((error: unknown) => this.onError(error));
      this.pending.add(done);
      void done.finally(() => this.pending.delete(done));
    }
  }

  /**
   * The store's live totals with every hybrid torrent counted once: `totals` minus the paired
   * swarms' totals plus the torrent-level swarms'. `totals` as given when either cannot be read.
   */
  async correct(totals: SwarmTotals | undefined): Promise<SwarmTotals | undefined> {
    const store = this.store();
    const mirror = this.storage.store?.sibling?.(PAIRED);
    if (!totals || !store?.totals || !mirror?.totals) return totals;
    await this.settled();
    let level: SwarmTotals;
    let paired: SwarmTotals;
    try {
      [level, paired] = await Promise.all([this.storage.bounded(store.totals()), this.storage.bounded(mirror.totals())]);
    } catch {
      return totals;
    }
    const out = { ...totals };
    for (const field of TOTAL_FIELDS) out[field] = Math.max(0, totals[field] - paired[field] + level[field]);
    return out;
  }

  /**
   * Counts of torrents given as their swarms (one hash, or a hybrid torrent's two) in `store`: one
   * scrape of every swarm, and for a hybrid torrent its torrent-level counts when `pairsKnown` (the
   * tracker learns pairs at announce time), else the larger of its two swarms' counts.
   */
  async counts(store: SwarmStore, swarms: Buffer[][], pairsKnown: boolean): Promise<SwarmCounts[]> {
    const bounded = <T>(promise: Promise<T>) => this.storage.bounded(promise);
    if (!swarms.some((s) => s.length === 2)) return bounded(store.scrape(swarms.map((s) => s[0]!)));
    const level = pairsKnown ? this.store() : undefined;
    await this.settled();
    const [main, torrents] = await Promise.all([
      bounded(store.scrape(swarms.flat())),
      level ? bounded(level.scrape(swarms.filter((s) => s.length === 2).map((s) => s[0]!))) : undefined,
    ]);
    let m = 0;
    let l = 0;
    return swarms.map((s) => {
      const first = main[m++]!;
      if (s.length === 1) return first;
      const second = main[m++]!;
      const level = torrents?.[l++];
      if (level) return level;
      const larger: SwarmCounts = {
        complete: Math.max(first.complete, second.complete),
        incomplete: Math.max(first.incomplete, second.incomplete),
        downloaded: Math.max(first.downloaded, second.downloaded),
      };
      if (first.downloaders !== undefined && second.downloaders !== undefined) larger.downloaders = Math.max(first.downloaders, second.downloaders);
      return larger;
    });
  }

  /** Resolves once every record in flight is written. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}
