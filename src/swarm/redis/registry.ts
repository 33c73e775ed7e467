/**
 * The Redis store's built-in torrent registry: `<prefix>:torrent:<info hash hex>` → the rules as
 * JSON, in the same Redis as the swarms, read and written on the store's own command path (bounded
 * waiting for the connection; errors surface to the caller).
 */
import { storedRules } from '../registry-rules.js';
import type { TorrentRegistry } from '../types.js';
import type { RedisConnection } from './connection.js';

/** A {@link TorrentRegistry} on `connection` under `<prefix>:torrent:<hex>` (no TTL). */
export function redisTorrentRegistry(connection: RedisConnection, prefix: string): TorrentRegistry {
  const key = (infoHash: Uint8Array) => connection.redisKey(`${prefix}:torrent:${Buffer.from(infoHash).toString('hex')}`);
  return {
    async get(infoHash) {
      const k = key(infoHash);
      const value = await connection.command(k, ['GET', k]);
      if (value === null || value === undefined) return undefined;
      try {
        return storedRules(JSON.parse(String(value)));
      } catch {
        return {};
      }
    },
    async add(infoHash, rules) {
      const k = key(infoHash);
      await connection.command(k, ['SET', k, JSON.stringify(rules)]);
    },
    async remove(infoHash) {
      const k = key(infoHash);
      return Number(await connection.command(k, ['DEL', k])) > 0;
    },
  };
}
