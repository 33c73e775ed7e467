/**
 * Scrapes for every transport: the counters of the asked swarms (registered ones only when
 * `torrents` is set), or a full scrape when it is on. Policies first, then one bounded store call.
 */
import { TrackerFailure } from '../protocol/errors.js';
import { encodeFailure, encodeScrape } from '../protocol/response.js';
import { parseScrape } from '../protocol/scrape.js';
import type { PolicyChain } from '../policy/chain.js';
import type { ResolvedTrackerOptions } from '../options.js';
import type { TrackerCounters } from '../stats/counters.js';
import type { SwarmCounts } from '../types.js';
import type { FailureReporter } from './failures.js';
import type { StorageAccess } from './storage.js';

/** The counters of one swarm, with its info hash. */
export type ScrapeFile = { infoHash: Uint8Array } & SwarmCounts;

/** What scrapes need of the tracker. */
export interface ScrapeDeps {
  options: ResolvedTrackerOptions;
  policy: PolicyChain | undefined;
  storage: StorageAccess;
  failures: FailureReporter;
  counters: TrackerCounters;
}

/** See the module comment. */
export class Scrapes {
  constructor(private readonly deps: ScrapeDeps) {}

  /** An HTTP scrape from its raw query string: the bencoded answer. Never rejects. */
  async fromQuery(rawQuery: string, passkey: string | undefined): Promise<Buffer> {
    const { options } = this.deps;
    try {
      if (rawQuery.length > options.maxQueryLength) throw new TrackerFailure(`request too long (limit ${options.maxQueryLength} characters)`);
      const hashes = parseScrape(rawQuery, options);
      return encodeScrape(hashes.length === 0 ? await this.full(passkey) : await this.files(hashes, passkey));
    } catch (error) {
      return encodeFailure(this.deps.failures.reason(error));
    }
  }

  /** The files of a scrape of `hashes` (unregistered ones left out). Rejects with the failure to answer. */
  async files(hashes: Buffer[], passkey: string | undefined, webrtc = false): Promise<ScrapeFile[]> {
    const counts = await this.hashes(hashes, passkey, webrtc);
    const files: ScrapeFile[] = [];
    hashes.forEach((infoHash, i) => {
      const c = counts[i];
      if (c) files.push({ infoHash, ...c });
    });
    return files;
  }

  /**
   * The counters of each info hash in the order given, `undefined` for a torrent that is not
   * registered (when `torrents` is set). Rejects with the failure to answer.
   */
  async hashes(hashes: Buffer[], passkey: string | undefined, webrtc = false): Promise<Array<SwarmCounts | undefined>> {
    const { policy, storage } = this.deps;
    if (policy) await policy.user(passkey);
    const store = await storage.opened(webrtc);
    const known = policy ? await policy.registered(hashes.map((h) => h.toString('hex'))) : undefined;
    const asked = known ? hashes.filter((_, i) => known[i]) : hashes;
    const counts = asked.length > 0 ? await storage.bounded(store.scrape(asked)) : [];
    this.deps.counters.scrape(hashes.length);
    let next = 0;
    return hashes.map((_, i) => (known && !known[i] ? undefined : counts[next++]));
  }

  /**
   * A full scrape (no hashes): the counters of up to `maxScrapeHashes` live swarms. Rejects with the
   * failure to answer, for example when `fullScrape` is off.
   */
  async full(passkey: string | undefined, webrtc = false): Promise<ScrapeFile[]> {
    const { policy, storage, options } = this.deps;
    if (policy) await policy.user(passkey);
    const store = await storage.opened(webrtc);
    if (!options.fullScrape) throw new TrackerFailure('scrape needs at least one info_hash (full scrape is off)');
    if (!store.scrapeAll) throw new TrackerFailure('full scrape is not supported by this tracker storage');
    const all = await storage.bounded(store.scrapeAll(options.maxScrapeHashes));
    this.deps.counters.scrape(0);
    if (!policy) return all;
    const known = await policy.registered(all.map((f) => Buffer.from(f.infoHash).toString('hex')));
    return all.filter((_, i) => known[i]);
  }
}
