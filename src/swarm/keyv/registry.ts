/**
 * The built-in torrent registry on any Keyv (`<prefix>:torrent:<info hash hex>` → rules), used by
 * the Keyv store so that a torrent added on one instance is known to every instance that shares the
 * store. (The Redis store keeps its registry on its own command path, redis/registry.ts; the memory
 * store keeps a Map.)
 *
 * Beside it, the index {@link TorrentRegistry.list} pages through without a scan:
 * `<prefix>:registry-index`, the sorted hex hashes of the listed swarms in one value. Keyv has no
 * atomic update, so `add` and `remove` rewrite the index, read it back, and rewrite it again when a
 * concurrent rewrite by another instance undid their change (as the instance registry does, see
 * slots.ts); a listing skips an entry whose rules are gone. Torrents
 * registered by a version without the index are not listed until added again.
 */
import type Keyv from 'keyv';
import { listedSwarm, storedRules } from '../registry-rules.js';
import type { RegisteredSwarm, TorrentRegistry } from '../types.js';

/** Rewrites of the index before `add` or `remove` gives up on a concurrent writer (it then rejects). */
const INDEX_ATTEMPTS = 5;

/**
 * A {@link TorrentRegistry} kept in `keyv` under `<prefix>:torrent:<hex>` (no TTL), with its index;
 * `getMany` reads several keys at once (rejecting on failure).
 */
export function keyvTorrentRegistry(keyv: Keyv, prefix: string, getMany: (keys: string[]) => Promise<unknown[]>): TorrentRegistry {
  const key = (hex: string) => `${prefix}:torrent:${hex}`;
  const indexKey = `${prefix}:registry-index`;
  const hexOf = (infoHash: Uint8Array) => Buffer.from(infoHash).toString('hex');
  const readIndex = async (): Promise<string[]> => {
    const value = (await keyv.get(indexKey)) as unknown;
    return Array.isArray(value) ? value.filter((h): h is string => typeof h === 'string' && /^[0-9a-f]{40}$/.test(h)) : [];
  };
  /** Put `hex` in the index (`listed`) or take it out, until a read-back shows the change held. */
  const updateIndex = async (hex: string, listed: boolean): Promise<void> => {
    for (let attempt = 0; attempt < INDEX_ATTEMPTS; attempt++) {
      const index = new Set(await readIndex());
      if (index.has(hex) === listed) return;
      if (listed) index.add(hex);
      else index.delete(hex);
      await keyv.set(indexKey, [...index].sort());
    }
    throw new Error(`the torrent registry index (${indexKey}) kept changing under ${INDEX_ATTEMPTS} rewrites`);
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
      const index = await readIndex();
      const page = index.slice(offset, offset + limit);
      const values = await getMany(page.map(key));
      const torrents: RegisteredSwarm[] = [];
      let stale = 0;
      page.forEach((hex, i) => {
        const value = values[i];
        if (value === undefined || value === null) stale++;
        else torrents.push({ infoHash: Buffer.from(hex, 'hex'), rules: storedRules(value) });
      });
      return { total: index.length - stale, torrents };
    },
  };
}
