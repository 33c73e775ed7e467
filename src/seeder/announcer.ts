/**
 * Announces one torrent to its HTTP(S) trackers: `started` first, then regularly at the interval
 * each tracker asks for, `stopped` on {@link Announcer.stop}. Tiers follow BEP 12: within a tier
 * the trackers are tried in order until one answers (and that one moves to the front); every tier
 * is announced to. Failures back off (15 s doubling up to 5 min). UDP trackers are skipped.
 */
import { EventEmitter } from 'node:events';
import {
  TrackerError,
  buildAnnounceUrl,
  httpGet,
  parseAnnounceResponse,
  type AnnounceParams,
  type AnnounceResponse,
  type PeerAddress,
} from './tracker-http.js';

/** Options for {@link Announcer}. */
export interface AnnouncerOptions {
  /** Announce URL tiers. */
  tiers: string[][];
  /** 20-byte info hash. */
  infoHash: Buffer;
  /** Our 20-byte peer id. */
  peerId: Buffer;
  /** Our listening port (read at each announce). */
  port: () => number;
  /** Uploaded payload bytes (read at each announce). */
  uploaded: () => number;
  /** Bytes left (0 for a seed). */
  left?: () => number;
  /** Local address to announce from. */
  localAddress?: string;
  /** Peers asked for per announce; default 50. */
  numwant?: number;
  /** `key` parameter. */
  key?: string;
  /** Lower bound on the re-announce interval in seconds, whatever a tracker says; default 5. */
  minInterval?: number;
  /** Upper bound on the re-announce interval in seconds; default 3600. */
  maxInterval?: number;
  /** First retry delay after a failure in ms; default 15 000 (doubles up to 5 min). */
  retryDelay?: number;
  /** HTTP timeout in ms; default 15 000. */
  timeout?: number;
  /** User-Agent. */
  userAgent?: string;
}

/** A successful announce, as emitted in `announce` events. */
export interface AnnounceResult {
  /** The tracker URL (without the query). */
  url: string;
  /** The event sent, if any. */
  event?: AnnounceParams['event'];
  /** The tracker's answer. */
  response: AnnounceResponse;
}

/** A failed announce, as emitted in `announce-error` events. */
export interface AnnounceFailure {
  /** The tracker URL. */
  url: string;
  /** The event that was being sent, if any. */
  event?: AnnounceParams['event'];
  /** What went wrong. */
  error: Error;
}

interface Tier {
  urls: string[];
  started: boolean;
  timer?: NodeJS.Timeout;
  failures: number;
  trackerId?: string;
  busy: boolean;
  /** The announce in flight, if any. */
  inflight?: Promise<void>;
}

/**
 * Announcer for one torrent. Emits `announce` ({@link AnnounceResult}), `announce-error`
 * ({@link AnnounceFailure}) and `peers` (PeerAddress[] from every answer).
 */
export class Announcer extends EventEmitter {
  /** Last successful answer of any tier. */
  last: AnnounceResult | undefined;
  private readonly tiers: Tier[];
  private stopped = false;
  private running = false;

  /** @param options see {@link AnnouncerOptions} */
  constructor(private readonly options: AnnouncerOptions) {
    super();
    this.tiers = options.tiers
      .map((urls) => urls.filter((u) => /^https?:\/\//i.test(u)))
      .filter((urls) => urls.length > 0)
      .map((urls) => ({ urls: [...urls], started: false, failures: 0, busy: false }));
  }

  /** Number of usable (HTTP/HTTPS) tiers. */
  get tierCount(): number {
    return this.tiers.length;
  }

  /** Sends `started` to every tier and keeps announcing. */
  start(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    for (const tier of this.tiers) this.run(tier);
  }

  /** Announces to every tier now (e.g. to find new peers sooner). */
  announceNow(): void {
    if (!this.running || this.stopped) return;
    for (const tier of this.tiers) {
      if (tier.busy) continue;
      clearTimeout(tier.timer);
      this.run(tier);
    }
  }

  /** Stops announcing; sends `stopped` to every tier that saw `started` (bounded by `timeout`). */
  async stop(timeout = 5_000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const deadline = Date.now() + timeout;
    await Promise.all(
      this.tiers.map(async (tier) => {
        clearTimeout(tier.timer);
        // A `started` still in flight may succeed: wait for it (bounded) so the tracker hears `stopped`.
        if (tier.inflight) await Promise.race([tier.inflight, delay(Math.max(0, deadline - Date.now()))]);
        const left = deadline - Date.now();
        if (tier.started && left > 0) await this.send(tier, tier.urls[0], 'stopped', left).catch(() => undefined);
      }),
    );
  }

  private run(tier: Tier): void {
    tier.inflight = this.announceTier(tier).finally(() => {
      tier.inflight = undefined;
    });
  }

  private async announceTier(tier: Tier): Promise<void> {
    if (this.stopped) return;
    tier.busy = true;
    const event = tier.started ? undefined : 'started';
    let answered: AnnounceResponse | undefined;
    for (let i = 0; i < tier.urls.length && !this.stopped; i++) {
      const url = tier.urls[i];
      try {
        answered = await this.send(tier, url, event, this.options.timeout ?? 15_000);
        if (i > 0) tier.urls.splice(0, 0, ...tier.urls.splice(i, 1));
        tier.started = true;
        break;
      } catch {
        // already reported by send(); try the next tracker of the tier
      }
    }
    tier.busy = false;
    if (this.stopped) return;
    let delayMs: number;
    if (answered) {
      tier.failures = 0;
      const min = this.options.minInterval ?? 5;
      const max = this.options.maxInterval ?? 3600;
      const seconds = Math.min(max, Math.max(min, answered.minInterval ?? 0, answered.interval));
      delayMs = seconds * 1000;
    } else {
      const base = this.options.retryDelay ?? 15_000;
      delayMs = Math.min(300_000, base * 2 ** Math.min(tier.failures, 10));
      tier.failures += 1;
    }
    tier.timer = setTimeout(() => this.run(tier), delayMs);
    tier.timer.unref();
  }

  private async send(tier: Tier, url: string, event: AnnounceParams['event'], timeout: number): Promise<AnnounceResponse> {
    const o = this.options;
    const full = buildAnnounceUrl(url, {
      infoHash: o.infoHash,
      peerId: o.peerId,
      port: o.port(),
      uploaded: o.uploaded(),
      downloaded: 0,
      left: o.left?.() ?? 0,
      event,
      numwant: event === 'stopped' ? 0 : (o.numwant ?? 50),
      key: o.key,
      trackerId: tier.trackerId,
    });
    try {
      const body = await httpGet(full, { localAddress: o.localAddress, timeout, userAgent: o.userAgent });
      const response = parseAnnounceResponse(body);
      if (response.trackerId) tier.trackerId = response.trackerId;
      const result: AnnounceResult = { url, event, response };
      this.last = result;
      this.emit('announce', result);
      if (event !== 'stopped' && response.peers.length > 0) this.emit('peers', response.peers as PeerAddress[]);
      return response;
    } catch (err) {
      const error = err instanceof Error ? err : new TrackerError(String(err));
      this.emit('announce-error', { url, event, error } satisfies AnnounceFailure);
      throw error;
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
