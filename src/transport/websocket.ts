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
 * - pings find dead connections, an idle timeout closes silent ones (a shorter one those that hold
 *   no peer), frames are small (`maxPayload`), offers are shallow and small, offers per announce
 *   and frames per second are bounded; connections are budgeted in all and per address, and the
 *   site may decide on each upgrade (ws-door.ts);
 * - nothing a client sends, and no bug of ours, escapes as an exception: every entry point (frames,
 *   upgrades, closes, pongs, relayed messages) is guarded; an error of ours closes that connection
 *   (1011) and counts as an `internal` failure;
 * - a member whose passkey is forgotten (`tracker.forgetPasskey`, here or on another instance) is
 *   cut off at once, and its peers leave their swarms;
 * - with the Redis store, peers live in Redis and offers and answers travel between instances over
 *   Redis pub/sub (see relay.ts).
 *
 * Files: this one is the tracker (connections, their frames and lifecycle); ws-options.ts its
 * options; ws-door.ts the upgrade and its budgets; ws-connection.ts one connection and its pairs;
 * ws-exchange.ts what a frame does (announce through the core, offers, answers, scrapes, leaving);
 * ws-offers.ts the offers a connection may answer.
 */
import { EventEmitter } from 'node:events';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { encodeWsFailure, parseWsFrame, WsProtocolError, type WsAnnounce, type WsScrape } from '../protocol/websocket.js';
import { passkeyDigest, type UserId } from '../policy/passkey.js';
import { banMatches, type Ban } from '../policy/bans.js';
import { parseAddress } from '../protocol/address.js';
import { Tracker } from '../tracker.js';
import { Relay, type RelayMessage } from './relay.js';
import { Connection } from './ws-connection.js';
import { Door, refuse, type Admission } from './ws-door.js';
import { Exchange } from './ws-exchange.js';
import { OfferBook } from './ws-offers.js';
import { resolveWebSocketOptions, type ResolvedWebSocketOptions, type WebSocketTrackerOptions } from './ws-options.js';

export type { WebSocketTrackerOptions } from './ws-options.js';

/** Close code and reason for a connection whose passkey was forgotten. */
const REVOKED = { code: 1008, reason: 'passkey revoked' } as const;
/** Close code and reason for a connection of a banned peer. */
const BANNED = { code: 1008, reason: 'banned' } as const;

/** A WebTorrent tracker. Events: `error` (server errors, and errors of the site's hooks). */
export class WebSocketTracker extends EventEmitter {
  /** The tracker core behind this door. */
  readonly tracker: Tracker;
  private readonly owned: boolean;
  private readonly wss: WebSocketServer;
  private readonly relay: Relay;
  private readonly door: Door;
  private readonly exchange: Exchange;
  private readonly connections = new Map<number, Connection>();
  private readonly o: ResolvedWebSocketOptions;
  private readonly idleMs: number;
  private nextPing = 0;
  private readonly burst: number;
  private readonly timer: NodeJS.Timeout;
  private readonly stopForgetting: () => void;
  private readonly stopBans: () => void;
  private readonly detach: () => void;
  private server: http.Server | undefined;
  private closed = false;
  /** Until this instance listens on its relay channel (then undefined). */
  private listening: Promise<void> | undefined;

  constructor(options: WebSocketTrackerOptions = {}, scope = 'createWebSocketTracker') {
    super();
    // Options are checked before a core is made: a bad option leaves nothing open behind.
    const o = (this.o = resolveWebSocketOptions(options, scope));
    this.burst = o.framesPerSecond * 10;
    if (options.tracker !== undefined && !(options.tracker instanceof Tracker)) {
      throw new TypeError(`${scope}: options.tracker must be a Tracker (router.tracker or server.tracker)`);
    }
    this.owned = options.tracker === undefined;
    this.tracker = options.tracker ?? new Tracker(options, scope);
    this.idleMs = o.idleMs ?? this.tracker.options.peerTtl * 1000;
    this.door = new Door(
      {
        prefix: o.path,
        isPrivate: this.tracker.isPrivate,
        maxConnections: o.maxConnections,
        maxPerAddress: o.maxPerAddress,
        allowUpgrade: o.allowUpgrade,
        clientAddress: o.clientAddress,
      },
      (error) => this.reportError(error),
    );
    this.wss = new WebSocketServer({ noServer: true, maxPayload: o.maxPayload, perMessageDeflate: false, clientTracking: false });
    this.wss.on('error', (error) => this.reportError(error));
    this.relay = new Relay((message) => this.deliver(message));
    this.exchange = new Exchange({
      tracker: this.tracker,
      relay: this.relay,
      maxPeers: o.maxPeers,
      send: (conn, frame) => conn.send(frame, o.maxBuffered),
      deliver: (message) => this.deliver(message),
      internal: (conn, error) => this.internal(conn, error),
      listening: () => this.listening,
    });
    // Announces wait for this: other instances take a channel nobody listens on for a crashed instance.
    this.listening = this.tracker
      .whenReady()
      .then(() => this.relay.listen(this.tracker.swarmStore?.bus))
      .catch(() => undefined)
      .then(() => {
        this.listening = undefined;
      });
    this.stopForgetting = this.tracker.onPasskeyForgotten((digest) => this.revoke(digest));
    this.stopBans = this.tracker.onBan((ban, userOf) => this.banish(ban, userOf));
    this.detach = this.tracker.attachDoor('websocket', { drain: () => this.goAway(), abort: () => this.cutAll() });
    // One timer for pings and both idle timeouts; it runs often enough for the shortest of them.
    const tick = Math.min(o.pingMs, o.unannouncedMs / 2, this.idleMs / 2);
    this.timer = setInterval(() => this.heartbeat(), tick);
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
    try {
      if (this.handleUpgrade(req, socket, head)) return;
      // Not ours: another listener may take it; if there is none, nobody would ever answer.
      if (this.server && this.server.listenerCount('upgrade') === 1) refuse(socket, 404, 'Not Found');
    } catch (error) {
      this.internal(undefined, error);
      socket.destroy();
    }
  };

  /**
   * Take one upgrade request when its path is this tracker's announce URL. Returns false (and leaves
   * the socket alone) when the path is not ours. Never throws: a refused upgrade gets its HTTP
   * status (503 when full, 429 past the per-address cap, 403 when `allowUpgrade` says no).
   */
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): boolean {
    try {
      return this.door.take(req, socket, head, this.admit);
    } catch (error) {
      this.internal(undefined, error);
      socket.destroy();
      return true;
    }
  }

  private readonly admit = (req: http.IncomingMessage, socket: Duplex, head: Buffer, admission: Admission): void => {
    try {
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        try {
          this.open(ws, req, admission);
        } catch (error) {
          this.internal(undefined, error);
          ws.terminate();
        }
      });
    } catch (error) {
      this.internal(undefined, error);
      socket.destroy();
    }
  };

  private open(ws: WebSocket, req: http.IncomingMessage, admission: Admission): void {
    if (this.closed || admission.released) {
      ws.terminate();
      return;
    }
    dropIdleTimer(req.socket);
    this.door.opened(req.socket, admission);
    admission.released = true; // the connection gives the slot back from now on
    const conn = new Connection(ws, this.relay.next(), admission.remote, admission.passkey, admission.key, Date.now(), this.burst);
    this.connections.set(conn.serial, conn);
    ws.on('message', (data, isBinary) => this.onFrame(conn, data, isBinary));
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('error', ignore); // followed by close
    ws.on('close', () => this.onClose(conn));
  }

  private onFrame(conn: Connection, data: RawData, isBinary: boolean): void {
    try {
      this.frame(conn, data, isBinary);
    } catch (error) {
      this.internal(conn, error);
    }
  }

  private frame(conn: Connection, data: RawData, isBinary: boolean): void {
    if (conn.closing) return;
    if (!conn.spend(Date.now(), this.o.framesPerSecond, this.burst)) {
      conn.shut(1008, 'too many messages');
      return;
    }
    if (isBinary) {
      conn.shut(1003, 'binary frames are not accepted');
      return;
    }
    let message: WsAnnounce | WsScrape;
    try {
      message = parseWsFrame(data.toString(), { maxOffers: this.o.maxOffers, maxScrapeHashes: this.tracker.options.maxScrapeHashes });
    } catch (error) {
      if (!(error instanceof WsProtocolError)) throw error;
      conn.send(encodeWsFailure(this.tracker.failureReason(error), error.action, error.infoHash), this.o.maxBuffered);
      return;
    }
    if (message.action === 'scrape') void this.exchange.scrape(conn, message).catch((error: unknown) => this.internal(conn, error));
    else if (message.answer) this.exchange.answer(conn, message);
    else this.exchange.announce(conn, message);
  }

  /** A message for a connection of this instance (from this instance or another). Never throws. */
  private deliver(message: RelayMessage): boolean {
    const conn = this.connections.get(message.serial);
    try {
      // Gone, closing, or no longer holding the peer: a successor never receives its predecessor's mail.
      if (!conn || conn.closing || !conn.peers?.has(message.infoHash + message.peerId)) return false;
      if (message.offer) {
        conn.offers ??= new OfferBook();
        const { offerId, from, route } = message.offer;
        conn.offers.add(OfferBook.key(message.infoHash, offerId, from), { to: message.peerId, from, route, expires: Date.now() + this.o.offerTtlMs }, this.o.maxPendingOffers);
      }
      return conn.send(message.frame, this.o.maxBuffered);
    } catch (error) {
      this.internal(conn, error);
      return false;
    }
  }

  /** The connection is gone: every peer it announced leaves its swarm. Never throws. */
  private onClose(conn: Connection): void {
    try {
      conn.closing = true;
      this.door.release(conn);
      this.connections.delete(conn.serial);
      conn.offers = undefined;
      const peers = conn.peers;
      conn.peers = undefined;
      if (peers) for (const [key, held] of peers) this.exchange.leave(conn, key, held);
    } catch (error) {
      this.internal(undefined, error);
    }
  }

  /** A passkey was forgotten (here or on another instance): its connections are closed at once. */
  private revoke(digest: string): void {
    const digests = new Map<string, string>();
    for (const conn of this.connections.values()) {
      if (conn.passkey === undefined || conn.closing) continue;
      let d = digests.get(conn.passkey);
      if (d === undefined) digests.set(conn.passkey, (d = passkeyDigest(conn.passkey)));
      if (d !== digest) continue;
      conn.revoked = true;
      conn.shut(REVOKED.code, REVOKED.reason);
      // Its pairs leave now, not when the client finishes the closing handshake.
      this.onClose(conn);
    }
  }

  /**
   * A ban came into force (here or on another instance): the connections it covers (by address, by
   * the user of their passkey, by the peer id of a peer they announced) are closed at once.
   */
  private banish(ban: Ban, userOf: (passkey: string) => UserId | undefined): void {
    for (const conn of this.connections.values()) {
      if (conn.closing) continue;
      let hit = banMatches(ban, parseAddress(conn.remote), undefined, conn.passkey === undefined ? undefined : userOf(conn.passkey));
      if (!hit && ban.client !== undefined && conn.peers) {
        for (const key of conn.peers.keys()) if ((hit = banMatches(ban, undefined, Buffer.from(key.slice(20), 'latin1'), undefined))) break;
      }
      if (!hit) continue;
      conn.revoked = true;
      conn.shut(BANNED.code, BANNED.reason);
      this.onClose(conn);
    }
  }

  /** Ping every connection; close the dead and the idle ones; forget expired offers. Never throws. */
  private heartbeat(): void {
    try {
      const now = Date.now();
      const ping = now >= this.nextPing;
      if (ping) this.nextPing = now + this.o.pingMs - 1;
      for (const conn of this.connections.values()) {
        if (conn.closing) continue;
        const silent = now - conn.lastFrame;
        if (silent > this.idleMs || (silent > this.o.unannouncedMs && conn.pairCount === 0)) {
          conn.shut(1000, 'idle');
          continue;
        }
        if (!ping) continue;
        if (!conn.alive) {
          conn.ws.terminate();
          continue;
        }
        if (conn.offers && conn.offers.expire(now) === 0) conn.offers = undefined;
        conn.alive = false;
        conn.ws.ping();
      }
    } catch (error) {
      this.internal(undefined, error);
    }
  }

  /**
   * A bug of ours (an exception that is no protocol failure): counted as an `internal` failure on
   * the core (its `failure` event), and the connection it happened on is closed (1011). Never throws.
   */
  private internal(conn: Connection | undefined, error: unknown): void {
    try {
      this.tracker.failureReason(error);
    } catch {
      // a `failure` listener that throws: nothing more to do
    }
    try {
      if (conn && !conn.closing) conn.shut(1011, 'internal error');
    } catch {
      conn?.ws.terminate();
    }
  }

  private reportError(error: unknown): void {
    if (this.listenerCount('error') === 0) return;
    try {
      this.emit('error', error);
    } catch {
      // an `error` listener that throws
    }
  }

  /**
   * Draining: refuse new upgrades (503) and close every connection with 1001 "going away", so that
   * browsers reconnect to another instance. Resolves once they are closed (a peer that does not
   * finish the closing handshake is cut off after 5 s).
   */
  private async goAway(): Promise<void> {
    this.door.closed = true;
    await Promise.all(
      [...this.connections.values()].map(
        (conn) =>
          new Promise<void>((resolve) => {
            if (conn.ws.readyState === 3 /* CLOSED */) return resolve();
            conn.ws.once('close', () => resolve());
            conn.shut(1001, 'going away');
          }),
      ),
    );
  }

  /** A drain out of time: cut every connection at once. */
  private cutAll(): void {
    for (const conn of this.connections.values()) conn.ws.terminate();
  }

  /**
   * Close every connection (their peers leave their swarms), stop taking upgrades, and close the
   * tracker core when this WebSocket tracker created it.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.door.closed = true;
    clearInterval(this.timer);
    this.stopForgetting();
    this.stopBans();
    this.detach();
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
