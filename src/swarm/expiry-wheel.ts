import type { SwarmTotals } from '../types.js';

/**
 * Live totals of things that expire, without a timer or a scan: each thing is counted in the bucket
 * of its expiry second, and time passing ("rolling") subtracts the buckets of passed seconds from
 * the totals. Adding, moving and removing a thing is O(1); rolling is O(seconds passed) or
 * O(buckets), whichever is smaller. The in-memory twin of the Redis store's wheel (redis/lua.ts).
 */
export class ExpiryWheel {
  private readonly buckets = new Map<number, Float64Array>();
  private readonly live: Float64Array;
  /** The first second not rolled yet (things expiring before it no longer count). */
  private cursor = -Infinity;

  /** @param kinds how many kinds of things are counted (indices 0..kinds-1). */
  constructor(private readonly kinds: number) {
    this.live = new Float64Array(kinds);
  }

  /** Let time pass up to `now`: things that expire before `now` stop counting. */
  roll(now: number): void {
    if (now <= this.cursor) return;
    if (this.cursor === -Infinity || now - this.cursor > this.buckets.size) {
      for (const [second, bucket] of this.buckets) if (second < now) this.drop(second, bucket);
    } else {
      for (let second = this.cursor; second < now; second++) {
        const bucket = this.buckets.get(second);
        if (bucket) this.drop(second, bucket);
      }
    }
    this.cursor = now;
  }

  /**
   * Count `delta` things of `kind` expiring at `second` (negative: they went away before it). A
   * second that has passed is ignored: those things were already subtracted when it rolled.
   */
  count(kind: number, second: number, delta: number, now: number): void {
    this.roll(now);
    if (second < this.cursor) return;
    let bucket = this.buckets.get(second);
    if (!bucket) this.buckets.set(second, (bucket = new Float64Array(this.kinds)));
    bucket[kind] += delta;
    this.live[kind] += delta;
  }

  /** The live total of each kind at `now` (a view: copy it to keep it). */
  totals(now: number): Float64Array {
    this.roll(now);
    return this.live;
  }

  private drop(second: number, bucket: Float64Array): void {
    for (let k = 0; k < this.kinds; k++) this.live[k] -= bucket[k];
    this.buckets.delete(second);
  }
}

/**
 * The kinds the stores count in their wheels: 0 IPv4 seeder, 1 IPv4 leecher, 2 IPv6 seeder,
 * 3 IPv6 leecher (see {@link peerKind}), and {@link KIND_SWARM} for swarms by their last peer's expiry.
 */
export const WHEEL_KINDS = 5;
/** The wheel kind of a swarm. */
export const KIND_SWARM = 4;

/** The wheel kind of a peer. */
export function peerKind(seeder: boolean, ipv6: boolean): number {
  return (seeder ? 0 : 1) + (ipv6 ? 2 : 0);
}

/** {@link SwarmTotals} from a wheel's totals counted with these kinds. */
export function swarmTotals(t: Float64Array): SwarmTotals {
  return {
    torrents: t[KIND_SWARM],
    seeders: t[0] + t[2],
    leechers: t[1] + t[3],
    peers: t[0] + t[1] + t[2] + t[3],
    ipv4: t[0] + t[1],
    ipv6: t[2] + t[3],
  };
}
