/**
 * Routes for WebTorrent messages (offers and answers) between the instances of a tracker.
 *
 * A WebSocket peer is listed in the store under a *route* instead of an address: 16 bytes, the
 * instance's random id (8 bytes) and the connection's serial number (8 bytes), never reused. Any
 * instance that samples the peer can reach it: a route of this instance is delivered in memory, a
 * route of another instance is published on that instance's channel of the store's bus (Redis
 * pub/sub). A message for a connection that is gone, or that no longer holds the peer, is dropped:
 * a successor connection never receives what was meant for its predecessor.
 */
import { randomBytes } from 'node:crypto';
import type { StoreBus } from '../swarm/types.js';

/** Length of a route (it is stored where an IPv6 address would be). */
export const ROUTE_LENGTH = 16;

/**
 * A message for one peer on one connection. Ids are the protocol's 20-character latin1 strings (as
 * the connections key them); on the bus they travel as hex.
 */
export interface RelayMessage {
  /** The connection's serial number. */
  serial: number;
  /** The swarm. */
  infoHash: string;
  /** The receiving peer: the connection must still hold it in that swarm. */
  peerId: string;
  /** The frame to send. */
  frame: string;
  /** For an offer: what the receiver may answer, so that only answers to real offers are relayed. */
  offer?: { offerId: string; from: string; route: Buffer };
}

const toHex = (latin1: string): string => Buffer.from(latin1, 'latin1').toString('hex');

/** Delivers a message to a connection of this instance; returns false when it was dropped. */
export type LocalDelivery = (message: RelayMessage) => boolean;

/** What happened to a relayed message. */
export type RelayOutcome = 'delivered' | 'dropped' | 'gone';

/** This instance's routes and its channel on the bus. */
export class Relay {
  /** This instance's 8-byte id. */
  readonly instanceId = randomBytes(8);
  private serial = 0;
  private unsubscribe: (() => Promise<void>) | undefined;
  private closed = false;
  private subscribing: Promise<void> | undefined;

  constructor(private readonly deliverLocal: LocalDelivery) {}

  /** A new connection's serial number. */
  next(): number {
    return ++this.serial;
  }

  /** The route of this instance's connection `serial` (a new Buffer each time: nothing kept per connection). */
  route(serial: number): Buffer {
    const route = Buffer.allocUnsafe(ROUTE_LENGTH);
    this.instanceId.copy(route, 0);
    route.writeUIntBE(Math.floor(serial / 2 ** 32), 8, 4);
    route.writeUInt32BE(serial >>> 0, 12);
    return route;
  }

  /** The serial number of a route of this instance's connections; undefined for another instance's. */
  localSerial(route: Uint8Array): number | undefined {
    if (route.length !== ROUTE_LENGTH) return undefined;
    const id = this.instanceId;
    for (let i = 0; i < 8; i++) if (route[i] !== id[i]) return undefined;
    return serialOf(route);
  }

  /** Listen on this instance's channel (when the store has a bus); retried on each send until it works. */
  listen(bus: StoreBus | undefined): Promise<void> {
    if (!bus?.subscribeTo || this.closed || this.unsubscribe) return Promise.resolve();
    this.subscribing ??= bus
      .subscribeTo(this.channel(this.instanceId), (text) => this.receive(text))
      .then(
        (unsubscribe) => {
          if (this.closed) void unsubscribe();
          else this.unsubscribe = unsubscribe;
        },
        () => undefined,
      )
      .finally(() => {
        this.subscribing = undefined;
      });
    return this.subscribing;
  }

  /**
   * Send `message` to the connection behind `route`: in memory for this instance's routes, else on
   * the bus. Resolves `gone` when no instance listens on the route's channel (the instance stopped
   * or crashed: its peers can be removed at once).
   */
  async send(route: Uint8Array, message: Omit<RelayMessage, 'serial'>, bus: StoreBus | undefined): Promise<RelayOutcome> {
    if (route.length !== ROUTE_LENGTH) return 'dropped';
    const serial = serialOf(route);
    if (this.instanceId.equals(route.subarray(0, 8))) return this.deliverLocal({ ...message, serial }) ? 'delivered' : 'dropped';
    if (!bus?.publishTo) return 'dropped';
    void this.listen(bus);
    const text = JSON.stringify({
      s: serial,
      h: toHex(message.infoHash),
      p: toHex(message.peerId),
      f: message.frame,
      ...(message.offer
        ? { o: toHex(message.offer.offerId), a: toHex(message.offer.from), r: message.offer.route.toString('hex') }
        : {}),
    });
    try {
      const receivers = await bus.publishTo(this.channel(route.subarray(0, 8)), text);
      return receivers > 0 ? 'delivered' : 'gone';
    } catch {
      return 'dropped';
    }
  }

  /** Stop listening. */
  async close(): Promise<void> {
    this.closed = true;
    await this.subscribing;
    await this.unsubscribe?.().catch(() => undefined);
    this.unsubscribe = undefined;
  }

  private channel(instanceId: Uint8Array): string {
    return `webrtc:${Buffer.from(instanceId).toString('hex')}`;
  }

  /** A message from another instance: checked like any input, then delivered in memory. */
  private receive(text: string): void {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    const infoHash = hex(m.h, 20);
    const peerId = hex(m.p, 20);
    if (typeof m.s !== 'number' || !Number.isSafeInteger(m.s) || !infoHash || !peerId || typeof m.f !== 'string') return;
    const message: RelayMessage = { serial: m.s, infoHash: infoHash.toString('latin1'), peerId: peerId.toString('latin1'), frame: m.f };
    if (m.o !== undefined) {
      const offerId = hex(m.o, 20);
      const from = hex(m.a, 20);
      const route = hex(m.r, ROUTE_LENGTH);
      if (!offerId || !from || !route) return;
      message.offer = { offerId: offerId.toString('latin1'), from: from.toString('latin1'), route };
    }
    this.deliverLocal(message);
  }
}

/** The serial number inside a route. */
export function serialOf(route: Uint8Array): number {
  const view = Buffer.from(route.buffer, route.byteOffset, route.byteLength);
  return view.readUIntBE(8, 4) * 2 ** 32 + view.readUInt32BE(12);
}

function hex(value: unknown, bytes: number): Buffer | undefined {
  if (typeof value !== 'string' || value.length !== bytes * 2 || !/^[0-9a-f]+$/.test(value)) return undefined;
  return Buffer.from(value, 'hex');
}
