/**
 * Upload-slot policy: which interested peers we unchoke.
 *
 * A fixed number of regular slots is shared round-robin: every `rotateInterval` the interested
 * peers are ranked by when their last turn started (never served first) and the best `slots` of
 * them hold the regular slots, so with more interested peers than slots everybody gets a turn and
 * nobody waits more than a few rounds. One extra optimistic slot goes to a random choked interested
 * peer and moves every `optimisticEvery` rounds, so a newcomer gets data within seconds. A slot
 * freed by a peer that leaves or loses interest is refilled at once.
 */

/** What the choker needs from a peer connection. */
export interface ChokerPeer {
  /** True when the peer told us it is interested. */
  readonly peerInterested: boolean;
  /** True while we are choking the peer. */
  readonly amChoking: boolean;
  /** Sends `choke`. */
  choke(): void;
  /** Sends `unchoke`. */
  unchoke(): void;
}

/** Options for {@link Choker}. */
export interface ChokerOptions {
  /** Regular upload slots (default 8). */
  slots?: number;
  /** Milliseconds between rotations (default 10 000). */
  rotateInterval?: number;
  /** Rotations between optimistic-unchoke moves (default 3, i.e. 30 s). */
  optimisticEvery?: number;
  /** Random source in [0, 1) (tests inject one). */
  random?: () => number;
  /** Clock in milliseconds (tests inject one). */
  now?: () => number;
}

interface State {
  /** When the peer's current or last turn started; -Infinity when never served. */
  turnStartedAt: number;
  /** Order of registration, to break ties. */
  seq: number;
}

/** Decides which peers hold upload slots. Call {@link Choker.rotate} on a timer. */
export class Choker<P extends ChokerPeer = ChokerPeer> {
  /** Number of regular slots. */
  readonly slots: number;
  /** Milliseconds between rotations. */
  readonly rotateInterval: number;
  private readonly optimisticEvery: number;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly peers = new Map<P, State>();
  private regular = new Set<P>();
  private optimistic: P | undefined;
  private rounds = 0;
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;

  /** @param options see {@link ChokerOptions} */
  constructor(options: ChokerOptions = {}) {
    this.slots = Math.max(1, options.slots ?? 8);
    this.rotateInterval = options.rotateInterval ?? 10_000;
    this.optimisticEvery = Math.max(1, options.optimisticEvery ?? 3);
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
  }

  /** Starts rotating on a timer (unref'd). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.rotate(), this.rotateInterval);
    this.timer.unref();
  }

  /** Stops the timer. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Peers currently holding a regular slot. */
  get unchoked(): P[] {
    return [...this.regular];
  }

  /** The peer holding the optimistic slot, if any. */
  get optimisticPeer(): P | undefined {
    return this.optimistic;
  }

  /** Starts tracking a peer (choked). */
  add(peer: P): void {
    if (this.peers.has(peer)) return;
    this.peers.set(peer, { turnStartedAt: -Infinity, seq: this.seq++ });
    if (peer.peerInterested) this.fill();
  }

  /** Stops tracking a peer (it disconnected) and gives its slot to someone else. */
  remove(peer: P): void {
    if (!this.peers.delete(peer)) return;
    const hadSlot = this.regular.delete(peer) || this.optimistic === peer;
    if (this.optimistic === peer) this.optimistic = undefined;
    if (hadSlot) this.fill();
  }

  /** Call when a peer's interest changed. */
  interestChanged(peer: P): void {
    if (!this.peers.has(peer)) return;
    if (peer.peerInterested) {
      this.fill();
    } else {
      const hadSlot = this.regular.delete(peer) || this.optimistic === peer;
      if (this.optimistic === peer) this.optimistic = undefined;
      if (!peer.amChoking) peer.choke();
      if (hadSlot) this.fill();
    }
  }

  /** One round: re-rank interested peers for the regular slots and maybe move the optimistic slot. */
  rotate(): void {
    this.rounds += 1;
    const interested = this.interested();
    const ranked = interested.sort((a, b) => this.rank(a, b));
    const nextRegular = new Set(ranked.slice(0, this.slots));
    let nextOptimistic = this.optimistic;
    if (nextOptimistic && (nextRegular.has(nextOptimistic) || !nextOptimistic.peerInterested || this.rounds % this.optimisticEvery === 0)) {
      nextOptimistic = undefined;
    }
    if (!nextOptimistic) {
      const waiting = ranked.slice(this.slots).filter((p) => p !== this.optimistic || ranked.length - this.slots === 1);
      if (waiting.length > 0) nextOptimistic = waiting[Math.floor(this.random() * waiting.length) % waiting.length];
    }
    this.apply(nextRegular, nextOptimistic);
  }

  /** Unchokes interested peers into free slots without taking anyone's slot away. */
  private fill(): void {
    const free = this.slots - this.regular.size;
    const waiting = this.interested()
      .filter((p) => !this.regular.has(p) && p !== this.optimistic)
      .sort((a, b) => this.rank(a, b));
    const next = new Set(this.regular);
    for (const p of waiting.slice(0, Math.max(0, free))) next.add(p);
    let opt = this.optimistic;
    if (!opt) {
      const rest = waiting.filter((p) => !next.has(p));
      if (rest.length > 0) opt = rest[Math.floor(this.random() * rest.length) % rest.length];
    }
    this.apply(next, opt);
  }

  private interested(): P[] {
    return [...this.peers.keys()].filter((p) => p.peerInterested);
  }

  private rank(a: P, b: P): number {
    const sa = this.peers.get(a)!;
    const sb = this.peers.get(b)!;
    return sa.turnStartedAt - sb.turnStartedAt || sa.seq - sb.seq;
  }

  private apply(nextRegular: Set<P>, nextOptimistic: P | undefined): void {
    const now = this.now();
    const before = new Set(this.regular);
    if (this.optimistic) before.add(this.optimistic);
    const after = new Set(nextRegular);
    if (nextOptimistic) after.add(nextOptimistic);
    for (const p of before) {
      if (!after.has(p) && !p.amChoking) p.choke();
    }
    for (const p of after) {
      const state = this.peers.get(p);
      if (!state) continue;
      if (!before.has(p)) state.turnStartedAt = now;
      if (p.amChoking) p.unchoke();
    }
    this.regular = nextRegular;
    this.optimistic = nextOptimistic;
  }
}
