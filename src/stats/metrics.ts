/**
 * `trackerMetrics()`: the tracker's stats as Prometheus metrics through prom-client (an optional
 * peer dependency, loaded only when this is called). Counters are read from the tracker's own
 * counters when Prometheus scrapes, so the announce path pays nothing for metrics; the storage
 * latency histogram is observed as calls finish (storage calls only, never the in-memory path).
 *
 * Labels have small fixed sets of values (transport, event, family, kind, swarms): never an info
 * hash, an address or a passkey.
 */
import { createRequire } from 'node:module';
import { FAILURES, LATENCY_BUCKETS } from './counters.js';
import type { Tracker } from '../tracker.js';
import type { SwarmTotals } from '../types.js';

/** Options of {@link trackerMetrics}. */
export interface TrackerMetricsOptions {
  /** The prom-client registry to register in. Default: prom-client's global `register`. */
  register?: unknown;
  /** Prefix of every metric name. Default `bittorrent_tracker_`. */
  prefix?: string;
}

/** What {@link trackerMetrics} registered. */
export interface TrackerMetrics {
  /** The metric names, for reference. */
  readonly names: string[];
  /** Remove the metrics from the registry and stop observing the tracker. */
  remove(): void;
}

type PromClient = typeof import('prom-client');

function loadPromClient(): PromClient {
  try {
    return createRequire(import.meta.url)('prom-client') as PromClient;
  } catch {
    throw new Error('trackerMetrics needs prom-client: npm install prom-client');
  }
}

/**
 * Register the tracker's metrics in a prom-client registry. `tracker` is a `Tracker` or anything
 * holding one as `.tracker` (a `trackerMiddleware()` router, a `createTrackerServer()` server).
 *
 * What each instance reports: the `*_total` counters and the latency histogram count what *this*
 * process answered (sum them over instances); the swarm gauges (`torrents`, `seeders`, `leechers`,
 * `peers`) are the store's totals, global with Redis (every instance reports the same value: take
 * `max`, not `sum`), per process with the memory store, per instance with other Keyv stores.
 */
export function trackerMetrics(tracker: Tracker | { tracker: Tracker }, options: TrackerMetricsOptions = {}): TrackerMetrics {
  const core: Tracker = 'tracker' in tracker && !('stats' in tracker) ? tracker.tracker : (tracker as Tracker);
  const client = loadPromClient();
  const register = (options.register ?? client.register) as InstanceType<PromClient['Registry']>;
  const p = options.prefix ?? 'bittorrent_tracker_';
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(p)) throw new TypeError('prefix: letters, digits, "_" and ":" only, not starting with a digit');
  const counters = core.statsCounters;
  const names: string[] = [];
  const registers = [register];

  new client.Counter({
    name: `${p}announces_total`,
    help: 'Accepted announces, by transport, event and address family of the requester.',
    labelNames: ['transport', 'event', 'family'],
    registers,
    collect() {
      this.reset();
      // Every label combination, zeros included (a series that appears late breaks rate()).
      for (const c of counters.announceCounts()) this.inc({ transport: c.transport, event: c.event, family: c.family }, c.count);
    },
  });
  names.push(`${p}announces_total`);

  new client.Counter({
    name: `${p}scrapes_total`,
    help: 'Scrape requests answered.',
    registers,
    collect() {
      this.reset();
      this.inc(counters.snapshot().scrapes.requests);
    },
  });
  new client.Counter({
    name: `${p}scraped_hashes_total`,
    help: 'Info hashes asked for in scrape requests.',
    registers,
    collect() {
      this.reset();
      this.inc(counters.snapshot().scrapes.hashes);
    },
  });
  new client.Counter({
    name: `${p}failures_total`,
    help: 'Failure answers, by kind: request (malformed), denied (passkey, torrent, client rules), refused (peer rules), storage, internal.',
    labelNames: ['kind'],
    registers,
    collect() {
      this.reset();
      const byKind = counters.snapshot().failures.byKind;
      for (const kind of FAILURES) this.inc({ kind }, byKind[kind]);
    },
  });
  new client.Counter({
    name: `${p}storage_errors_total`,
    help: 'Storage calls that failed, by kind (error, timeout).',
    labelNames: ['kind'],
    registers,
    collect() {
      this.reset();
      const s = counters.snapshot().storage;
      this.inc({ kind: 'error' }, s.errors - s.timeouts);
      this.inc({ kind: 'timeout' }, s.timeouts);
    },
  });
  new client.Counter({
    name: `${p}traffic_clipped_bytes_total`,
    help: 'Raw bytes kept out of onTraffic credits by the maxCreditRate cap (implausible counter jumps).',
    registers,
    collect() {
      this.reset();
      this.inc(counters.snapshot().traffic.clippedBytes);
    },
  });
  new client.Counter({
    name: `${p}udp_dropped_total`,
    help: 'UDP datagrams dropped without an answer: too short, unknown action, connection id not valid for the sender, overload.',
    registers,
    collect() {
      this.reset();
      this.inc(counters.snapshot().udp.dropped);
    },
  });
  names.push(`${p}scrapes_total`, `${p}scraped_hashes_total`, `${p}failures_total`, `${p}storage_errors_total`, `${p}traffic_clipped_bytes_total`, `${p}udp_dropped_total`);

  const latency = new client.Histogram({
    name: `${p}storage_duration_seconds`,
    help: 'Time the tracker waited for its store, per call (the in-memory store needs no call).',
    buckets: [...LATENCY_BUCKETS],
    registers,
  });
  const stopObserving = counters.onStorageCall((seconds) => latency.observe(seconds));
  names.push(`${p}storage_duration_seconds`);

  // Swarm totals: one read of the store per scrape, shared by the gauges below.
  let pending: Promise<{ swarms?: SwarmTotals; webrtc?: SwarmTotals }> | undefined;
  const totals = () =>
    (pending ??= core
      .stats()
      .then((s) => ({ swarms: s.swarms, webrtc: s.webrtcSwarms }))
      .finally(() => setImmediate(() => (pending = undefined))));
  const gauge = (name: string, help: string, labelNames: string[], read: (t: SwarmTotals, set: (labels: Record<string, string>, v: number) => void) => void) => {
    new client.Gauge({
      name: `${p}${name}`,
      help,
      labelNames: ['swarms', ...labelNames],
      registers,
      async collect() {
        this.reset();
        const t = await totals();
        for (const [swarms, value] of [['bittorrent', t.swarms], ['webrtc', t.webrtc]] as const) {
          if (value) read(value, (labels, v) => this.set({ swarms, ...labels }, v));
        }
      },
    });
    names.push(`${p}${name}`);
  };
  gauge('torrents', 'Swarms with at least one live peer (swarms=bittorrent: TCP/UDP peers; swarms=webrtc: WebTorrent peers).', [], (t, set) => set({}, t.torrents));
  gauge('seeders', 'Live seeders.', [], (t, set) => set({}, t.seeders));
  gauge('leechers', 'Live leechers.', [], (t, set) => set({}, t.leechers));
  gauge('peers', 'Live peers by address family (WebTorrent peers are listed under 16-byte routes: ipv6).', ['family'], (t, set) => {
    set({ family: 'ipv4' }, t.ipv4);
    set({ family: 'ipv6' }, t.ipv6);
  });

  return {
    names,
    remove() {
      stopObserving();
      for (const name of names) register.removeSingleMetric(name);
    },
  };
}
