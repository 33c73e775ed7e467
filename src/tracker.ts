/**
 * `Tracker`: the protocol core shared by every transport (Express, node:http, UDP, WebSocket), as a
 * facade over src/core/ (one concern a file): the announce pipeline, scrapes, storage access,
 * failure mapping, the torrent registry and the cross-instance bus. It never throws at request time
 * and never rejects an answer: every problem becomes a `failure reason`. Options live in options.ts.
 *
 * Methods marked internal are for this package's transports and metrics; they are left out of
 * the published type declarations and may change in any release.
 */
import { EventEmitter } from 'node:events';
import { checkFunctions, resolveOptions, type ResolvedTrackerOptions, type TrackerOptions } from './options.js';
import { PolicyChain } from './policy/chain.js';
import { passkeyDigest } from './policy/passkey.js';
import { TrafficLedger } from './policy/traffic.js';
import { TrackerCounters, type TrackerStats } from './stats/counters.js';
import { MemorySwarmStore } from './swarm/memory/memory-store.js';
import type { SwarmCounts, TorrentRules } from './types.js';
import { isSwarmStore, type SwarmStore } from './swarm/types.js';
import { Validations } from './validations.js';
import { AnnouncePipeline, type AnnounceCall } from './core/announce.js';
import { httpWriter, type AnswerWriter } from './core/answer-writer.js';
import { ForgetBus } from './core/bus.js';
import { BanKeeper, type Ban, type BanListener, type BanSpec } from './core/bans.js';
import { FailureReporter } from './core/failures.js';
import { infoHashBytes, swarmHashes, torrentNames, TorrentRegistry, type TorrentInput } from './core/registry.js';
import { Listing, type AdminPeer, type ListTorrentsOptions, type PeerListPage, type PeersOptions, type TorrentPage } from './core/listing.js';
import { Scrapes, type ScrapeFile } from './core/scrape.js';
import { causeText, StorageAccess } from './core/storage.js';
import { HybridCredit } from './core/hybrid-credit.js';
import { HybridCounts } from './core/hybrid-counts.js';
import { checkStoreOption, describeStore } from './swarm/store-option.js';

export { resolveOptions, type ResolvedTrackerOptions, type TrackerOptions } from './options.js';
export type { AnnounceCall, AnnounceEventInfo } from './core/announce.js';
export type { AnswerWriter } from './core/answer-writer.js';
export { ADDRESS_REASON } from './core/failures.js';
export type { TorrentInput, TorrentRegisteredEvent, TorrentRemovedEvent } from './core/registry.js';
export type { AdminPeer, ListTorrentsOptions, PeerListPage, PeersOptions, RegisteredTorrent, TorrentPage } from './core/listing.js';

/**
 * The protocol core. Events: `announce` ({@link AnnounceEventInfo}) after each successful announce,
 * `failure` (`{ reason, error? }`) for every failure answer, storage errors included,
 * `torrentRegistered` ({@link TorrentRegisteredEvent}) after {@link addTorrent} and `torrentRemoved`
 * ({@link TorrentRemovedEvent}) after a {@link removeTorrent} that removed one (on this instance only;
 * a listener that throws is reported to `failure`).
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
  private readonly failures: FailureReporter;
  private readonly storage: StorageAccess;
  private readonly policy: PolicyChain | undefined;
  private readonly ledger: TrafficLedger | undefined;
  private readonly hybrid: HybridCredit | undefined;
  private readonly hybridCounts: HybridCounts;
  private readonly bus: ForgetBus;
  private readonly registry: TorrentRegistry;
  private readonly listing: Listing;
  private readonly banKeeper: BanKeeper;
  private readonly pipeline: AnnouncePipeline;
  private readonly scrapes: Scrapes;
  private readonly http: AnswerWriter<Buffer>;
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
    const counters = this.statsCounters;
    this.validations = new Validations(options.validate);
    this.validations.created(options.store === undefined || options.store instanceof MemorySwarmStore);
    this.isPrivate = options.passkey !== undefined;
    if (isSwarmStore(options.store) && !options.store.privateMode && (this.isPrivate || resolved.enforceInterval)) {
      throw new TypeError(
        `${scope}: options.store does not keep the per-peer state that ${this.isPrivate ? 'private mode (passkey)' : 'enforceInterval'} needs (its privateMode is not true); use the memory, Redis or Keyv store`,
      );
    }
    this.failures = new FailureReporter(this, counters, resolved.minInterval * 1000, (error) =>
      this.validations.storageFailure(`tracker storage (${describeStore(options.store)}) failed: ${error.timedOut ? `no answer within ${resolved.storeTimeout} ms (storeTimeout)` : causeText(error.cause ?? error)}`),
    );
    this.storage = new StorageAccess(options.store, {
      timeout: resolved.storeTimeout,
      stateful: this.isPrivate || resolved.enforceInterval,
      counters,
      onOpen: (store) => this.bus.attach(store.bus),
    });
    const bounded = <T>(promise: Promise<T>) => this.storage.bounded(promise);
    const userOf = (passkey: string) => this.policy?.passkeys?.peek(passkey) ?? undefined;
    this.banKeeper = new BanKeeper({ opened: () => this.storage.opened(), bounded, timeout: resolved.storeTimeout, peerTtl: resolved.peerTtl * 1000, events: this, failures: this.failures, userOf });
    this.registry = new TorrentRegistry({ opened: () => this.storage.opened(), bounded, forget: (hash) => this.forgetTorrent(hash) });
    const chain = new PolicyChain(
      { passkey: options.passkey, torrents: options.torrents === 'registry' ? (hex: string) => this.registry.rules(hex) : options.torrents, clients: options.clients },
      { ttl: resolved.policyCacheTtl * 1000, refusalTtl: resolved.policyRefusalTtl * 1000, maxEntries: resolved.policyCacheSize, timeout: resolved.storeTimeout },
    );
    this.policy = chain.active ? chain : undefined;
    this.bus = new ForgetBus(this.policy, bounded, (error) => this.failures.listenerError('a passkey listener threw', error));
    if (options.onTraffic) {
      const onError = (error: unknown) => this.failures.emit('onTraffic failed; its records are kept for the next batch', error);
      this.ledger = new TrafficLedger(options.onTraffic, resolved.trafficInterval * 1000, onError, resolved.trafficTimeout);
      const onMergeError = (error: unknown) => this.failures.emit('a hybrid torrent credit could not be combined in the store; combined in this process', error);
      this.hybrid = new HybridCredit(this.storage, this.ledger, 2 * resolved.peerTtl * 1000, onMergeError);
    }
    const deps = { options: resolved, policy: this.policy, storage: this.storage, failures: this.failures, counters, bans: this.banKeeper.list };
    this.hybridCounts = new HybridCounts(this.storage, (error) => this.failures.emit('a hybrid torrent could not be counted at torrent level', error));
    this.pipeline = new AnnouncePipeline({ ...deps, ledger: this.ledger, hybrid: this.hybrid, hybridCounts: this.hybridCounts, events: this });
    this.scrapes = new Scrapes(deps);
    this.http = httpWriter(resolved);
    this.listing = new Listing({ storage: this.storage, counts: (torrents) => this.counts(torrents), peerTtl: resolved.peerTtl });
  }

  // ---- for the site -------------------------------------------------------------------------------

  /**
   * A snapshot of the tracker at work: live swarm totals from the store (global with Redis) and this
   * process's counters (announces, scrapes, failures, storage latency). Kept as the tracker works:
   * nothing is scanned. Totals are undefined when the store cannot count (a custom store without
   * `totals`) or does not answer within `storeTimeout`. A hybrid torrent the tracker knows as one (a
   * `torrents` option, see {@link counts}) is one torrent there, a client in both its swarms one peer.
   */
  async stats(): Promise<TrackerStats> {
    const totals = await this.storage.totals();
    // A hybrid torrent's two swarms are one torrent (pairs are known only through a `torrents` option).
    if (this.policy?.torrents !== undefined) totals.swarms = await this.hybridCounts.correct(totals.swarms);
    return { ...totals, ...this.statsCounters.snapshot() };
  }

  /**
   * Live counts of torrents, for the site's own pages (a scrape without HTTP and without policies):
   * one entry per torrent in the order given, zeros for a swarm nobody announced to. `torrents` are
   * info hashes (hex or 20 bytes) or `createTorrent()` / `parseTorrent()` results. With `webrtc`,
   * the counts of the WebTorrent (browser) swarms instead. Rejects when the store fails or does not
   * answer within `storeTimeout`.
   *
   * A hybrid torrent given as a `createTorrent()` / `parseTorrent()` result is counted once across
   * its two swarms: a client in both is one peer, and its completion one download. That needs the
   * tracker to know the pair when the announces arrive (a `torrents` option: `'registry'` with
   * `addTorrent()`, or a function whose rules name both hashes); without one, the larger of the two
   * swarms' counts is reported. An info hash alone counts that one swarm.
   */
  async counts(torrents: TorrentInput[], options: { webrtc?: boolean } = {}): Promise<SwarmCounts[]> {
    if (torrents.length === 0) return [];
    const store = await this.storage.opened(options.webrtc === true);
    return this.hybridCounts.counts(store, torrents.map(swarmHashes), options.webrtc !== true && this.policy?.torrents !== undefined);
  }

  /**
   * Resolves once the store is open and answered a real call within `storeTimeout`; rejects with an
   * Error naming the store (without secrets) and the cause otherwise (Redis refused the connection, a
   * table could not be created…). The tracker does not need it: it answers failures while its store
   * is down and recovers by itself. A site awaits it at startup to fail fast (`await router.ready()`).
   */
  ready(): Promise<void> {
    return this.storage.check();
  }

  /** Resolves once the store is open (or failed to open; then every answer is a failure). */
  whenReady(): Promise<void> {
    return this.storage.ready;
  }

  /** The store in use, once open. */
  get swarmStore(): SwarmStore | undefined {
    return this.storage.store;
  }

  /**
   * Answer an announce. `rawQuery` is the query string after `?`; `remoteAddress` the client's
   * address as Node reports it (`req.ip`, `socket.remoteAddress`); `passkey` the path segment before
   * `announce` (private trackers).
   */
  async announce(rawQuery: string, remoteAddress: string | undefined, passkey?: string): Promise<Buffer> {
    return this.answerAnnounce(rawQuery, remoteAddress, passkey);
  }

  /** Answer a scrape. `rawQuery` is the query string after `?`; `passkey` as for {@link announce}. */
  scrape(rawQuery: string, passkey?: string): Promise<Buffer> {
    return this.scrapes.fromQuery(rawQuery, passkey);
  }

  /**
   * Add a torrent to the built-in registry (used with `torrents: 'registry'`), kept in the store so
   * every instance sharing it sees the torrent. `torrent` is an info hash (hex or 20 bytes) or a
   * `createTorrent()` / `parseTorrent()` result; `rules` sets credit factors (freeleech:
   * `{ downloadFactor: 0 }`). Adding again replaces the rules.
   */
  async addTorrent(torrent: TorrentInput, rules: TorrentRules = {}): Promise<void> {
    this.failures.notify('torrentRegistered', await this.registry.add(torrent, rules));
  }

  /** Remove a torrent (both swarms of a hybrid) from the built-in registry; resolves true when it was registered. */
  async removeTorrent(torrent: TorrentInput): Promise<boolean> {
    const removed = await this.registry.remove(torrent);
    if (removed) this.failures.notify('torrentRemoved', torrentNames(torrent));
    return removed;
  }

  /** A page of the registered torrents with live counts ({@link ListTorrentsOptions}); rejects on store trouble. */
  listTorrents(options?: ListTorrentsOptions): Promise<TorrentPage> {
    return this.listing.torrents(options);
  }

  /** A page of the live peers of a torrent's swarms, WebTorrent ones last ({@link AdminPeer}); rejects on store trouble. */
  peers(torrent: TorrentInput, options?: PeersOptions): Promise<PeerListPage> {
    return this.listing.peers(torrent, options);
  }

  /**
   * Drop the cached answer for a passkey at once (after the site banned a user or changed a
   * passkey), on every instance sharing a Redis store (pub/sub; only a digest of the passkey is
   * sent), and close that member's WebSocket connections. Resolves once sent.
   */
  async forgetPasskey(passkey: string): Promise<void> {
    const passkeys = this.policy?.passkeys;
    if (!passkeys || typeof passkey !== 'string') return;
    passkeys.forget(passkey);
    await this.bus.passkeyForgotten(passkeyDigest(passkey));
  }

  /** Drop the cached answer for a torrent at once, on every instance sharing a Redis store. */
  async forgetTorrent(torrent: TorrentInput): Promise<void> {
    const torrents = this.policy?.torrents;
    if (!torrents) return;
    for (const hash of swarmHashes(torrent)) {
      const hex = hash.toString('hex');
      torrents.forget(hex);
      await this.bus.torrentForgotten(hex);
    }
  }

  /** Ban an address or block, a user or a client, on every instance (see src/core/bans.ts). Emits `banned`. */
  ban(spec: BanSpec): Promise<Ban> {
    return this.banKeeper.ban(spec);
  }

  /** Lift a ban, on every instance; true when it was in force. Emits `unbanned`. */
  unban(id: string): Promise<boolean> {
    return this.banKeeper.unban(id);
  }

  /** The bans in force (expired ones are not listed), oldest first. */
  bans(): Promise<Ban[]> {
    return this.banKeeper.bans();
  }

  /** Hand pending `onTraffic` records over now (rejects with the callback's error; records are kept). */
  async flushTraffic(): Promise<void> {
    await this.hybrid?.settled();
    await this.ledger?.flush();
  }

  /**
   * Hand over the last `onTraffic` batch, stop listening to other instances, and close the store if
   * the tracker opened it (a URI or the default memory store). Idempotent. Rejects when the last
   * `onTraffic` call fails or does not settle within `trafficTimeout` (after closing everything else).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let trafficError: unknown;
    await this.hybrid?.settled();
    await this.hybridCounts.settled();
    await this.ledger?.close().catch((error: unknown) => {
      trafficError = error;
    });
    await this.bus.close();
    await this.banKeeper.close();
    await this.storage.close();
    if (trafficError !== undefined) throw trafficError;
  }

  // ---- for the transports ---------------------------------------------------------------------------

  /**
   * @internal The HTTP transports' entry point: the bencoded answer at once when no I/O is needed
   * (memory store, cached policy answers), else a promise of it. Never throws, never rejects.
   */
  answerAnnounce(rawQuery: string, remoteAddress: string | undefined, passkey?: string): Buffer | Promise<Buffer> {
    return this.pipeline.fromQuery(rawQuery, remoteAddress, passkey, this.http);
  }

  /**
   * @internal Any transport's entry point: one validated announce, answered through `call.writer`.
   * The answer at once when no I/O is needed, else a promise; with `syncOnly`, undefined instead of a
   * promise (nothing was started). Never throws, never rejects.
   */
  announceRequest<T>(call: AnnounceCall<T>): T | Promise<T> | undefined {
    return this.pipeline.run(call);
  }

  /**
   * @internal Any transport's scrape: the counters of each info hash in the order given, `undefined`
   * for a torrent that is not registered. Rejects with the failure to answer (see {@link failureReason}).
   */
  scrapeHashes(hashes: Buffer[], passkey: string | undefined, webrtc = false): Promise<Array<SwarmCounts | undefined>> {
    return this.scrapes.hashes(hashes, passkey, webrtc);
  }

  /** @internal Any transport's full scrape. Rejects with the failure to answer (see {@link failureReason}). */
  fullScrape(passkey: string | undefined, webrtc = false): Promise<ScrapeFile[]> {
    return this.scrapes.full(passkey, webrtc);
  }

  /** @internal The failure reason for an error (counted by kind; emits `failure`). */
  failureReason(error: unknown): string {
    return this.failures.reason(error);
  }

  /** @internal The swarms of WebTorrent (WebSocket) peers, once the store is open. */
  webrtcSwarms(): SwarmStore | undefined {
    return this.closed ? undefined : this.storage.webrtc();
  }

  /**
   * @internal For transports that hold connections (WebSocket): `listener` is told the digest of
   * every passkey forgotten on this or another instance. Returns a function that removes it.
   */
  onPasskeyForgotten(listener: (digest: string) => void): () => void {
    return this.bus.onPasskeyForgotten(listener);
  }

  /** @internal For transports that hold connections: told of every ban in force here (see BanKeeper.onBan). */
  onBan(listener: BanListener): () => void {
    return this.banKeeper.onBan(listener);
  }
}
