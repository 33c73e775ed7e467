/**
 * The Keyv store's bans: one key `<prefix>:bans` holding the list (no TTL). Keyv has no bus, so every
 * instance re-reads the list every {@link KEYV_BAN_REFRESH} seconds: a ban made on one instance
 * applies on the others within that time. Changes are read-modify-write: two administrators banning
 * at the same instant on two instances may lose one of the two bans (bans are rare admin actions).
 */
import type Keyv from 'keyv';
import { storedBan, type Ban } from '../../policy/bans.js';
import type { BanStore } from '../types.js';

/** Seconds between re-reads of the bans by every instance. */
export const KEYV_BAN_REFRESH = 5;

/** A {@link BanStore} kept in `keyv` under `<prefix>:bans`. */
export function keyvBanStore(keyv: Keyv, prefix: string): BanStore {
  const key = `${prefix}:bans`;
  const read = async (): Promise<Ban[]> => {
    const value = (await keyv.get(key)) as unknown;
    if (!Array.isArray(value)) return [];
    return value.map(storedBan).filter((ban): ban is Ban => ban !== undefined);
  };
  return {
    refreshInterval: KEYV_BAN_REFRESH * 1000,
    list: read,
    async add(ban) {
      const bans = (await read()).filter((b) => b.id !== ban.id);
      bans.push(ban);
      await keyv.set(key, bans);
    },
    async remove(id) {
      const bans = await read();
      const rest = bans.filter((b) => b.id !== id);
      if (rest.length === bans.length) return false;
      await keyv.set(key, rest);
      return true;
    },
  };
}
