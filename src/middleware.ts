/**
 * `trackerMiddleware()`: the Express glue. It reads the raw query string (never `req.query`, which
 * destroys binary bytes), takes the client address as `req.ip` would (so the app's own
 * `trust proxy` setting decides about X-Forwarded-For) and writes the core's bencoded answer.
 *
 * One layer handles both paths: no route matching or method dispatch per request beyond a string
 * comparison, and with the in-memory store the answer is computed synchronously.
 */
import { Router, type NextFunction, type Request, type Response } from 'express';
import { parseTrackerPath } from './protocol/path.js';
import { Tracker, type ListTorrentsOptions, type PeerListPage, type PeersOptions, type TorrentInput, type TorrentPage, type TrackerOptions } from './tracker.js';
import type { Ban, BanSpec } from './core/bans.js';
import type { DrainOptions, DrainResult, HealthReport } from './health/health.js';
import { TRACKER_OPTION_NAMES } from './options.js';
import { warnUnknownKeys } from './option-checks.js';
import { answerHttp, sendFailure } from './transport/http-answer.js';
import type { TorrentRules } from './types.js';

/** The Router returned by {@link trackerMiddleware}, with a handle on the tracker behind it. */
export type TrackerRouter = Router & {
  /** The protocol core: events (`announce`, `failure`), options, the store in use. */
  tracker: Tracker;
  /**
   * Resolves once the store is open and answers; rejects with the reason (which store, what failed)
   * when it cannot be opened, e.g. `await router.ready()` before `app.listen()` to fail fast. The
   * tracker does not need it: it answers failures while its store is down and recovers by itself.
   */
  ready(): Promise<void>;
  /** Close the store if the tracker opened it (a URI or the default memory store). */
  close(): Promise<void>;
  /** {@link Tracker.health}. */
  health(): Promise<HealthReport>;
  /** {@link Tracker.drain} (the app's own HTTP server is the app's to close). */
  drain(options?: DrainOptions): Promise<DrainResult>;
  /** {@link Tracker.forgetPasskey}. */
  forgetPasskey(passkey: string): Promise<void>;
  /** {@link Tracker.forgetTorrent}. */
  forgetTorrent(torrent: TorrentInput): Promise<void>;
  /** {@link Tracker.addTorrent}. */
  addTorrent(torrent: TorrentInput, rules?: TorrentRules): Promise<void>;
  /** {@link Tracker.removeTorrent}. */
  removeTorrent(torrent: TorrentInput): Promise<boolean>;
  /** {@link Tracker.flushTraffic}. */
  flushTraffic(): Promise<void>;
  /** {@link Tracker.listTorrents}. */
  listTorrents(options?: ListTorrentsOptions): Promise<TorrentPage>;
  /** {@link Tracker.peers}. */
  peers(torrent: TorrentInput, options?: PeersOptions): Promise<PeerListPage>;
  /** {@link Tracker.ban}. */
  ban(spec: BanSpec): Promise<Ban>;
  /** {@link Tracker.unban}. */
  unban(id: string): Promise<boolean>;
  /** {@link Tracker.bans}. */
  bans(): Promise<Ban[]>;
};

const MIDDLEWARE_OPTIONS: ReadonlySet<string> = new Set(TRACKER_OPTION_NAMES);

/**
 * The client's address exactly as `req.ip` gives it, without running proxy-addr when the app
 * trusts no proxy (Express's default), where `req.ip` is the socket's address anyway.
 */
function clientAddress(req: Request): string | undefined {
  const trust: unknown = req.app?.get('trust proxy');
  if (trust === false || trust === undefined) return req.socket.remoteAddress;
  return req.ip ?? req.socket.remoteAddress;
}

/**
 * A BitTorrent tracker as an Express Router answering `GET announce` and `GET scrape` relative to
 * where it is mounted: `app.use('/tracker', trackerMiddleware())` serves `/tracker/announce` and
 * `/tracker/scrape`. With a `passkey` option the tracker is private and serves
 * `/tracker/<passkey>/announce` and `/tracker/<passkey>/scrape` instead. It touches no app setting
 * and parses no bodies; other paths and methods pass through to the next handler.
 */
export function trackerMiddleware(options: TrackerOptions = {}, ...misuse: unknown[]): TrackerRouter {
  if (typeof misuse[1] === 'function' && typeof (options as { method?: unknown }).method === 'string') {
    // Express called trackerMiddleware itself with (req, res, next): it was mounted without `()`.
    const error = new TypeError("trackerMiddleware was mounted without calling it: use app.use('/tracker', trackerMiddleware()) (note the parentheses)");
    (misuse[1] as (error: unknown) => void)(error);
    return undefined as never;
  }
  const tracker = new Tracker(options, 'trackerMiddleware');
  warnUnknownKeys('trackerMiddleware', options as Record<string, unknown>, MIDDLEWARE_OPTIONS);
  const router = Router() as TrackerRouter;
  router.use((req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    // req.url is relative to the mount point; its query string is the raw one from the request line.
    const url = req.url;
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const query = q === -1 ? '' : url.slice(q + 1);
    const target = parseTrackerPath(path);
    // A passkey segment on a public tracker is not ours: leave it to the app (404 by default).
    if (!target || (target.passkey !== undefined && !tracker.isPrivate)) return next();
    try {
      tracker.validations.request(req);
      answerHttp(tracker, target.endpoint, query, target.endpoint === 'announce' ? clientAddress(req) : undefined, target.passkey, res);
    } catch (error) {
      // Nothing of ours reaches Express's error handler (it would answer 500).
      sendFailure(tracker, res, error);
    }
  });
  router.tracker = tracker;
  router.ready = () => tracker.ready();
  router.close = () => tracker.close();
  router.health = () => tracker.health();
  router.drain = (options) => tracker.drain(options);
  router.forgetPasskey = (passkey) => tracker.forgetPasskey(passkey);
  router.forgetTorrent = (torrent) => tracker.forgetTorrent(torrent);
  router.addTorrent = (torrent, rules) => tracker.addTorrent(torrent, rules);
  router.removeTorrent = (torrent) => tracker.removeTorrent(torrent);
  router.flushTraffic = () => tracker.flushTraffic();
  router.listTorrents = (options) => tracker.listTorrents(options);
  router.peers = (torrent, options) => tracker.peers(torrent, options);
  router.ban = (spec) => tracker.ban(spec);
  router.unban = (id) => tracker.unban(id);
  router.bans = () => tracker.bans();
  return router;
}
