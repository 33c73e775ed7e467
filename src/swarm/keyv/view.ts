/**
 * The Keyv store's merged view of one swarm: the live peers as this instance sees them (its own
 * records and the other instances' shards), in a dense array with an index: O(1) update, O(k)
 * sample.
 */
import type { Peer } from '../../types.js';
import type { Rec } from './records.js';

/** The live peers of a swarm as this instance sees them: dense array + index, O(1) update, O(k) sample. */
export class View {
  private recs: Rec[] = [];
  private index = new Map<string, number>();
  /** Number of seeders among the live peers. */
  seeders = 0;
  /** Number of partial seeds ({@link Rec.partial}) among the live peers. */
  partials = 0;

  /** Number of live peers. */
  get count(): number {
    return this.recs.length;
  }

  /** The live records (the view's own array: read it, do not change it). */
  records(): readonly Rec[] {
    return this.recs;
  }

  /** Add a peer's record, or replace the one listed. */
  upsert(rec: Rec): void {
    const at = this.index.get(rec.key);
    if (at === undefined) {
      this.index.set(rec.key, this.recs.length);
      this.recs.push(rec);
    } else {
      this.uncount(this.recs[at]);
      this.recs[at] = rec;
    }
    if (rec.seeder) this.seeders++;
    if (rec.partial) this.partials++;
  }

  /** The live record of a peer, if listed. */
  get(key: string): Rec | undefined {
    const at = this.index.get(key);
    return at === undefined ? undefined : this.recs[at];
  }

  /** Drop a peer (a no-op when it is not listed). */
  remove(key: string): void {
    const at = this.index.get(key);
    if (at === undefined) return;
    this.uncount(this.recs[at]);
    const last = this.recs.pop() as Rec;
    this.index.delete(key);
    if (at < this.recs.length) {
      this.recs[at] = last;
      this.index.set(last.key, at);
    }
  }

  /** Replace the content with `recs` (all live, distinct). */
  reset(recs: Iterable<Rec>): void {
    this.recs = [];
    this.index = new Map();
    this.seeders = 0;
    this.partials = 0;
    for (const r of recs) this.upsert(r);
  }

  private uncount(rec: Rec): void {
    if (rec.seeder) this.seeders--;
    if (rec.partial) this.partials--;
  }

  /** Drop records expired before `now`; returns the earliest remaining expiry (Infinity if none). */
  sweep(now: number): number {
    let next = Infinity;
    for (let i = 0; i < this.recs.length; ) {
      const r = this.recs[i];
      if (r.exp < now) {
        this.remove(r.key);
      } else {
        if (r.exp < next) next = r.exp;
        i++;
      }
    }
    return next;
  }

  /** Uniform random sample of at most k peers other than `excludeKey` (Floyd's algorithm, O(k)). */
  sample(k: number, excludeKey: string): Peer[] {
    const exclude = this.index.get(excludeKey) ?? -1;
    const n = exclude >= 0 ? this.recs.length - 1 : this.recs.length;
    if (k > n) k = n;
    if (k <= 0) return [];
    const picks: number[] = [];
    if (k === n) {
      for (let i = 0; i < this.recs.length; i++) if (i !== exclude) picks.push(i);
      for (let i = picks.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [picks[i], picks[j]] = [picks[j], picks[i]];
      }
    } else {
      const chosen = new Set<number>();
      for (let t = n - k; t < n; t++) {
        const r = Math.floor(Math.random() * (t + 1));
        const pick = chosen.has(r) ? t : r;
        chosen.add(pick);
        picks.push(exclude >= 0 && pick >= exclude ? pick + 1 : pick);
      }
    }
    return picks.map((i) => {
      const r = this.recs[i];
      return { peerId: r.id, ip: r.ip, port: r.port };
    });
  }
}
