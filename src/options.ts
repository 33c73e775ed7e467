/**
 * The tracker's options: what a site may set, their defaults, and their checks (a bad option is a
 * programming error and throws a TypeError when the tracker is created).
 */
import type { ValidateOption } from './validations.js';
import type { ClientRules } from './policy/clients.js';
import type { PasskeyVerifier } from './policy/passkey.js';
import type { TorrentVerifier } from './policy/torrents.js';
import type { TrafficCallback } from './policy/traffic.js';
import type { StoreOption } from './swarm/open.js';

/** Options of {@link trackerMiddleware} and {@link createTrackerServer}. Every field is optional. */
export interface TrackerOptions {
  /**
   * Where swarms live: a `Keyv` instance (any adapter; @keyv/redis gets the native atomic Redis
   * store), a connection URI (`redis://`, `rediss://`, `sqlite://`, `postgresql://`, `mysql://`),
   * or your own {@link SwarmStore}. Default: in-memory (one process).
   */
  store?: StoreOption;
  /** Seconds between regular announces, told to clients as `interval`. Default 1800. */
  interval?: number;
  /** Seconds clients must wait at least between announces (`min interval`). Default `interval / 2`. */
  minInterval?: number;
  /** Seconds a peer stays listed without announcing again. Default `2 * interval`. */
  peerTtl?: number;
  /** Peers returned when the client sends no `numwant`. Default 50. */
  numwant?: number;
  /** Upper bound on peers returned, whatever the client asks for. Default 200. */
  maxNumwant?: number;
  /**
   * Honour the client's `ip` parameter instead of the connection's address. Default false: a tracker
   * that trusts it can be used to aim traffic at third parties. Only enable it behind a gateway you
   * control. (For proxies, use Express's own `trust proxy` setting instead.)
   */
  allowIpParameter?: boolean;
  /** Answer a scrape without `info_hash` with every swarm (up to `maxScrapeHashes`). Default false. */
  fullScrape?: boolean;
  /** Most distinct info hashes in one scrape (and in a full scrape). Default 64. */
  maxScrapeHashes?: number;
  /** Longest accepted query string, in characters. Default 8192 (64 escaped info hashes fit; Node's own limit on the request line is 16 KiB). */
  maxQueryLength?: number;
  /** Most `name=value` pairs in one query. Default 128. */
  maxParameters?: number;
  /**
   * Milliseconds a storage call may take before the client gets a `failure reason` instead of
   * waiting. Default 1000.
   */
  storeTimeout?: number;
  /** Optional `warning message` added to every announce answer. */
  warning?: string;

  // ---- access control (private trackers) -------------------------------------------------------

  /**
   * Makes the tracker private: maps a passkey to the site's user id (or `null`/`undefined`/`false` to
   * refuse it); may be async. Clients then announce to `<mount>/<passkey>/announce` and scrape at
   * `<mount>/<passkey>/scrape`; the bare paths answer a failure reason. Passkeys must be 1 to 128
   * URL-safe characters (`A-Z a-z 0-9 - _ . ~`); others are refused without calling this function.
   * Answers are cached (`policyCacheTtl`, refusals `policyRefusalTtl`); a function that throws or
   * does not answer within `storeTimeout` gives a failure reason.
   */
  passkey?: PasskeyVerifier;
  /**
   * Registered torrents only: a function of the info hash (lowercase hex) returning `true`, rules
   * (`{ uploadFactor, downloadFactor }`; freeleech is `downloadFactor: 0`) or a falsy value for an
   * unregistered torrent; or `'registry'` for the tracker's built-in registry in the store (see
   * {@link Tracker.addTorrent}). Unregistered torrents get `unregistered torrent`, are never stored,
   * and scrapes leave them out. Works in public and private mode. Cached like `passkey`.
   */
  torrents?: TorrentVerifier | 'registry';
  /** Allowed / denied clients by peer_id prefix (compared on the raw bytes), e.g. `{ deny: ['-XL'] }`. */
  clients?: ClientRules;
  /**
   * Refuse a regular announce (no event) that comes sooner than `min interval` after the same peer's
   * previous accepted one; the refusal says how long to wait and changes nothing. Default: on in
   * private mode, off otherwise.
   */
  enforceInterval?: boolean;
  /**
   * Per-user traffic accounting (needs `passkey`): receives records summed per (user, info hash),
   * every `trafficInterval` seconds and at {@link Tracker.close}. A call that throws or rejects is
   * retried with the next batch (its records merged in): nothing is lost or counted twice.
   */
  onTraffic?: TrafficCallback;
  /** Seconds between `onTraffic` batches. Default 60. */
  trafficInterval?: number;
  /**
   * Milliseconds an `onTraffic` call may take. A call that has not settled by then counts as failed:
   * `failure` is emitted, its records are merged into the next batch, and later batches and `close()`
   * no longer wait for it. Default 10 000.
   */
  trafficTimeout?: number;
  /**
   * Plausibility cap on credit, in bytes per second: one announce credits at most this many bytes of
   * upload and of download per second since the peer's previous announce (at least one second's
   * worth). What is cut off is counted in `stats().traffic.clippedBytes`. 0 = no cap (default). For
   * example 125 000 000 for peers on links of at most 1 Gbit/s.
   */
  maxCreditRate?: number;
  /** Seconds a `passkey` / `torrents` answer is reused. Default 60. */
  policyCacheTtl?: number;
  /** Seconds a refusal (unknown passkey, unregistered torrent) is reused. Default 5. */
  policyRefusalTtl?: number;
  /** Most cached answers per function. Default 100 000. */
  policyCacheSize?: number;
  /**
   * Most live swarms (torrents with at least one peer). Past it, an announce that would start a new
   * swarm gets `tracker is full, try again later`; existing swarms keep working. With Redis the cap
   * is global (kept by the store's scripts). 0 = no cap. Default 100 000.
   */
  maxSwarms?: number;
  /** Most live peers, the same way. 0 = no cap. Default 1 000 000. */
  maxPeers?: number;
  /**
   * Misconfiguration warnings (each logged once with `console.warn`, a code and a README link):
   * X-Forwarded-For without `trust proxy`, `trust proxy` set to true, the memory store in a cluster
   * worker, a tracker created inside a request handler. `false` turns them all off; an object turns
   * off single ones (`{ xForwardedFor: false }`). Default: all on.
   */
  validate?: ValidateOption;
}

/** Options that are functions or objects of the site, kept as given. */
type FunctionOptions = 'store' | 'warning' | 'passkey' | 'torrents' | 'clients' | 'onTraffic' | 'validate';

/** Options after defaults are applied. */
export type ResolvedTrackerOptions = Required<Omit<TrackerOptions, FunctionOptions>> & Pick<TrackerOptions, 'warning'>;

function positiveInteger(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new TypeError(`options.${name} must be a non-negative integer (got ${String(value)})`);
  }
  return value;
}

/** Apply defaults and check types; throws TypeError on a bad option (a programming error). */
export function resolveOptions(options: TrackerOptions = {}): ResolvedTrackerOptions {
  const interval = positiveInteger('interval', options.interval, 1800);
  if (interval < 1) throw new TypeError('options.interval must be at least 1 second');
  const numwant = positiveInteger('numwant', options.numwant, 50);
  const maxNumwant = positiveInteger('maxNumwant', options.maxNumwant, 200);
  return {
    interval,
    minInterval: positiveInteger('minInterval', options.minInterval, Math.max(1, Math.floor(interval / 2))),
    peerTtl: Math.max(1, positiveInteger('peerTtl', options.peerTtl, 2 * interval)),
    numwant: Math.min(numwant, maxNumwant),
    maxNumwant,
    allowIpParameter: options.allowIpParameter === true,
    fullScrape: options.fullScrape === true,
    maxScrapeHashes: Math.max(1, positiveInteger('maxScrapeHashes', options.maxScrapeHashes, 64)),
    maxQueryLength: positiveInteger('maxQueryLength', options.maxQueryLength, 8192),
    maxParameters: positiveInteger('maxParameters', options.maxParameters, 128),
    maxSwarms: positiveInteger('maxSwarms', options.maxSwarms, 100_000),
    maxPeers: positiveInteger('maxPeers', options.maxPeers, 1_000_000),
    storeTimeout: Math.max(1, positiveInteger('storeTimeout', options.storeTimeout, 1000)),
    warning: options.warning,
    enforceInterval: options.enforceInterval ?? options.passkey !== undefined,
    trafficInterval: Math.max(1, positiveInteger('trafficInterval', options.trafficInterval, 60)),
    trafficTimeout: Math.max(1, positiveInteger('trafficTimeout', options.trafficTimeout, 10_000)),
    maxCreditRate: positiveInteger('maxCreditRate', options.maxCreditRate, 0),
    policyCacheTtl: positiveInteger('policyCacheTtl', options.policyCacheTtl, 60),
    policyRefusalTtl: positiveInteger('policyRefusalTtl', options.policyRefusalTtl, 5),
    policyCacheSize: Math.max(1, positiveInteger('policyCacheSize', options.policyCacheSize, 100_000)),
  };
}

/** Check the options that are functions or modes (TypeError on a bad one). */
export function checkFunctions(options: TrackerOptions): void {
  if (options.passkey !== undefined && typeof options.passkey !== 'function') {
    throw new TypeError('options.passkey must be a function (passkey) => user id | null');
  }
  if (options.torrents !== undefined && typeof options.torrents !== 'function' && options.torrents !== 'registry') {
    throw new TypeError("options.torrents must be a function (infoHash) => boolean | rules, or 'registry'");
  }
  if (options.onTraffic !== undefined) {
    if (typeof options.onTraffic !== 'function') throw new TypeError('options.onTraffic must be a function');
    if (!options.passkey) throw new TypeError('options.onTraffic needs options.passkey (traffic is accounted per user)');
  }
}
