/**
 * What the WebSocket door does with a connection's frames once parsed: announces through the tracker
 * core (the pair is held by the connection, its offers handed to sampled peers), answers relayed
 * back to the offering peer, scrapes, and pairs leaving their swarms when a connection goes.
 */
import { parseAddress } from '../protocol/address.js';
import type { AnnounceRequest } from '../protocol/announce.js';
import {
  encodeWsAnnounce,
  encodeWsAnswer,
  encodeWsFailure,
  encodeWsOfferAfter,
  encodeWsScrape,
  idString,
  wsOfferPrefix,
  type WsAnnounce,
  type WsScrape,
} from '../protocol/websocket.js';
import { ADDRESS_REASON, type AnswerWriter, type Tracker } from '../tracker.js';
import type { Peer, SwarmCounts } from '../types.js';
import type { Relay, RelayMessage } from './relay.js';
import { pairKey, type Connection, type HeldPeer } from './ws-connection.js';
import { OfferBook } from './ws-offers.js';
import { toldInterval } from '../policy/interval.js';

/** What the core hands back for an announce over WebSocket. */
type WsResult = { counts: SwarmCounts; peers: Peer[] } | { failure: string };

const WRITER: AnswerWriter<WsResult> = {
  peers: (counts, peers) => ({ counts: { complete: counts.complete, incomplete: counts.incomplete, downloaded: counts.downloaded }, peers }),
  failure: (failure) => ({ failure }),
};

/** What the exchange needs of the door. */
export interface ExchangeDeps {
  tracker: Tracker;
  relay: Relay;
  /** Most (torrent, peer id) pairs one connection may announce. */
  maxPeers: number;
  /** Send a frame to a connection (dropped when its buffer is full). */
  send(conn: Connection, frame: string): boolean;
  /** Deliver a relayed message to a connection of this instance. */
  deliver(message: RelayMessage): boolean;
  /** A bug of ours: counted, and the connection (if any) closed. Never throws. */
  internal(conn: Connection | undefined, error: unknown): void;
  /** Until this instance listens on its relay channel (then undefined). */
  listening(): Promise<void> | undefined;
}

/** See the module comment. */
export class Exchange {
  constructor(private readonly d: ExchangeDeps) {}

  /** An announce frame (without an answer): through the core, then its offers to sampled peers. */
  announce(conn: Connection, m: WsAnnounce): void {
    const listening = this.d.listening();
    if (listening) {
      void listening.then(() => this.announce(conn, m)).catch((error: unknown) => this.d.internal(conn, error));
      return;
    }
    const key = pairKey(m.infoHash, m.peerId);
    const { maxPeers } = this.d;
    if (m.event !== 'stopped' && conn.pairCount >= maxPeers && !conn.peers!.has(key)) {
      this.d.send(conn, encodeWsFailure(`too many torrents on one connection (limit ${maxPeers})`, 'announce', idString(m.infoHash)));
      return;
    }
    const request = requestOf(m, conn.remote);
    const result = this.d.tracker.announceRequest({ request, remote: this.d.relay.route(conn.serial), passkey: conn.passkey, writer: WRITER, webrtc: true });
    if (result instanceof Promise) {
      void result.then((r) => this.announced(conn, m, key, r)).catch((error: unknown) => this.d.internal(conn, error));
    } else if (result) this.announced(conn, m, key, result);
  }

  private announced(conn: Connection, m: WsAnnounce, key: string, result: WsResult): void {
    const { send, relay, tracker } = this.d;
    const infoHash = idString(m.infoHash);
    if ('failure' in result) {
      // A WebSocket peer is listed under its connection: "another address" means another connection.
      const reason = result.failure === ADDRESS_REASON ? 'this peer_id is held by another connection' : result.failure;
      send(conn, encodeWsFailure(reason, 'announce', infoHash));
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
    send(conn, encodeWsAnnounce(m.infoHash, result.counts, toldInterval(tracker.options)));
    const peers = result.peers;
    const n = Math.min(peers.length, m.offers.length);
    if (n === 0) return;
    const bus = tracker.swarmStore?.bus;
    const from = idString(m.peerId);
    const route = relay.route(conn.serial);
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
      const serial = relay.localSerial(peer.ip);
      if (serial !== undefined) {
        message.serial = serial;
        this.d.deliver(message);
        continue;
      }
      const target = { infoHash: Buffer.from(m.infoHash), peerId: Buffer.from(peer.peerId), ip: Buffer.from(peer.ip) };
      void relay
        .send(target.ip, message, bus)
        .then((outcome) => {
          // The sampled peer's instance no longer listens: take it out of the swarm now.
          if (outcome === 'gone') this.remove(target.infoHash, target.peerId, target.ip);
        })
        .catch((error: unknown) => this.d.internal(undefined, error));
    }
  }

  /** An answer to an offer this tracker handed to the peer: relayed to the offering peer. */
  answer(conn: Connection, m: WsAnnounce): void {
    const a = m.answer!;
    const infoHash = idString(m.infoHash);
    const pending = conn.offers?.take(OfferBook.key(infoHash, idString(a.offerId), idString(a.toPeerId)), idString(m.peerId), Date.now());
    if (!pending) {
      this.d.send(conn, encodeWsFailure('answer to an unknown or expired offer', 'announce', infoHash));
      return;
    }
    void this.d.relay
      .send(pending.route, { infoHash, peerId: pending.from, frame: encodeWsAnswer(m.infoHash, m.peerId, a) }, this.d.tracker.swarmStore?.bus)
      .catch((error: unknown) => this.d.internal(undefined, error));
  }

  /** A scrape frame: the WebTorrent swarms' counters (a full scrape without hashes). */
  async scrape(conn: Connection, m: WsScrape): Promise<void> {
    const { tracker } = this.d;
    try {
      let files: Array<{ infoHash: Uint8Array } & SwarmCounts>;
      if (m.infoHashes.length === 0) {
        files = await tracker.fullScrape(conn.passkey, true);
      } else {
        const counts = await tracker.scrapeHashes(m.infoHashes, conn.passkey, true);
        files = [];
        m.infoHashes.forEach((infoHash, i) => {
          const c = counts[i];
          if (c) files.push({ infoHash, ...c });
        });
      }
      this.d.send(conn, encodeWsScrape(files));
    } catch (error) {
      const single = m.infoHashes.length === 1 ? idString(m.infoHashes[0]) : undefined;
      this.d.send(conn, encodeWsFailure(tracker.failureReason(error), 'scrape', single));
    }
  }

  /**
   * A pair of a closed connection leaves its swarm: a `stopped` through the core on the peer's
   * behalf (accounting and events as usual); when the core refuses it (a passkey revoked meanwhile,
   * a policy lookup that fails) or the connection was revoked, straight from the swarm store.
   */
  leave(conn: Connection, key: string, held: HeldPeer): void {
    const infoHash = Buffer.from(key.slice(0, 20), 'latin1');
    const peerId = Buffer.from(key.slice(20), 'latin1');
    const route = this.d.relay.route(conn.serial);
    if (conn.revoked) {
      this.remove(infoHash, peerId, route);
      return;
    }
    const request = requestOf({ infoHash, peerId, ...held, event: 'stopped', numwant: 0 }, conn.remote);
    const fallback = (result: WsResult | undefined): void => {
      if (!result || 'failure' in result) this.remove(infoHash, peerId, route);
    };
    const result = this.d.tracker.announceRequest({ request, remote: route, passkey: conn.passkey, writer: WRITER, webrtc: true });
    if (result instanceof Promise) void result.then(fallback, () => fallback(undefined));
    else fallback(result);
  }

  /**
   * Take a pair out of its WebTorrent swarm without the core's policy (the connection that held it
   * is gone, or its passkey was revoked): a `stopped` straight to the swarm store, from the route
   * the peer is listed under (the store's address rule lets exactly that through).
   */
  private remove(infoHash: Uint8Array, peerId: Uint8Array, route: Uint8Array): void {
    const store = this.d.tracker.webrtcSwarms();
    if (!store) return;
    try {
      void store.announce({ infoHash, peerId, ip: route, port: 1, seeder: false, event: 'stopped', numwant: 0, ttl: 1 }).catch(() => undefined);
    } catch {
      // a store that throws instead of rejecting: the peer expires instead
    }
  }
}

/** The core's announce request for a WebSocket pair (no port: the peer is reached through its connection). */
function requestOf(
  m: Pick<WsAnnounce, 'infoHash' | 'peerId' | 'uploaded' | 'downloaded' | 'left' | 'event' | 'paused' | 'numwant'>,
  remote: string | undefined,
): AnnounceRequest {
  const request: AnnounceRequest = {
    infoHash: m.infoHash,
    peerId: m.peerId,
    port: 1,
    uploaded: m.uploaded,
    downloaded: m.downloaded,
    left: m.left,
    event: m.event,
    numwant: m.numwant,
    compact: false,
    noPeerId: false,
    ipParameter: undefined,
    remote: parseAddress(remote),
    transport: 'websocket',
  };
  if (m.paused) request.paused = true;
  return request;
}
