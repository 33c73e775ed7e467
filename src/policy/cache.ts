/**
 * A bounded cache of the site's answers (passkey → user, info hash → rules) in front of its
 * functions: answers are kept `ttl` ms, refusals a shorter `refusalTtl`; concurrent look-ups of one
 * key share one call; a call that throws, rejects or does not settle within `timeout` ms fails every
 * waiter (and is not cached, so the next request asks again).
 */
import { withDeadline } from '../util/deadline.js';

/** A site function failed or did not answer in time. `timedOut` tells which. */
export class LookupError extends Error {
  override name = 'LookupError';
  /** What the client is told: which check failed, without any detail of the site's error. */
  readonly publicReason: string;
  constructor(
    what: string,
    readonly timedOut: boolean,
    timeout: number,
    cause?: unknown,
  ) {
    super(timedOut ? `${what} did not answer within ${timeout} ms` : `${what} failed`, { cause });
    this.publicReason = `${what} ${timedOut ? 'did not answer in time' : 'failed'}, try again later`;
  }
}

interface Entry<V> {
  value: V;
  expires: number;
}

/** Options of {@link AnswerCache}. */
export interface AnswerCacheOptions {
  /** Ms an accepting answer is reused. */
  ttl: number;
  /** Ms a refusal is reused. */
  refusalTtl: number;
  /** Most entries kept; the oldest goes first. */
  maxEntries: number;
  /** Ms a look-up may take. */
  timeout: number;
  /** What the site's function is, for error messages ("passkey check"). */
  what: string;
  /** Clock, ms. */
  now?: () => number;
}

/** See the module comment. `V` is the answer; `refused(v)` says whether it is a refusal. */
export class AnswerCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly inflight = new Map<string, Promise<V>>();
  private readonly now: () => number;

  constructor(
    private readonly lookup: (key: string, argument?: string) => V | Promise<V>,
    private readonly refused: (value: V) => boolean,
    private readonly options: AnswerCacheOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** The cached answer, or undefined when it must be looked up. Synchronous. */
  peek(key: string): { value: V } | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expires <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /**
   * The answer: cached, or from one (shared) call of the site's function. `argument` is handed to the
   * look-up instead of nothing (a cache keyed by a digest passes the secret it digests).
   */
  get(key: string, argument?: string): Promise<V> {
    const hit = this.peek(key);
    if (hit) return Promise.resolve(hit.value);
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const call: Promise<V> = withDeadline(
      this.call(key, argument),
      this.options.timeout,
      () => new LookupError(this.options.what, true, this.options.timeout),
    ).then(
      (value) => {
        // A forget() during the call makes its answer stale: hand it to the waiters, keep nothing.
        if (this.inflight.get(key) === call) {
          this.inflight.delete(key);
          this.store(key, value);
        }
        return value;
      },
      (error: unknown) => {
        if (this.inflight.get(key) === call) this.inflight.delete(key);
        throw error instanceof LookupError ? error : new LookupError(this.options.what, false, this.options.timeout, error);
      },
    );
    this.inflight.set(key, call);
    return call;
  }

  /**
   * Run a call of the site's own (e.g. a batch look-up) under the same rules as a look-up: it fails
   * with a LookupError when it throws, rejects or does not settle within the timeout.
   */
  bounded<T>(call: () => Promise<T>): Promise<T> {
    const { what, timeout } = this.options;
    return withDeadline(
      (async () => call())(),
      timeout,
      () => new LookupError(what, true, timeout),
    ).catch((error: unknown) => {
      throw error instanceof LookupError ? error : new LookupError(what, false, timeout, error);
    });
  }

  /** Cache an answer obtained outside {@link get} (a batch look-up). */
  set(key: string, value: V): void {
    this.inflight.delete(key);
    this.store(key, value);
  }

  /** Drop the cached answer of `key` (the next request asks the site again). */
  forget(key: string): void {
    this.entries.delete(key);
    this.inflight.delete(key);
  }

  /** Drop every cached answer. */
  clear(): void {
    this.entries.clear();
    this.inflight.clear();
  }

  private async call(key: string, argument: string | undefined): Promise<V> {
    return this.lookup(key, argument);
  }

  private store(key: string, value: V): void {
    const ttl = this.refused(value) ? this.options.refusalTtl : this.options.ttl;
    if (ttl <= 0) return;
    this.entries.delete(key);
    if (this.entries.size >= this.options.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { value, expires: this.now() + ttl });
  }
}
