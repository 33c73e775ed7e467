/**
 * The WebSocket door's options: what a site may set, their defaults, and their checks (through the
 * shared options pipeline, option-checks.ts), resolved once when the door is made.
 */
import type http from 'node:http';
import { functionOption, optionsObject, positiveNumber, warnUnknownKeys, wholeNumber } from '../option-checks.js';
import { TRACKER_OPTION_NAMES } from '../options.js';
import type { Tracker, TrackerOptions } from '../tracker.js';

/** Options of {@link createWebSocketTracker}. */
export interface WebSocketTrackerOptions extends TrackerOptions {
  /**
   * An existing tracker core to serve (`router.tracker` of a `trackerMiddleware()`, or
   * `server.tracker`): one store, one set of policies for every transport. When given, the tracker
   * options above are ignored. Default: a new core from these options.
   */
  tracker?: Tracker;
  /**
   * An HTTP server to take WebSocket upgrades from (the one `app.listen()` returned). Upgrades to
   * `<path>/announce` (and `<path>/<passkey>/announce` on a private tracker) are taken; others are
   * left to the server's other `upgrade` listeners (or refused with 404 when there are none).
   * Without it, call {@link WebSocketTracker.handleUpgrade} yourself.
   */
  server?: http.Server;
  /** Where the tracker is mounted, e.g. `/tracker` (the Express mount path). Default `''` (the root). */
  path?: string;
  /** Largest frame in bytes; larger ones close the connection (1009). Default 64 KiB. */
  maxPayload?: number;
  /** Most offers taken from one announce (more are ignored). Default 10. */
  maxOffers?: number;
  /** Seconds an offer may be answered after it was handed on. Default 50 (what clients wait). */
  offerTtl?: number;
  /** Most offers a connection may hold unanswered; the oldest is forgotten first. Default 100. */
  maxPendingOffers?: number;
  /** Most (torrent, peer id) pairs one connection may announce. Default 100. */
  maxPeersPerConnection?: number;
  /**
   * Most open WebSocket connections (a budget of their own: on `createTrackerServer` they never take
   * a slot of the HTTP `maxConnections`); more are refused (503). Default 50 000.
   */
  maxConnections?: number;
  /**
   * Most open connections from one client address (an IPv4 address, or an IPv6 /64); more are
   * refused (429). `0` turns the cap off. Default 100: a browser opens one socket per tracker URL
   * for all its torrents, so even a busy NAT (an office, a campus) stays well below it, while
   * filling the default `maxConnections` takes 500 addresses. Behind a reverse proxy, give
   * `clientAddress` (or every client counts as the proxy).
   */
  maxConnectionsPerAddress?: number;
  /**
   * The client's address for an upgrade request: the per-address cap, stats and events use it.
   * Default: the socket's remote address. Behind your own reverse proxy, read its header here (a
   * throw refuses the upgrade with 403).
   */
  clientAddress?: (req: http.IncomingMessage) => string | undefined;
  /**
   * Decide on each upgrade before it is taken (an `Origin` check, the site's own auth): `true`
   * admits it; anything else, a throw or a rejection refuses it with 403 (errors are reported on
   * the `error` event, never thrown). Upgrades waiting for the hook count against the budgets.
   * Default: every upgrade to the announce URL is admitted.
   */
  allowUpgrade?: (req: http.IncomingMessage) => boolean | Promise<boolean>;
  /** Seconds between pings; a connection that did not answer the last one is closed. Default 30. */
  pingInterval?: number;
  /** Seconds without any frame after which a connection is closed. Default: the tracker's `peerTtl`. */
  idleTimeout?: number;
  /**
   * Seconds without any frame after which a connection that holds no peer (it announced nothing,
   * or stopped all it announced) is closed (1000, `idle`). Default 30.
   */
  unannouncedTimeout?: number;
  /** Frames a connection may send per second on average (bursts up to ten times as many). Default 10. */
  framesPerSecond?: number;
  /** Bytes that may wait in a connection's send buffer; messages beyond are dropped. Default 1 MiB. */
  maxBufferedBytes?: number;
}

/** The options of the door itself (not the tracker's). */
const DOOR_OPTION_NAMES = [
  'tracker', 'server', 'path', 'maxPayload', 'maxOffers', 'offerTtl', 'maxPendingOffers', 'maxPeersPerConnection', 'maxConnections',
  'maxConnectionsPerAddress', 'clientAddress', 'allowUpgrade', 'pingInterval', 'idleTimeout', 'unannouncedTimeout', 'framesPerSecond',
  'maxBufferedBytes',
] as const satisfies ReadonlyArray<keyof WebSocketTrackerOptions>;

const DOOR_OPTIONS: ReadonlySet<string> = new Set(DOOR_OPTION_NAMES);

/** Every option of {@link createWebSocketTracker} (unknown keys are warned about once). */
export const WEBSOCKET_OPTION_NAMES: ReadonlySet<string> = new Set([...TRACKER_OPTION_NAMES, ...DOOR_OPTION_NAMES]);

/** The door's options with defaults applied (times in ms). */
export interface ResolvedWebSocketOptions {
  path: string;
  maxPayload: number;
  maxOffers: number;
  offerTtlMs: number;
  maxPendingOffers: number;
  maxPeers: number;
  maxConnections: number;
  maxPerAddress: number;
  clientAddress: WebSocketTrackerOptions['clientAddress'];
  allowUpgrade: WebSocketTrackerOptions['allowUpgrade'];
  pingMs: number;
  /** undefined: the tracker's `peerTtl` (known once the core exists). */
  idleMs: number | undefined;
  unannouncedMs: number;
  framesPerSecond: number;
  maxBuffered: number;
}

/**
 * Check and resolve the door's options (TypeError on a bad one, naming `scope`). Done before a core
 * is made, so a bad option leaves nothing open behind.
 */
export function resolveWebSocketOptions(
  options: WebSocketTrackerOptions,
  scope = 'createWebSocketTracker',
  ownCore = options?.tracker === undefined,
): ResolvedWebSocketOptions {
  const o = optionsObject(scope, options);
  // With a core of its own the door takes the tracker's options too; serving a given core, only its own.
  warnUnknownKeys(scope, o, ownCore ? WEBSOCKET_OPTION_NAMES : DOOR_OPTIONS);
  const path = options.path ?? '';
  if (typeof path !== 'string' || (path !== '' && (!path.startsWith('/') || path.endsWith('/')))) {
    throw new TypeError(`${scope}: options.path must be '' or a path like '/tracker' (got ${JSON.stringify(path)})`);
  }
  const seconds = (name: keyof WebSocketTrackerOptions, fallback: number) => positiveNumber(scope, name, o[name], fallback) * 1000;
  const whole = (name: keyof WebSocketTrackerOptions, fallback: number, min = 1) => wholeNumber(scope, name, o[name], fallback, { min });
  return {
    path,
    maxPayload: whole('maxPayload', 64 * 1024),
    maxOffers: whole('maxOffers', 10),
    offerTtlMs: seconds('offerTtl', 50),
    maxPendingOffers: whole('maxPendingOffers', 100),
    maxPeers: whole('maxPeersPerConnection', 100),
    maxConnections: whole('maxConnections', 50_000),
    maxPerAddress: whole('maxConnectionsPerAddress', 100, 0),
    clientAddress: functionOption(scope, 'clientAddress', o.clientAddress, '(req) => address'),
    allowUpgrade: functionOption(scope, 'allowUpgrade', o.allowUpgrade, '(req) => boolean | Promise<boolean>'),
    pingMs: seconds('pingInterval', 30),
    idleMs: o.idleTimeout === undefined ? undefined : seconds('idleTimeout', 0),
    unannouncedMs: seconds('unannouncedTimeout', 30),
    framesPerSecond: positiveNumber(scope, 'framesPerSecond', o.framesPerSecond, 10),
    maxBuffered: whole('maxBufferedBytes', 1 << 20),
  };
}
