/**
 * The tracker core shared by every transport (Express, node:http, UDP): one validated announce or
 * scrape → policies → store → an answer written by the transport's writer. It never throws and
 * never rejects: every problem becomes a `failure reason`. Options live in options.ts.
 */
import { EventEmitter } from 'node:events';
export { resolveOptions, type ResolvedTrackerOptions, type TrackerOptions } from './options.js';
import { checkFunctions, resolveOptions, type ResolvedTrackerOptions, type TrackerOptions } from './options.js';
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
import { LookupError } from './policy/cache.js';
import { PolicyChain, type Grant } from './policy/chain.js';
import { intervalReason } from './rules/interval.js';
import { OWNER_REASON } from './rules/owner.js';
import { passkeyDigest, type UserId } from './policy/passkey.js';
import { normaliseRules } from './policy/torrents.js';
import { clipCredit, creditAnnounce, TrafficLedger } from './policy/traffic.js';
import { MemorySwarmStore, type CompactOutcome } from './swarm/memory/memory-store.js';
import { withDeadline } from './util/deadline.js';
import { TrackerCounters, type TrackerStats } from './stats/counters.js';
import { Validations } from './validations.js';
import { openStore } from './swarm/open.js';
import type { Peer, PeerRefusal, PeerState, SwarmCounts, TorrentRules } from './types.js';
import type { SwarmAnnounce, SwarmAnnounceResult, SwarmStore } from './swarm/types.js';

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
  /** Private mode: the user the passkey belongs to (never the passkey itself). */
  user?: UserId;
}

/** The failure for an announce that would move or remove someone else's peer. */
export const ADDRESS_REASON = 'this peer_id is listed from another address: announce from it, or with the same key';

const STORE_FAILED = 'tracker storage is unavailable, try again later';
/** The failure for an announce past `maxSwarms` / `maxPeers`. */
const FULL_REASON = 'tracker is full, try again later';
const STORE_TIMEOUT = 'tracker storage did not answer in time, try again later';

/**
 * Something a transport passes for a torrent: hex or raw info hash, or a `createTorrent()` /
 * `parseTorrent()` result (a hybrid torrent's result names two swarms: `infoHash` and the first 20
 * bytes of `infoHashV2`).
 */
export type TorrentInput = string | Uint8Array | { infoHash: string; infoHashV2?: string };

function infoHashBytes(torrent: TorrentInput): Buffer {
  const hex = typeof torrent === 'string' ? torrent : torrent instanceof Uint8Array ? undefined : torrent?.infoHash;
  if (hex !== undefined) {
    if (typeof hex !== 'string' || !/^[0-9a-fA-F]{40}$/.test(hex)) throw new TypeError('info hash: expected 40 hex digits');
    return Buffer.from(hex, 'hex');
  }
  if (torrent instanceof Uint8Array && torrent.length === 20) return Buffer.from(torrent);
  throw new TypeError('info hash: expected 40 hex digits, 20 bytes, or a torrent with an infoHash');
}

/** Every swarm of a torrent: its info hash and, for a v2 or hybrid torrent, its v2 hash cut to 20 bytes. */
function swarmHashes(torrent: TorrentInput): Buffer[] {
  const hashes = [infoHashBytes(torrent)];
  const v2 = typeof torrent === 'object' && !(torrent instanceof Uint8Array) ? torrent.infoHashV2 : undefined;
  if (v2 !== undefined) {
    if (typeof v2 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(v2)) throw new TypeError('infoHashV2: expected 64 hex digits');
    const swarm = Buffer.from(v2.slice(0, 40), 'hex');
    if (!swarm.equals(hashes[0])) hashes.push(swarm);
  }
  return hashes;
}

/** A prepared announce: the validated request and the store call. */
type Prepared = [AnnounceRequest, SwarmAnnounce];

/**
 * How a transport turns the core's result into its own answer (bencoded bytes, a UDP datagram, a
 * JSON frame). The core calls exactly one method per announce.
 */
export interface AnswerWriter<T> {
  /**
   * A success with peers in compact form: whole 6-byte IPv4 and 18-byte IPv6 entries (views into
   * scratch memory: copy them before returning). Optional: without it, {@link peers} is used.
   */
  compact?(counts: SwarmCounts, peers4: Buffer, peers6: Buffer, request: AnnounceRequest): T;
  /** Use {@link compact} even when the request did not ask for compact answers (UDP). */
  alwaysCompact?: boolean;
  /** A success with peers as objects. */
  peers(counts: SwarmCounts, peers: Peer[], request: AnnounceRequest): T;
  /** A failure, with the reason to tell the client. */
  failure(reason: string): T;
}

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
  private readonly scratchCounts: CompactOutcome = { complete: 0, incomplete: 0, downloaded: 0 };
  /** Answer options indexed by (compact ? 2 : 0) + (noPeerId ? 1 : 0). */
  private readonly answerShapes: AnnounceAnswerOptions[];
  /** The policy chain, or undefined in public mode without rules (then nothing of it runs). */
  private readonly policy: PolicyChain | undefined;
  /** Private mode (a `passkey` function): URLs carry passkeys, peers have owners. */
  readonly isPrivate: boolean;
  /** Peer state is kept in the store (private mode or interval enforcement). */
  private readonly stateful: boolean;
  private readonly ledger: TrafficLedger | undefined;
  private unsubscribe: (() => Promise<void>) | undefined;
  /** `maxSwarms` / `maxPeers`, handed to the store with every announce (undefined: no caps). */
  private readonly limits: SwarmAnnounce['limits'];
  /** Misconfiguration warnings (see the `validate` option). */
  readonly validations: Validations;
  /** What this process has done so far (see {@link stats}). */
  private readonly counters = new TrackerCounters();
  /** The swarms of WebTorrent peers (see {@link webrtcSwarms}), created on first use. */
  private rtc: SwarmStore | undefined;
  private rtcMemory: MemorySwarmStore | undefined;
  private rtcOwned = false;
  private subscribeTimer: NodeJS.Timeout | undefined;
  /** Told the digest of every passkey forgotten here or on another instance (see {@link onPasskeyForgotten}). */
  private readonly forgetListeners = new Set<(digest: string) => void>();

  constructor(options: TrackerOptions = {}) {
    super();
    checkFunctions(options);
    this.options = resolveOptions(options);
    const { interval, minInterval, warning } = this.options;
    this.answerShapes = [false, true].flatMap((compact) =>
      [false, true].map((noPeerId) => ({ interval, minInterval, compact, noPeerId, warning })),
    );
    this.scratch4 = Buffer.alloc(this.options.maxNumwant * 6);
    this.scratch6 = Buffer.alloc(this.options.maxNumwant * 18);
    this.validations = new Validations(options.validate);
    const { maxSwarms, maxPeers } = this.options;
    this.limits = maxSwarms > 0 || maxPeers > 0 ? Object.freeze({ swarms: maxSwarms, peers: maxPeers }) : undefined;
    this.validations.created(options.store === undefined || options.store instanceof MemorySwarmStore);
    this.isPrivate = options.passkey !== undefined;
    this.stateful = this.isPrivate || this.options.enforceInterval;
    const torrents = options.torrents === 'registry' ? (hex: string) => this.registryRules(hex) : options.torrents;
    const chain = new PolicyChain(
      { passkey: options.passkey, torrents, clients: options.clients },
      {
        ttl: this.options.policyCacheTtl * 1000,
        refusalTtl: this.options.policyRefusalTtl * 1000,
        maxEntries: this.options.policyCacheSize,
        timeout: this.options.storeTimeout,
      },
    );
    this.policy = chain.active ? chain : undefined;
    if (options.onTraffic) {
      this.ledger = new TrafficLedger(
        options.onTraffic,
        this.options.trafficInterval * 1000,
        (error) => {
          this.emitFailure('onTraffic failed; its records are kept for the next batch', error);
        },
        this.options.trafficTimeout,
      );
    }
    this.ready = openStore(options.store).then(
      (opened) => {
        this.store = opened.store;
        this.owned = opened.owned;
        if (this.stateful && !opened.store.privateMode) {
          this.openError = new Error('this store does not support private mode (passkeys, enforced intervals)');
          this.store = undefined;
          return;
        }
        if (opened.store instanceof MemorySwarmStore) this.memory = opened.store;
        if (this.policy && opened.store.bus) this.subscribe(opened.store.bus);
      },
      (error: unknown) => {
        this.openError = error;
      },
    );
  }

  /**
   * A snapshot of the tracker at work: live swarm totals from the store (global with Redis) and this
   * process's counters (announces, scrapes, failures, storage latency). Kept as the tracker works:
   * nothing is scanned. Totals are undefined when the store cannot count (a custom store without
   * `totals`) or does not answer within `storeTimeout`.
   */
  async stats(): Promise<TrackerStats> {
    const totals = async (store: SwarmStore | undefined) => {
      if (!store?.totals) return undefined;
      try {
        return await this.withTimeout(store.totals());
      } catch {
        return undefined;
      }
    };
    await this.ready;
    const [swarms, webrtcSwarms] = await Promise.all([totals(this.store), totals(this.rtc)]);
    return { swarms, webrtcSwarms, ...this.counters.snapshot() };
  }

  /**
   * Live counts of torrents, for the site's own pages (a scrape without HTTP and without policies):
   * one entry per torrent in the order given, zeros for a swarm nobody announced to. `torrents` are
   * info hashes (hex or 20 bytes) or `createTorrent()` / `parseTorrent()` results. With `webrtc`,
   * the counts of the WebTorrent (browser) swarms instead. Rejects when the store fails or does not
   * answer within `storeTimeout`.
   */
  async counts(torrents: TorrentInput[], options: { webrtc?: boolean } = {}): Promise<SwarmCounts[]> {
    const hashes = torrents.map(infoHashBytes);
    const store = await this.openedStore(options.webrtc === true);
    return hashes.length === 0 ? [] : this.withTimeout(store.scrape(hashes));
  }

  /** The raw counters (for {@link trackerMetrics}). */
  get statsCounters(): TrackerCounters {
    return this.counters;
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
   * The swarms of WebTorrent (WebSocket) peers, once the store is open: browsers reach only each
   * other, so they live apart from TCP and UDP peers, on the same backend (the store's
   * {@link SwarmStore.sibling} `webrtc`) when its bus can carry offers between instances (Redis);
   * otherwise in this process's memory, since an offer could not reach a peer of another instance.
   */
  webrtcSwarms(): SwarmStore | undefined {
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

  /**
   * Answer an announce. `rawQuery` is the query string after `?`; `remoteAddress` the client's
   * address as Node reports it (`req.ip`, `socket.remoteAddress`); `passkey` the path segment before
   * `announce` (private trackers).
   */
  async announce(rawQuery: string, remoteAddress: string | undefined, passkey?: string): Promise<Buffer> {
    return this.answerAnnounce(rawQuery, remoteAddress, passkey);
  }

  /**
   * The answer to an announce when it needs no I/O (the in-memory store is open and every policy
   * answer is cached): computed at once, without a promise. `undefined` means: use {@link announce}.
   */
  announceNow(rawQuery: string, remoteAddress: string | undefined, passkey?: string): Buffer | undefined {
    if (!this.memory) return undefined;
    return this.answerAnnounce(rawQuery, remoteAddress, passkey, true) as Buffer | undefined;
  }

  /**
   * The HTTP transports' entry point: the bencoded answer at once when no I/O is needed (memory
   * store, cached policy answers), else a promise of it. Never throws, never rejects.
   */
  answerAnnounce(rawQuery: string, remoteAddress: string | undefined, passkey?: string): Buffer | Promise<Buffer>;
  /** With `syncOnly`: undefined instead of starting anything asynchronous. */
  answerAnnounce(rawQuery: string, remoteAddress: string | undefined, passkey: string | undefined, syncOnly: true): Buffer | undefined;
  answerAnnounce(
    rawQuery: string,
    remoteAddress: string | undefined,
    passkey?: string,
    syncOnly = false,
  ): Buffer | Promise<Buffer> | undefined {
    let request: AnnounceRequest;
    try {
      if (rawQuery.length > this.options.maxQueryLength) {
        throw new TrackerFailure(`request too long (limit ${this.options.maxQueryLength} characters)`);
      }
      request = parseAnnounce(rawQuery, this.options);
    } catch (error) {
      return encodeFailure(this.fail(error));
    }
    return this.announceRequest(request, remoteAddress, passkey, this.httpWriter, syncOnly);
  }

  /**
   * Any transport's entry point: one validated announce, answered through `writer` (which turns the
   * core's result into the transport's bytes). `remoteAddress` is the client's address as text, or
   * already as 4 or 16 bytes. The answer at once when no I/O is needed, else a
   * promise; with `syncOnly`, undefined instead of a promise (nothing was started). `webrtc` puts the
   * peer in the WebTorrent swarms ({@link webrtcSwarms}). Never throws, never rejects.
   */
  announceRequest<T>(
    request: AnnounceRequest,
    remoteAddress: string | Buffer | undefined,
    passkey: string | undefined,
    writer: AnswerWriter<T>,
    syncOnly = false,
    webrtc = false,
  ): T | Promise<T> | undefined {
    const prepared = this.prepareAnnounce(request, remoteAddress);
    if (typeof prepared === 'string') return writer.failure(prepared);
    let grant: Grant | undefined;
    if (this.policy) {
      try {
        grant = this.policy.grantNow(passkey, () => request.infoHash.toString('hex'), request.peerId);
      } catch (error) {
        return writer.failure(this.fail(error));
      }
      if (!grant) return syncOnly ? undefined : this.announceAfterPolicy(prepared, passkey, writer, webrtc);
      this.applyGrant(prepared, grant);
    }
    const memory = webrtc ? (this.webrtcSwarms(), this.rtcMemory) : this.memory;
    if (memory) return this.answerFromMemory(memory, prepared, grant, writer);
    return syncOnly ? undefined : this.announceToStore(prepared, grant, writer, webrtc);
  }

  private async announceAfterPolicy<T>(prepared: Prepared, passkey: string | undefined, writer: AnswerWriter<T>, webrtc: boolean): Promise<T> {
    let grant: Grant;
    try {
      grant = await this.policy!.grant(passkey, prepared[0].infoHash.toString('hex'), prepared[0].peerId);
    } catch (error) {
      return writer.failure(this.fail(error));
    }
    this.applyGrant(prepared, grant);
    const memory = webrtc ? (this.webrtcSwarms(), this.rtcMemory) : this.memory;
    if (memory) return this.answerFromMemory(memory, prepared, grant, writer);
    return this.announceToStore(prepared, grant, writer, webrtc);
  }

  private async announceToStore<T>(prepared: Prepared, grant: Grant | undefined, writer: AnswerWriter<T>, webrtc: boolean): Promise<T> {
    const [request, swarmRequest] = prepared;
    let result: SwarmAnnounceResult;
    try {
      const store = await this.openedStore(webrtc);
      result = await this.withTimeout(store.announce(swarmRequest));
    } catch (error) {
      return writer.failure(this.fail(error));
    }
    if (result.refusal) return writer.failure(this.refuse(result.refusal));
    this.accepted(prepared, grant, result.previous, result.counted);
    return writer.peers(result, result.peers, request);
  }

  /** Private mode / interval enforcement: what the store must judge and remember about the peer. */
  private applyGrant(prepared: Prepared, grant: Grant): void {
    if (!this.stateful) return;
    const [request, swarmRequest] = prepared;
    swarmRequest.private = {
      owner: grant.owner,
      minInterval: this.options.enforceInterval ? this.options.minInterval * 1000 : 0,
      uploaded: request.uploaded,
      downloaded: request.downloaded,
      counters: this.ledger !== undefined,
    };
  }

  /** The store call for a validated announce, or a failure reason. */
  private prepareAnnounce(request: AnnounceRequest, remoteAddress: string | Buffer | undefined): Prepared | string {
    const ip =
      (this.options.allowIpParameter ? request.ipParameter : undefined) ??
      (typeof remoteAddress === 'string' || remoteAddress === undefined ? parseAddress(remoteAddress) : remoteAddress);
    if (!ip) return this.fail(new TrackerFailure('cannot determine your IP address'));
    const numwant = request.event === 'stopped' ? 0 : Math.min(request.numwant ?? this.options.numwant, this.options.maxNumwant);
    const swarmRequest: SwarmAnnounce = {
      infoHash: request.infoHash,
      peerId: request.peerId,
      ip,
      port: request.port,
      seeder: request.left === 0,
      event: request.event,
      numwant,
      ttl: this.options.peerTtl,
      key: request.key,
      limits: this.limits,
    };
    if (this.stateful && !this.policy) {
      // Interval enforcement in public mode: peers have no owner.
      swarmRequest.private = {
        owner: '',
        minInterval: this.options.minInterval * 1000,
        uploaded: request.uploaded,
        downloaded: request.downloaded,
        counters: false,
      };
    }
    return [request, swarmRequest];
  }

  /** Answer from the in-memory store: synchronous; compact answers without peer objects. */
  private answerFromMemory<T>(memory: MemorySwarmStore, prepared: Prepared, grant: Grant | undefined, writer: AnswerWriter<T>): T {
    const [request, swarmRequest] = prepared;
    if (writer.compact && (request.compact || writer.alwaysCompact)) return this.announceMemoryCompact(memory, prepared, grant, writer);
    let result: SwarmAnnounceResult;
    try {
      result = memory.announceSync(swarmRequest);
    } catch (error) {
      return writer.failure(this.fail(error));
    }
    if (result.refusal) return writer.failure(this.refuse(result.refusal));
    this.accepted(prepared, grant, result.previous, result.counted);
    return writer.peers(result, result.peers, request);
  }

  /**
   * The hot path: memory store and a compact answer. The sample is written straight into reused
   * scratch buffers and handed to the writer (which copies it); no peer objects, no promise.
   */
  private announceMemoryCompact<T>(memory: MemorySwarmStore, prepared: Prepared, grant: Grant | undefined, writer: AnswerWriter<T>): T {
    const [request, swarmRequest] = prepared;
    const counts = this.scratchCounts;
    let packed: number;
    try {
      packed = memory.announceCompact(swarmRequest, this.scratch4, this.scratch6, counts);
    } catch (error) {
      return writer.failure(this.fail(error));
    }
    if (packed < 0) return writer.failure(this.refuse(counts.refusal!));
    if (swarmRequest.private) this.accepted(prepared, grant, counts.previous, counts.counted);
    else this.announced(prepared, undefined);
    const n4 = packed & 0xffff;
    const n6 = packed >>> 16;
    return writer.compact!(counts, this.scratch4.subarray(0, n4 * 6), this.scratch6.subarray(0, n6 * 18), request);
  }

  /** Writes HTTP (bencoded) answers. */
  private readonly httpWriter: AnswerWriter<Buffer> = {
    compact: (counts, peers4, peers6, request) => encodeCompactAnnounce(counts, peers4, peers6, this.answerOptions(request)),
    peers: (counts, peers, request) => encodeAnnounce(counts, peers, this.answerOptions(request)),
    failure: (reason) => encodeFailure(reason),
  };

  /** The answer shape for a request: one of four objects built once (compact × no_peer_id). */
  private answerOptions(request: AnnounceRequest): AnnounceAnswerOptions {
    return this.answerShapes[(request.compact ? 2 : 0) + (request.noPeerId ? 1 : 0)];
  }

  /** After an accepted announce: credit traffic, emit `announce`. */
  private accepted(prepared: Prepared, grant: Grant | undefined, previous: PeerState | undefined, counted?: boolean): void {
    const [request, swarmRequest] = prepared;
    if (this.ledger && grant?.user !== undefined) {
      const at = Date.now();
      const credit = creditAnnounce(
        previous,
        { event: request.event, uploaded: request.uploaded, downloaded: request.downloaded, at },
        grant.rules,
        this.options.peerTtl * 1000,
        counted,
      );
      const rate = this.options.maxCreditRate;
      if (rate > 0 && previous) {
        const clipped = clipCredit(credit, at - previous.at, rate, grant.rules);
        if (clipped > 0) this.counters.clipped(clipped);
      }
      this.ledger.add(grant.user, request.infoHash.toString('hex'), credit);
    }
    this.announced(prepared, grant?.user);
  }

  /** The failure reason for a store's refusal of a private announce. */
  private refuse(refusal: PeerRefusal): string {
    if (refusal.kind === 'full') return this.fail(new TrackerFailure(FULL_REASON, 'full'));
    const reason =
      refusal.kind === 'owner'
        ? OWNER_REASON
        : refusal.kind === 'address'
          ? ADDRESS_REASON
          : intervalReason(refusal.retryIn, this.options.minInterval * 1000);
    return this.fail(new TrackerFailure(reason, 'refused'));
  }

  /** Emit `announce` (hex at the edges) when someone listens. */
  private announced(prepared: Prepared, user: UserId | undefined): void {
    const request = prepared[1];
    const remote = prepared[0].remote ?? request.ip;
    this.counters.announce(prepared[0].transport ?? 'http', request.event, remote.length === 16);
    if (this.listenerCount('announce') === 0) return;
    const info: AnnounceEventInfo = {
      infoHash: Buffer.from(request.infoHash).toString('hex'),
      peerId: Buffer.from(request.peerId).toString('hex'),
      ip: formatAddress(remote),
      port: request.port,
      event: request.event,
      seeder: request.seeder,
    };
    if (user !== undefined) info.user = user;
    try {
      this.emit('announce', info);
    } catch (error) {
      // The site's listener threw: the announce stands (it is stored); the error goes to `failure`.
      this.counters.failure('internal');
      this.emitFailure('an announce listener threw', error);
    }
  }

  /** Answer a scrape. `rawQuery` is the query string after `?`; `passkey` as for {@link announce}. */
  async scrape(rawQuery: string, passkey?: string): Promise<Buffer> {
    try {
      if (rawQuery.length > this.options.maxQueryLength) {
        throw new TrackerFailure(`request too long (limit ${this.options.maxQueryLength} characters)`);
      }
      const hashes = parseScrape(rawQuery, this.options);
      if (hashes.length === 0) return encodeScrape(await this.fullScrape(passkey));
      const counts = await this.scrapeHashes(hashes, passkey);
      const files: Array<{ infoHash: Uint8Array } & SwarmCounts> = [];
      hashes.forEach((infoHash, i) => {
        const c = counts[i];
        if (c) files.push({ infoHash, ...c });
      });
      return encodeScrape(files);
    } catch (error) {
      return encodeFailure(this.fail(error));
    }
  }

  /**
   * Any transport's scrape: the counters of each info hash in the order given, `undefined` for a
   * torrent that is not registered (when `torrents` is set). Rejects with the failure to answer
   * (pass it to {@link failureReason}).
   */
  async scrapeHashes(hashes: Buffer[], passkey: string | undefined, webrtc = false): Promise<Array<SwarmCounts | undefined>> {
    if (this.policy) await this.policy.user(passkey);
    const store = await this.openedStore(webrtc);
    const known = this.policy ? await this.policy.registered(hashes.map((h) => h.toString('hex'))) : undefined;
    const asked = known ? hashes.filter((_, i) => known[i]) : hashes;
    const counts = asked.length > 0 ? await this.withTimeout(store.scrape(asked)) : [];
    this.counters.scrape(hashes.length);
    let next = 0;
    return hashes.map((_, i) => (known && !known[i] ? undefined : counts[next++]));
  }

  /** The failure reason for an error of {@link scrapeHashes} (emits `failure`). */
  failureReason(error: unknown): string {
    return this.fail(error);
  }

  /**
   * Any transport's full scrape (a scrape without hashes): the counters of up to `maxScrapeHashes`
   * live swarms. Rejects with the failure to answer (pass it to {@link failureReason}), for example
   * when `fullScrape` is off.
   */
  async fullScrape(passkey: string | undefined, webrtc = false): Promise<Array<{ infoHash: Uint8Array } & SwarmCounts>> {
    if (this.policy) await this.policy.user(passkey);
    const store = await this.openedStore(webrtc);
    if (!this.options.fullScrape) throw new TrackerFailure('scrape needs at least one info_hash (full scrape is off)');
    if (!store.scrapeAll) throw new TrackerFailure('full scrape is not supported by this tracker storage');
    const all = await this.withTimeout(store.scrapeAll(this.options.maxScrapeHashes));
    this.counters.scrape(0);
    if (!this.policy) return all;
    const known = await this.policy.registered(all.map((f) => Buffer.from(f.infoHash).toString('hex')));
    return all.filter((_, i) => known[i]);
  }

  // ---- registered torrents and cached answers --------------------------------------------------

  /**
   * Add a torrent to the built-in registry (used with `torrents: 'registry'`), kept in the store so
   * every instance sharing it sees the torrent. `torrent` is an info hash (hex or 20 bytes) or a
   * `createTorrent()` / `parseTorrent()` result; `rules` sets credit factors (freeleech:
   * `{ downloadFactor: 0 }`). Adding again replaces the rules.
   */
  async addTorrent(torrent: TorrentInput, rules: TorrentRules = {}): Promise<void> {
    const hashes = swarmHashes(torrent);
    const clean = normaliseRules(rules);
    const store = await this.openedStore();
    if (!store.registry) throw new Error('this store has no torrent registry');
    for (const infoHash of hashes) {
      await this.withTimeout(store.registry.add(infoHash, clean));
      await this.forgetTorrent(infoHash);
    }
  }

  /** Remove a torrent (both swarms of a hybrid) from the built-in registry; resolves true when it was registered. */
  async removeTorrent(torrent: TorrentInput): Promise<boolean> {
    const hashes = swarmHashes(torrent);
    const store = await this.openedStore();
    if (!store.registry) throw new Error('this store has no torrent registry');
    let removed = false;
    for (const infoHash of hashes) {
      if (await this.withTimeout(store.registry.remove(infoHash))) removed = true;
      await this.forgetTorrent(infoHash);
    }
    return removed;
  }

  /**
   * Drop the cached answer for a passkey at once (after the site banned a user or changed a
   * passkey), on every instance sharing a Redis store (pub/sub; only a digest of the passkey is
   * sent). Resolves once sent.
   */
  async forgetPasskey(passkey: string): Promise<void> {
    const passkeys = this.policy?.passkeys;
    if (!passkeys || typeof passkey !== 'string') return;
    const digest = passkeyDigest(passkey);
    passkeys.forget(passkey);
    this.passkeyForgotten(digest);
    await this.broadcast({ p: digest });
  }

  /**
   * For transports that hold connections (WebSocket): `listener` is told the digest
   * ({@link passkeyDigest}) of every passkey forgotten on this or another instance, so that a revoked
   * member's open connections can be cut at once. Returns a function that removes the listener.
   */
  onPasskeyForgotten(listener: (digest: string) => void): () => void {
    this.forgetListeners.add(listener);
    return () => this.forgetListeners.delete(listener);
  }

  private passkeyForgotten(digest: string): void {
    for (const listener of this.forgetListeners) {
      try {
        listener(digest);
      } catch (error) {
        this.fail(error);
      }
    }
  }

  /** Drop the cached answer for a torrent at once, on every instance sharing a Redis store. */
  async forgetTorrent(torrent: TorrentInput): Promise<void> {
    const torrents = this.policy?.torrents;
    if (!torrents) return;
    for (const hash of swarmHashes(torrent)) {
      const hex = hash.toString('hex');
      torrents.forget(hex);
      await this.broadcast({ t: hex });
    }
  }

  /** Hand pending `onTraffic` records over now (rejects with the callback's error; records are kept). */
  async flushTraffic(): Promise<void> {
    await this.ledger?.flush();
  }

  private async registryRules(hex: string): Promise<TorrentRules | undefined> {
    const store = await this.openedStore();
    if (!store.registry) throw new Error('this store has no torrent registry');
    return store.registry.get(Buffer.from(hex, 'hex'));
  }

  private async broadcast(message: { p?: string; t?: string }): Promise<void> {
    const bus = this.store?.bus;
    if (!bus) return;
    await this.withTimeout(bus.publish(JSON.stringify(message)));
  }

  /** Listen for other instances' forget messages; retried every few seconds until it works. */
  private subscribe(bus: NonNullable<SwarmStore['bus']>): void {
    const attempt = (): void => {
      this.subscribeTimer = undefined;
      if (this.closed) return;
      bus.subscribe((text) => this.onBusMessage(text)).then(
        (unsubscribe) => {
          if (this.closed) void unsubscribe();
          else this.unsubscribe = unsubscribe;
        },
        () => {
          if (this.closed) return;
          this.subscribeTimer = setTimeout(attempt, 2000);
          this.subscribeTimer.unref();
        },
      );
    };
    attempt();
  }

  private onBusMessage(text: string): void {
    let message: { p?: unknown; t?: unknown };
    try {
      message = JSON.parse(text) as { p?: unknown; t?: unknown };
    } catch {
      return;
    }
    if (typeof message.p === 'string') {
      this.policy?.passkeys?.forgetDigest(message.p);
      this.passkeyForgotten(message.p);
    }
    if (typeof message.t === 'string' && /^[0-9a-f]{40}$/.test(message.t)) this.policy?.torrents?.forget(message.t);
  }

  /**
   * Hand over the last `onTraffic` batch, stop listening to other instances, and close the store if
   * the tracker opened it (a URI or the default memory store). Idempotent. Rejects when the last
   * `onTraffic` call fails (after closing everything else).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let trafficError: unknown;
    await this.ledger?.close().catch((error: unknown) => {
      trafficError = error;
    });
    if (this.subscribeTimer) clearTimeout(this.subscribeTimer);
    await this.ready;
    await this.unsubscribe?.().catch(() => undefined);
    if (this.rtcOwned) await this.rtc?.close?.();
    if (this.owned && this.store?.close) await this.store.close();
    if (trafficError !== undefined) throw trafficError;
  }

  private async openedStore(webrtc = false): Promise<SwarmStore> {
    if (!this.store) await this.ready;
    if (this.closed) throw new TrackerFailure('tracker is shutting down');
    if (!this.store) {
      const reason = this.openError instanceof Error ? this.openError.message : String(this.openError);
      throw new StorageError(`tracker storage could not be opened: ${reason}`, this.openError);
    }
    return webrtc ? this.webrtcSwarms()! : this.store;
  }

  private withTimeout<T>(promise: Promise<T>): Promise<T> {
    const started = performance.now();
    return withDeadline(promise, this.options.storeTimeout, () => new StorageError(STORE_TIMEOUT)).then(
      (value) => {
        this.counters.storageCall((performance.now() - started) / 1000, 'ok');
        return value;
      },
      (error: unknown) => {
        const timedOut = error instanceof StorageError && error.message === STORE_TIMEOUT;
        this.counters.storageCall((performance.now() - started) / 1000, timedOut ? 'timeout' : 'error');
        throw error instanceof StorageError ? error : new StorageError(STORE_FAILED, error);
      },
    );
  }

  /** Emit `failure` when someone listens; a listener that throws is not allowed to break an answer. */
  private emitFailure(reason: string, error: unknown): void {
    if (this.listenerCount('failure') === 0) return;
    try {
      this.emit('failure', { reason, error });
    } catch {
      // Nowhere left to report it: the answer goes out regardless.
    }
  }

  /** The failure reason for `error`; emits `failure`. */
  private fail(error: unknown): string {
    let reason: string;
    if (error instanceof TrackerFailure) {
      reason = error.message;
      this.counters.failure(error.kind);
    } else if (error instanceof StorageError || error instanceof LookupError) {
      // A store that failed, or a site function (passkey, torrents) that threw or hung.
      reason = error.publicReason;
      this.counters.failure('storage');
    } else {
      reason = 'internal tracker error';
      this.counters.failure('internal');
    }
    this.emitFailure(reason, error);
    return reason;
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
