/**
 * Credit once for a torrent with two swarms (a hybrid torrent announces under its v1 info hash and
 * under its v2 info hash cut to 20 bytes). Its clients report their traffic on both announces, and
 * BEP 52 leaves open whether the two reports split the traffic or repeat it: libtorrent and
 * qBittorrent repeat it, so summing the two swarms' credits pays a download twice.
 *
 * The rule: per (user, torrent, client), each swarm's credits are summed apart, and what is credited
 * is the larger of the two sums. A client that repeats its totals on both announces is credited once;
 * one that splits them is credited its larger half (never more than it moved). Each swarm's own
 * credit is computed as for any torrent (baseline, restarts, factors, `completed` counted once per
 * peer), so this only combines numbers that are already right for one swarm.
 */

/** What is combined: raw uploaded bytes, raw downloaded bytes, seeding milliseconds, completions. */
export type CreditAmounts = [number, number, number, number];

/** Per (user, torrent, client): the sums of each swarm, and what was credited so far. */
export interface CreditState {
  /** Sums from the torrent's v1 swarm (side 0) and its v2 swarm (side 1). */
  sides: [CreditAmounts, CreditAmounts];
  /** Credited so far: the larger of the two sums, field by field. */
  given: CreditAmounts;
}

/** A new, empty state. */
export function emptyCreditState(): CreditState {
  return { sides: [[0, 0, 0, 0], [0, 0, 0, 0]], given: [0, 0, 0, 0] };
}

/** Add one swarm's credit to `state` (in place); returns what it adds to the credit (never negative). */
export function mergeCredit(state: CreditState, side: 0 | 1, amounts: CreditAmounts): CreditAmounts {
  const own = state.sides[side];
  const other = state.sides[side === 0 ? 1 : 0];
  const out: CreditAmounts = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    own[i] = Math.min(Number.MAX_SAFE_INTEGER, own[i]! + Math.max(0, amounts[i]!));
    const larger = Math.max(own[i]!, other[i]!);
    if (larger > state.given[i]!) {
      out[i] = larger - state.given[i]!;
      state.given[i] = larger;
    }
  }
  return out;
}

/**
 * Where the states live: the store's `mergeCredit` when it has one (Redis: shared by every instance),
 * else this process's {@link MemoryCreditMerger}.
 */
export interface CreditMerger {
  /** Add `amounts` from swarm `side` to the state under `key` (kept `ttl` ms after its last use); resolves to the increment. */
  mergeCredit(key: string, side: 0 | 1, amounts: CreditAmounts, ttl: number): Promise<CreditAmounts>;
}

/** Most states one process keeps (the oldest are dropped first: each is a user's client on a torrent). */
const MAX_STATES = 1_000_000;

/** The states in this process's memory: one instance, or a store without `mergeCredit`. */
export class MemoryCreditMerger implements CreditMerger {
  private readonly states = new Map<string, CreditState & { expires: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** See {@link CreditMerger.mergeCredit}. */
  mergeCredit(key: string, side: 0 | 1, amounts: CreditAmounts, ttl: number): Promise<CreditAmounts> {
    return Promise.resolve(this.mergeSync(key, side, amounts, ttl));
  }

  /** The same, synchronously. */
  mergeSync(key: string, side: 0 | 1, amounts: CreditAmounts, ttl: number): CreditAmounts {
    const now = this.now();
    let state = this.states.get(key);
    if (state && state.expires <= now) state = undefined;
    if (state) this.states.delete(key); // re-inserted below: the Map stays in order of last use
    else {
      state = { ...emptyCreditState(), expires: 0 };
      this.evict(now);
    }
    state.expires = now + ttl;
    this.states.set(key, state);
    return mergeCredit(state, side, amounts);
  }

  /** Number of states kept. */
  get size(): number {
    return this.states.size;
  }

  private evict(now: number): void {
    for (const [key, state] of this.states) {
      if (state.expires > now && this.states.size < MAX_STATES) break;
      this.states.delete(key);
    }
  }
}
