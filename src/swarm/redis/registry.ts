/**
 * The Redis store's built-in torrent registry: `<prefix>:torrent:<info hash hex>` → the rules as
 * JSON, in the same Redis as the swarms, read and written on the store's own command path (bounded
 * waiting for the connection; errors surface to the caller).
 */
import type { TorrentRules } from '../../types.js';
import type { TorrentRegistry } from '../types.js';
import type { RedisConnection } from './connection.js';

/** A {@link TorrentRegistry} on `connection` under `<prefix>:torrent:<hex>` (no TTL). */
export function redisTorrentRegistry(connection: RedisConnection, prefix: string): TorrentRegistry {
  const key = (infoHash: Uint8Array) => connection.redisKey(`${prefix}:torrent:${Buffer.from(infoHash).toString('hex')}`);
  return {
    async get(infoHash) {
      const k = key(infoHash);
      const value = await connection.command(k, ['GET', k]);
      return value === null || value === undefined ? undefined : parseRules(String(value));
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

/** Rules of a registered torrent as stored (JSON); unknown fields ignored. */
function parseRules(text: string): TorrentRules {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return {};
  }
  const rules: TorrentRules = {};
  const v = value as TorrentRules | null;
  if (typeof v?.uploadFactor === 'number') rules.uploadFactor = v.uploadFactor;
  if (typeof v?.downloadFactor === 'number') rules.downloadFactor = v.downloadFactor;
  return rules;
}
