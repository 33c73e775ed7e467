/**
 * `createWebSocketTracker()`: the WebTorrent door (JSON frames over WebSocket) to the same tracker
 * core as the Express middleware: same store, same policies (passkeys from the URL, registered
 * torrents, client rules, intervals, accounting), same events. Browsers find each other here: a
 * peer's announce carries WebRTC offers, the tracker hands each to one other WebSocket peer of the
 * swarm, and relays that peer's answer back.
 *
 * What it guarantees beyond the protocol:
 * - an answer is relayed only for an offer this tracker handed to that peer, before it expired;
 * - one connection may announce many torrents and peer ids, and closing it removes all of them;
 * - a peer id listed for one connection cannot be taken over by another (the store's address rule:
 *   a WebSocket peer is listed under its connection's route);
 * - pings find dead connections, an idle timeout closes silent ones, frames are small
 *   (`maxPayload`), offers per announce and frames per second are bounded;
 * - with the Redis store, peers live in Redis and offers and answers travel between instances over
 *   Redis pub/sub (see relay.ts).
 */
import { EventEmitter } from 'node:events';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { parseAddress } from '../protocol/address.js';
import type { AnnounceRequest } from '../protocol/announce.js';
import { parseTrackerPath } from '../protocol/path.js';
import {
  encodeWsAnnounce,
  encodeWsAnswer,
  encodeWsFailure,
  encodeWsOffer,
  encodeWsScrape,
  idString,
  parseWsFrame,
  WsProtocolError,
  type WsAnnounce,
  type WsScrape,
} from '../protocol/websocket.js';
import type { Peer, SwarmCounts } from '../types.js';
import { ADDRESS_REASON, Tracker, type AnswerWriter, type TrackerOptions } from '../tracker.js';
import { Relay, type RelayMessage } from './relay.js';

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
  /** Most open connections; more are refused (503). Default 50 000. */
  maxConnections?: number;
  /** Seconds between pings; a connection that did not answer the last one is closed. Default 30. */
  pingInterval?: number;
  /** Seconds without any frame after which a connection is closed. Default: the tracker's `peerTtl`. */
  idleTimeout?: number;
  /** Frames a connection may send per second on average (bursts up to ten times as many). Default 10. */
  framesPerSecond?: number;
  /** Bytes that may wait in a connection's send buffer; messages beyond are dropped. Default 1 MiB. */
  maxBufferedBytes?: number;
}

/**
 * The last counters of one pair a connection announced (for the `stopped` sent on close). The pair
 * itself is the Map key (latin1 info hash + peer id): no Buffers kept per idle connection.
 */
interface HeldPeer {
  uploaded: number;
  downloaded: number;
  left: number | undefined;
}

/** An offer handed to a peer of a connection, which it may answer. */
interface PendingOffer {
  /** The peer the offer was handed to (it must be the one answering). */
  to: string;
  /** The offering peer (latin1 id) and its route. */
  from: string;
  route: Buffer;
  expires: number;
}

/** Per-connection state (kept small: idle connections are the common case). */
interface Connection {
  readonly ws: WebSocket;
  /** The connection's number; its route (see relay.ts) is made from it when needed. */
  readonly serial: number;
  /** The client's address as the socket gives it (stats and events; parsed when used). */
  readonly remote: string | undefined;
  readonly passkey: string | undefined;
  /** Keyed by latin1 info hash + peer id. */
  peers: Map<string, HeldPeer> | undefined;
  /** Keyed by latin1 info hash + offer id + offering peer id. */
  offers: Map<string, PendingOffer> | undefined;
  alive: boolean;
  lastFrame: number;
  /** Frame budget (token bucket) and its last refill. */
  tokens: number;
  refilled: number;
  closing: boolean;
}

/** What the core hands back for an announce over WebSocket. */
type WsResult = { counts: SwarmCounts; peers: Peer[] } | { failure: string };

const WRITER: AnswerWriter<WsResult> = {
  peers: (counts, peers) => ({ counts: { complete: counts.complete, incomplete: counts.incomplete, downloaded: counts.downloaded }, peers }),
  failure: (failure) => ({ failure }),
};

/** A WebTorrent tracker. Events: `error` (server errors). */
export class WebSocketTracker extends EventEmitter {
  /** The tracker core behind this door. */
  readonly tracker: Tracker;
  private readonly owned: boolean;
  private readonly wss: WebSocketServer;
  private readonly relay: Relay;
  private readonly connections = new Map<number, Connection>();
  private readonly prefix: string;
  private readonly maxOffers: number;
  private readonly offerTtl: number;
  private readonly maxPendingOffers: number;
  private readonly maxPeers: number;
  private readonly maxConnections: number;
  private readonly idleMs: number;
  private readonly rate: number;
  private readonly maxBuffered: number;
  private readonly timer: NodeJS.Timeout;
  private server: http.Server | undefined;
  private closed = false;
  /** Until this instance listens on its relay channel (then undefined). */
  private listening: Promise<void> | undefined;

  constructor(options: WebSocketTrackerOptions = {}) {
    super();
    this.owned = options.tracker === undefined;
    this.tracker = options.tracker ?? new Tracker(options);
    const path = options.path ?? '';
    if (path !== '' && (!path.startsWith('/') || path.endsWith('/'))) throw new TypeError('path: "" or a path like /tracker');
    this.prefix = path;
    this.maxOffers = positive('maxOffers', options.maxOffers, 10);
    this.offerTtl = positive('offerTtl', options.offerTtl, 50) * 1000;
    this.maxPendingOffers = positive('maxPendingOffers', options.maxPendingOffers, 100);
    this.maxPeers = positive('maxPeersPerConnection', options.maxPeersPerConnection, 100);
    this.maxConnections = positive('maxConnections', options.maxConnections, 50_000);
    this.idleMs = positive('idleTimeout', options.idleTimeout, this.tracker.options.peerTtl) * 1000;
    this.rate = positive('framesPerSecond', options.framesPerSecond, 10);
    this.maxBuffered = positive('maxBufferedBytes', options.maxBufferedBytes, 1 << 20);
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: positive('maxPayload', options.maxPayload, 64 * 1024),
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.wss.on('error', (error) => this.reportError(error));
    this.relay = new Relay((message) => this.deliver(message));
    // Announces wait for this: other instances take a channel nobody listens on for a crashed instance.
    this.listening = this.tracker
      .whenReady()
      .then(() => this.relay.listen(this.tracker.swarmStore?.bus))
      .then(() => {
        this.listening = undefined;
      });
    this.timer = setInterval(() => this.heartbeat(), positive('pingInterval', options.pingInterval, 30) * 1000);
    this.timer.unref();
    if (options.server) this.attach(options.server);
  }

  /** Take WebSocket upgrades from `server` (see {@link WebSocketTrackerOptions.server}). */
  attach(server: http.Server): this {
    if (this.server) throw new Error('this WebSocket tracker is already attached to a server');
    this.server = server;
    server.on('upgrade', this.onUpgrade);
    return this;
  }

  /** Number of open connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  private readonly onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (this.handleUpgrade(req, socket, head)) return;
    // Not ours: another listener may take it; if there is none, nobody would ever answer.
    if (this.server && this.server.listenerCount('upgrade') === 1) refuse(socket, 404, 'Not Found');
  };

  /**
   * Take one upgrade request when its path is this tracker's announce URL. Returns false (and leaves
   * the socket alone) when the path is not ours.
   */
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const full = q < 0 ? url : url.slice(0, q);
    if (this.prefix !== '' && !(full.startsWith(this.prefix) && full.charCodeAt(this.prefix.length) === 47)) return false;
    const target = parseTrackerPath(full.slice(this.prefix.length));
    if (!target || target.endpoint !== 'announce' || (target.passkey !== undefined && !this.tracker.isPrivate)) return false;
    socket.on('error', ignore); // a reset during the handshake is not our problem (a module-level function: keeps no request alive)
    if (this.closed || this.connections.size >= this.maxConnections) {
      refuse(socket, 503, 'Service Unavailable');
      return true;
    }
    try {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.open(ws, req, target.passkey));
    } catch {
      socket.destroy();
    }
    return true;
  }

  private open(ws: WebSocket, req: http.IncomingMessage, passkey: string | undefined): void {
    if (this.closed) {
      ws.terminate();
      return;
    }
    dropIdleTimer(req.socket);
    const serial = this.relay.next();
    const now = Date.now();
    const conn: Connection = {
      ws,
      serial,
      remote: req.socket.remoteAddress,
      passkey,
      peers: undefined,
      offers: undefined,
      alive: true,
      lastFrame: now,
      tokens: this.rate * 10,
      refilled: now,
      closing: false,
    };
    this.connections.set(serial, conn);
    ws.on('message', (data, isBinary) => this.onFrame(conn, data, isBinary));
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('error', () => undefined); // followed by close
    ws.on('close', () => this.onClose(conn));
  }

  private onFrame(conn: Connection, data: RawData, isBinary: boolean): void {
    if (conn.closing) return;
    const now = Date.now();
    conn.lastFrame = now;
    conn.alive = true;
    conn.tokens = Math.min(this.rate * 10, conn.tokens + ((now - conn.refilled) / 1000) * this.rate);
    conn.refilled = now;
    if (conn.tokens < 1) {
      this.shut(conn, 1008, 'too many messages');
      return;
    }
    conn.tokens -= 1;
    if (isBinary) {
      this.shut(conn, 1003, 'binary frames are not accepted');
      return;
    }
    let message: WsAnnounce | WsScrape;
    try {
      message = parseWsFrame(data.toString(), { maxOffers: this.maxOffers, maxScrapeHashes: this.tracker.options.maxScrapeHashes });
    } catch (error) {
      const e = error as WsProtocolError;
      this.send(conn, encodeWsFailure(this.tracker.failureReason(e), e.action, e.infoHash));
      return;
    }
    if (message.action === 'scrape') void this.scrape(conn, message);
    else if (message.answer) this.answer(conn, message);
    else this.announce(conn, message);
  }

  private announce(conn: Connection, m: WsAnnounce): void {
    if (this.listening) {
      void this.listening.then(() => this.announce(conn, m));
      return;
    }
    const key = pairKey(m.infoHash, m.peerId);
    const held = conn.peers?.get(key);
    if (!held && m.event !== 'stopped' && (conn.peers?.size ?? 0) >= this.maxPeers) {
      this.send(conn, encodeWsFailure(`too many torrents on one connection (limit ${this.maxPeers})`, 'announce', idString(m.infoHash)));
      return;
    }
    const request = this.request(m, conn);
    const result = this.tracker.announceRequest({ request, remote: this.relay.route(conn.serial), passkey: conn.passkey, writer: WRITER, webrtc: true });
    if (result instanceof Promise) void result.then((r) => this.announced(conn, m, key, r));
    else if (result) this.announced(conn, m, key, result);
  }

  private request(m: Pick<WsAnnounce, 'infoHash' | 'peerId' | 'uploaded' | 'downloaded' | 'left' | 'event' | 'numwant'>, conn: Connection): AnnounceRequest {
    return {
      infoHash: m.infoHash,
      peerId: m.peerId,
      port: 1, // WebSocket peers have no port: they are reached through their connection
      uploaded: m.uploaded,
      downloaded: m.downloaded,
      left: m.left,
      event: m.event,
      numwant: m.numwant,
      compact: false,
      noPeerId: false,
      ipParameter: undefined,
      remote: parseAddress(conn.remote),
      transport: 'websocket',
    };
  }

  private announced(conn: Connection, m: WsAnnounce, key: string, result: WsResult): void {
    const infoHash = idString(m.infoHash);
    if ('failure' in result) {
      // A WebSocket peer is listed under its connection: "another address" means another connection.
      const reason = result.failure === ADDRESS_REASON ? 'this peer_id is held by another connection' : result.failure;
      this.send(conn, encodeWsFailure(reason, 'announce', infoHash));
      return;
    }
    if (m.event === 'stopped') {
      conn.peers?.delete(key);
    } else if (!conn.closing) {
      conn.peers ??= new Map();
      const held = conn.peers.get(key);
      if (held) {
        held.uploaded = m.uploaded;
        held.downloaded = m.downloaded;
        held.left = m.left;
      } else {
        conn.peers.set(key, { uploaded: m.uploaded, downloaded: m.downloaded, left: m.left });
      }
    } else {
      // The connection closed while the store answered: take the peer out again.
      this.stop(conn.serial, conn.passkey, conn.remote, key, { uploaded: m.uploaded, downloaded: m.downloaded, left: m.left });
      return;
    }
    this.send(conn, encodeWsAnnounce(m.infoHash, result.counts, this.tracker.options.interval));
    const peers = result.peers;
    const n = Math.min(peers.length, m.offers.length);
    if (n === 0) return;
    const bus = this.tracker.swarmStore?.bus;
    const from = idString(m.peerId);
    const route = this.relay.route(conn.serial);
    for (let i = 0; i < n; i++) {
      const peer = peers[i];
      const offer = m.offers[i];
      const message = {
        serial: 0,
        infoHash,
        peerId: idString(peer.peerId),
        frame: encodeWsOffer(infoHash, from, offer),
        offer: { offerId: idString(offer.offerId), from, route },
      };
      // A peer on this instance gets its offer at once (no promise); others through the bus.
      const serial = this.relay.localSerial(peer.ip);
      if (serial !== undefined) {
        message.serial = serial;
        this.deliver(message);
        continue;
      }
      const target = { infoHash: m.infoHash, peer: { peerId: Buffer.from(peer.peerId), ip: Buffer.from(peer.ip), port: peer.port } };
      void this.relay.send(target.peer.ip, message, bus).then((outcome) => {
        if (outcome === 'gone') this.forgetGone(target.infoHash, target.peer);
      });
    }
  }

  /** An answer to an offer this tracker handed to the peer: relayed to the offering peer. */
  private answer(conn: Connection, m: WsAnnounce): void {
    const a = m.answer!;
    const key = idString(m.infoHash) + idString(a.offerId) + idString(a.toPeerId);
    const pending = conn.offers?.get(key);
    if (!pending || pending.expires < Date.now() || pending.to !== idString(m.peerId)) {
      // Only an expired offer is forgotten here: a wrong answerer must not cancel the real one's offer.
      if (pending && pending.expires < Date.now()) conn.offers!.delete(key);
      this.send(conn, encodeWsFailure('answer to an unknown or expired offer', 'announce', idString(m.infoHash)));
      return;
    }
    conn.offers!.delete(key);
    void this.relay.send(
      pending.route,
      { infoHash: idString(m.infoHash), peerId: pending.from, frame: encodeWsAnswer(m.infoHash, m.peerId, a) },
      this.tracker.swarmStore?.bus,
    );
  }

  private async scrape(conn: Connection, m: WsScrape): Promise<void> {
    try {
      let files: Array<{ infoHash: Uint8Array } & SwarmCounts>;
      if (m.infoHashes.length === 0) {
        files = await this.tracker.fullScrape(conn.passkey, true);
      } else {
        const counts = await this.tracker.scrapeHashes(m.infoHashes, conn.passkey, true);
        files = [];
        m.infoHashes.forEach((infoHash, i) => {
          const c = counts[i];
          if (c) files.push({ infoHash, ...c });
        });
      }
      this.send(conn, encodeWsScrape(files));
    } catch (error) {
      const single = m.infoHashes.length === 1 ? idString(m.infoHashes[0]) : undefined;
      this.send(conn, encodeWsFailure(this.tracker.failureReason(error), 'scrape', single));
    }
  }

  /** A message for a connection of this instance (from this instance or another). */
  private deliver(message: RelayMessage): boolean {
    const conn = this.connections.get(message.serial);
    // Gone, closing, or no longer holding the peer: a successor never receives its predecessor's mail.
    if (!conn || conn.closing || !conn.peers?.has(message.infoHash + message.peerId)) return false;
    if (message.offer) {
      conn.offers ??= new Map();
      if (conn.offers.size >= this.maxPendingOffers) conn.offers.delete(conn.offers.keys().next().value!);
      conn.offers.set(message.infoHash + message.offer.offerId + message.offer.from, {
        to: message.peerId,
        from: message.offer.from,
        route: message.offer.route,
        expires: Date.now() + this.offerTtl,
      });
    }
    return this.send(conn, message.frame);
  }

  /** A sampled peer whose instance no longer listens: take it out of the swarm now. */
  private forgetGone(infoHash: Buffer, peer: Peer): void {
    const store = this.tracker.webrtcSwarms();
    if (!store) return;
    store
      .announce({ infoHash, peerId: peer.peerId, ip: peer.ip, port: peer.port, seeder: false, event: 'stopped', numwant: 0, ttl: 1 })
      .catch(() => undefined);
  }

  private send(conn: Connection, frame: string): boolean {
    if (conn.closing || conn.ws.readyState !== 1 /* OPEN */ || conn.ws.bufferedAmount > this.maxBuffered) return false;
    conn.ws.send(frame);
    return true;
  }

  private shut(conn: Connection, code: number, reason: string): void {
    if (conn.closing) return;
    conn.closing = true;
    conn.ws.close(code, reason);
    // A peer that does not finish the closing handshake is cut off.
    const timer = setTimeout(() => conn.ws.terminate(), 5000);
    timer.unref();
    conn.ws.once('close', () => clearTimeout(timer));
  }

  /** The connection is gone: every peer it announced leaves its swarm. */
  private onClose(conn: Connection): void {
    conn.closing = true;
    this.connections.delete(conn.serial);
    conn.offers = undefined;
    const peers = conn.peers;
    conn.peers = undefined;
    if (peers) for (const [key, held] of peers) this.stop(conn.serial, conn.passkey, conn.remote, key, held);
  }

  /** A `stopped` announce through the core on the peer's behalf (policies, accounting and events as usual). */
  private stop(serial: number, passkey: string | undefined, remote: string | undefined, key: string, held: HeldPeer): void {
    const request: AnnounceRequest = {
      infoHash: Buffer.from(key.slice(0, 20), 'latin1'),
      peerId: Buffer.from(key.slice(20), 'latin1'),
      port: 1,
      uploaded: held.uploaded,
      downloaded: held.downloaded,
      left: held.left,
      event: 'stopped',
      numwant: 0,
      compact: false,
      noPeerId: false,
      ipParameter: undefined,
      remote: parseAddress(remote),
      transport: 'websocket',
    };
    const result = this.tracker.announceRequest({ request, remote: this.relay.route(serial), passkey, writer: WRITER, webrtc: true });
    if (result instanceof Promise) void result.catch(() => undefined);
  }

  /** Ping every connection; close the dead and the idle ones; forget expired offers. */
  private heartbeat(): void {
    const now = Date.now();
    for (const conn of this.connections.values()) {
      if (conn.closing) continue;
      if (!conn.alive) {
        conn.ws.terminate();
        continue;
      }
      if (now - conn.lastFrame > this.idleMs) {
        this.shut(conn, 1000, 'idle');
        continue;
      }
      if (conn.offers) {
        for (const [key, offer] of conn.offers) if (offer.expires < now) conn.offers.delete(key);
        if (conn.offers.size === 0) conn.offers = undefined;
      }
      conn.alive = false;
      conn.ws.ping();
    }
  }

  private reportError(error: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /**
   * Close every connection (their peers leave their swarms), stop taking upgrades, and close the
   * tracker core when this WebSocket tracker created it.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.server?.off('upgrade', this.onUpgrade);
    const conns = [...this.connections.values()];
    await Promise.all(
      conns.map(
        (conn) =>
          new Promise<void>((resolve) => {
            if (conn.ws.readyState === 3 /* CLOSED */) return resolve();
            conn.ws.once('close', () => resolve());
            conn.ws.terminate();
          }),
      ),
    );
    await this.relay.close();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    if (this.owned) await this.tracker.close();
  }
}

/** Create a WebTorrent (WebSocket) tracker; pass `server` to take upgrades from it at once. */
export function createWebSocketTracker(options: WebSocketTrackerOptions = {}): WebSocketTracker {
  return new WebSocketTracker(options);
}

/** A listener that ignores its event. */
function ignore(): void {}


function pairKey(infoHash: Buffer, peerId: Buffer): string {
  return infoHash.toString('latin1') + peerId.toString('latin1');
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new TypeError(`options.${name} must be a positive number`);
  return value;
}

/**
 * An HTTP server's inactivity timeout leaves a cleared timer object on every socket it upgraded
 * (ws turns the timeout off, Node keeps the object): about 150 bytes per idle WebSocket. Drop it.
 */
function dropIdleTimer(socket: object): void {
  const symbol = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'timeout');
  const timer = symbol && (socket as Record<symbol, unknown>)[symbol];
  // Only a timer that no longer runs (ws called setTimeout(0)): a live one is left alone.
  if (timer && typeof timer === 'object' && (timer as { _idleTimeout?: number })._idleTimeout === -1) {
    (socket as Record<symbol, unknown>)[symbol] = null;
  }
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
