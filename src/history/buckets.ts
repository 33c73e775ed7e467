/**
 * History's buckets: three resolutions, each a ring of a bounded number of buckets (24 hours of
 * minutes, 30 days of hours, 365 days of days), aligned to UTC. A bucket is numbered by its index
 * since the epoch (`Math.floor(ms / size)`); ring slot `index % count` holds the newest bucket that
 * fell on it, so old buckets are overwritten in place and nothing ever needs trimming or scanning.
 */

/** A history resolution. */
export type HistoryResolution = 'minute' | 'hour' | 'day';

/** One bucket of a torrent's history. */
export interface HistoryBucket {
  /** Start of the bucket, ms since the epoch (UTC-aligned). */
  start: number;
  /** Accepted announces. */
  announces: number;
  /** Completed downloads the store counted (a repeated `completed` of one peer counts once). */
  completed: number;
  /** Largest number of seeders an answer reported. */
  peakSeeders: number;
  /** Largest number of leechers an answer reported. */
  peakLeechers: number;
}

/** Options of `tracker.history()`. */
export interface HistoryOptions {
  resolution: HistoryResolution;
}

/** What one instance adds to one torrent's minute since its last flush. */
export interface HistoryDelta {
  /** The torrent's info hash (a hybrid torrent's v1 hash), lowercase hex. */
  torrent: string;
  /** Minute index since the epoch. */
  minute: number;
  announces: number;
  completed: number;
  seeders: number;
  leechers: number;
}

/** Where history is kept: in the process, or shared by every instance on a store (Redis). */
export interface HistoryStore {
  /** Add `deltas` (sums for announces and completions, maxima for the peaks). */
  add(deltas: HistoryDelta[]): Promise<void>;
  /** The window of `torrent` at `resolution` ending with the bucket of `now`, oldest first, empty buckets included. */
  read(torrent: string, resolution: HistoryResolution, now: number): Promise<HistoryBucket[]>;
}

/** The resolutions in ring order: bucket size in minutes and buckets kept. */
export const RESOLUTIONS: Readonly<Record<HistoryResolution, { minutes: number; count: number }>> = {
  minute: { minutes: 1, count: 1440 },
  hour: { minutes: 60, count: 720 },
  day: { minutes: 1440, count: 365 },
};

/** The three resolutions, in the order rings are laid out. */
export const RESOLUTION_NAMES: readonly HistoryResolution[] = ['minute', 'hour', 'day'];

/** Every bucket of every ring, per torrent (1440 + 720 + 365 = 2525). */
export const TOTAL_BUCKETS = RESOLUTION_NAMES.reduce((sum, r) => sum + RESOLUTIONS[r].count, 0);

/** Minute index of `ms`. */
export function minuteOf(ms: number): number {
  return Math.floor(ms / 60_000);
}

/** Check a resolution given by the site (TypeError otherwise). */
export function checkResolution(options: unknown): HistoryResolution {
  const resolution = (options as { resolution?: unknown } | undefined)?.resolution;
  if (resolution === 'minute' || resolution === 'hour' || resolution === 'day') return resolution;
  throw new TypeError(`history: options.resolution must be 'minute', 'hour' or 'day' (got ${JSON.stringify(resolution)})`);
}

/**
 * The dense window ending with the bucket of `now`: every bucket from oldest to newest, filled from
 * `lookup(index)` (a bucket index at this resolution) or zero.
 */
export function windowOf(
  resolution: HistoryResolution,
  now: number,
  lookup: (index: number) => [number, number, number, number] | undefined,
): HistoryBucket[] {
  const { minutes, count } = RESOLUTIONS[resolution];
  const last = Math.floor(minuteOf(now) / minutes);
  const out: HistoryBucket[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const index = last - count + 1 + i;
    const v = lookup(index);
    out[i] = { start: index * minutes * 60_000, announces: v?.[0] ?? 0, completed: v?.[1] ?? 0, peakSeeders: v?.[2] ?? 0, peakLeechers: v?.[3] ?? 0 };
  }
  return out;
}
