/**
 * The offer book of one WebSocket connection: the offers this tracker handed to the connection's
 * peers, which they may answer. An answer is relayed only when it matches an offer in the book
 * (same swarm, offer id and offering peer), comes from the very peer the offer was handed to, and
 * arrives before the offer expired. The book is bounded: the oldest offer is forgotten first.
 */

/** An offer handed to a peer of a connection, which it may answer. */
export interface PendingOffer {
  /** The peer the offer was handed to (latin1 id): it must be the one answering. */
  readonly to: string;
  /** The offering peer (latin1 id). */
  readonly from: string;
  /** The offering peer's route (relay.ts): where its answer goes. */
  readonly route: Buffer;
  /** When the offer may no longer be answered (ms since the epoch). */
  readonly expires: number;
}

/** What {@link OfferBook.take} found for an answer. */
export type OfferMatch = PendingOffer | undefined;

/** Pending offers of one connection, keyed by latin1 info hash + offer id + offering peer id. */
export class OfferBook {
  private readonly offers = new Map<string, PendingOffer>();

  /** The key of an offer: swarm, offer id and offering peer (latin1 strings). */
  static key(infoHash: string, offerId: string, from: string): string {
    return infoHash + offerId + from;
  }

  /** Number of offers held. */
  get size(): number {
    return this.offers.size;
  }

  /** Note an offer handed to the connection; past `max` offers the oldest is forgotten. */
  add(key: string, offer: PendingOffer, max: number): void {
    if (this.offers.size >= max && !this.offers.has(key)) this.offers.delete(this.offers.keys().next().value!);
    this.offers.set(key, offer);
  }

  /**
   * The offer an answer from peer `answerer` answers, removed from the book; undefined when there is
   * none, it expired (then it is forgotten), or it was handed to another peer (then it stays: a wrong
   * answerer must not cancel the real one's offer).
   */
  take(key: string, answerer: string, now: number): OfferMatch {
    const pending = this.offers.get(key);
    if (!pending) return undefined;
    if (pending.expires < now) {
      this.offers.delete(key);
      return undefined;
    }
    if (pending.to !== answerer) return undefined;
    this.offers.delete(key);
    return pending;
  }

  /** Forget expired offers; returns the number left. */
  expire(now: number): number {
    for (const [key, offer] of this.offers) if (offer.expires < now) this.offers.delete(key);
    return this.offers.size;
  }
}
