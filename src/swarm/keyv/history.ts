/**
 * The Keyv store's history (see src/history/): per instance and merged. Keyv has no atomic
 * increment, so each instance writes only keys of its own, as with its shards: one value per
 * torrent, resolution, page of buckets and instance slot,
 * `<prefix>:history:<hex>:<m|h|d>:<page>:<id>`, holding the page's non-empty buckets as
 * `[index, announces, completed, peak seeders, peak leechers]`. A page is 60 minutes, 24 hours or 30
 * days, so a flush touches at most three values per torrent (read, added to, written back), and a
 * page expires one window after its last write (25 hours, 31 days, 395 days: TTLs, no clock of
 * ours in the database). A read takes the pages covering the window from every instance in the
 * registry (one getMany) and merges them: announces and completions add up, peaks take the larger.
 * A restarted instance takes its slot back and continues its pages; one that took a dead
 * instance's slot continues that one's, so nothing is counted twice.
 */
import { RESOLUTION_NAMES, RESOLUTIONS, minuteOf, windowOf, type HistoryDelta, type HistoryResolution, type HistoryStore } from '../../history/buckets.js';
import type { InstanceSlots } from './slots.js';
import { KeyvStoreError, type KeyvStorage } from './storage.js';

/** One stored bucket: index at its resolution, announces, completed, peak seeders, peak leechers. */
export type StoredBucket = [number, number, number, number, number];

/** Buckets per page, and how long a page lives after its last write (ms), per resolution. */
export const PAGES: Readonly<Record<HistoryResolution, { size: number; ttl: number }>> = {
  minute: { size: 60, ttl: 25 * 3_600_000 },
  hour: { size: 24, ttl: 31 * 86_400_000 },
  day: { size: 30, ttl: 395 * 86_400_000 },
};

const LETTERS: Readonly<Record<HistoryResolution, string>> = { minute: 'm', hour: 'h', day: 'd' };
const CAP = 0xffffffff;

/** Add bucket `b` into `into` (same index): sums for announces and completions, maxima for the peaks. */
export function mergeBucket(into: StoredBucket, b: readonly number[]): void {
  into[1] = Math.min(CAP, into[1] + (Number(b[1]) || 0));
  into[2] = Math.min(CAP, into[2] + (Number(b[2]) || 0));
  into[3] = Math.max(into[3], Number(b[3]) || 0);
  into[4] = Math.max(into[4], Number(b[4]) || 0);
}

/** The buckets of a stored page value (anything else, e.g. a foreign value, reads as empty). */
export function bucketsOf(value: unknown): StoredBucket[] {
  if (!Array.isArray(value)) return [];
  const out: StoredBucket[] = [];
  for (const b of value) {
    if (Array.isArray(b) && b.length === 5 && b.every((n) => typeof n === 'number' && Number.isFinite(n) && n >= 0)) out.push(b as StoredBucket);
  }
  return out;
}

/** What the history needs of the store. */
export interface KeyvHistoryAccess {
  storage: KeyvStorage;
  slots: InstanceSlots;
  prefix: string;
}

/** A {@link HistoryStore} in the Keyv store's database: per instance, merged on read. */
export function keyvHistoryStore({ storage, slots, prefix }: KeyvHistoryAccess): HistoryStore {
  const key = (torrent: string, resolution: HistoryResolution, page: number, id: string) =>
    `${prefix}:history:${torrent}:${LETTERS[resolution]}:${page}:${id}`;
  // One add at a time: each reads what the one before wrote. The queue moves on only once that
  // write has really ended (one that timed out for the caller may still land).
  let queue: Promise<unknown> = Promise.resolve();
  let written: Promise<unknown> = Promise.resolve();
  const addNow = async (deltas: HistoryDelta[]): Promise<void> => {
    await slots.start();
    const id = slots.id;
    // The write fence of the shards: a slot another instance took over is not written to.
    if (id === undefined || !(await slots.ownsSlot(id))) throw new KeyvStoreError('history: this instance is moving to a new slot; these sums are dropped');
    // Group the deltas by page; each page gets every bucket of this flush added.
    const pages = new Map<string, { resolution: HistoryResolution; buckets: Map<number, StoredBucket> }>();
    for (const d of deltas) {
      for (const resolution of RESOLUTION_NAMES) {
        const index = Math.floor(d.minute / RESOLUTIONS[resolution].minutes);
        const k = key(d.torrent, resolution, Math.floor(index / PAGES[resolution].size), id);
        let page = pages.get(k);
        if (!page) pages.set(k, (page = { resolution, buckets: new Map() }));
        let bucket = page.buckets.get(index);
        if (!bucket) page.buckets.set(index, (bucket = [index, 0, 0, 0, 0]));
        mergeBucket(bucket, [index, d.announces, d.completed, d.seeders, d.leechers]);
      }
    }
    const keys = [...pages.keys()];
    // Only this instance writes these keys: read what they hold, add, write back.
    const stored = await storage.getMany(keys);
    const sets = keys.map((k, i) => {
      const page = pages.get(k)!;
      const merged = new Map<number, StoredBucket>();
      for (const b of bucketsOf(stored[i])) merged.set(b[0], [...b]);
      for (const [index, b] of page.buckets) {
        const into = merged.get(index);
        if (into) mergeBucket(into, b);
        else merged.set(index, b);
      }
      const value = [...merged.values()].sort((a, b) => a[0] - b[0]);
      return { key: k, value, ttl: PAGES[page.resolution].ttl };
    });
    if (storage.closed) throw new KeyvStoreError('the Keyv swarm store is closed');
    const write = storage.kv.setMany(sets);
    written = write;
    await storage.call(write);
  };
  return {
    add(deltas: HistoryDelta[]) {
      const run = queue.then(() => addNow(deltas));
      queue = run.catch(() => undefined).then(() => written.catch(() => undefined));
      return run;
    },
    async read(torrent, resolution, now) {
      const { minutes, count } = RESOLUTIONS[resolution];
      const size = PAGES[resolution].size;
      const last = Math.floor(minuteOf(now) / minutes);
      const first = last - count + 1;
      // The registry in the same call: instances this one has not heard of yet are read too.
      let ids = slots.instances;
      const done = new Set<string>();
      const merged = new Map<number, StoredBucket>();
      // (The first round runs even when no instance is known yet: the registry comes with it.)
      for (let round = 0; round < 3 && (round === 0 || ids.length > 0); round++) {
        const keys = [slots.registryKey];
        for (const id of ids) for (let page = Math.floor(first / size); page <= Math.floor(last / size); page++) keys.push(key(torrent, resolution, page, id));
        const values = await storage.getMany(keys);
        for (const id of ids) done.add(id);
        for (let i = 1; i < values.length; i++) {
          for (const b of bucketsOf(values[i])) {
            if (b[0] < first || b[0] > last) continue;
            const into = merged.get(b[0]);
            if (into) mergeBucket(into, b);
            else merged.set(b[0], [...b]);
          }
        }
        slots.mergeRegistry(values[0]);
        ids = slots.instances.filter((id) => !done.has(id));
      }
      return windowOf(resolution, now, (index) => {
        const b = merged.get(index);
        return b && [b[1], b[2], b[3], b[4]];
      });
    },
  };
}
