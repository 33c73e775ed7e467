/**
 * The Redis store's connection: it borrows the node-redis client of a Keyv whose adapter is
 * @keyv/redis (no second connection pool), waits for it within a deadline, sends one command at a
 * time with Buffer replies, and keeps a Redis Cluster client's slot map fresh after failures. Also
 * the names every Redis part shares: the duck types of the adapter and its client, the store's
 * error, and where a key of a given name lives.
 */
import type Keyv from 'keyv';
import { withDeadline as settleWithin } from '../../util/deadline.js';

/** The parts of a node-redis client (v5) the store uses; a cluster client has a different `sendCommand`. */
export interface RedisClientLike {
  readonly isOpen: boolean;
  duplicate?(): RedisClientLike;
  connect?(): Promise<unknown>;
  subscribe?(channel: string, listener: (message: string) => void): Promise<unknown>;
  unsubscribe?(channel: string): Promise<unknown>;
  destroy?(): void;
  readonly isReady?: boolean;
  sendCommand(...args: unknown[]): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
}

/** The parts of a @keyv/redis adapter the store uses. */
export interface KeyvRedisLike {
  readonly client: RedisClientLike;
  readonly namespace?: string;
  getClient(): Promise<unknown>;
  createKeyPrefix(key: string, namespace?: string): string;
  isCluster(): boolean;
}

/** RESP "blob string" type code: with this type mapping node-redis returns bulk strings as Buffers. */
const RESP_BLOB_STRING = 36;
const BUFFER_REPLIES = { [RESP_BLOB_STRING]: Buffer };

/** True when `keyv` is a Keyv instance whose adapter is @keyv/redis (duck-typed: a node-redis client inside). */
export function isRedisKeyv(keyv: unknown): keyv is Keyv {
  const store = (keyv as { store?: unknown } | null)?.store as Partial<KeyvRedisLike> | undefined;
  return (
    typeof store === 'object' &&
    store !== null &&
    typeof store.createKeyPrefix === 'function' &&
    typeof store.getClient === 'function' &&
    typeof store.client === 'object' &&
    store.client !== null &&
    typeof (store.client as RedisClientLike).sendCommand === 'function'
  );
}

/** An error the store raises itself (timeouts, Redis unavailable). */
export class RedisStoreError extends Error {
  override name = 'RedisStoreError';
}

/** `promise`, or a rejection after `ms` milliseconds (the late result is ignored). */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return settleWithin(promise, ms, () => new RedisStoreError(`${what} timed out after ${ms} ms`));
}

/** Bounded commands on the adapter's own client (see the file comment). */
export class RedisConnection {
  /** The Keyv's @keyv/redis adapter. */
  readonly adapter: KeyvRedisLike;
  private connecting: Promise<unknown> | undefined;
  private ready: Promise<void> | undefined;
  private lastSlotRefresh = 0;
  private closed = false;
  /** Why the last connection attempt failed (the cause of "not reachable" errors). */
  private connectError: unknown;
  private readonly watched = new WeakSet<object>();

  /**
   * @param keyv a Keyv whose adapter is @keyv/redis (check with {@link isRedisKeyv}).
   * @param timeout milliseconds one command (including waiting for the connection) may take.
   */
  constructor(
    private readonly keyv: Keyv,
    readonly timeout: number,
  ) {
    this.adapter = keyv.store as KeyvRedisLike;
  }

  /** True when the adapter talks to a Redis Cluster. */
  isCluster(): boolean {
    return this.adapter.isCluster();
  }

  /**
   * The full Redis key of `name`: where the Keyv would store a key of that name (its namespace and
   * the adapter's own prefix included).
   */
  redisKey(name: string): string {
    return this.adapter.createKeyPrefix(this.keyv._getKeyPrefix(name), this.adapter.namespace);
  }

  /** Refuse every command from now on (the store is closed). The Keyv itself is left alone. */
  close(): void {
    this.closed = true;
  }

  /** Send one command on the adapter's client with Buffer replies, failing within the timeout. */
  async command(firstKey: string, args: Array<string | Buffer>): Promise<unknown> {
    if (this.closed) throw new RedisStoreError('the Redis swarm store is closed');
    const deadline = Date.now() + this.timeout;
    const client = await this.readyClient(deadline);
    const remaining = Math.max(1, deadline - Date.now());
    const options = { typeMapping: BUFFER_REPLIES, timeout: remaining };
    if (!this.adapter.isCluster()) return withDeadline(client.sendCommand(args, options), remaining, 'Redis command');
    try {
      return await withDeadline(client.sendCommand(firstKey, false, args, options), remaining, 'Redis command');
    } catch (error) {
      this.refreshClusterSlots(client); // cheap and throttled: on any failure, not only connection errors
      throw error;
    }
  }

  /**
   * After a failed cluster call: read the slot map again (at most every 500 ms, one read at a time).
   * node-redis re-reads it only on a MOVED or ASK reply, and a killed master sends none: without
   * this, the client keeps sending its slots' commands to the dead address forever, also after a
   * replica took them over. The client's own `rediscover` (not a public API of node-redis 5) asks a
   * live master first, then the root nodes; it drops clients of nodes that left the map (their
   * queued commands fail) and connects to new masters.
   */
  private refreshClusterSlots(client: RedisClientLike): void {
    const cluster = client as unknown as {
      _slots?: { rediscover?(startWith: unknown): Promise<void> };
      masters?: Array<{ client?: { isReady?: boolean } }>;
    };
    const slots = cluster._slots;
    if (typeof slots?.rediscover !== 'function' || Date.now() - this.lastSlotRefresh < 500) return;
    const masters = cluster.masters ?? [];
    const startWith = (masters.find((m) => m.client?.isReady) ?? masters.find((m) => m.client))?.client;
    if (!startWith) return;
    this.lastSlotRefresh = Date.now();
    slots.rediscover(startWith).catch(() => undefined);
  }

  /** The adapter's client once it is ready; starts connecting if nobody has yet. */
  private async readyClient(deadline: number): Promise<RedisClientLike> {
    const client = this.adapter.client;
    if (!this.watched.has(client)) {
      // node-redis reports failed reconnects only as 'error' events: keep the last one as the cause.
      this.watched.add(client);
      client.on('error', (error: unknown) => (this.connectError = error));
    }
    if (!client.isOpen && !this.connecting) {
      // getClient() connects (and on failure tears the client down so the next call retries).
      this.connecting = this.adapter
        .getClient()
        .then(
          () => (this.connectError = undefined),
          (error: unknown) => (this.connectError = error),
        )
        .finally(() => {
          this.connecting = undefined;
        });
    }
    if (this.adapter.isCluster()) {
      // A cluster client has no offline state of its own to wait for: wait for its first connection.
      if (this.connecting) {
        await withDeadline(this.connecting, Math.max(1, deadline - Date.now()), 'connecting to Redis Cluster');
      }
      if (!client.isOpen) throw new RedisStoreError('Redis Cluster is not reachable', { cause: this.connectError });
      return client;
    }
    if (client.isReady) return client;
    // One shared listener however many calls wait for the connection.
    this.ready ??= new Promise<void>((resolve) => {
      const onReady = (): void => {
        client.off('ready', onReady);
        this.ready = undefined;
        resolve();
      };
      client.on('ready', onReady);
    });
    await withDeadline(this.ready, Math.max(1, deadline - Date.now()), 'waiting for Redis').catch(() => {
      throw new RedisStoreError('Redis is not reachable', { cause: this.connectError });
    });
    return client;
  }
}
