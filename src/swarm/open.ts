/**
 * Turns the `store` option (nothing, a SwarmStore, a Keyv instance or a connection URI) into a
 * SwarmStore.
 */
import { MemorySwarmStore } from './memory.js';
import { isSwarmStore, type SwarmStore } from './types.js';

/** What `options.store` accepts. A Keyv instance or a URI string is opened with the matching backend. */
export type StoreOption = SwarmStore | string | object;

/** A store ready for use, and whether the tracker opened it (and so should close it). */
export interface OpenedStore {
  store: SwarmStore;
  owned: boolean;
}

/** Resolve `options.store` into a SwarmStore. */
export async function openStore(option: StoreOption | undefined): Promise<OpenedStore> {
  if (option === undefined || option === null) return { store: new MemorySwarmStore(), owned: true };
  if (isSwarmStore(option)) return { store: option, owned: false };
  throw new TypeError('options.store: expected a SwarmStore, a Keyv instance or a connection URI');
}
