/**
 * Bans kept in this process: the memory store's {@link BanStore}, and the one the tracker uses when
 * its store has none (a custom store).
 */
import type { Ban } from '../../policy/bans.js';
import type { BanStore } from '../types.js';

/** A {@link BanStore} in a Map (one process; nothing to refresh), with a synchronous copy for snapshots. */
export interface MemoryBanStore extends BanStore {
  /** @internal Every ban, synchronously (the memory store's snapshot). */
  snapshot(): Ban[];
  /** @internal Add bans read from a snapshot. */
  restore(bans: Ban[]): void;
}

/** A {@link BanStore} in a Map (one process; nothing to refresh). */
export function memoryBanStore(): MemoryBanStore {
  const bans = new Map<string, Ban>();
  return {
    snapshot: () => [...bans.values()].map((ban) => ({ ...ban })),
    restore: (list) => {
      for (const ban of list) bans.set(ban.id, { ...ban });
    },
    list: async () => [...bans.values()].map((ban) => ({ ...ban })),
    add: async (ban) => {
      bans.set(ban.id, { ...ban });
    },
    remove: async (id) => bans.delete(id),
  };
}
