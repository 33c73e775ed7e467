/**
 * Uniform random samples of record indices in O(k), for the peer tables: which k of a swarm's n peers
 * an announce gets. No allocation per call: the indices land in one scratch array shared by every
 * table (sampling is synchronous, one table at a time).
 */

/** Scratch space for the record indices of one sample (grown on demand). */
let picks = new Int32Array(256);

/** The indices written by the last {@link pickRecords} call (its first n entries). */
export function picked(): Int32Array {
  return picks;
}

/**
 * Record indices of a uniform random k-subset of the `count` records other than `exclude` (-1 for
 * none): Floyd's algorithm, with a reusable stamped hash set instead of a Set (no allocation per
 * call). Written to the shared scratch array {@link picked} (valid until the next call); returns
 * how many.
 */
export function pickRecords(count: number, k: number, exclude: number): number {
  const n = exclude >= 0 ? count - 1 : count;
  if (k > n) k = n;
  if (k <= 0) return 0;
  if (picks.length < k) picks = new Int32Array(nextPowerOfTwo(k));
  const out = picks;
  if (k === n) {
    let j = 0;
    for (let i = 0; i < count; i++) if (i !== exclude) out[j++] = i;
    return k;
  }
  const set = pickSet(k);
  for (let t = n - k, j = 0; t < n; t++, j++) {
    const r = Math.floor(Math.random() * (t + 1));
    const pick = set.add(r) ? r : (set.add(t), t);
    out[j] = exclude >= 0 && pick >= exclude ? pick + 1 : pick;
  }
  return k;
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * A set of small non-negative integers for one sampling call: open addressing over a table that is
 * reused between calls; an entry belongs to the current call when its stamp matches.
 */
class StampedSet {
  private keys: Int32Array;
  private stamps: Uint32Array;
  private stamp = 0;
  private mask: number;

  constructor(capacity: number) {
    this.keys = new Int32Array(capacity);
    this.stamps = new Uint32Array(capacity);
    this.mask = capacity - 1;
  }

  /** Start a new, empty set for up to capacity/2 members. */
  reset(): this {
    this.stamp++;
    if (this.stamp === 0xffffffff) {
      this.stamps.fill(0);
      this.stamp = 1;
    }
    return this;
  }

  /** Add `x`; false if it was already present. */
  add(x: number): boolean {
    let slot = (Math.imul(x, 0x9e3779b1) >>> 16) & this.mask;
    for (;;) {
      if (this.stamps[slot] !== this.stamp) {
        this.stamps[slot] = this.stamp;
        this.keys[slot] = x;
        return true;
      }
      if (this.keys[slot] === x) return false;
      slot = (slot + 1) & this.mask;
    }
  }

  get capacity(): number {
    return this.mask + 1;
  }
}

let set = new StampedSet(1024);

function pickSet(k: number): StampedSet {
  if (set.capacity < k * 2) set = new StampedSet(nextPowerOfTwo(k * 2));
  return set.reset();
}
