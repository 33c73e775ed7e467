/**
 * The built-in torrent registry on any Keyv (`<prefix>:torrent:<info hash hex>` → rules), used by
 * the Keyv store so that a torrent added on one instance is known to every instance that shares the
 * store. (The Redis store keeps its registry on its own command path, redis/registry.ts; the memory
 * store keeps a Map.)
 */
import type Keyv from 'keyv';
import { storedRules } from '../registry-rules.js';
import type { TorrentRegistry } from '../types.js';

/** A {@link TorrentRegistry} kept in `keyv` under `<prefix>:torrent:<hex>` (no TTL). */
export function keyvTorrentRegistry(keyv: Keyv, prefix: string): TorrentRegistry {
  const key = (infoHash: Uint8Array) => `${prefix}:torrent:${Buffer.from(infoHash).toString('hex')}`;
  return {
    async get(infoHash) {
      const value = (await keyv.get(key(infoHash))) as unknown;
      if (value === undefined || value === null) return undefined;
      return storedRules(value);
    },
    async add(infoHash, rules) {
      await keyv.set(key(infoHash), storedRules(rules));
    },
    async remove(infoHash) {
      return keyv.delete(key(infoHash));
    },
  };
}
