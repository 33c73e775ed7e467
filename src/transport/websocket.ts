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
 * Files: this one is the tracker (frames → the core → frames); ws-door.ts the upgrade and its
 * budgets; ws-connection.ts one connection and its pairs; ws-offers.ts the offers it may answer.
 */
import { EventEmitter } from 'node:events';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { parseAddress } from '../protocol/address.js';
import type { AnnounceRequest } from '../protocol/announce.js';
import {
  encodeWsAnnounce,
  encodeWsAnswer,
  encodeWsFailure,
  encodeWsOfferAfter,
  encodeWsScrape,
  idString,
  parseWsFrame,
  wsOfferPrefix,
  WsProtocolError,
  type WsAnnounce,
  type WsScrape,
} from '../protocol/websocket.js';
import { passkeyDigest } from '../policy/passkey.js';
import type { Peer, SwarmCounts } from '../types.js';
import { ADDRESS_REASON, Tracker, type AnswerWriter, type TrackerOptions } from '../tracker.js';
import { Relay, type RelayMessage } from './relay.js';
import { Connection, pairKey, type HeldPeer } from './ws-connection.js';
import { Door, refuse, type Admission } from './ws-door.js';
import { OfferBook } from './ws-offers.js';

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

/** What the core hands back for an announce over WebSocket. */
type WsResult = { counts: SwarmCounts; peers: Peer[] } | { failure: string };

const WRITER: AnswerWriter<WsResult> = {
  peers: (counts, peers) => ({ counts: { complete: counts.complete, incomplete: counts.incomplete, downloaded: counts.downloaded }, peers }),
  failure: (failure) => ({ failure }),
};

/** Close code and reason for a connection whose passkey was forgotten. */
const REVOKED = { code: 1008, reason: 'passkey revoked' } as const;

/** A WebTorrent tracker. Events: `error` (server errors, and errors of the site's hooks). */
export class WebSocketTracker extends EventEmitter {
  /** The tracker core behind this door. */
  readonly tracker: Tracker;
  private readonly owned: boolean;
  private readonly wss: WebSocketServer;
  private readonly relay: Relay;
  private readonly door: Door;
  private readonly connections = new Map<number, Connection>();
  private readonly maxOffers: number;
  private readonly offerTtl: number;
  private readonly maxPendingOffers: number;
  private readonly maxPeers: number;
  private readonly idleMs: number;
  private readonly unannouncedMs: number;
  private readonly pingMs: number;
  private nextPing = 0;
  private readonly rate: number;
  private readonly burst: number;
  private readonly maxBuffered: number;
  private readonly timer: NodeJS.Timeout;
  private readonly stopForgetting: () => void;
  private server: http.Server | undefined;
  private closed = false;
  /** Until this instance listens on its relay channel (then undefined). */
  private listening: Promise<void> | undefined;

  constructor(options: WebSocketTrackerOptions = {}) {
    super();
    const path = options.path ?? '';
    if (path !== '' && (!path.startsWith('/') || path.endsWith('/'))) throw new TypeError('path: "" or a path like /tracker');
    for (const name of ['allowUpgrade', 'clientAddress'] as const) {
      if (options[name] !== undefined && typeof options[name] !== 'function') throw new TypeError(`options.${name} must be a function`);
    }
    const maxPayload = positive('maxPayload', options.maxPayload, 64 * 1024);
    this.maxOffers = positive('maxOffers', options.maxOffers, 10);
    this.offerTtl = positive('offerTtl', options.offerTtl, 50) * 1000;
    this.maxPendingOffers = positive('maxPendingOffers', options.maxPendingOffers, 100);
    this.maxPeers = positive('maxPeersPerConnection', options.maxPeersPerConnection, 100);
    const maxConnections = positive('maxConnections', options.maxConnections, 50_000);
    const maxPerAddress = nonNegative('maxConnectionsPerAddress', options.maxConnectionsPerAddress, 100);
    this.unannouncedMs = positive('unannouncedTimeout', options.unannouncedTimeout, 30) * 1000;
    this.pingMs = positive('pingInterval', options.pingInterval, 30) * 1000;
    this.rate = positive('framesPerSecond', options.framesPerSecond, 10);
    this.burst = this.rate * 10;
    this.maxBuffered = positive('maxBufferedBytes', options.maxBufferedBytes, 1 << 20);
    // Options are checked before a core is made: a bad option leaves nothing open behind.
    this.owned = options.tracker === undefined;
    this.tracker = options.tracker ?? new Tracker(options);
    this.idleMs = positive('idleTimeout', options.idleTimeout, this.tracker.options.peerTtl) * 1000;
    this.door = new Door(
      {
        prefix: path,
        isPrivate: this.tracker.isPrivate,
        maxConnections,
        maxPerAddress,
        allowUpgrade: options.allowUpgrade,
        clientAddress: options.clientAddress,
      },
      (error) => this.reportError(error),
    );
    this.wss = new WebSocketServer({ noServer: true, maxPayload, perMessageDeflate: false, clientTracking: false });
    this.wss.on('error', (error) => this.reportError(error));
    this.relay = new Relay((message) => this.deliver(message));
    // Announces wait for this: other instances take a channel nobody listens on for a crashed instance.
    this.listening = this.tracker
      .whenReady()
      .then(() => this.relay.listen(this.tracker.swarmStore?.bus))
      .catch(() => undefined)
      .then(() => {
        this.listening = undefined;
      });
    this.stopForgetting = this.tracker.onPasskeyForgotten((digest) => this.revoke(digest));
    // One timer for pings and both idle timeouts; it runs often enough for the shortest of them.
    const tick = Math.min(this.pingMs, this.unannouncedMs / 2, this.idleMs / 2);
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
    if (!conn.spend(Date.now(), this.rate, this.burst)) {
      conn.shut(1008, 'too many messages');
      return;
    }
    if (isBinary) {
      conn.shut(1003, 'binary frames are not accepted');
      return;
    }
    let message: WsAnnounce | WsScrape;
    try {
      message = parseWsFrame(data.toString(), { maxOffers: this.maxOffers, maxScrapeHashes: this.tracker.options.maxScrapeHashes });
    } catch (error) {
      if (!(error instanceof WsProtocolError)) throw error;
      this.send(conn, encodeWsFailure(this.tracker.failureReason(error), error.action, error.infoHash));
      return;
    }
    if (message.action === 'scrape') void this.scrape(conn, message).catch((error: unknown) => this.internal(conn, error));
    else if (message.answer) this.answer(conn, message);
    else this.announce(conn, message);
  }

  private announce(conn: Connection, m: WsAnnounce): void {
    if (this.listening) {
      void this.listening.then(() => this.announce(conn, m)).catch((error: unknown) => this.internal(conn, error));
      return;
    }
    const key = pairKey(m.infoHash, m.peerId);
    if (m.event !== 'stopped' && conn.pairCount >= this.maxPeers && !conn.peers!.has(key)) {
      this.send(conn, encodeWsFailure(`too many torrents on one connection (limit ${this.maxPeers})`, 'announce', idString(m.infoHash)));
      return;
    }
    const request = this.request(m, conn);
    const result = this.tracker.announceRequest({ request, remote: this.relay.route(conn.serial), passkey: conn.passkey, writer: WRITER, webrtc: true });
    if (result instanceof Promise) {
      void result.then((r) => this.announced(conn, m, key, r)).catch((error: unknown) => this.internal(conn, error));
    } else if (result) this.announced(conn, m, key, result);
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
      conn.hold(key, m);
    } else {
      // The connection closed while the store answered: take the peer out again.
      this.leave(conn, key, { uploaded: m.uploaded, downloaded: m.downloaded, left: m.left });
      return;
    }
    this.send(conn, encodeWsAnnounce(m.infoHash, result.counts, this.tracker.options.interval));
    const peers = result.peers;
    const n = Math.min(peers.length, m.offers.length);
    if (n === 0) return;
    const bus = this.tracker.swarmStore?.bus;
    const from = idString(m.peerId);
    const route = this.relay.route(conn.serial);
    const prefix = wsOfferPrefix(infoHash, from);
    for (let i = 0; i < n; i++) {
      const peer = peers[i];
      const offer = m.offers[i];
      const offerId = idString(offer.offerId);
      const message = {
        serial: 0,
        infoHash,
        peerId: idString(peer.peerId),
        frame: encodeWsOfferAfter(prefix, offerId, offer),
        offer: { offerId, from, route },
      };
      // A peer on this instance gets its offer at once (no promise); others through the bus.
      const serial = this.relay.localSerial(peer.ip);
      if (serial !== undefined) {
        message.serial = serial;
        this.deliver(message);
        continue;
      }
      const target = { infoHash: m.infoHash, peer: { peerId: Buffer.from(peer.peerId), ip: Buffer.from(peer.ip), port: peer.port } };
      void this.relay
        .send(target.peer.ip, message, bus)
        .then((outcome) => {
          if (outcome === 'gone') this.forgetGone(target.infoHash, target.peer);
        })
        .catch((error: unknown) => this.internal(undefined, error));
    }
  }

  /** An answer to an offer this tracker handed to the peer: relayed to the offering peer. */
  private answer(conn: Connection, m: WsAnnounce): void {
    const a = m.answer!;
    const infoHash = idString(m.infoHash);
    const pending = conn.offers?.take(OfferBook.key(infoHash, idString(a.offerId), idString(a.toPeerId)), idString(m.peerId), Date.now());
    if (!pending) {
      this.send(conn, encodeWsFailure('answer to an unknown or expired offer', 'announce', infoHash));
      return;
    }
    void this.relay
      .send(pending.route, { infoHash, peerId: pending.from, frame: encodeWsAnswer(m.infoHash, m.peerId, a) }, this.tracker.swarmStore?.bus)
      .catch((error: unknown) => this.internal(undefined, error));
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

  /** A message for a connection of this instance (from this instance or another). Never throws. */
  private deliver(message: RelayMessage): boolean {
    const conn = this.connections.get(message.serial);
    try {
      // Gone, closing, or no longer holding the peer: a successor never receives its predecessor's mail.
      if (!conn || conn.closing || !conn.peers?.has(message.infoHash + message.peerId)) return false;
      if (message.offer) {
        conn.offers ??= new OfferBook();
        const { offerId, from, route } = message.offer;
        conn.offers.add(OfferBook.key(message.infoHash, offerId, from), { to: message.peerId, from, route, expires: Date.now() + this.offerTtl }, this.maxPendingOffers);
      }
      return this.send(conn, message.frame);
    } catch (error) {
      this.internal(conn, error);
      return false;
    }
  }

  /** A sampled peer whose instance no longer listens: take it out of the swarm now. */
  private forgetGone(infoHash: Buffer, peer: Peer): void {
    this.remove(infoHash, peer.peerId, peer.ip);
  }

  /**
   * Take a pair out of its WebTorrent swarm without the core's policy (the connection that held it
   * is gone, or its passkey was revoked): a `stopped` straight to the swarm store, from the route
   * the peer is listed under (the store's address rule lets exactly that through).
   */
  private remove(infoHash: Uint8Array, peerId: Uint8Array, route: Uint8Array): void {
    const store = this.tracker.webrtcSwarms();
    if (!store) return;
    try {
      void store
        .announce({ infoHash, peerId, ip: route, port: 1, seeder: false, event: 'stopped', numwant: 0, ttl: 1 })
        .catch(() => undefined);
    } catch {
      // a store that throws instead of rejecting: the peer expires instead
    }
  }

  private send(conn: Connection, frame: string): boolean {
    return conn.send(frame, this.maxBuffered);
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
      if (peers) for (const [key, held] of peers) this.leave(conn, key, held);
    } catch (error) {
      this.internal(undefined, error);
    }
  }

  /**
   * A pair of a closed connection leaves its swarm: a `stopped` through the core on the peer's
   * behalf (accounting and events as usual); when the core refuses it (a passkey revoked meanwhile,
   * a policy lookup that fails) or the connection was revoked, straight from the swarm store.
   */
  private leave(conn: Connection, key: string, held: HeldPeer): void {
    const infoHash = Buffer.from(key.slice(0, 20), 'latin1');
    const peerId = Buffer.from(key.slice(20), 'latin1');
    const route = this.relay.route(conn.serial);
    if (conn.revoked) {
      this.remove(infoHash, peerId, route);
      return;
    }
    const request: AnnounceRequest = {
      infoHash,
      peerId,
      port: 1,
      uploaded: held.uploaded,
      downloaded: held.downloaded,
      left: held.left,
      event: 'stopped',
      numwant: 0,
      compact: false,
      noPeerId: false,
      ipParameter: undefined,
      remote: parseAddress(conn.remote),
      transport: 'websocket',
    };
    const fallback = (result: WsResult | undefined): void => {
      if (!result || 'failure' in result) this.remove(infoHash, peerId, route);
    };
    const result = this.tracker.announceRequest({ request, remote: route, passkey: conn.passkey, writer: WRITER, webrtc: true });
    if (result instanceof Promise) void result.then(fallback, () => fallback(undefined));
    else fallback(result);
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

  /** Ping every connection; close the dead and the idle ones; forget expired offers. Never throws. */
  private heartbeat(): void {
    try {
      const now = Date.now();
      const ping = now >= this.nextPing;
      if (ping) this.nextPing = now + this.pingMs - 1;
      for (const conn of this.connections.values()) {
        if (conn.closing) continue;
        const silent = now - conn.lastFrame;
        if (silent > this.idleMs || (silent > this.unannouncedMs && conn.pairCount === 0)) {
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
   * Close every connection (their peers leave their swarms), stop taking upgrades, and close the
   * tracker core when this WebSocket tracker created it.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.door.closed = true;
    clearInterval(this.timer);
    this.stopForgetting();
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

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new TypeError(`options.${name} must be a positive number`);
  return value;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new TypeError(`options.${name} must be a whole number, 0 or more`);
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
