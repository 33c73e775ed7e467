/**
 * Turns the `store` option (nothing, a SwarmStore, a Keyv instance or a connection URI) into a
 * SwarmStore:
 * - nothing: {@link MemorySwarmStore};
 * - a {@link SwarmStore}: used as is;
 * - a Keyv whose adapter is @keyv/redis, or a `redis://` / `rediss://` URI: {@link RedisSwarmStore};
 * - any other Keyv, or a `sqlite://`, `postgresql://` / `postgres://`, `mysql://` URI:
 *   {@link KeyvSwarmStore}.
 *
 * Opening never waits for the backend: a tracker started while its database is down answers with
 * failures and recovers by itself once the database is back.
 */
import type { EventEmitter } from 'node:events';
import Keyv from 'keyv';
import { KeyvSwarmStore, type KeyvSwarmStoreOptions } from './keyv.js';
import { MemorySwarmStore } from './memory.js';
import { isRedisKeyv, RedisSwarmStore, type RedisSwarmStoreOptions } from './redis.js';
import { isSwarmStore, type SwarmStore } from './types.js';

/** What `options.store` accepts. A Keyv instance or a URI string is opened with the matching backend. */
export type StoreOption = SwarmStore | string | object;

/** A store ready for use, and whether the tracker opened it (and so should close it). */
export interface OpenedStore {
  store: SwarmStore;
  owned: boolean;
}

/** Options for stores that {@link openStore} creates (all optional). */
export interface OpenStoreOptions
  extends Omit<KeyvSwarmStoreOptions, 'closeKeyv'>,
    Omit<RedisSwarmStoreOptions, 'closeKeyv'> {
  /**
   * Keyv namespace for stores opened from a URI (all keys start with it). Default `tracker`. A Keyv
   * instance passed in keeps its own namespace.
   */
  namespace?: string;
  /** Milliseconds to wait for a connection to the backend (URIs only). Default 1000. */
  connectTimeout?: number;
  /** Table name for SQL URIs. Default `keyv` (the adapters' default). */
  table?: string;
}

/** True when `value` looks like a Keyv instance (has the Keyv API and an adapter). */
export function isKeyv(value: unknown): value is Keyv {
  if (value instanceof Keyv) return true;
  const v = value as Partial<Keyv> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.get === 'function' &&
    typeof v.set === 'function' &&
    typeof v.delete === 'function' &&
    typeof v.getMany === 'function' &&
    'store' in v &&
    'opts' in v
  );
}

/** Resolve `options.store` into a SwarmStore. */
export async function openStore(option: StoreOption | undefined, options: OpenStoreOptions = {}): Promise<OpenedStore> {
  if (option === undefined || option === null) return { store: new MemorySwarmStore({ now: options.now }), owned: true };
  if (isSwarmStore(option)) return { store: option, owned: false };
  if (typeof option === 'string') return { store: await openUri(option, options), owned: true };
  if (isKeyv(option)) {
    // The store is ours (timers, write-behind) but the Keyv is the caller's: closing the store does
    // not disconnect it.
    const store = isRedisKeyv(option) ? new RedisSwarmStore(option, options) : new KeyvSwarmStore(option, options);
    return { store, owned: true };
  }
  throw new TypeError('options.store: expected a SwarmStore, a Keyv instance or a connection URI');
}

/** Open a store from a connection URI. */
export async function openUri(uri: string, options: OpenStoreOptions = {}): Promise<SwarmStore> {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase();
  const namespace = options.namespace ?? 'tracker';
  const connectTimeout = options.connectTimeout ?? 1000;
  switch (scheme) {
    case 'redis':
    case 'rediss':
      return new RedisSwarmStore(await openRedisKeyv(uri, namespace, connectTimeout), { ...options, closeKeyv: true });
    case 'sqlite': {
      const { default: KeyvSqlite } = (await importAdapter('@keyv/sqlite', scheme)) as typeof import('@keyv/sqlite');
      // busyTimeout: several processes may write the same file.
      const adapter = new KeyvSqlite({ uri, busyTimeout: connectTimeout, ...(options.table ? { table: options.table } : {}) });
      guardAdapter(adapter);
      const keyv = new Keyv(adapter, { namespace });
      keyv.on('error', () => undefined);
      // WAL lets readers and the single writer of each shard work side by side.
      void (adapter as unknown as { query(sql: string): Promise<unknown> }).query('PRAGMA journal_mode=WAL').catch(() => undefined);
      return new KeyvSwarmStore(keyv, { ...options, closeKeyv: true });
    }
    case 'postgres':
    case 'postgresql': {
      const { default: KeyvPostgres } = (await importAdapter('@keyv/postgres', scheme)) as typeof import('@keyv/postgres');
      const adapter = new KeyvPostgres({
        uri,
        connectionTimeoutMillis: connectTimeout,
        query_timeout: options.commandTimeout ?? 800,
        ...(options.table ? { table: options.table } : {}),
        Client: await guardedPgClient(),
      });
      guardAdapter(adapter);
      const keyv = new Keyv(adapter, { namespace });
      keyv.on('error', () => undefined);
      return new KeyvSwarmStore(keyv, { ...options, closeKeyv: true });
    }
    case 'mysql':
    case 'mariadb': {
      const { default: KeyvMysql } = (await importAdapter('@keyv/mysql', scheme)) as typeof import('@keyv/mysql');
      const adapter = new KeyvMysql({
        uri: uri.replace(/^mariadb:/i, 'mysql:'),
        connectTimeout,
        ...(options.table ? { table: options.table } : {}),
      } as ConstructorParameters<typeof KeyvMysql>[0]);
      guardAdapter(adapter);
      const keyv = new Keyv(adapter, { namespace });
      keyv.on('error', () => undefined);
      return new KeyvSwarmStore(keyv, { ...options, closeKeyv: true });
    }
    default:
      throw new TypeError(
        `options.store: unsupported URI scheme "${scheme ?? uri}" (use redis://, rediss://, sqlite://, postgresql://, mysql://, or pass a Keyv instance)`,
      );
  }
}

/**
 * A Keyv over @keyv/redis for `uri`, configured to fail fast and recover by itself: connect timeout,
 * offline queue disabled (commands fail at once while disconnected instead of piling up), and a
 * bounded reconnect back-off that never gives up.
 */
export async function openRedisKeyv(uri: string, namespace = 'tracker', connectTimeout = 1000): Promise<Keyv> {
  const mod = (await importAdapter('@keyv/redis', 'redis')) as typeof import('@keyv/redis');
  const client = mod.createClient({
    url: uri,
    disableOfflineQueue: true,
    socket: {
      connectTimeout,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000),
    },
  });
  client.on('error', () => undefined); // failures surface as rejected calls
  const adapter = new mod.default(client, { namespace, connectionTimeout: connectTimeout, throwOnConnectError: true });
  adapter.on('error', () => undefined);
  const keyv = new Keyv(adapter, { namespace, useKeyPrefix: false });
  keyv.on('error', () => undefined);
  // Start connecting now; the store waits for readiness (bounded) on each call.
  void adapter.getClient().catch(() => undefined);
  return keyv;
}

/** Dynamic import of an optional adapter, with an error that names the package to install. */
async function importAdapter(name: string, scheme: string): Promise<unknown> {
  try {
    return await import(name);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new Error(`options.store: a ${scheme}:// URI needs the package ${name}; install it with "npm install ${name}"`);
    }
    throw error;
  }
}

/**
 * The SQL adapters start connecting in their constructor and keep the promise; if that first attempt
 * fails before anybody awaits it, Node reports an unhandled rejection. Attach a handler at once.
 */
function guardAdapter(adapter: object): void {
  const query = (adapter as { query?: (sql: string) => Promise<unknown> }).query;
  if (typeof query === 'function') void query.call(adapter, 'SELECT 1').catch(() => undefined);
  if (typeof (adapter as { on?: unknown }).on === 'function') {
    (adapter as { on(event: string, fn: () => void): void }).on('error', () => undefined);
  }
}

/**
 * A pg Client class whose `error` listeners cannot throw. pg's Pool turns an error of an idle client
 * (for example PostgreSQL restarting) into an `error` event on the pool, which @keyv/postgres does not
 * listen to, and an unhandled `error` event ends the process. This class catches that throw: the
 * broken client is dropped by the pool and the next query opens a new connection.
 */
async function guardedPgClient(): Promise<unknown> {
  // pg ships no types of its own; only its Client class (an EventEmitter) is used here.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type EmitterClass = new (...args: any[]) => EventEmitter;
  const pg = ((await importAdapter('pg', 'postgresql')) as { default: { Client: EmitterClass } }).default;
  const wrapped = new WeakMap<(...args: unknown[]) => void, (...args: unknown[]) => void>();
  const guard = (listener: (...args: unknown[]) => void): ((...args: unknown[]) => void) => {
    let g = wrapped.get(listener);
    if (!g) {
      g = function (this: unknown, ...args: unknown[]) {
        try {
          listener.apply(this, args);
        } catch {
          // an unhandled 'error' re-emitted by the pool: the client is discarded anyway
        }
      };
      wrapped.set(listener, g);
    }
    return g;
  };
  class GuardedClient extends pg.Client {
    override on(event: string | symbol, listener: (...args: unknown[]) => void): this {
      return super.on(event, event === 'error' ? guard(listener) : listener);
    }
    override addListener(event: string | symbol, listener: (...args: unknown[]) => void): this {
      return this.on(event, listener);
    }
    override once(event: string | symbol, listener: (...args: unknown[]) => void): this {
      return super.once(event, event === 'error' ? guard(listener) : listener);
    }
    override removeListener(event: string | symbol, listener: (...args: unknown[]) => void): this {
      return super.removeListener(event, event === 'error' ? (wrapped.get(listener) ?? listener) : listener);
    }
    override off(event: string | symbol, listener: (...args: unknown[]) => void): this {
      return this.removeListener(event, listener);
    }
  }
  return GuardedClient;
}
