/**
 * The built-in torrent registry on any Keyv (`<prefix>:torrent:<info hash hex>` → rules), used by
 * the Keyv store so that a torrent added on one instance is known to every instance that shares the
 * store. (The Redis store keeps its registry on its own command path, redis/registry.ts; the memory
 * store keeps a Map.)
 *
 * Beside it, the index {@link TorrentRegistry.list} pages through without a scan, kept as the swarms
 * are (see keyv-store.ts): single-writer, since Keyv has no atomic update. Each instance writes only
 * its own index key, `<prefix>:registry-index:<instance id>`: for each hash it added or removed, when
 * and which (`[ms, 1]` listed, `[ms, 0]` removed). A listing reads the index keys of every instance
 * in the instance registry and merges them, the latest change of a hash winning (a removal on a tie),
 * so no instance can lose another's change. Removals stay in the index as such (a few bytes each).
 * Changes of one instance are written in batches, one rewrite of its key at a time, behind the write
 * fence of its slot. Torrents registered by a version without the index are not listed until added
 * again.
 */
import type Keyv from 'keyv';
import { listedSwarm, storedRules } from '../registry-rules.js';
import type { RegisteredSwarm, TorrentRegistry } from '../types.js';
import type { InstanceSlots } from './slots.js';
import { KeyvStoreError } from './storage.js';

/** One instance's index: hash (hex) → [when it changed (ms), 1 listed / 0 removed]. */
type IndexValue = Record<string, [number, 0 | 1]>;

/** What the registry needs of the Keyv store. */
export interface KeyvRegistryAccess {
  keyv: Keyv;
  /** Prefix of every key name. */
  prefix: string;
  /** Read several keys at once (rejects on failure). */
  getMany(keys: string[]): Promise<unknown[]>;
  /** The store's instance slots: this instance's id, the others', the write fence. */
  slots: InstanceSlots;
  /** The store's clock (ms). */
  now(): number;
}

/** The entries of a stored index value that have the right shape. */
function indexOf(value: unknown): IndexValue {
  const out: IndexValue = {};
  if (typeof value !== 'object' || value === null) return out;
  for (const [hex, entry] of Object.entries(value as Record<string, unknown>)) {
    if (/^[0-9a-f]{40}$/.test(hex) && Array.isArray(entry) && typeof entry[0] === 'number' && (entry[1] === 0 || entry[1] === 1)) out[hex] = [entry[0], entry[1]];
  }
  return out;
}

/** A {@link TorrentRegistry} kept under `<prefix>:torrent:<hex>` (no TTL), with its index. */
export function keyvTorrentRegistry(access: KeyvRegistryAccess): TorrentRegistry {
  const { keyv, prefix, slots } = access;
  const key = (hex: string) => `${prefix}:torrent:${hex}`;
  const indexKey = (id: string) => `${prefix}:registry-index:${id}`;
  const hexOf = (infoHash: Uint8Array) => Buffer.from(infoHash).toString('hex');

  // Changes waiting for the next rewrite of our index key (the latest change of a hash wins), and
  // who waits for them: one rewrite at a time, so many concurrent adds cost a few rewrites.
  let pending = new Map<string, boolean>();
  let waiting: Array<{ resolve(): void; reject(error: unknown): void }> = [];
  let running = false;
  const updateIndex = (hex: string, listed: boolean): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      pending.set(hex, listed);
      waiting.push({ resolve, reject });
      if (!running) void drain();
    });
  const drain = async (): Promise<void> => {
    running = true;
    while (pending.size > 0) {
      const batch = pending;
      const waiters = waiting;
      pending = new Map();
      waiting = [];
      try {
        await rewrite(batch);
        for (const w of waiters) w.resolve();
      } catch (error) {
        for (const w of waiters) w.reject(error);
      }
    }
    running = false;
  };
  /** Apply `batch` (hash → listed or not) to our own index key, behind the slot's write fence. */
  const rewrite = async (batch: Map<string, boolean>): Promise<void> => {
    await slots.start();
    const id = slots.id;
    if (id === undefined || !(await slots.ownsSlot(id))) throw new KeyvStoreError('this instance is moving to another slot; try again');
    const index = indexOf(await keyv.get(indexKey(id)));
    const at = access.now();
    for (const [hex, listed] of batch) index[hex] = [at, listed ? 1 : 0];
    await keyv.set(indexKey(id), index);
  };

  /** The listed hashes, sorted: every instance's index merged, the latest change of a hash winning. */
  const listed = async (): Promise<string[]> => {
    slots.mergeRegistry((await access.getMany([slots.registryKey]))[0]);
    const ids = slots.instances;
    const values = await access.getMany(ids.map(indexKey));
    const latest = new Map<string, [number, 0 | 1]>();
    for (const value of values) {
      for (const [hex, entry] of Object.entries(indexOf(value))) {
        const seen = latest.get(hex);
        if (!seen || entry[0] > seen[0] || (entry[0] === seen[0] && entry[1] === 0)) latest.set(hex, entry);
      }
    }
    return [...latest].filter(([, entry]) => entry[1] === 1).map(([hex]) => hex).sort();
  };

  return {
    async get(infoHash) {
      const value = (await keyv.get(key(hexOf(infoHash)))) as unknown;
      if (value === undefined || value === null) return undefined;
      return storedRules(value);
    },
    async add(infoHash, rules) {
      const hex = hexOf(infoHash);
      await keyv.set(key(hex), storedRules(rules));
      await updateIndex(hex, listedSwarm(hex, rules));
    },
    async remove(infoHash) {
      const hex = hexOf(infoHash);
      const removed = await keyv.delete(key(hex));
      await updateIndex(hex, false);
      return removed;
    },
    async list(offset, limit) {
      const all = await listed();
      const page = all.slice(offset, offset + limit);
      const values = await access.getMany(page.map(key));
      const torrents: RegisteredSwarm[] = [];
      let stale = 0;
      page.forEach((hex, i) => {
        const value = values[i];
        // listed, but its rules are gone: removed meanwhile (or by a version without the index)
        if (value === undefined || value === null) stale++;
        else torrents.push({ infoHash: Buffer.from(hex, 'hex'), rules: storedRules(value) });
      });
      return { total: all.length - stale, torrents };
    },
  };
}
