/**
 * Storage access: the store opened from the `store` option, the WebTorrent swarms beside it, and
 * every call to them bounded by `storeTimeout`. A storage problem becomes a {@link StorageError}
 * whose public reason is all a client is told.
 */
import { MemorySwarmStore } from '../swarm/memory/memory-store.js';
import { withDeadline } from '../util/deadline.js';
import { openStore, type StoreOption } from '../swarm/open.js';
import { describeStore } from '../swarm/store-option.js';
import type { SwarmTotals } from '../types.js';
import type { SwarmStore } from '../swarm/types.js';
import { TrackerFailure } from '../protocol/errors.js';
import type { TrackerCounters } from '../stats/counters.js';

/** What a client is told when the store failed or could not be opened. */
export const STORE_FAILED = 'tracker storage is unavailable, try again later';
/** What a client is told when the store did not answer within `storeTimeout`. */
export const STORE_TIMEOUT = 'tracker storage did not answer in time, try again later';

/** An info hash no torrent has (20 zero bytes), for the readiness probe. */
const PROBE_HASH = Buffer.alloc(20);

/** The innermost useful message of an error (error causes included; no stack). */
export function causeText(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    const message = e instanceof Error ? e.message || e.name : String(e);
    if (message && !parts.some((p) => p.includes(message))) parts.push(message);
    // AggregateError (e.g. a connection refused on both ::1 and 127.0.0.1)
    const errors = (e as { errors?: unknown[] }).errors;
    if (!message && Array.isArray(errors) && errors[0]) e = errors[0];
    else e = (e as { cause?: unknown }).cause;
  }
  return parts.join(': ') || 'unknown error';
}

/** A storage problem: the client sees {@link publicReason}, listeners of `failure` see the cause. */
export class StorageError extends Error {
  override readonly name = 'StorageError';

  constructor(
    /** What the client is told. */
    readonly publicReason: string,
    /** True when the store did not answer in time (false: it failed). */
    readonly timedOut: boolean,
    cause?: unknown,
    /** The message for logs (defaults to the public reason). */
    message = publicReason,
  ) {
    super(message, { cause });
  }
}

/** Settings of {@link StorageAccess}. */
export interface StorageSettings {
  /** Milliseconds a call may take. */
  timeout: number;
  /** The store must keep private-mode peer state (passkeys or enforced intervals). */
  stateful: boolean;
  counters: TrackerCounters;
  /** Called once the store is open. */
  onOpen?(store: SwarmStore): void;
}

/** The tracker's stores and bounded calls to them. */
export class StorageAccess {
  /** The store in use, once open. */
  store: SwarmStore | undefined;
  /** The same store when it is the in-memory one (its synchronous fast path). */
  memory: MemorySwarmStore | undefined;
  /** Resolves once the store is open or failed to open. */
  readonly ready: Promise<void>;
  private owned = false;
  private openError: unknown;
  private closed = false;
  private rtc: SwarmStore | undefined;
  private rtcMemory: MemorySwarmStore | undefined;
  private rtcOwned = false;

  constructor(
    private readonly option: StoreOption | undefined,
    private readonly settings: StorageSettings,
  ) {
    this.ready = openStore(option).then(
      (opened) => {
        this.owned = opened.owned;
        if (settings.stateful && !opened.store.privateMode) {
          this.openError = new Error('this store does not support private mode (passkeys, enforced intervals)');
          if (opened.owned) void opened.store.close?.().catch(() => undefined);
          return;
        }
        this.store = opened.store;
        if (opened.store instanceof MemorySwarmStore) this.memory = opened.store;
        settings.onOpen?.(opened.store);
      },
      (error: unknown) => {
        this.openError = error;
      },
    );
  }

  /**
   * The swarms of WebTorrent (WebSocket) peers, once the store is open: on the same backend (the
   * store's `sibling('webrtc')`) when its bus can carry offers between instances (Redis), otherwise
   * in this process's memory, since an offer could not reach a peer of another instance.
   */
  webrtc(): SwarmStore | undefined {
    if (!this.store || this.closed) return undefined;
    if (!this.rtc) {
      this.rtc = this.store.bus?.publishTo ? this.store.sibling?.('webrtc') : undefined;
      if (!this.rtc) {
        this.rtc = new MemorySwarmStore();
        this.rtcOwned = true;
      }
      if (this.rtc instanceof MemorySwarmStore) this.rtcMemory = this.rtc;
    }
    return this.rtc;
  }

  /** The in-memory store behind the TCP/UDP (or WebTorrent) swarms, when it is one. */
  memoryFor(webrtc: boolean): MemorySwarmStore | undefined {
    if (!webrtc) return this.memory;
    this.webrtc();
    return this.rtcMemory;
  }

  /** The open store (or the WebTorrent swarms); rejects when it could not be opened or is closing. */
  async opened(webrtc = false): Promise<SwarmStore> {
    if (!this.store && !this.closed) await this.ready;
    if (this.closed) throw new TrackerFailure('tracker is shutting down');
    if (!this.store) {
      const cause = this.openError instanceof Error ? this.openError.message : String(this.openError);
      throw new StorageError(STORE_FAILED, false, this.openError, `tracker storage could not be opened: ${cause}`);
    }
    return webrtc ? this.webrtc()! : this.store;
  }

  /** `promise` bounded by the timeout, timed, and failures turned into {@link StorageError}s. */
  bounded<T>(promise: Promise<T>): Promise<T> {
    const started = performance.now();
    const { counters, timeout } = this.settings;
    return withDeadline(promise, timeout, () => new StorageError(STORE_TIMEOUT, true)).then(
      (value) => {
        counters.storageCall((performance.now() - started) / 1000, 'ok');
        return value;
      },
      (error: unknown) => {
        const timedOut = error instanceof StorageError && error.timedOut;
        counters.storageCall((performance.now() - started) / 1000, timedOut ? 'timeout' : 'error');
        throw error instanceof StorageError ? error : new StorageError(STORE_FAILED, false, error);
      },
    );
  }

  /**
   * Resolves once the store is open and has answered one real call (a scrape of an info hash nobody
   * uses) within the timeout; rejects with an Error saying which store and why otherwise. The tracker
   * keeps trying on its own either way: this is for a site that wants to know at startup.
   */
  async check(): Promise<void> {
    const where = describeStore(this.option);
    let store: SwarmStore;
    try {
      store = await this.opened();
      await this.bounded(store.scrape([PROBE_HASH]));
    } catch (error) {
      const inner = error instanceof StorageError ? (error.timedOut ? undefined : (error.cause ?? error)) : error;
      const why = inner === undefined ? `it did not answer within ${this.settings.timeout} ms (storeTimeout)` : causeText(inner);
      throw new Error(`tracker storage (${where}) could not be opened: ${why}`, { cause: error });
    }
  }

  /** Live totals of the TCP/UDP and the WebTorrent swarms (undefined where a store cannot count or fails). */
  async totals(): Promise<{ swarms: SwarmTotals | undefined; webrtcSwarms: SwarmTotals | undefined }> {
    const of = async (store: SwarmStore | undefined) => {
      if (!store?.totals) return undefined;
      try {
        return await this.bounded(store.totals());
      } catch {
        return undefined;
      }
    };
    await this.ready;
    const [swarms, webrtcSwarms] = await Promise.all([of(this.store), of(this.rtc)]);
    return { swarms, webrtcSwarms };
  }

  /** Stop serving; close the stores this tracker opened. */
  async close(): Promise<void> {
    this.closed = true;
    await this.ready;
    if (this.rtcOwned) await this.rtc?.close?.();
    if (this.owned && this.store?.close) await this.store.close();
  }
}
