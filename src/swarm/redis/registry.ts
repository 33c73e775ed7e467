/**
 * The Redis store's built-in torrent registry: `<prefix>:torrent:<info hash hex>` → the rules as
 * JSON, in the same Redis as the swarms, read and written on the store's own command path (bounded
 * waiting for the connection; errors surface to the caller).
 *
 * Beside it, the index {@link TorrentRegistry.list} pages through without a scan:
 * `<prefix>:registry-index`, a sorted set of the listed swarms' hex hashes, all scored 0 (so ranked
 * by hex, ascending), updated by `add` and `remove`. With Redis Cluster the index lives in its own
 * slot: add and remove are two commands there (the rules first, then the index), and a listing skips
 * an index entry whose rules are gone (and drops it). Torrents registered by a version without the
 * index are not listed until added again (`addTorrent()` with the same rules changes
 * nothing else); they keep working for announces.
 */
import { listedSwarm, storedRules } from '../registry-rules.js';
import type { TorrentRules } from '../../types.js';
import type { RegisteredSwarm, TorrentRegistry } from '../types.js';
import type { RedisConnection } from './connection.js';

/** A {@link TorrentRegistry} on `connection` under `<prefix>:torrent:<hex>` (no TTL), with its index. */
export function redisTorrentRegistry(connection: RedisConnection, prefix: string): TorrentRegistry {
  const key = (hex: string) => connection.redisKey(`${prefix}:torrent:${hex}`);
  const index = connection.redisKey(`${prefix}:registry-index`);
  const hexOf = (infoHash: Uint8Array) => Buffer.from(infoHash).toString('hex');
  const read = async (hex: string): Promise<TorrentRules | undefined> => {
    const k = key(hex);
    const value = await connection.command(k, ['GET', k]);
    if (value === null || value === undefined) return undefined;
    try {
      return storedRules(JSON.parse(String(value)));
    } catch {
      return {};
    }
  };
  return {
    get: (infoHash) => read(hexOf(infoHash)),
    async add(infoHash, rules) {
      const hex = hexOf(infoHash);
      const k = key(hex);
      await connection.command(k, ['SET', k, JSON.stringify(rules)]);
      await connection.command(index, listedSwarm(hex, rules) ? ['ZADD', index, '0', hex] : ['ZREM', index, hex]);
    },
    async remove(infoHash) {
      const hex = hexOf(infoHash);
      const k = key(hex);
      const removed = Number(await connection.command(k, ['DEL', k])) > 0;
      await connection.command(index, ['ZREM', index, hex]);
      return removed;
    },
    async list(offset, limit) {
      const [total, members] = await Promise.all([
        connection.command(index, ['ZCARD', index]),
        limit > 0 ? connection.command(index, ['ZRANGE', index, String(offset), String(offset + limit - 1)]) : [],
      ]);
      const hexes = (members as unknown[]).map(String);
      const rules = await Promise.all(hexes.map(read));
      const torrents: RegisteredSwarm[] = [];
      const stale: string[] = [];
      hexes.forEach((hex, i) => {
        if (rules[i] === undefined) stale.push(hex);
        else torrents.push({ infoHash: Buffer.from(hex, 'hex'), rules: rules[i]! });
      });
      if (stale.length > 0) await connection.command(index, ['ZREM', index, ...stale]);
      return { total: Number(total) - stale.length, torrents };
    },
  };
}
