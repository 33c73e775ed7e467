/**
 * Bans kept in this process: the memory store's {@link BanStore}, and the one the tracker uses when
 * its store has none (a custom store).
 */
import type { Ban } from '../../policy/bans.js';
import type { BanStore } from '../types.js';

/** A {@link BanStore} in a Map (one process; nothing to refresh). */
export function memoryBanStore(): BanStore {
  const bans = new Map<string, Ban>();
  return {
    list: async () => [...bans.values()].map((ban) => ({ ...ban })),
    add: async (ban) => {
      bans.set(ban.id, { ...ban });
    },
    remove: async (id) => bans.delete(id),
  };
}
