/**
 * The Keyv store's bans: one key `<prefix>:bans` holding the list (no TTL). Keyv has no bus, so every
 * instance re-reads the list every {@link KEYV_BAN_REFRESH} seconds: a ban made on one instance
 * applies on the others within that time. Changes are read-modify-write, checked a moment later and
 * retried when another instance's write took them away; two bans made at the very same instant on
 * two instances can still lose one (Keyv has no atomic update; bans are rare admin actions).
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
  /**
   * Read, change, write, and check a moment later that the change is there (another instance may
   * have written the list between our read and our write): retried a few times. This narrows the
   * window for a lost change; it cannot close it (Keyv has no atomic update).
   */
  const change = async (apply: (bans: Ban[]) => Ban[], done: (bans: Ban[]) => boolean): Promise<void> => {
    for (let attempt = 0; attempt < 4; attempt++) {
      await keyv.set(key, apply(await read()));
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 50));
      if (done(await read())) return;
    }
  };
  return {
    refreshInterval: KEYV_BAN_REFRESH * 1000,
    list: read,
    async add(ban) {
      await change(
        (bans) => [...bans.filter((b) => b.id !== ban.id), ban],
        (bans) => bans.some((b) => b.id === ban.id),
      );
    },
    async remove(id) {
      if (!(await read()).some((b) => b.id === id)) return false;
      await change(
        (bans) => bans.filter((b) => b.id !== id),
        (bans) => !bans.some((b) => b.id === id),
      );
      return true;
    },
  };
}
