/**
 * Turns the `store` option (nothing, a SwarmStore, a Keyv instance or a connection URI) into a
 * SwarmStore:
 * - nothing, or a `memory://` URI: {@link MemorySwarmStore} (`memory:///path` persists to that file);
 * - a {@link SwarmStore}: used as is;
 * - a Keyv whose adapter is @keyv/redis, or a `redis://` / `rediss://` URI: {@link RedisSwarmStore};
 * - any other Keyv, or a `sqlite://`, `postgresql://` / `postgres://`, `mysql://` URI:
 *   {@link KeyvSwarmStore}.
 *
 * Opening never waits for the backend: a tracker started while its database is down answers with
 * failures and recovers by itself once the database is back.
 */
import { EventEmitter } from 'node:events';
import Keyv from 'keyv';
import { KeyvSwarmStore, type KeyvSwarmStoreOptions } from './keyv/keyv-store.js';
import { MemorySwarmStore } from './memory/memory-store.js';
import { isRedisKeyv } from './redis/connection.js';
import { RedisSwarmStore, type RedisSwarmStoreOptions } from './redis/redis-store.js';
import { checkStoreOption, isKeyv } from './store-option.js';
import { isSwarmStore, type SwarmStore } from './types.js';

export { isKeyv } from './store-option.js';

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
  checkStoreOption(option, 'openStore');
  throw new TypeError('openStore: options.store: expected a SwarmStore, a Keyv instance or a connection URI');
}

/** Open a store from a connection URI. */
export async function openUri(uri: string, options: OpenStoreOptions = {}): Promise<SwarmStore> {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase();
  const namespace = options.namespace ?? 'tracker';
  const connectTimeout = options.connectTimeout ?? 1000;
  switch (scheme) {
    case 'memory': {
      const file = memoryUriFile(uri);
      return new MemorySwarmStore(file ? { file, now: options.now } : { now: options.now });
    }
    case 'redis':
    case 'rediss':
      return new RedisSwarmStore(await openRedisKeyv(uri, namespace, connectTimeout), { ...options, closeKeyv: true });
    case 'sqlite': {
      const { default: KeyvSqlite } = (await importAdapter('@keyv/sqlite', scheme)) as typeof import('@keyv/sqlite');
      return sqlStore(() => {
        // busyTimeout: several processes may write the same file.
        const adapter = new KeyvSqlite({ uri, busyTimeout: connectTimeout, ...(options.table ? { table: options.table } : {}) });
        // WAL lets readers and the writers of other shards work side by side.
        void (adapter as unknown as SqlAdapter).query('PRAGMA journal_mode=WAL').catch(() => undefined);
        return adapter as unknown as SqlAdapter;
      }, namespace, options);
    }
    case 'postgres':
    case 'postgresql': {
      const { default: KeyvPostgres } = (await importAdapter('@keyv/postgres', scheme)) as typeof import('@keyv/postgres');
      const Client = await guardedPgClient();
      return sqlStore(
        () =>
          new KeyvPostgres({
            uri,
            connectionTimeoutMillis: connectTimeout,
            query_timeout: options.commandTimeout ?? 800,
            ...(options.table ? { table: options.table } : {}),
            Client,
          }) as unknown as SqlAdapter,
        namespace,
        options,
      );
    }
    case 'mysql':
    case 'mariadb': {
      const { default: KeyvMysql } = (await importAdapter('@keyv/mysql', scheme)) as typeof import('@keyv/mysql');
      return sqlStore(
        () =>
          new KeyvMysql({
            uri: uri.replace(/^mariadb:/i, 'mysql:'),
            connectTimeout,
            ...(options.table ? { table: options.table } : {}),
          } as ConstructorParameters<typeof KeyvMysql>[0]) as unknown as SqlAdapter,
        namespace,
        options,
      );
    }
    default:
      throw new TypeError(
        `options.store: unsupported URI scheme "${scheme ?? uri}" (use memory://, redis://, rediss://, sqlite://, postgresql://, mysql://, or pass a Keyv instance)`,
      );
  }
}

/**
 * The snapshot file of a `memory://` URI: `memory:///abs/path` names `/abs/path` (percent-escapes
 * decoded); `memory://` alone is a plain memory store (undefined). A host (`memory://host/x`) is an
 * error: the file must be an absolute path.
 */
export function memoryUriFile(uri: string): string | undefined {
  const rest = uri.slice('memory://'.length);
  if (rest === '' || rest === '/') return undefined;
  if (!rest.startsWith('/')) throw new TypeError(`options.store: ${JSON.stringify(uri)}: a memory:// URI names an absolute file path after its "//" (e.g. "memory:///var/lib/tracker/swarms.snap"), or nothing`);
  return decodeURIComponent(rest.replace(/[?#].*$/, ''));
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
export async function importAdapter(name: string, scheme: string): Promise<unknown> {
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

/** The parts of a @keyv SQL adapter used here. */
interface SqlAdapter {
  namespace?: string;
  get(key: string): Promise<unknown>;
  getMany?(keys: string[]): Promise<unknown[]>;
  set(key: string, value: unknown, ttl?: number): Promise<unknown>;
  setMany?(entries: Array<{ key: string; value: unknown; ttl?: number }>): Promise<unknown>;
  delete(key: string): Promise<boolean>;
  deleteMany?(keys: string[]): Promise<boolean>;
  clear(): Promise<void>;
  disconnect?(): Promise<void>;
  query(sql: string): Promise<unknown>;
  on?(event: string, listener: (...args: unknown[]) => void): unknown;
}

function sqlStore(create: () => SqlAdapter, namespace: string, options: OpenStoreOptions): KeyvSwarmStore {
  const adapter = new ReopeningAdapter(create, options.connectTimeout ?? 1000);
  const keyv = new Keyv(adapter as never, { namespace });
  keyv.on('error', () => undefined);
  return new KeyvSwarmStore(keyv, { ...options, closeKeyv: true });
}

/**
 * A Keyv adapter that opens the real SQL adapter lazily and opens it again if its start failed.
 *
 * The @keyv SQL adapters connect and create their table once, in their constructor; when the
 * database is down at that moment they stay broken for good (MySQL) or without their table
 * (PostgreSQL), and an early failure nobody awaits is an unhandled rejection. This wrapper checks a
 * new adapter with one read through its table; if that fails it drops the adapter, and the next call
 * (no sooner than `retryDelay` ms later; calls in between fail at once) builds a new one. So a tracker
 * started while its database is down recovers by itself.
 */
export class ReopeningAdapter extends EventEmitter {
  /** Set by Keyv. */
  namespace?: string;
  private inner: SqlAdapter | undefined;
  private opening: Promise<SqlAdapter> | undefined;
  private failedAt = 0;
  private lastError: unknown;

  constructor(
    private readonly create: () => SqlAdapter,
    private readonly retryDelay: number,
  ) {
    super();
    this.on('error', () => undefined);
  }

  private adapter(): Promise<SqlAdapter> {
    if (this.inner) return Promise.resolve(this.inner);
    if (!this.opening && Date.now() - this.failedAt < this.retryDelay) return Promise.reject(this.lastError);
    this.opening ??= (async () => {
      const adapter = this.create();
      adapter.on?.('error', () => undefined);
      adapter.namespace = this.namespace;
      try {
        await adapter.get(`${this.namespace ?? ''}:probe`);
      } catch (error) {
        this.failedAt = Date.now();
        this.lastError = error;
        void adapter.disconnect?.().catch(() => undefined);
        throw error;
      }
      this.inner = adapter;
      return adapter;
    })().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  async get(key: string): Promise<unknown> {
    return (await this.adapter()).get(key);
  }
  async getMany(keys: string[]): Promise<unknown[]> {
    const a = await this.adapter();
    return a.getMany ? a.getMany(keys) : Promise.all(keys.map((k) => a.get(k)));
  }
  async set(key: string, value: unknown, ttl?: number): Promise<unknown> {
    return (await this.adapter()).set(key, value, ttl);
  }
  async setMany(entries: Array<{ key: string; value: unknown; ttl?: number }>): Promise<unknown> {
    const a = await this.adapter();
    return a.setMany ? a.setMany(entries) : Promise.all(entries.map((e) => a.set(e.key, e.value, e.ttl)));
  }
  async delete(key: string): Promise<boolean> {
    return (await this.adapter()).delete(key);
  }
  async deleteMany(keys: string[]): Promise<boolean> {
    const a = await this.adapter();
    if (a.deleteMany) return a.deleteMany(keys);
    return (await Promise.all(keys.map((k) => a.delete(k)))).some(Boolean);
  }
  async clear(): Promise<void> {
    return (await this.adapter()).clear();
  }
  /** Run a statement on the underlying adapter (tests and maintenance). */
  async query(sql: string): Promise<unknown> {
    return (await this.adapter()).query(sql);
  }
  async disconnect(): Promise<void> {
    const inner = this.inner ?? (await this.opening?.catch(() => undefined));
    this.inner = undefined;
    await inner?.disconnect?.();
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
  type Listener = ((...args: unknown[]) => void) & { listener?: (...args: unknown[]) => void };
  const guard = (listener: Listener): Listener => {
    const guarded: Listener = function (this: unknown, ...args: unknown[]) {
      try {
        listener.apply(this, args);
      } catch {
        // an unhandled 'error' re-emitted by the pool: the client is discarded anyway
      }
    };
    // EventEmitter's removeListener matches `fn.listener`, so removing the original still works
    // (for `once` listeners too, whose wrapper carries the original in `.listener`).
    guarded.listener = listener.listener ?? listener;
    return guarded;
  };
  class GuardedClient extends pg.Client {
    override on(event: string | symbol, listener: Listener): this {
      return super.on(event, event === 'error' ? guard(listener) : listener);
    }
    override addListener(event: string | symbol, listener: Listener): this {
      return this.on(event, listener);
    }
    override prependListener(event: string | symbol, listener: Listener): this {
      return super.prependListener(event, event === 'error' ? guard(listener) : listener);
    }
  }
  return GuardedClient;
}
