/**
 * Counters the tracker core keeps as it works (never a scan): announces by event, transport and
 * address family, scrapes, failures by kind, storage calls and their latency. Plain numbers in
 * typed arrays: counting costs a few increments per request. Per process; the swarm totals come from
 * the store (see {@link SwarmTotals}).
 */
import type { AnnounceEvent, SwarmTotals } from '../types.js';

/** The doors of the tracker. */
export type Transport = 'http' | 'udp' | 'websocket';
/** Every kind of failure answer: the client's mistake, a policy, a store refusal, storage, or a bug. */
export type FailureCategory = 'request' | 'denied' | 'refused' | 'full' | 'storage' | 'internal';

export const TRANSPORTS: readonly Transport[] = ['http', 'udp', 'websocket'];
export const EVENTS: readonly AnnounceEvent[] = ['started', 'completed', 'stopped', 'update'];
export const FAILURES: readonly FailureCategory[] = ['request', 'denied', 'refused', 'full', 'storage', 'internal'];
/** Upper bounds (seconds) of the storage latency histogram's buckets. */
export const LATENCY_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

const EVENT_INDEX: Record<AnnounceEvent, number> = { started: 0, completed: 1, stopped: 2, update: 3 };
const TRANSPORT_INDEX: Record<Transport, number> = { http: 0, udp: 1, websocket: 2 };

/** A snapshot of the tracker at work, from {@link Tracker.stats}. */
export interface TrackerStats {
  /** Live swarms of TCP and UDP peers (undefined when the store cannot count them). */
  swarms: SwarmTotals | undefined;
  /** Live swarms of WebTorrent (WebSocket) peers (undefined until the first WebSocket announce, or when the store cannot count them). */
  webrtcSwarms: SwarmTotals | undefined;
  /** Accepted announces of this process, since it started. */
  announces: {
    total: number;
    byEvent: Record<AnnounceEvent, number>;
    byTransport: Record<Transport, number>;
    /** By the requester's address family. */
    byFamily: { ipv4: number; ipv6: number };
  };
  /** Scrapes answered by this process (requests, and info hashes asked for). */
  scrapes: { requests: number; hashes: number };
  /** Failure answers of this process, by kind. */
  failures: { total: number; byKind: Record<FailureCategory, number> };
  /**
   * UDP datagrams dropped without an answer: shorter than 16 bytes, an unknown action, a connection
   * id not valid for the sender's address (a stranger, a stale client, another tracker's answer), an
   * address that is no IP literal, `maxPending` reached, or a datagram the handler failed on.
   */
  udp: { dropped: number };
  /** Calls to the store that the tracker waited for (the in-memory store answers without one). */
  storage: {
    calls: number;
    /** Calls that failed or timed out. */
    errors: number;
    timeouts: number;
    /** Latency histogram: cumulative counts per upper bound (seconds), plus count and sum. */
    latency: { buckets: Array<{ le: number; count: number }>; count: number; sum: number };
  };
  /** Private-mode accounting: raw bytes the `maxCreditRate` cap kept out of `onTraffic` credits. */
  traffic: { clippedBytes: number };
  /** Seconds since the tracker was created. */
  uptime: number;
}

/** The running counters of one tracker. */
export class TrackerCounters {
  /** [transport][event][family 0=IPv4, 1=IPv6], flattened. */
  private readonly announces = new Float64Array(3 * 4 * 2);
  private readonly failures = new Float64Array(FAILURES.length);
  private readonly latency = new Float64Array(LATENCY_BUCKETS.length + 1);
  private latencySum = 0;
  private scrapes = 0;
  private scrapedHashes = 0;
  private storageErrors = 0;
  private storageTimeouts = 0;
  private clippedBytes = 0;
  private udpDropped = 0;
  private readonly started = Date.now();
  private readonly storageListeners = new Set<(seconds: number) => void>();

  /** Call `listener` with the duration of every storage call (metrics); returns the function that stops it. */
  onStorageCall(listener: (seconds: number) => void): () => void {
    this.storageListeners.add(listener);
    return () => this.storageListeners.delete(listener);
  }

  /** One accepted announce. */
  announce(transport: Transport, event: AnnounceEvent, ipv6: boolean): void {
    this.announces[(TRANSPORT_INDEX[transport] * 4 + EVENT_INDEX[event]) * 2 + (ipv6 ? 1 : 0)]++;
  }

  /** One answered scrape of `hashes` info hashes. */
  scrape(hashes: number): void {
    this.scrapes++;
    this.scrapedHashes += hashes;
  }

  /** Raw bytes a credit lost to the `maxCreditRate` cap. */
  clipped(bytes: number): void {
    this.clippedBytes += bytes;
  }

  /** One failure answer. */
  failure(kind: FailureCategory): void {
    this.failures[FAILURES.indexOf(kind)]++;
  }

  /** One UDP datagram dropped without an answer. */
  udpDrop(): void {
    this.udpDropped++;
  }

  /** One store call that took `seconds`; `outcome` says whether it failed. */
  storageCall(seconds: number, outcome: 'ok' | 'error' | 'timeout'): void {
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]) i++;
    this.latency[i]++;
    this.latencySum += seconds;
    for (const listener of this.storageListeners) listener(seconds);
    if (outcome === 'error') this.storageErrors++;
    else if (outcome === 'timeout') {
      this.storageErrors++;
      this.storageTimeouts++;
    }
  }

  /** Everything but the swarm totals. */
  snapshot(): Omit<TrackerStats, 'swarms' | 'webrtcSwarms'> {
    const byEvent = { started: 0, completed: 0, stopped: 0, update: 0 } as Record<AnnounceEvent, number>;
    const byTransport = { http: 0, udp: 0, websocket: 0 } as Record<Transport, number>;
    const byFamily = { ipv4: 0, ipv6: 0 };
    let total = 0;
    TRANSPORTS.forEach((t, ti) =>
      EVENTS.forEach((e, ei) => {
        for (let f = 0; f < 2; f++) {
          const n = this.announces[(ti * 4 + ei) * 2 + f];
          byEvent[e] += n;
          byTransport[t] += n;
          if (f === 0) byFamily.ipv4 += n;
          else byFamily.ipv6 += n;
          total += n;
        }
      }),
    );
    const byKind = {} as Record<FailureCategory, number>;
    FAILURES.forEach((k, i) => (byKind[k] = this.failures[i]));
    let cumulative = 0;
    const buckets = LATENCY_BUCKETS.map((le, i) => ({ le, count: (cumulative += this.latency[i]) }));
    const count = cumulative + this.latency[LATENCY_BUCKETS.length];
    return {
      announces: { total, byEvent, byTransport, byFamily },
      scrapes: { requests: this.scrapes, hashes: this.scrapedHashes },
      failures: { total: this.failures.reduce((a, b) => a + b, 0), byKind },
      udp: { dropped: this.udpDropped },
      storage: {
        calls: count,
        errors: this.storageErrors,
        timeouts: this.storageTimeouts,
        latency: { buckets, count, sum: this.latencySum },
      },
      traffic: { clippedBytes: this.clippedBytes },
      uptime: (Date.now() - this.started) / 1000,
    };
  }

  /** Announces by transport, event and family, for metrics (no object per call beyond the result). */
  announceCounts(): Array<{ transport: Transport; event: AnnounceEvent; family: 'ipv4' | 'ipv6'; count: number }> {
    const out: Array<{ transport: Transport; event: AnnounceEvent; family: 'ipv4' | 'ipv6'; count: number }> = [];
    TRANSPORTS.forEach((transport, ti) =>
      EVENTS.forEach((event, ei) => {
        out.push({ transport, event, family: 'ipv4', count: this.announces[(ti * 4 + ei) * 2] });
        out.push({ transport, event, family: 'ipv6', count: this.announces[(ti * 4 + ei) * 2 + 1] });
      }),
    );
    return out;
  }
}
