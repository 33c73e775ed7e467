/**
 * The Redis store's bans: one hash `<prefix>:bans` (field = ban id, value = the ban as JSON), on the
 * store's own command path. Instances learn of a change at once through the store's bus (the
 * tracker publishes it); they also re-read the hash every 30 s in case a message was missed.
 */
import { storedBan } from '../../policy/bans.js';
import type { BanStore } from '../types.js';
import type { RedisConnection } from './connection.js';

/** Seconds between re-reads of the bans by every instance (a safety net behind the bus). */
export const REDIS_BAN_REFRESH = 30;

/** A {@link BanStore} on `connection` under `<prefix>:bans`. */
export function redisBanStore(connection: RedisConnection, prefix: string): BanStore {
  const key = connection.redisKey(`${prefix}:bans`);
  return {
    refreshInterval: REDIS_BAN_REFRESH * 1000,
    async list() {
      const reply = (await connection.command(key, ['HVALS', key])) as unknown;
      const values: unknown[] = Array.isArray(reply) ? reply : [];
      const bans = [];
      for (const value of values) {
        try {
          const ban = storedBan(JSON.parse(String(value)));
          if (ban) bans.push(ban);
        } catch {
          // a malformed entry is skipped
        }
      }
      return bans;
    },
    async add(ban) {
      await connection.command(key, ['HSET', key, ban.id, JSON.stringify(ban)]);
    },
    async remove(id) {
      return Number(await connection.command(key, ['HDEL', key, id])) > 0;
    },
  };
}
