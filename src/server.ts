/**
 * `createTrackerServer()`: the same tracker core on a plain `node:http` server, serving `/announce`
 * and `/scrape` at its root, for sites that want the most throughput or no Express at all.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { parseTrackerPath } from './protocol/path.js';
import { encodeFailure } from './protocol/response.js';
import { Tracker, type ListTorrentsOptions, type PeerListPage, type PeersOptions, type TorrentInput, type TorrentPage, type TrackerOptions } from './tracker.js';
import type { Ban, BanSpec } from './core/bans.js';
import type { DrainOptions, DrainResult, HealthReport } from './health/health.js';
import { answerHttp } from './transport/http-answer.js';
import { WebSocketTracker, type WebSocketTrackerOptions } from './transport/websocket.js';
import { resolveWebSocketOptions } from './transport/ws-options.js';
import { TRACKER_OPTION_NAMES } from './options.js';
import { booleanOption, describeValue, optionsObject, warnUnknownKeys, wholeNumber } from './option-checks.js';

/** Settings of the standalone server's WebTorrent door (everything but the core, the server and the path). */
export type TrackerServerWebSocketOptions = Omit<WebSocketTrackerOptions, keyof TrackerOptions | 'tracker' | 'server' | 'path'>;

/** Options of {@link createTrackerServer}: the tracker's options plus server settings. */
export interface TrackerServerOptions extends TrackerOptions {
  /**
   * Milliseconds an idle keep-alive connection stays open. Default 30 000. (Clients announce rarely;
   * long idle connections only cost file descriptors.)
   */
  keepAliveTimeout?: number;
  /**
   * Milliseconds a client may take to send a request's headers (slow-header attacks). Connections
   * that stay silent are closed after this time too, or after `storeTimeout` + 1 s if that is
   * longer. Default 10 000.
   */
  headersTimeout?: number;
  /** Milliseconds a whole request may take. Default 15 000. */
  requestTimeout?: number;
  /**
   * Most open HTTP connections; connections beyond it are closed at once (real clients retry, idle
   * ones time out). Upgraded WebSocket connections do not count here: they have their own budget
   * (`webSocket.maxConnections`, `webSocket.maxConnectionsPerAddress`). Default 10 000.
   */
  maxConnections?: number;
  /**
   * Take the client address from the last entry of `X-Forwarded-For` (the one your own reverse
   * proxy appended). Default false: the socket's address. Only enable it behind a proxy you run.
   */
  trustProxy?: boolean;
  /**
   * Answer WebTorrent announces over WebSocket at `ws://host:port/announce` (browsers as peers), on
   * the same core and store. `false` turns it off; an object sets its limits. Default on.
   */
  webSocket?: boolean | TrackerServerWebSocketOptions;
}

/** Every option of {@link createTrackerServer}: the tracker's and the server's own. */
const SERVER_OPTIONS: ReadonlySet<string> = new Set([
  ...TRACKER_OPTION_NAMES,
  ...(['keepAliveTimeout', 'headersTimeout', 'requestTimeout', 'maxConnections', 'trustProxy', 'webSocket'] satisfies Array<keyof TrackerServerOptions>),
]);

/** The server returned by {@link createTrackerServer}. */
export type TrackerServer = http.Server & {
  /** The protocol core: events (`announce`, `failure`), options, the store in use. */
  tracker: Tracker;
  /** The WebTorrent (WebSocket) door, unless `webSocket: false`. */
  webSocket: WebSocketTracker | undefined;
  /**
   * Resolves once the store is open and answers; rejects with the reason (which store, what failed)
   * when it cannot be opened. `express-torrent-tracker serve` exits 1 on that rejection.
   */
  ready(): Promise<void>;
  /** {@link Tracker.listTorrents}. */
  listTorrents(options?: ListTorrentsOptions): Promise<TorrentPage>;
  /** {@link Tracker.peers}. */
  peers(torrent: TorrentInput, options?: PeersOptions): Promise<PeerListPage>;
  /** Stop accepting connections, close idle ones, and close the store if the tracker opened it. */
  shutdown(): Promise<void>;
  /** {@link Tracker.health}. */
  health(): Promise<HealthReport>;
  /**
   * {@link Tracker.drain}: readiness fails, WebSockets are closed with 1001, the server stops
   * accepting connections and answers the requests in flight, `onTraffic` is handed over, the store
   * saved and closed; bounded by `timeout` (then open connections are cut).
   */
  drain(options?: DrainOptions): Promise<DrainResult>;
  /** {@link Tracker.ban}. */
  ban(spec: BanSpec): Promise<Ban>;
  /** {@link Tracker.unban}. */
  unban(id: string): Promise<boolean>;
  /** {@link Tracker.bans}. */
  bans(): Promise<Ban[]>;
};

function forwardedFor(req: http.IncomingMessage): string | undefined {
  const header = req.headers['x-forwarded-for'];
  const value = Array.isArray(header) ? header[header.length - 1] : header;
  if (!value) return undefined;
  const last = value.split(',').pop()?.trim();
  return last || undefined;
}

/** Sockets counted against a server's HTTP budget, and how each leaves it (see {@link limitHttpConnections}). */
const httpBudget = new WeakMap<object, () => void>();

/**
 * Cap open HTTP connections at `max` by hand instead of `server.maxConnections`, which counts
 * upgraded sockets too (one host holding idle WebSockets would stop all HTTP). A connection over
 * the cap is closed at once; an upgraded one leaves the budget ({@link leaveHttpBudget}).
 */
function limitHttpConnections(server: http.Server, max: number): void {
  let open = 0;
  server.on('connection', (socket: Duplex) => {
    if (open >= max) {
      socket.destroy();
      return;
    }
    open++;
    const leave = (): void => {
      open--;
      socket.off('close', leave);
      httpBudget.delete(socket);
    };
    httpBudget.set(socket, leave);
    socket.once('close', leave);
  });
}

/** An upgraded socket is no HTTP connection any more: it leaves the HTTP budget (nothing kept on it). */
function leaveHttpBudget(socket: Duplex): void {
  httpBudget.get(socket)?.();
}

/**
 * Create (but do not start) a standalone tracker: call `.listen(port, host)` on the result.
 * `GET /announce` and `GET /scrape` are answered (with a `passkey` option, `/<passkey>/announce` and
 * `/<passkey>/scrape`); other paths get 404.
 */
export function createTrackerServer(options: TrackerServerOptions = {}): TrackerServer {
  const scope = 'createTrackerServer';
  const o = optionsObject(scope, options);
  warnUnknownKeys(scope, o, SERVER_OPTIONS);
  const trustProxy = booleanOption(scope, 'trustProxy', o.trustProxy, false);
  const headersTimeout = wholeNumber(scope, 'headersTimeout', o.headersTimeout, 10_000, { min: 1 });
  const requestTimeout = Math.max(wholeNumber(scope, 'requestTimeout', o.requestTimeout, 15_000, { min: 1 }), headersTimeout);
  const keepAliveTimeout = wholeNumber(scope, 'keepAliveTimeout', o.keepAliveTimeout, 30_000);
  const maxConnections = wholeNumber(scope, 'maxConnections', o.maxConnections, 10_000, { min: 1 });
  const wsScope = `${scope}: options.webSocket`;
  if (options.webSocket !== undefined && typeof options.webSocket !== 'boolean' && (typeof options.webSocket !== 'object' || options.webSocket === null)) {
    throw new TypeError(`${scope}: options.webSocket must be true, false or an object of WebSocket options (got ${describeValue(options.webSocket)})`);
  }
  // Checked before the core opens its store: a bad option leaves nothing open behind.
  if (typeof options.webSocket === 'object') resolveWebSocketOptions(options.webSocket, wsScope, false);
  const tracker = new Tracker(options, scope);
  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const query = q === -1 ? '' : url.slice(q + 1);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    const target = path === '/announce' || path === '/scrape' || tracker.isPrivate ? parseTrackerPath(path) : undefined;
    if (target?.endpoint === 'announce' && (target.passkey === undefined || tracker.isPrivate)) {
      const address = (trustProxy ? forwardedFor(req) : undefined) ?? req.socket.remoteAddress;
      answerHttp(tracker, 'announce', query, address, target.passkey, res);
    } else if (target?.endpoint === 'scrape') {
      answerHttp(tracker, 'scrape', query, undefined, target.passkey, res);
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: this server answers /announce and /scrape\n');
    }
  };
  const server = http.createServer(
    {
      headersTimeout,
      requestTimeout,
      // How often Node checks those timeouts (its default, 30 s, would let idle sockets pile up).
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(headersTimeout / 2))),
    },
    handle,
  ) as TrackerServer;
  server.keepAliveTimeout = keepAliveTimeout;
  limitHttpConnections(server, maxConnections);
  // Node applies headersTimeout only once a request has begun: a connection that never sends a byte
  // is closed by the inactivity timeout instead (never shorter than a storage call may take).
  server.timeout = Math.max(headersTimeout, tracker.options.storeTimeout + 1000);
  // A request line longer than Node's header limit never reaches the handler: answer it the way the
  // protocol wants (HTTP 200 + failure reason) instead of a bare 431.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) return socket.destroy();
    const reason = error.code === 'HPE_HEADER_OVERFLOW' ? 'request too long' : 'malformed HTTP request';
    const body = encodeFailure(reason);
    socket.end(
      `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n` +
        body.toString('latin1'),
      'latin1',
    );
  });
  server.tracker = tracker;
  // The door is not attached to the server: the listener below takes every upgrade out of the
  // HTTP budget first (taken or refused, it is no HTTP connection any more).
  const webSocket =
    options.webSocket === false
      ? undefined
      : new WebSocketTracker(
          {
            ...(trustProxy ? { clientAddress: (req: http.IncomingMessage) => forwardedFor(req) ?? req.socket.remoteAddress } : {}),
            ...(typeof options.webSocket === 'object' ? options.webSocket : {}),
            tracker,
          },
          wsScope,
        );
  server.webSocket = webSocket;
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    leaveHttpBudget(socket);
    if (webSocket?.handleUpgrade(req, socket, head)) return;
    if (server.listenerCount('upgrade') === 1) {
      socket.on('error', () => undefined);
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    }
  });
  server.ready = () => tracker.ready();
  server.listTorrents = (options) => tracker.listTorrents(options);
  server.peers = (torrent, options) => tracker.peers(torrent, options);
  server.ban = (spec) => tracker.ban(spec);
  server.unban = (id) => tracker.unban(id);
  server.bans = () => tracker.bans();
  server.health = () => tracker.health();
  server.drain = (options) => tracker.drain(options);
  tracker.attachDoor('http', {
    drain: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        // Keep-alive connections go once their request is answered.
        const idle = setInterval(() => server.closeIdleConnections(), 100);
        idle.unref();
        server.once('close', () => clearInterval(idle));
        server.closeIdleConnections();
      }),
    abort: () => server.closeAllConnections(),
  });
  server.shutdown = async () => {
    await server.webSocket?.close();
    await new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    await tracker.close();
  };
  return server;
}
