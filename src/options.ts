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
import { booleanOption, describeValue, functionOption, optionsObject, wholeNumber, type NumberRange } from './option-checks.js';

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
  /**
   * Spread of the `interval` told to each client, as a fraction (0 to 0.5): 0.1 tells each announce
   * a value within ±10 % of `interval` (never below `minInterval`), so that clients started together
   * (after a restart) do not come back together. 0 turns it off. Default 0.1.
   */
  intervalJitter?: number;
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
  /**
   * Keep per-torrent history for `tracker.history()`: announces, completions and peak seeders and
   * leechers per minute (24 hours), hour (30 days) and day (365 days). Default false. In the process
   * on the memory store and Keyv stores (about 50 KB per torrent), shared by every instance on Redis.
   */
  history?: boolean;
  /** Seconds between writes of this instance's history sums (one batch). Default 5. */
  historyFlushInterval?: number;
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
   * worker, a tracker created inside a request handler, the first storage failure while nothing
   * listens for `failure` (`storageFailure`). `false` turns them all off; an object turns
   * off single ones (`{ xForwardedFor: false }`). Default: all on.
   */
  validate?: ValidateOption;
}

/** Options that are functions or objects of the site, kept as given. */
type FunctionOptions = 'store' | 'warning' | 'passkey' | 'torrents' | 'clients' | 'onTraffic' | 'validate';

/** Options after defaults are applied. */
export type ResolvedTrackerOptions = Required<Omit<TrackerOptions, FunctionOptions>> & Pick<TrackerOptions, 'warning'>;

/** Every option of {@link TrackerOptions} (the type check below keeps the list complete). */
export const TRACKER_OPTION_NAMES = [
  'store', 'interval', 'intervalJitter', 'minInterval', 'peerTtl', 'numwant', 'maxNumwant', 'allowIpParameter', 'fullScrape', 'maxScrapeHashes',
  'maxQueryLength', 'maxParameters', 'storeTimeout', 'warning', 'passkey', 'torrents', 'clients', 'enforceInterval', 'onTraffic',
  'trafficInterval', 'trafficTimeout', 'maxCreditRate', 'policyCacheTtl', 'policyRefusalTtl', 'policyCacheSize', 'maxSwarms',
  'maxPeers', 'validate', 'history', 'historyFlushInterval',
] as const satisfies ReadonlyArray<keyof TrackerOptions>;
// A compile error here means an option of TrackerOptions is missing from the list above.
const listsEveryOption: Exclude<keyof TrackerOptions, (typeof TRACKER_OPTION_NAMES)[number]> extends never ? true : false = true;
void listsEveryOption;

/**
 * Apply defaults and check types and ranges; throws a TypeError on a bad option (a programming
 * error), naming `scope` (the entry point), the option, the rule and the value received.
 */
export function resolveOptions(options: TrackerOptions = {}, scope = 'trackerMiddleware'): ResolvedTrackerOptions {
  const o = optionsObject(scope, options) as TrackerOptions;
  const whole = (name: keyof TrackerOptions, fallback: number, range?: NumberRange) => wholeNumber(scope, name, o[name], fallback, range);
  const interval = whole('interval', 1800, { min: 1 });
  const maxNumwant = whole('maxNumwant', 200, { max: 0xffff });
  const numwant = whole('numwant', 50);
  if (o.warning !== undefined && typeof o.warning !== 'string') throw new TypeError(`${scope}: options.warning must be a string (got ${describeValue(o.warning)})`);
  return {
    interval,
    intervalJitter: jitterOption(scope, o.intervalJitter),
    minInterval: whole('minInterval', Math.max(1, Math.floor(interval / 2))),
    peerTtl: whole('peerTtl', 2 * interval, { min: 1 }),
    numwant: Math.min(numwant, maxNumwant),
    maxNumwant,
    allowIpParameter: booleanOption(scope, 'allowIpParameter', o.allowIpParameter, false),
    fullScrape: booleanOption(scope, 'fullScrape', o.fullScrape, false),
    history: booleanOption(scope, 'history', o.history, false),
    historyFlushInterval: whole('historyFlushInterval', 5, { min: 1 }),
    maxScrapeHashes: whole('maxScrapeHashes', 64, { min: 1 }),
    maxQueryLength: whole('maxQueryLength', 8192),
    maxParameters: whole('maxParameters', 128),
    maxSwarms: whole('maxSwarms', 100_000),
    maxPeers: whole('maxPeers', 1_000_000),
    storeTimeout: whole('storeTimeout', 1000, { min: 1 }),
    warning: o.warning,
    enforceInterval: booleanOption(scope, 'enforceInterval', o.enforceInterval, o.passkey !== undefined),
    trafficInterval: whole('trafficInterval', 60, { min: 1 }),
    trafficTimeout: whole('trafficTimeout', 10_000, { min: 1 }),
    maxCreditRate: whole('maxCreditRate', 0),
    policyCacheTtl: whole('policyCacheTtl', 60),
    policyRefusalTtl: whole('policyRefusalTtl', 5),
    policyCacheSize: whole('policyCacheSize', 100_000, { min: 1 }),
  };
}

/** Check the options that are functions, modes or rule objects (TypeError on a bad one). */
export function checkFunctions(options: TrackerOptions, scope = 'trackerMiddleware'): void {
  const o = optionsObject(scope, options) as TrackerOptions;
  functionOption(scope, 'passkey', o.passkey, '(passkey) => user id | null');
  if (o.torrents !== 'registry') functionOption(scope, 'torrents', o.torrents, "(infoHash) => true | rules | false, or 'registry'");
  functionOption(scope, 'onTraffic', o.onTraffic, '(records) => void');
  if (o.onTraffic !== undefined && !o.passkey) throw new TypeError(`${scope}: options.onTraffic needs options.passkey (traffic is accounted per user)`);
  if (o.clients !== undefined) {
    if (typeof o.clients !== 'object' || o.clients === null || Array.isArray(o.clients)) {
      throw new TypeError(`${scope}: options.clients must be an object { allow?: string[], deny?: string[] } (got ${describeValue(o.clients)})`);
    }
    for (const list of ['allow', 'deny'] as const) {
      const value = o.clients[list];
      if (value !== undefined && !Array.isArray(value)) {
        throw new TypeError(`${scope}: options.clients.${list} must be an array of peer_id prefixes, e.g. ['-qB'] (got ${describeValue(value)})`);
      }
    }
  }
  if (o.validate !== undefined && typeof o.validate !== 'boolean' && (typeof o.validate !== 'object' || o.validate === null)) {
    throw new TypeError(`${scope}: options.validate must be true, false or an object of checks (got ${describeValue(o.validate)})`);
  }
}

/** `intervalJitter`: a fraction from 0 to 0.5, default 0.1. */
function jitterOption(scope: string, value: unknown): number {
  if (value === undefined) return 0.1;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 0.5) {
    throw new TypeError(`${scope}: options.intervalJitter must be a number from 0 to 0.5 (got ${describeValue(value)})`);
  }
  return value;
}
