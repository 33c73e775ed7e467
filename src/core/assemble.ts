/**
 * The core's parts, built once per tracker from its resolved options and wired to each other: storage
 * access, failure mapping, the policy chain, the cross-instance bus, the registry, bans, accounting
 * (the ledger and the hybrid-torrent credit), hybrid counts, history, listing, the announce pipeline and
 * scrapes. The `Tracker` facade holds them and delegates; this file is the only place that knows how
 * they depend on each other.
 */
import type { EventEmitter } from 'node:events';
import type { ResolvedTrackerOptions, TrackerOptions } from '../options.js';
import { PolicyChain } from '../policy/chain.js';
import { TrafficLedger } from '../policy/traffic.js';
import type { TrackerCounters, TrackerStats } from '../stats/counters.js';
import type { SwarmCounts } from '../types.js';
import { describeStore } from '../swarm/store-option.js';
import type { Validations } from '../validations.js';
import { AnnouncePipeline } from './announce.js';
import { httpWriter, type AnswerWriter } from './answer-writer.js';
import { BanKeeper } from './bans.js';
import { ForgetBus } from './bus.js';
import { FailureReporter } from './failures.js';
import { HybridCounts } from './hybrid-counts.js';
import { HybridCredit } from './hybrid-credit.js';
import { HistoryRecorder } from '../history/recorder.js';
import type { HistoryBucket, HistoryOptions } from '../history/buckets.js';
import { Listing } from './listing.js';
import { infoHashBytes, TorrentRegistry, type TorrentInput } from './registry.js';
import { Scrapes } from './scrape.js';
import { causeText, StorageAccess } from './storage.js';
import { HealthKeeper } from '../health/health.js';

/** Every part of one tracker's core. */
export interface Core {
  failures: FailureReporter;
  storage: StorageAccess;
  policy: PolicyChain | undefined;
  ledger: TrafficLedger | undefined;
  hybrid: HybridCredit | undefined;
  hybridCounts: HybridCounts;
  history: HistoryRecorder | undefined;
  bus: ForgetBus;
  registry: TorrentRegistry;
  listing: Listing;
  bans: BanKeeper;
  pipeline: AnnouncePipeline;
  scrapes: Scrapes;
  http: AnswerWriter<Buffer>;
  /** Readiness and draining (src/health/). */
  health: HealthKeeper;
}

/** What {@link assembleCore} needs of the tracker it builds for. */
export interface CoreHost {
  /** Where events go (`announce`, `failure`, `banned`…): the tracker itself. */
  events: EventEmitter;
  counters: TrackerCounters;
  validations: Validations;
  /** The tracker's counts (hybrid-aware), for the listing. */
  counts(torrents: TorrentInput[]): Promise<SwarmCounts[]>;
  /** The tracker's own flush and close, for draining. */
  flushTraffic(): Promise<void>;
  close(): Promise<void>;
}

/** Build and wire the parts for `options` (already checked and resolved). */
export function assembleCore(options: TrackerOptions, resolved: ResolvedTrackerOptions, host: CoreHost): Core {
  const { events, counters } = host;
  const isPrivate = options.passkey !== undefined;
  const failures = new FailureReporter(events, counters, resolved.minInterval * 1000, (error) =>
    host.validations.storageFailure(
      `tracker storage (${describeStore(options.store)}) failed: ${error.timedOut ? `no answer within ${resolved.storeTimeout} ms (storeTimeout)` : causeText(error.cause ?? error)}`,
    ),
  );
  let bus: ForgetBus | undefined;
  const storage = new StorageAccess(options.store, {
    timeout: resolved.storeTimeout,
    stateful: isPrivate || resolved.enforceInterval,
    counters,
    onOpen: (store) => bus!.attach(store.bus),
  });
  const bounded = <T>(promise: Promise<T>) => storage.bounded(promise);
  let policy: PolicyChain | undefined;
  const registry = new TorrentRegistry({
    opened: () => storage.opened(),
    bounded,
    forget: (hash) => bus!.forgetTorrent([hash]),
    notify: (event, info) => failures.notify(event, info),
  });
  const bans = new BanKeeper({
    opened: () => storage.opened(),
    bounded,
    timeout: resolved.storeTimeout,
    peerTtl: resolved.peerTtl * 1000,
    events,
    failures,
    userOf: (passkey: string) => policy?.passkeys?.peek(passkey) ?? undefined,
  });
  const chain = new PolicyChain(
    { passkey: options.passkey, torrents: options.torrents === 'registry' ? (hex: string) => registry.rules(hex) : options.torrents, clients: options.clients },
    { ttl: resolved.policyCacheTtl * 1000, refusalTtl: resolved.policyRefusalTtl * 1000, maxEntries: resolved.policyCacheSize, timeout: resolved.storeTimeout },
  );
  policy = chain.active ? chain : undefined;
  bus = new ForgetBus(policy, bounded, (error) => failures.listenerError('a passkey listener threw', error));
  let ledger: TrafficLedger | undefined;
  let hybrid: HybridCredit | undefined;
  if (options.onTraffic) {
    const onError = (error: unknown) => failures.emit('onTraffic failed; its records are kept for the next batch', error);
    ledger = new TrafficLedger(options.onTraffic, resolved.trafficInterval * 1000, onError, resolved.trafficTimeout);
    const onMergeError = (error: unknown) => failures.emit('a hybrid torrent credit could not be combined in the store; combined in this process', error);
    hybrid = new HybridCredit(storage, ledger, 2 * resolved.peerTtl * 1000, onMergeError);
  }
  const hybridCounts = new HybridCounts(storage, (error) => failures.emit('a hybrid torrent could not be counted at torrent level', error));
  const history = resolved.history
    ? new HistoryRecorder(
        {
          shared: async () => (await storage.opened()).history,
          bounded,
          settled: () => hybridCounts.settled(),
          onError: (error) => failures.emit('history sums could not be written; they are dropped', error),
        },
        resolved.historyFlushInterval * 1000,
      )
    : undefined;
  const deps = { options: resolved, policy, storage, failures, counters, bans: bans.list };
  return {
    failures,
    storage,
    policy,
    ledger,
    hybrid,
    hybridCounts,
    history,
    bus,
    registry,
    bans,
    pipeline: new AnnouncePipeline({ ...deps, ledger, hybrid, hybridCounts, history, events }),
    scrapes: new Scrapes(deps),
    http: httpWriter(resolved),
    listing: new Listing({ storage, counts: (torrents) => host.counts(torrents), peerTtl: resolved.peerTtl }),
    health: new HealthKeeper({ storage, ledger, flushTraffic: () => host.flushTraffic(), close: () => host.close() }),
  };
}

/** {@link Tracker.stats}: the store's totals (a hybrid torrent counted once when pairs are known) and `counters`. */
export async function coreStats(core: Core, counters: TrackerCounters): Promise<TrackerStats> {
  const totals = await core.storage.totals();
  if (core.policy?.torrents !== undefined) totals.swarms = await core.hybridCounts.correct(totals.swarms);
  return { ...totals, ...counters.snapshot() };
}

/** {@link Tracker.history}: a torrent's history (under a hybrid torrent's v1 hash); rejects when the `history` option is off. */
export async function coreHistory(core: Core, torrent: TorrentInput, options: HistoryOptions): Promise<HistoryBucket[]> {
  if (!core.history) throw new TypeError('tracker.history(): history is off (set the `history` option)');
  return core.history.read(infoHashBytes(torrent).toString('hex'), options);
}

/**
 * Close the parts in order: credits in flight, the last `onTraffic` batch, the bus, bans, then the
 * store. Rejects with the `onTraffic` error after closing everything else.
 */
export async function closeCore(core: Core): Promise<void> {
  let trafficError: unknown;
  await core.hybrid?.settled();
  await core.hybridCounts.settled();
  await core.history?.close();
  await core.ledger?.close().catch((error: unknown) => {
    trafficError = error;
  });
  await core.bus.close();
  await core.bans.close();
  await core.storage.close();
  if (trafficError !== undefined) throw trafficError;
}
