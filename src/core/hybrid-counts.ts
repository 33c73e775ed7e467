/**
 * Counts of hybrid torrents: a torrent with two swarms (its v1 info hash, and its v2 info hash cut
 * to 20 bytes) is counted once. Every accepted announce in a swarm the tracker knows to be half of a
 * pair (the torrent's rules name both hashes: `addTorrent()` of a hybrid torrent, or the site's
 * `torrents` function) is also recorded, without a peer list, in a set of torrent-level swarms beside
 * the store's own (its `sibling('torrents')`, on the same backend, so global with Redis), under the
 * v1 hash. There a client in both swarms is one peer (by peer id), and its completion counts once
 * (a store counts at most one completion per listed peer). `tracker.counts()` reads them.
 */
import type { TorrentRules } from '../types.js';
import type { SwarmAnnounce, SwarmStore } from '../swarm/types.js';
import type { StorageAccess } from './storage.js';

/** The name of the torrent-level swarms beside the store. */
const TORRENTS = 'torrents';

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

  /** Record an accepted announce of `request` (in a swarm of the pair `rules` names) at torrent level. */
  record(rules: TorrentRules, request: SwarmAnnounce): void {
    const store = this.store();
    if (!store || rules.infoHash === undefined) return;
    const torrent: SwarmAnnounce = {
      infoHash: Buffer.from(rules.infoHash, 'hex'),
      peerId: request.peerId,
      ip: request.ip,
      port: request.port,
      seeder: request.seeder,
      event: request.event,
      numwant: 0,
      ttl: request.ttl,
      key: request.key,
    };
    const done = this.storage.bounded(store.announce(torrent)).catch((error: unknown) => this.onError(error));
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
  }

  /** Resolves once every record in flight is written. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}
