/**
 * The tracker core shared by the Express middleware and the standalone server: options, one
 * announce and one scrape from raw query string + client address to bencoded answer bytes. It
 * never throws and never rejects: every problem becomes a `failure reason`.
 */
import { EventEmitter } from 'node:events';
import { parseAddress, formatAddress } from './protocol/address.js';
import { parseAnnounce, type AnnounceRequest } from './protocol/announce.js';
import { TrackerFailure } from './protocol/errors.js';
import {
  encodeAnnounce,
  encodeCompactAnnounce,
  encodeFailure,
  encodeScrape,
  type AnnounceAnswerOptions,
} from './protocol/response.js';
import { parseScrape } from './protocol/scrape.js';
import { MemorySwarmStore } from './swarm/memory.js';
import { withDeadline } from './swarm/deadline.js';
import { openStore, type StoreOption } from './swarm/open.js';
import type { SwarmAnnounce, SwarmAnnounceResult, SwarmCounts, SwarmStore } from './swarm/types.js';

/** Options of {@link trackerMiddleware} and {@link createTrackerServer}. Every field is optional. */
export interface TrackerOptions {
  /**
   * Where swarms live: a `Keyv` instance (any adapter; @keyv/redis gets the native atomic Redis
   * store), a connection URI (`redis://`, `rediss://`, `sqlite://`, `postgresql://`, `mysql://`),
   * or your own {@link SwarmStore}. Default: in-memory (one process).
   */
  store?: StoreOption;
  /** Seconds between regular announces, told to clients as `interval`. Default 1800. */
  interval?: number;
  /** Seconds clients must wait at least between announces (`min interval`). Default `interval / 2`. */
  minInterval?: number;
  /** Seconds a peer stays listed without announcing again. Default `2 * interval`. */
  peerTtl?: number;
  /** Peers returned when the client sends no `numwant`. Default 50. */
  numwant?: number;
  /** Upper bound on peers returned, whatever the client asks for. Default 200. */
  maxNumwant?: number;
  /**
   * Honour the client's `ip` parameter instead of the connection's address. Default false: a tracker
   * that trusts it can be used to aim traffic at third parties. Only enable it behind a gateway you
   * control. (For proxies, use Express's own `trust proxy` setting instead.)
   */
  allowIpParameter?: boolean;
  /** Answer a scrape without `info_hash` with every swarm (up to `maxScrapeHashes`). Default false. */
  fullScrape?: boolean;
  /** Most distinct info hashes in one scrape (and in a full scrape). Default 64. */
  maxScrapeHashes?: number;
  /** Longest accepted query string, in characters. Default 8192 (64 escaped info hashes fit; Node's own limit on the request line is 16 KiB). */
  maxQueryLength?: number;
  /** Most `name=value` pairs in one query. Default 128. */
  maxParameters?: number;
  /**
   * Milliseconds a storage call may take before the client gets a `failure reason` instead of
   * waiting. Default 1000.
   */
  storeTimeout?: number;
  /** Optional `warning message` added to every announce answer. */
  warning?: string;
}

/** An announce as reported by the `announce` event (hex at the edges). */
export interface AnnounceEventInfo {
  /** Info hash, lowercase hex. */
  infoHash: string;
  /** Peer id, lowercase hex. */
  peerId: string;
  /** Address the peer was recorded under. */
  ip: string;
  port: number;
  event: SwarmAnnounce['event'];
  seeder: boolean;
}

/** Options after defaults are applied. */
export type ResolvedTrackerOptions = Required<Omit<TrackerOptions, 'store' | 'warning'>> &
  Pick<TrackerOptions, 'warning'>;

function positiveInteger(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new TypeError(`options.${name} must be a non-negative integer (got ${String(value)})`);
  }
  return value;
}

/** Apply defaults and check types; throws TypeError on a bad option (a programming error). */
export function resolveOptions(options: TrackerOptions = {}): ResolvedTrackerOptions {
  const interval = positiveInteger('interval', options.interval, 1800);
  if (interval < 1) throw new TypeError('options.interval must be at least 1 second');
  const numwant = positiveInteger('numwant', options.numwant, 50);
  const maxNumwant = positiveInteger('maxNumwant', options.maxNumwant, 200);
  return {
    interval,
    minInterval: positiveInteger('minInterval', options.minInterval, Math.max(1, Math.floor(interval / 2))),
    peerTtl: Math.max(1, positiveInteger('peerTtl', options.peerTtl, 2 * interval)),
    numwant: Math.min(numwant, maxNumwant),
    maxNumwant,
    allowIpParameter: options.allowIpParameter === true,
    fullScrape: options.fullScrape === true,
    maxScrapeHashes: Math.max(1, positiveInteger('maxScrapeHashes', options.maxScrapeHashes, 64)),
    maxQueryLength: positiveInteger('maxQueryLength', options.maxQueryLength, 8192),
    maxParameters: positiveInteger('maxParameters', options.maxParameters, 128),
    storeTimeout: Math.max(1, positiveInteger('storeTimeout', options.storeTimeout, 1000)),
    warning: options.warning,
  };
}

const STORE_FAILED = 'tracker storage is unavailable, try again later';
const STORE_TIMEOUT = 'tracker storage did not answer in time, try again later';

/**
 * The protocol core. Events: `announce` ({@link AnnounceEventInfo}) after each successful announce,
 * `failure` (`{ reason, error? }`) for every failure answer, storage errors included.
 */
export class Tracker extends EventEmitter {
  /** Options with defaults applied. */
  readonly options: ResolvedTrackerOptions;
  private store: SwarmStore | undefined;
  private memory: MemorySwarmStore | undefined;
  private owned = false;
  private readonly ready: Promise<void>;
  private openError: unknown;
  private closed = false;
  /** Scratch space for the compact fast path (one announce at a time: the path is synchronous). */
  private readonly scratch4: Buffer;
  private readonly scratch6: Buffer;
  private readonly scratchCounts: SwarmCounts = { complete: 0, incomplete: 0, downloaded: 0 };
  /** Answer options indexed by (compact ? 2 : 0) + (noPeerId ? 1 : 0). */
  private readonly answerShapes: AnnounceAnswerOptions[];

  constructor(options: TrackerOptions = {}) {
    super();
    this.options = resolveOptions(options);
    const { interval, minInterval, warning } = this.options;
    this.answerShapes = [false, true].flatMap((compact) =>
      [false, true].map((noPeerId) => ({ interval, minInterval, compact, noPeerId, warning })),
    );
    this.scratch4 = Buffer.alloc(this.options.maxNumwant * 6);
    this.scratch6 = Buffer.alloc(this.options.maxNumwant * 18);
    this.ready = openStore(options.store).then(
      (opened) => {
        this.store = opened.store;
        this.owned = opened.owned;
        if (opened.store instanceof MemorySwarmStore) this.memory = opened.store;
      },
      (error: unknown) => {
        this.openError = error;
      },
    );
  }

  /** Resolves once the store is open (or failed to open; then every answer is a failure). */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /** The store in use, once open. */
  get swarmStore(): SwarmStore | undefined {
    return this.store;
  }

  /**
   * Answer an announce. `rawQuery` is the query string after `?`; `remoteAddress` the client's
   * address as Node reports it (`req.ip`, `socket.remoteAddress`).
   */
  async announce(rawQuery: string, remoteAddress: string | undefined): Promise<Buffer> {
    const prepared = this.prepareAnnounce(rawQuery, remoteAddress);
    if (Buffer.isBuffer(prepared)) return prepared;
    const [request, swarmRequest] = prepared;
    if (this.memory) return this.answerFromMemory(this.memory, request, swarmRequest);
    let result: SwarmAnnounceResult;
    try {
      const store = await this.openedStore();
      result = await this.withTimeout(store.announce(swarmRequest));
    } catch (error) {
      return this.fail(error);
    }
    this.announced(swarmRequest);
    return encodeAnnounce(result, result.peers, this.answerOptions(request));
  }

  /**
   * The answer to an announce when it needs no I/O (the in-memory store is open): computed at once,
   * without a promise. `undefined` means: use {@link announce}.
   */
  announceNow(rawQuery: string, remoteAddress: string | undefined): Buffer | undefined {
    if (!this.memory) return undefined;
    const prepared = this.prepareAnnounce(rawQuery, remoteAddress);
    if (Buffer.isBuffer(prepared)) return prepared;
    return this.answerFromMemory(this.memory, prepared[0], prepared[1]);
  }

  /** Validate an announce into the request and the store call, or a failure answer. */
  private prepareAnnounce(rawQuery: string, remoteAddress: string | undefined): [AnnounceRequest, SwarmAnnounce] | Buffer {
    try {
      if (rawQuery.length > this.options.maxQueryLength) {
        throw new TrackerFailure(`request too long (limit ${this.options.maxQueryLength} characters)`);
      }
      const request = parseAnnounce(rawQuery, this.options);
      const ip = (this.options.allowIpParameter ? request.ipParameter : undefined) ?? parseAddress(remoteAddress);
      if (!ip) throw new TrackerFailure('cannot determine your IP address');
      const numwant =
        request.event === 'stopped' ? 0 : Math.min(request.numwant ?? this.options.numwant, this.options.maxNumwant);
      return [
        request,
        {
          infoHash: request.infoHash,
          peerId: request.peerId,
          ip,
          port: request.port,
          seeder: request.left === 0,
          event: request.event,
          numwant,
          ttl: this.options.peerTtl,
        },
      ];
    } catch (error) {
      return this.fail(error);
    }
  }

  /** The answer shape for a request: one of four objects built once (compact × no_peer_id). */
  private answerOptions(request: AnnounceRequest): AnnounceAnswerOptions {
    return this.answerShapes[(request.compact ? 2 : 0) + (request.noPeerId ? 1 : 0)];
  }

  /** Answer from the in-memory store: synchronous, compact answers without peer objects. */
  private answerFromMemory(memory: MemorySwarmStore, request: AnnounceRequest, swarmRequest: SwarmAnnounce): Buffer {
    if (request.compact) return this.announceMemoryCompact(memory, request, swarmRequest);
    let result: SwarmAnnounceResult;
    try {
      result = memory.announceSync(swarmRequest);
    } catch (error) {
      return this.fail(error);
    }
    this.announced(swarmRequest);
    return encodeAnnounce(result, result.peers, this.answerOptions(request));
  }

  /**
   * The hot path: memory store and a compact answer. The sample is written straight into reused
   * scratch buffers and copied once into the answer; no peer objects, no promise from the store.
   */
  private announceMemoryCompact(memory: MemorySwarmStore, request: AnnounceRequest, swarmRequest: SwarmAnnounce): Buffer {
    let packed: number;
    try {
      packed = memory.announceCompact(swarmRequest, this.scratch4, this.scratch6, this.scratchCounts);
    } catch (error) {
      return this.fail(error);
    }
    this.announced(swarmRequest);
    const n4 = packed & 0xffff;
    const n6 = packed >>> 16;
    return encodeCompactAnnounce(
      this.scratchCounts,
      this.scratch4.subarray(0, n4 * 6),
      this.scratch6.subarray(0, n6 * 18),
      this.answerOptions(request),
    );
  }

  /** Emit `announce` (hex at the edges) when someone listens. */
  private announced(request: SwarmAnnounce): void {
    if (this.listenerCount('announce') === 0) return;
    const info: AnnounceEventInfo = {
      infoHash: Buffer.from(request.infoHash).toString('hex'),
      peerId: Buffer.from(request.peerId).toString('hex'),
      ip: formatAddress(request.ip),
      port: request.port,
      event: request.event,
      seeder: request.seeder,
    };
    this.emit('announce', info);
  }

  /** Answer a scrape. `rawQuery` is the query string after `?`. */
  async scrape(rawQuery: string): Promise<Buffer> {
    try {
      if (rawQuery.length > this.options.maxQueryLength) {
        throw new TrackerFailure(`request too long (limit ${this.options.maxQueryLength} characters)`);
      }
      const hashes = parseScrape(rawQuery, this.options);
      const store = await this.openedStore();
      if (hashes.length === 0) {
        if (!this.options.fullScrape) throw new TrackerFailure('scrape needs at least one info_hash (full scrape is off)');
        if (!store.scrapeAll) throw new TrackerFailure('full scrape is not supported by this tracker storage');
        return encodeScrape(await this.withTimeout(store.scrapeAll(this.options.maxScrapeHashes)));
      }
      const counts = await this.withTimeout(store.scrape(hashes));
      return encodeScrape(hashes.map((infoHash, i) => ({ infoHash, ...counts[i] })));
    } catch (error) {
      return this.fail(error);
    }
  }

  /** Close the store if the tracker opened it (a URI or the default memory store). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ready;
    if (this.owned && this.store?.close) await this.store.close();
  }

  private async openedStore(): Promise<SwarmStore> {
    if (!this.store) await this.ready;
    if (this.closed) throw new TrackerFailure('tracker is shutting down');
    if (!this.store) {
      const reason = this.openError instanceof Error ? this.openError.message : String(this.openError);
      throw new StorageError(`tracker storage could not be opened: ${reason}`, this.openError);
    }
    return this.store;
  }

  private withTimeout<T>(promise: Promise<T>): Promise<T> {
    return withDeadline(promise, this.options.storeTimeout, () => new StorageError(STORE_TIMEOUT)).catch((error: unknown) => {
      throw error instanceof StorageError ? error : new StorageError(STORE_FAILED, error);
    });
  }

  private fail(error: unknown): Buffer {
    let reason: string;
    if (error instanceof TrackerFailure) reason = error.message;
    else if (error instanceof StorageError) reason = error.publicReason;
    else reason = 'internal tracker error';
    if (this.listenerCount('failure') > 0) this.emit('failure', { reason, error });
    return encodeFailure(reason);
  }
}

/** A storage problem: the client sees a generic reason, listeners of `failure` see the cause. */
class StorageError extends Error {
  readonly publicReason: string;

  constructor(reason: string, cause?: unknown) {
    super(reason, { cause });
    this.publicReason = reason.startsWith('tracker storage could not be opened') ? STORE_FAILED : reason;
  }
}
