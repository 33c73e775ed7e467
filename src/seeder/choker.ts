/**
 * Upload-slot policy: which interested peers we unchoke.
 *
 * A fixed number of regular slots is shared round-robin: every `rotateInterval` the interested
 * peers are ranked by when their last turn started (never served first) and the best `slots` of
 * them hold the regular slots, so with more interested peers than slots everybody gets a turn and
 * nobody waits more than a few rounds. One extra optimistic slot goes to a random choked interested
 * peer and moves every `optimisticEvery` rounds, so a newcomer gets data within seconds. A slot
 * freed by a peer that leaves or loses interest is refilled at once.
 *
 * Slots are shared by hosts before peers: a host (its {@link ChokerPeer.host}) gets a second slot
 * only when every other waiting host has one, and a newcomer from a host without a slot takes one
 * at once from a host holding several. A peer that holds a slot for `idleGrace` without requesting
 * anything is *idle*: {@link Choker.review} takes its slot for someone else at once, and it ranks
 * behind every peer that is not idle until a turn in which it requests (the other peers of its
 * host rank behind those of other hosts meanwhile). So connections that only hold slots (say
 * `interested` and keep alive) each waste one short turn, then nobody waits for them.
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
  /** The host the peer connects from (peers of one host share slots fairly); default: the peer alone. */
  readonly host?: string;
  /**
   * Block requests received while unchoked, ever (a counter). When given, a turn without any
   * makes the peer idle (ranked last); when absent, a peer is never idle.
   */
  readonly requested?: number;
}

/** Options for {@link Choker}. */
export interface ChokerOptions {
  /** Regular upload slots (default 8). */
  slots?: number;
  /** Milliseconds between rotations (default 10 000). */
  rotateInterval?: number;
  /** Rotations between optimistic-unchoke moves (default 3, i.e. 30 s). */
  optimisticEvery?: number;
  /**
   * Milliseconds a peer may hold a slot without requesting anything before it counts as idle
   * (default: half the rotate interval, at most 3 000; a client requests within a round trip).
   */
  idleGrace?: number;
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
  /** The peer's `requested` counter when its current turn started. */
  requestedAtTurnStart: number;
  /** Its last whole turn passed without a request. */
  idle: boolean;
}

/** Decides which peers hold upload slots. Call {@link Choker.rotate} on a timer. */
export class Choker<P extends ChokerPeer = ChokerPeer> {
  /** Number of regular slots. */
  readonly slots: number;
  /** Milliseconds between rotations. */
  readonly rotateInterval: number;
  /** Milliseconds a slot holder may go without requesting before it counts as idle. */
  readonly idleGrace: number;
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
    this.idleGrace = options.idleGrace ?? Math.min(this.rotateInterval / 2, 3000);
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
    this.peers.set(peer, { turnStartedAt: -Infinity, seq: this.seq++, requestedAtTurnStart: 0, idle: false });
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
    this.markIdle(); // turns end now for peers that lose their slot; judge them first
    const rank = this.ranking();
    const ranked = this.interested().sort(rank);
    const nextRegular = new Set(this.select(ranked, this.slots, new Set()));
    let nextOptimistic = this.optimistic;
    if (nextOptimistic && (nextRegular.has(nextOptimistic) || !nextOptimistic.peerInterested || this.rounds % this.optimisticEvery === 0)) {
      nextOptimistic = undefined;
    }
    if (!nextOptimistic) {
      const rest = ranked.filter((p) => !nextRegular.has(p));
      nextOptimistic = this.pickOptimistic(
        rest.filter((p) => p !== this.optimistic || rest.length === 1),
        nextRegular,
      );
    }
    this.apply(nextRegular, nextOptimistic);
  }

  /**
   * Takes the slots of holders that went `idleGrace` without requesting anything (they become idle)
   * and gives them to waiting peers. Call it about once a second.
   */
  review(): void {
    const now = this.now();
    const holders = [...this.regular, ...(this.optimistic ? [this.optimistic] : [])];
    // Only as many slots change hands as there are waiting peers that are not idle themselves.
    let wanted = this.interested().filter((p) => !this.regular.has(p) && p !== this.optimistic && !this.peers.get(p)!.idle).length;
    let freed = false;
    for (const p of holders) {
      const state = this.peers.get(p)!;
      if (p.requested === undefined || p.requested !== state.requestedAtTurnStart || now - state.turnStartedAt < this.idleGrace) continue;
      state.idle = true;
      if (wanted === 0) continue;
      wanted -= 1;
      freed = true;
      this.regular.delete(p);
      if (this.optimistic === p) this.optimistic = undefined;
      if (!p.amChoking) p.choke();
    }
    if (freed) this.fill();
  }

  /**
   * Unchokes interested peers into free slots; a waiting peer whose host holds no slot also takes
   * one from a host holding several (its most recent turn). Nobody else loses a slot.
   */
  private fill(): void {
    const waiting = this.interested()
      .filter((p) => !this.regular.has(p) && p !== this.optimistic)
      .sort(this.ranking());
    const next = new Set(this.regular);
    const taken = new Set([...next].map((p) => this.hostOf(p)));
    for (const p of this.select(waiting, this.slots - next.size, taken)) next.add(p);
    for (const p of waiting) {
      if (next.has(p) || taken.has(this.hostOf(p)) || this.peers.get(p)!.idle) continue;
      const victim = this.crowdedHolder(next);
      if (victim === undefined) break;
      next.delete(victim);
      next.add(p);
      taken.add(this.hostOf(p));
    }
    let opt = this.optimistic;
    if (!opt) opt = this.pickOptimistic(waiting.filter((p) => !next.has(p)), next);
    this.apply(next, opt);
  }

  /**
   * Up to `count` of `ranked` (best first), one per host not in `taken` first, then the best of
   * the others; `taken` gains the hosts chosen.
   */
  private select(ranked: readonly P[], count: number, taken: Set<unknown>): P[] {
    const chosen: P[] = [];
    const others: P[] = [];
    for (const p of ranked) {
      if (chosen.length >= count) break;
      const host = this.hostOf(p);
      if (taken.has(host)) {
        others.push(p);
      } else {
        chosen.push(p);
        taken.add(host);
      }
    }
    for (const p of others) {
      if (chosen.length >= count) break;
      chosen.push(p);
    }
    return chosen;
  }

  /** The regular slot holder whose host holds the most slots (at least two), latest turn first. */
  private crowdedHolder(holders: Set<P>): P | undefined {
    const count = new Map<unknown, number>();
    for (const p of holders) count.set(this.hostOf(p), (count.get(this.hostOf(p)) ?? 0) + 1);
    let best: P | undefined;
    for (const p of holders) {
      const n = count.get(this.hostOf(p))!;
      if (n < 2) continue;
      if (best === undefined) {
        best = p;
        continue;
      }
      const m = count.get(this.hostOf(best))!;
      if (n > m || (n === m && this.peers.get(p)!.turnStartedAt > this.peers.get(best)!.turnStartedAt)) best = p;
    }
    return best;
  }

  /** A random peer of `candidates`, preferring peers that are not idle, from hosts without a slot. */
  private pickOptimistic(candidates: P[], regular: Set<P>): P | undefined {
    const hosts = new Set([...regular].map((p) => this.hostOf(p)));
    const active = candidates.filter((p) => !this.peers.get(p)!.idle);
    const pool = active.length > 0 ? active : candidates;
    const fresh = pool.filter((p) => !hosts.has(this.hostOf(p)));
    const from = fresh.length > 0 ? fresh : pool;
    return from.length > 0 ? from[Math.floor(this.random() * from.length) % from.length] : undefined;
  }

  /**
   * Re-judges the idleness of every peer that has held a slot for at least `idleGrace`, from its
   * requests in this turn (a turn just begun is not judged).
   */
  private markIdle(): void {
    const holders = new Set(this.regular);
    if (this.optimistic) holders.add(this.optimistic);
    const now = this.now();
    for (const p of holders) {
      const state = this.peers.get(p);
      if (!state || p.requested === undefined || now - state.turnStartedAt < this.idleGrace) continue;
      state.idle = p.requested === state.requestedAtTurnStart;
    }
  }

  private hostOf(peer: P): unknown {
    return peer.host ?? peer;
  }

  private interested(): P[] {
    return [...this.peers.keys()].filter((p) => p.peerInterested);
  }

  /**
   * Order of precedence for slots: peers that are not idle first; among them, peers of hosts with
   * no idle peer first (a host whose connections sit on slots waits behind the others); then the
   * one whose last turn started longest ago (never served first), then the earliest registered.
   */
  private ranking(): (a: P, b: P) => number {
    const suspect = new Set<unknown>();
    for (const [p, state] of this.peers) if (state.idle) suspect.add(this.hostOf(p));
    return (a, b) => {
      const sa = this.peers.get(a)!;
      const sb = this.peers.get(b)!;
      return (
        Number(sa.idle) - Number(sb.idle) ||
        Number(suspect.has(this.hostOf(a))) - Number(suspect.has(this.hostOf(b))) ||
        sa.turnStartedAt - sb.turnStartedAt ||
        sa.seq - sb.seq
      );
    };
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
      if (!before.has(p)) {
        state.turnStartedAt = now;
        state.requestedAtTurnStart = p.requested ?? 0;
      }
      if (p.amChoking) p.unchoke();
    }
    this.regular = nextRegular;
    this.optimistic = nextOptimistic;
  }
}
