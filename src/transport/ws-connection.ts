/**
 * One WebSocket connection of the WebTorrent door and the (torrent, peer id) pairs it announced.
 * Kept small: idle connections are the common case (no Buffers, no per-connection timers; the pair
 * map and the offer book are created on first use).
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { OfferBook } from './ws-offers.js';

/**
 * The last counters of one pair a connection announced (for the `stopped` sent on close). The pair
 * itself is the Map key (latin1 info hash + peer id).
 */
export interface HeldPeer {
  uploaded: number;
  downloaded: number;
  left: number | undefined;
}

/** The key of a pair: latin1 info hash + latin1 peer id (40 characters). */
export function pairKey(infoHash: Buffer, peerId: Buffer): string {
  return infoHash.toString('latin1') + peerId.toString('latin1');
}

function uncork(socket: Duplex): void {
  socket.uncork();
}

/** Per-connection state. */
export class Connection {
  /** Keyed by {@link pairKey}. */
  peers: Map<string, HeldPeer> | undefined = undefined;
  /** Offers handed to this connection's peers (see ws-offers.ts). */
  offers: OfferBook | undefined = undefined;
  /** Answered the last ping (or sent something since). */
  alive = true;
  /** When the last frame came (ms since the epoch). */
  lastFrame: number;
  /** Frame budget (token bucket) and its last refill. */
  private tokens: number;
  private refilled: number;
  /** Closing or closed: nothing more is sent or taken. */
  closing = false;
  /** Closed because its passkey was forgotten: its pairs leave their swarms without the policy. */
  revoked = false;
  /** Its slot in the door's budgets was given back (see ws-door.ts). */
  released = false;

  constructor(
    readonly ws: WebSocket,
    /** The connection's number; its route (see relay.ts) is made from it when needed. */
    readonly serial: number,
    /** The client's address (stats, events, the per-address count; parsed when used). */
    readonly remote: string | undefined,
    /** The passkey from the URL (private trackers). */
    readonly passkey: string | undefined,
    /** The key it is counted under per address in the door (undefined: not counted per address). */
    readonly key: string | undefined,
    now: number,
    burst: number,
  ) {
    this.lastFrame = now;
    this.tokens = burst;
    this.refilled = now;
  }

  /** Number of pairs held. */
  get pairCount(): number {
    return this.peers?.size ?? 0;
  }

  /** Take one frame from the budget (`rate` per second, bursts up to `burst`); false when it is spent. */
  spend(now: number, rate: number, burst: number): boolean {
    this.lastFrame = now;
    this.alive = true;
    this.tokens = Math.min(burst, this.tokens + ((now - this.refilled) / 1000) * rate);
    this.refilled = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Remember (or update) a pair after an accepted announce. */
  hold(key: string, counters: HeldPeer): void {
    this.peers ??= new Map();
    const held = this.peers.get(key);
    if (held) {
      held.uploaded = counters.uploaded;
      held.downloaded = counters.downloaded;
      held.left = counters.left;
    } else {
      this.peers.set(key, { uploaded: counters.uploaded, downloaded: counters.downloaded, left: counters.left });
    }
  }

  /**
   * Send a frame unless the connection is closing or its send buffer holds more than `maxBuffered`
   * bytes. Frames sent to one connection in one turn of the event loop (the answers to the frames of
   * one TCP read, offers from several announcers) leave in one write: the socket is corked until the
   * turn ends.
   */
  send(frame: string, maxBuffered: number): boolean {
    if (this.closing || this.ws.readyState !== 1 /* OPEN */ || this.ws.bufferedAmount > maxBuffered) return false;
    const socket = (this.ws as unknown as { _socket?: Duplex | null })._socket;
    if (socket && socket.writableCorked === 0) {
      socket.cork();
      process.nextTick(uncork, socket);
    }
    this.ws.send(frame);
    return true;
  }

  /** Close with `code` and `reason`; a peer that does not finish the closing handshake is cut off after 5 s. */
  shut(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.ws.close(code, reason);
    const timer = setTimeout(() => this.ws.terminate(), 5000);
    timer.unref();
    this.ws.once('close', () => clearTimeout(timer));
  }
}
