/**
 * `Tracker`: the core shared by every transport, a facade over src/core/ (wired by core/assemble.ts)
 * and src/health/. It never throws at request time: every problem becomes a `failure reason`.
 * Methods marked internal are for this package's transports; they are left out of the published
 * type declarations and may change in any release.
 */
import { EventEmitter } from 'node:events';
import { checkFunctions, resolveOptions, type ResolvedTrackerOptions, type TrackerOptions } from './options.js';
import { TrackerCounters, type TrackerStats } from './stats/counters.js';
import { MemorySwarmStore } from './swarm/memory/memory-store.js';
import type { SwarmCounts, TorrentRules } from './types.js';
import type { SwarmStore } from './swarm/types.js';
import { Validations } from './validations.js';
import type { AnnounceCall } from './core/announce.js';
import { assembleCore, closeCore, coreHistory, coreStats, type Core } from './core/assemble.js';
import type { HistoryBucket, HistoryOptions } from './history/buckets.js';
import type { Ban, BanListener, BanSpec } from './core/bans.js';
import { swarmHashes, type TorrentInput } from './core/registry.js';
import type { ListTorrentsOptions, PeerListPage, PeersOptions, TorrentPage } from './core/listing.js';
import type { ScrapeFile } from './core/scrape.js';
import { checkStoreOption, checkStoreState } from './swarm/store-option.js';
import type { Door, DrainOptions, DrainResult, HealthReport } from './health/health.js';

export { resolveOptions, type ResolvedTrackerOptions, type TrackerOptions } from './options.js';
export type { AnnounceCall, AnnounceEventInfo } from './core/announce.js';
export type { AnswerWriter } from './core/answer-writer.js';
export { ADDRESS_REASON } from './core/failures.js';
export type { TorrentInput, TorrentRegisteredEvent, TorrentRemovedEvent } from './core/registry.js';
export type { AdminPeer, ListTorrentsOptions, PeerListPage, PeersOptions, RegisteredTorrent, TorrentPage } from './core/listing.js';

/**
 * The protocol core. Events: `announce` ({@link AnnounceEventInfo}), `failure` (`{ reason, error? }`),
 * `torrentRegistered` / `torrentRemoved` ({@link TorrentRegisteredEvent}), `banned` / `unbanned`
 * (on the instance that made the change; a listener that throws is reported to `failure`).
 */
export class Tracker extends EventEmitter {
  /** Options with defaults applied. */
  readonly options: ResolvedTrackerOptions;
  /** Private mode (a `passkey` function): URLs carry passkeys, peers have owners. */
  readonly isPrivate: boolean;
  /** @internal Misconfiguration warnings (see the `validate` option). */
  readonly validations: Validations;
  /** @internal What this process has done so far (see {@link stats}; read by `trackerMetrics`). */
  readonly statsCounters = new TrackerCounters();
  private readonly core: Core;
  private closed = false;

  /**
   * @param options The tracker's options (see {@link TrackerOptions}).
   * @param scope The entry point named in option errors (`trackerMiddleware`, `createTrackerServer`…).
   */
  constructor(options: TrackerOptions = {}, scope = 'Tracker') {
    super();
    checkFunctions(options, scope);
    const resolved = (this.options = resolveOptions(options, scope));
    checkStoreOption(options.store, scope);
    this.isPrivate = options.passkey !== undefined;
    checkStoreState(options.store, scope, this.isPrivate ? 'private mode (passkey)' : resolved.enforceInterval ? 'enforceInterval' : undefined);
    this.validations = new Validations(options.validate);
    this.validations.created(options.store === undefined || options.store instanceof MemorySwarmStore);
    const host = { events: this, counters: this.statsCounters, validations: this.validations, counts: (t: TorrentInput[]) => this.counts(t) };
    this.core = assembleCore(options, resolved, { ...host, flushTraffic: () => this.flushTraffic(), close: () => this.close() });
  }

  // ---- for the site -------------------------------------------------------------------------------

  /**
   * Live swarm totals from the store (global with Redis; undefined when it cannot count or answer in
   * time; a known hybrid torrent counted once) and this process's counters. Nothing is scanned.
   */
  stats(): Promise<TrackerStats> {
    return coreStats(this.core, this.statsCounters);
  }

  /**
   * A torrent's history (the `history` option on): announces, counted completions and peak seeders and
   * leechers per bucket at `resolution`, oldest first, the whole window (see src/history/buckets.ts).
   */
  history(torrent: TorrentInput, options: HistoryOptions): Promise<HistoryBucket[]> {
    return coreHistory(this.core, torrent, options);
  }

  /**
   * Live counts for the site's pages, one per torrent given (info hashes, or `createTorrent()` /
   * `parseTorrent()` results: a hybrid's two swarms counted once when the tracker knows the pair, else
   * the larger); `webrtc`: the browser swarms. Rejects when the store fails or is too slow.
   */
  async counts(torrents: TorrentInput[], options: { webrtc?: boolean } = {}): Promise<SwarmCounts[]> {
    if (torrents.length === 0) return [];
    const store = await this.core.storage.opened(options.webrtc === true);
    return this.core.hybridCounts.counts(store, torrents.map(swarmHashes), options.webrtc !== true && this.core.policy?.torrents !== undefined);
  }

  /**
   * Resolves once the store is open and answered a real call within `storeTimeout`; rejects with an
   * Error naming the store (no secrets) and the cause. For failing fast at startup: the tracker
   * itself answers failures while its store is down and recovers by itself.
   */
  ready(): Promise<void> {
    return this.core.storage.check();
  }

  /** Readiness for load balancers: the store, each door, the `onTraffic` backlog, draining (see src/health/). */
  health(): Promise<HealthReport> {
    return this.core.health.health();
  }

  /** Fail readiness, let every door drain, hand over `onTraffic`, save the store, close; within `timeout`. */
  drain(options?: DrainOptions): Promise<DrainResult> {
    return this.core.health.drain(options);
  }

  /** @internal A transport registers itself for readiness and draining; returns its removal. */
  attachDoor(name: string, door: Door): () => void {
    return this.core.health.attachDoor(name, door);
  }

  /** Resolves once the store is open (or failed to open; then every answer is a failure). */
  whenReady(): Promise<void> {
    return this.core.storage.ready;
  }

  /** The store in use, once open. */
  get swarmStore(): SwarmStore | undefined {
    return this.core.storage.store;
  }

  /** Answer an announce: `rawQuery` after `?`, the client's address as Node reports it, the URL's passkey. */
  async announce(rawQuery: string, remoteAddress: string | undefined, passkey?: string): Promise<Buffer> {
    return this.answerAnnounce(rawQuery, remoteAddress, passkey);
  }

  /** Answer a scrape. `rawQuery` is the query string after `?`; `passkey` as for {@link announce}. */
  scrape(rawQuery: string, passkey?: string): Promise<Buffer> {
    return this.core.scrapes.fromQuery(rawQuery, passkey);
  }

  /**
   * Add a torrent (an info hash, or a `createTorrent()` / `parseTorrent()` result: both swarms of a
   * hybrid) to the built-in registry in the store (`torrents: 'registry'`), with credit factors
   * (freeleech: `{ downloadFactor: 0 }`). Adding again replaces the rules.
   */
  async addTorrent(torrent: TorrentInput, rules: TorrentRules = {}): Promise<void> {
    await this.core.registry.add(torrent, rules);
  }

  /** Remove a torrent (both swarms of a hybrid) from the built-in registry; resolves true when it was registered. */
  removeTorrent(torrent: TorrentInput): Promise<boolean> {
    return this.core.registry.remove(torrent);
  }

  /** A page of the registered torrents with live counts ({@link ListTorrentsOptions}); rejects on store trouble. */
  listTorrents(options?: ListTorrentsOptions): Promise<TorrentPage> {
    return this.core.listing.torrents(options);
  }

  /** A page of the live peers of a torrent's swarms, WebTorrent ones last ({@link AdminPeer}); rejects on store trouble. */
  peers(torrent: TorrentInput, options?: PeersOptions): Promise<PeerListPage> {
    return this.core.listing.peers(torrent, options);
  }

  /**
   * Drop the cached answer for a passkey on every instance sharing a Redis store (only a digest
   * travels) and close that member's WebSocket connections. Resolves once sent.
   */
  forgetPasskey(passkey: string): Promise<void> {
    return this.core.bus.forgetPasskey(passkey);
  }

  /** Drop the cached answer for a torrent at once, on every instance sharing a Redis store. */
  forgetTorrent(torrent: TorrentInput): Promise<void> {
    return this.core.bus.forgetTorrent(swarmHashes(torrent));
  }

  /** Ban an address or block, a user or a client, on every instance (see src/core/bans.ts). Emits `banned`. */
  ban(spec: BanSpec): Promise<Ban> {
    return this.core.bans.ban(spec);
  }

  /** Lift a ban, on every instance; true when it was in force. Emits `unbanned`. */
  unban(id: string): Promise<boolean> {
    return this.core.bans.unban(id);
  }

  /** The bans in force (expired ones are not listed), oldest first. */
  bans(): Promise<Ban[]> {
    return this.core.bans.bans();
  }

  /** Hand pending `onTraffic` records over now (rejects with the callback's error; records are kept). */
  async flushTraffic(): Promise<void> {
    await this.core.hybrid?.settled();
    await this.core.ledger?.flush();
  }

  /**
   * Hand over the last `onTraffic` batch, stop listening to other instances, close the store if the
   * tracker opened it. Idempotent; rejects (after closing the rest) when that last `onTraffic` fails.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await closeCore(this.core);
  }

  // ---- for the transports ---------------------------------------------------------------------------

  /**
   * @internal The HTTP transports' entry point: the bencoded answer at once when no I/O is needed
   * (memory store, cached policy answers), else a promise of it. Never throws, never rejects.
   */
  answerAnnounce(rawQuery: string, remoteAddress: string | undefined, passkey?: string): Buffer | Promise<Buffer> {
    return this.core.pipeline.fromQuery(rawQuery, remoteAddress, passkey, this.core.http);
  }

  /**
   * @internal Any transport's entry point: one validated announce, answered through `call.writer`.
   * The answer at once when no I/O is needed, else a promise; with `syncOnly`, undefined instead of a
   * promise (nothing was started). Never throws, never rejects.
   */
  announceRequest<T>(call: AnnounceCall<T>): T | Promise<T> | undefined {
    return this.core.pipeline.run(call);
  }

  /**
   * @internal Any transport's scrape: the counters of each info hash in the order given, `undefined`
   * for a torrent that is not registered. Rejects with the failure to answer (see {@link failureReason}).
   */
  scrapeHashes(hashes: Buffer[], passkey: string | undefined, webrtc = false): Promise<Array<SwarmCounts | undefined>> {
    return this.core.scrapes.hashes(hashes, passkey, webrtc);
  }

  /** @internal Any transport's full scrape. Rejects with the failure to answer (see {@link failureReason}). */
  fullScrape(passkey: string | undefined, webrtc = false): Promise<ScrapeFile[]> {
    return this.core.scrapes.full(passkey, webrtc);
  }

  /** @internal The failure reason for an error (counted by kind; emits `failure`). */
  failureReason(error: unknown): string {
    return this.core.failures.reason(error);
  }

  /** @internal The swarms of WebTorrent (WebSocket) peers, once the store is open. */
  webrtcSwarms(): SwarmStore | undefined {
    return this.closed ? undefined : this.core.storage.webrtc();
  }

  /**
   * @internal For transports that hold connections (WebSocket): `listener` is told the digest of
   * every passkey forgotten on this or another instance. Returns a function that removes it.
   */
  onPasskeyForgotten(listener: (digest: string) => void): () => void {
    return this.core.bus.onPasskeyForgotten(listener);
  }

  /** @internal For transports that hold connections: told of every ban in force here (see BanKeeper.onBan). */
  onBan(listener: BanListener): () => void {
    return this.core.bans.onBan(listener);
  }
}
