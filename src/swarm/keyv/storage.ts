/**
 * The Keyv store's access to its database: one Keyv over the given one's adapter that throws on
 * errors, every call bounded by `commandTimeout`, and the health flag that makes announces read the
 * database instead of answering from memory once a call has failed. Shared by the store, its
 * instance slots and its shard reads and writes.
 */
import Keyv from 'keyv';

/** An error the store raises itself (timeouts, unreachable backend). */
export class KeyvStoreError extends Error {
  override name = 'KeyvStoreError';
}

/** Bounded calls on one Keyv, with the store's health and closed state. */
export class KeyvStorage {
  /** The Keyv used for every call: the given one's adapter, namespace and serializer, throwing on errors. */
  readonly kv: Keyv;
  /**
   * False after a failed call or write-behind, until a read or write of shards succeeds again:
   * announces then read fresh.
   */
  healthy = true;
  /** Set when the store has closed: every call rejects from then on. */
  closed = false;

  /**
   * @param keyv the Keyv given to the store (its adapter and settings are reused, it is not changed)
   * @param timeout milliseconds one call may take before it rejects (`commandTimeout`)
   */
  constructor(
    keyv: Keyv,
    private readonly timeout: number,
  ) {
    this.kv = new Keyv(keyv.store, {
      namespace: keyv.namespace,
      useKeyPrefix: keyv.useKeyPrefix,
      serialize: keyv.serialize,
      deserialize: keyv.deserialize,
      compression: keyv.compression,
      throwOnErrors: true,
    });
    this.kv.on('error', () => undefined); // every error also rejects the call that caused it
  }

  /** A storage call bounded by `commandTimeout`; a failure marks the backend unhealthy. */
  async call<T>(promise: Promise<T>): Promise<T> {
    if (this.closed) throw new KeyvStoreError('the Keyv swarm store is closed');
    const value = await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new KeyvStoreError(`storage did not answer within ${this.timeout} ms`)),
        this.timeout,
      );
      promise.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error instanceof Error ? error : new KeyvStoreError(String(error)));
        },
      );
    }).catch((error: unknown) => {
      // From now on announces read the database instead of answering from memory: they fail fast
      // until it answers again.
      this.healthy = false;
      throw error;
    });
    return value;
  }

  /** getMany that rejects on failure whatever the adapter (Keyv's own fallback swallows errors). */
  getMany(keys: string[]): Promise<unknown[]> {
    if (keys.length === 0) return Promise.resolve([]);
    const store = this.kv.store as { getMany?: unknown };
    if (typeof store.getMany === 'function') return this.call(this.kv.getMany(keys));
    return this.call(Promise.all(keys.map((k) => this.kv.get(k))));
  }
}
