/**
 * History kept in the process: per torrent one `Uint32Array` holding the three rings (see
 * buckets.ts), 5 numbers a bucket (its index, announces, completed, peak seeders, peak leechers),
 * so 2525 × 5 × 4 = 50 500 bytes per torrent that had an announce, allocated at its first one and
 * never grown. Updates are O(1) per delta. Torrents whose newest bucket left every window (a
 * year without announces) are dropped by `forgetIdle()` (the recorder calls it once an hour).
 */
import { RESOLUTION_NAMES, RESOLUTIONS, TOTAL_BUCKETS, windowOf, type HistoryDelta, type HistoryResolution, type HistoryStore, type HistoryBucket } from './buckets.js';

/** Numbers per bucket. */
const WIDTH = 5;
/** Offset of each ring in a torrent's array, in buckets. */
const OFFSETS: Record<HistoryResolution, number> = { minute: 0, hour: RESOLUTIONS.minute.count, day: RESOLUTIONS.minute.count + RESOLUTIONS.hour.count };

/** Bytes of one torrent's rings. */
export const MEMORY_HISTORY_BYTES = TOTAL_BUCKETS * WIDTH * 4;

/** See the module comment. */
export class MemoryHistory implements HistoryStore {
  private readonly torrents = new Map<string, Uint32Array>();

  /** Torrents with a history. */
  get size(): number {
    return this.torrents.size;
  }

  add(deltas: HistoryDelta[]): Promise<void> {
    for (const delta of deltas) this.addOne(delta);
    return Promise.resolve();
  }

  /** {@link add} for one delta, synchronously. */
  addOne(delta: HistoryDelta): void {
    let rings = this.torrents.get(delta.torrent);
    if (!rings) this.torrents.set(delta.torrent, (rings = new Uint32Array(TOTAL_BUCKETS * WIDTH)));
    for (const resolution of RESOLUTION_NAMES) {
      const { minutes, count } = RESOLUTIONS[resolution];
      // Index 0 marks an empty slot: indices are stored plus one.
      const index = Math.floor(delta.minute / minutes) + 1;
      const at = (OFFSETS[resolution] + (index % count)) * WIDTH;
      const stored = rings[at]!;
      if (index < stored) continue; // older than what the slot holds: left the window
      if (index > stored) {
        rings[at] = index;
        rings[at + 1] = delta.announces;
        rings[at + 2] = delta.completed;
        rings[at + 3] = delta.seeders;
        rings[at + 4] = delta.leechers;
      } else {
        rings[at + 1] += delta.announces;
        rings[at + 2] += delta.completed;
        if (delta.seeders > rings[at + 3]!) rings[at + 3] = delta.seeders;
        if (delta.leechers > rings[at + 4]!) rings[at + 4] = delta.leechers;
      }
    }
  }

  read(torrent: string, resolution: HistoryResolution, now: number): Promise<HistoryBucket[]> {
    const rings = this.torrents.get(torrent);
    const { count } = RESOLUTIONS[resolution];
    return Promise.resolve(
      windowOf(resolution, now, (index) => {
        if (!rings) return undefined;
        const at = (OFFSETS[resolution] + ((index + 1) % count)) * WIDTH;
        if (rings[at] !== index + 1) return undefined;
        return [rings[at + 1]!, rings[at + 2]!, rings[at + 3]!, rings[at + 4]!];
      }),
    );
  }

  /** Drop the torrents with nothing left in any window at `now`; returns how many. */
  forgetIdle(now: number): number {
    const day = Math.floor(now / 86_400_000) + 1;
    let dropped = 0;
    for (const [torrent, rings] of this.torrents) {
      let newest = 0;
      const base = OFFSETS.day * WIDTH;
      for (let i = 0; i < RESOLUTIONS.day.count; i++) newest = Math.max(newest, rings[base + i * WIDTH]!);
      if (day - newest >= RESOLUTIONS.day.count) {
        this.torrents.delete(torrent);
        dropped++;
      }
    }
    return dropped;
  }
}
