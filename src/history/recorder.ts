/**
 * The history recorder: the announce pipeline hands it every accepted announce (one Map lookup and a
 * few additions, no I/O), it sums them per torrent and minute in the process, and writes the sums
 * every `historyFlushInterval` seconds in one batch: to the store's shared history when it has one
 * (Redis: one small script per torrent, so history is global across instances; Keyv: each
 * instance's own values, merged on read), else to a history in this process (memory store, custom
 * stores without one). Reading flushes first, so an instance always sees its own announces; other
 * instances' appear after their next flush.
 */
import type { HistoryStore } from './buckets.js';
import { checkResolution, minuteOf, type HistoryBucket, type HistoryDelta } from './buckets.js';
import { MemoryHistory } from './memory-history.js';

/** What the recorder needs of the tracker. */
export interface RecorderHost {
  /** The store's shared history once it is open (undefined: the store has none). */
  shared(): Promise<HistoryStore | undefined>;
  /** Resolves once announces still in flight elsewhere (hybrid torrent level) are recorded. */
  settled(): Promise<void>;
  /** Bound a store call by `storeTimeout`. */
  bounded<T>(promise: Promise<T>): Promise<T>;
  /** A flush failed (its sums are dropped). */
  onError(error: unknown): void;
}

/** See the module comment. */
export class HistoryRecorder {
  /** The clock (ms since the epoch); tests script it. */
  now: () => number = Date.now;
  /** History in this process, for stores without a shared one. */
  readonly local = new MemoryHistory();
  /** The current minute's sums per torrent. */
  private pending = new Map<string, HistoryDelta>();
  /** Sums of earlier minutes not written yet. */
  private ready: HistoryDelta[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private lastForget = 0;

  constructor(
    private readonly host: RecorderHost,
    private readonly flushInterval: number,
  ) {}

  /**
   * One accepted announce of `torrent` (hex; a hybrid torrent's v1 hash): `completed` when the
   * store counted a completion, and the swarm's counts as answered.
   */
  record(torrent: string, completed: boolean, seeders: number, leechers: number): void {
    const minute = minuteOf(this.now());
    let delta = this.pending.get(torrent);
    if (delta !== undefined && delta.minute !== minute) {
      this.ready.push(delta);
      delta = undefined;
    }
    if (delta === undefined) {
      this.pending.set(torrent, { torrent, minute, announces: 1, completed: completed ? 1 : 0, seeders, leechers });
      this.timer ??= setInterval(() => void this.flush(), this.flushInterval).unref();
      return;
    }
    delta.announces++;
    if (completed) delta.completed++;
    if (seeders > delta.seeders) delta.seeders = seeders;
    if (leechers > delta.leechers) delta.leechers = leechers;
  }

  /** Write every sum so far (one batch); resolves once written (or reported as failed). */
  flush(): Promise<void> {
    const run = this.flushing.then(() => this.write());
    this.flushing = run;
    return run;
  }

  /** The window of `torrent` (hex) at the resolution of `options`, after flushing this instance's sums. */
  async read(torrent: string, options: unknown): Promise<HistoryBucket[]> {
    const resolution = checkResolution(options);
    await this.host.settled();
    await this.flush();
    const shared = await this.host.shared();
    const now = this.now();
    return shared ? this.host.bounded(shared.read(torrent, resolution, now)) : this.local.read(torrent, resolution, now);
  }

  /** Stop the timer and write what is left. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private async write(): Promise<void> {
    const deltas = this.ready;
    for (const delta of this.pending.values()) deltas.push(delta);
    this.ready = [];
    this.pending = new Map();
    if (deltas.length === 0) {
      if (this.timer) clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    let shared: HistoryStore | undefined;
    try {
      shared = await this.host.shared();
      await (shared ? this.host.bounded(shared.add(deltas)) : this.local.add(deltas));
    } catch (error) {
      this.host.onError(error);
    }
    const now = this.now();
    if (!shared && now - this.lastForget > 3_600_000) {
      this.lastForget = now;
      this.local.forgetIdle(now);
    }
  }
}
