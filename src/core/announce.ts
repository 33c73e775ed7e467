/**
 * The announce pipeline, the same for every transport: a validated request → the policies (passkey,
 * registered torrent, client) → one store call → one ending (a refusal becomes a failure; an
 * accepted announce is credited, counted and reported, then written by the transport's writer).
 * Synchronous whenever no I/O is needed (the in-memory store and cached policy answers), so the hot
 * path makes no promise. Never throws, never rejects.
 */
import type { EventEmitter } from 'node:events';
import { parseAddress, formatAddress } from '../protocol/address.js';
import { parseAnnounce, type AnnounceRequest } from '../protocol/announce.js';
import { TrackerFailure } from '../protocol/errors.js';
import { banReason, type BanList } from '../policy/bans.js';
import type { Grant, PolicyChain } from '../policy/chain.js';
import type { UserId } from '../policy/passkey.js';
import { clipCredit, creditAnnounce, type TrafficLedger } from '../policy/traffic.js';
import type { TrackerCounters } from '../stats/counters.js';
import type { CompactOutcome, MemorySwarmStore } from '../swarm/memory/memory-store.js';
import type { Peer, PeerRefusal, PeerState, TorrentRules } from '../types.js';
import type { SwarmAnnounce, SwarmAnnounceResult } from '../swarm/types.js';
import type { ResolvedTrackerOptions } from '../options.js';
import type { AnswerWriter } from './answer-writer.js';
import type { FailureReporter } from './failures.js';
import { hybridSide, type HybridCredit } from './hybrid-credit.js';
import type { HybridCounts } from './hybrid-counts.js';
import type { HistoryRecorder } from '../history/recorder.js';
import type { StorageAccess } from './storage.js';

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
  /** A BEP 21 partial seed (`event=paused` with bytes left): set only then. */
  partial?: true;
  /** Private mode: the user the passkey belongs to (never the passkey itself). */
  user?: UserId;
}

/** One announce handed to the core by a transport. */
export interface AnnounceCall<T> {
  /** The validated request. */
  request: AnnounceRequest;
  /** The client's address as text, or already as 4 or 16 bytes (a WebSocket peer's route). */
  remote: string | Buffer | undefined;
  /** The passkey segment of the URL (private trackers). */
  passkey: string | undefined;
  /** Turns the outcome into the transport's answer. */
  writer: AnswerWriter<T>;
  /** Answer only if no I/O is needed: undefined instead of starting anything asynchronous. */
  syncOnly?: boolean;
  /** The peer belongs in the WebTorrent swarms. */
  webrtc?: boolean;
}

/** What the pipeline needs of the tracker. */
export interface AnnounceDeps {
  options: ResolvedTrackerOptions;
  policy: PolicyChain | undefined;
  storage: StorageAccess;
  failures: FailureReporter;
  counters: TrackerCounters;
  ledger: TrafficLedger | undefined;
  /** Credit of hybrid torrents, combined across their two swarms (with the ledger). */
  hybrid: HybridCredit | undefined;
  /** Torrent-level counts of hybrid torrents. */
  hybridCounts: HybridCounts;
  /** Per-torrent history (the `history` option). */
  history: HistoryRecorder | undefined;
  /** Where `announce` events go. */
  events: EventEmitter;
  /** The bans in force: the last rule of the chain, run for every announce once there is a ban. */
  bans: BanList;
}

/** A prepared announce: the validated request and the store call. */
type Prepared = [AnnounceRequest, SwarmAnnounce];

/** What a store said about an announce: a refusal, or the peer's previous state. */
interface Outcome {
  complete: number;
  incomplete: number;
  refusal?: PeerRefusal;
  previous?: PeerState;
  counted?: boolean;
}

/** See the module comment. */
export class AnnouncePipeline {
  private readonly options: ResolvedTrackerOptions;
  /** Peer state is kept in the store (private mode or interval enforcement). */
  private readonly stateful: boolean;
  /** `maxSwarms` / `maxPeers`, handed to the store with every announce (undefined: no caps). */
  private readonly limits: SwarmAnnounce['limits'];
  /** Scratch space for the compact fast path (one announce at a time: the path is synchronous). */
  private readonly scratch4: Buffer;
  private readonly scratch6: Buffer;
  private readonly scratchCounts: CompactOutcome = { complete: 0, incomplete: 0, downloaded: 0 };

  constructor(private readonly deps: AnnounceDeps) {
    const options = (this.options = deps.options);
    this.stateful = deps.policy?.passkeys !== undefined || options.enforceInterval;
    this.limits = options.maxSwarms > 0 || options.maxPeers > 0 ? Object.freeze({ swarms: options.maxSwarms, peers: options.maxPeers }) : undefined;
    this.scratch4 = Buffer.alloc(options.maxNumwant * 6);
    this.scratch6 = Buffer.alloc(options.maxNumwant * 18);
  }

  /** An HTTP announce from its raw query string (length and format checked here). */
  fromQuery<T>(rawQuery: string, remote: string | undefined, passkey: string | undefined, writer: AnswerWriter<T>): T | Promise<T> {
    let request: AnnounceRequest;
    try {
      if (rawQuery.length > this.options.maxQueryLength) {
        throw new TrackerFailure(`request too long (limit ${this.options.maxQueryLength} characters)`);
      }
      request = parseAnnounce(rawQuery, this.options);
    } catch (error) {
      return writer.failure(this.deps.failures.reason(error));
    }
    return this.announce(request, remote, passkey, writer, false, false)!;
  }

  /** One validated announce: the answer at once when no I/O is needed, else a promise of it. */
  run<T>(call: AnnounceCall<T>): T | Promise<T> | undefined {
    return this.announce(call.request, call.remote, call.passkey, call.writer, call.syncOnly === true, call.webrtc === true);
  }

  // The steps below take positional parameters: they run for every announce, and allocate nothing of their own.

  private announce<T>(
    request: AnnounceRequest,
    remote: string | Buffer | undefined,
    passkey: string | undefined,
    writer: AnswerWriter<T>,
    syncOnly: boolean,
    webrtc: boolean,
  ): T | Promise<T> | undefined {
    const prepared = this.prepare(request, remote);
    if (typeof prepared === 'string') return writer.failure(prepared);
    const policy = this.deps.policy;
    if (!policy) return this.store(prepared, undefined, writer, syncOnly, webrtc);
    let grant: Grant | undefined;
    try {
      grant = policy.grantNow(passkey, () => request.infoHash.toString('hex'), request.peerId);
    } catch (error) {
      return writer.failure(this.deps.failures.reason(error));
    }
    if (grant) return this.store(prepared, grant, writer, syncOnly, webrtc);
    return syncOnly ? undefined : this.afterPolicy(prepared, passkey, writer, webrtc);
  }

  private async afterPolicy<T>(prepared: Prepared, passkey: string | undefined, writer: AnswerWriter<T>, webrtc: boolean): Promise<T> {
    let grant: Grant;
    try {
      grant = await this.deps.policy!.grant(passkey, prepared[0].infoHash.toString('hex'), prepared[0].peerId);
    } catch (error) {
      return writer.failure(this.deps.failures.reason(error));
    }
    return this.store(prepared, grant, writer, false, webrtc) as T | Promise<T>;
  }

  /** The store call: in memory at once (compact answers straight from scratch buffers), else awaited. */
  private store<T>(prepared: Prepared, grant: Grant | undefined, writer: AnswerWriter<T>, syncOnly: boolean, webrtc: boolean): T | Promise<T> | undefined {
    if (grant) this.applyGrant(prepared, grant);
    const [request, swarmRequest] = prepared;
    const bans = this.deps.bans;
    if (bans.size !== 0) {
      const refused = this.banned(prepared, grant, webrtc);
      if (refused !== undefined) return writer.failure(refused);
    }
    const memory = this.deps.storage.memoryFor(webrtc);
    if (!memory) return syncOnly ? undefined : this.storeAsync(prepared, grant, writer, webrtc);
    try {
      if (writer.compact && (request.compact || writer.alwaysCompact)) return this.compact(memory, prepared, grant, writer, webrtc);
      const result = memory.announceSync(swarmRequest);
      const refused = this.end(prepared, grant, result);
      if (refused === undefined && bans.filterUntil !== 0 && !webrtc) result.peers = this.unbanned(result.peers);
      return refused === undefined ? writer.peers(result, result.peers, request) : writer.failure(refused);
    } catch (error) {
      return writer.failure(this.deps.failures.reason(error));
    }
  }

  private async storeAsync<T>(prepared: Prepared, grant: Grant | undefined, writer: AnswerWriter<T>, webrtc: boolean): Promise<T> {
    const { storage } = this.deps;
    try {
      const store = await storage.opened(webrtc);
      const result = await storage.bounded(store.announce(prepared[1]));
      const refused = this.end(prepared, grant, result);
      if (refused === undefined && this.deps.bans.filterUntil !== 0 && !webrtc) result.peers = this.unbanned(result.peers);
      return refused === undefined ? writer.peers(result, result.peers, prepared[0]) : writer.failure(refused);
    } catch (error) {
      return writer.failure(this.deps.failures.reason(error));
    }
  }

  /**
   * The hot path: memory store and a compact answer. The sample is written straight into reused
   * scratch buffers and handed to the writer (which copies it); no peer objects, no promise.
   */
  private compact<T>(memory: MemorySwarmStore, prepared: Prepared, grant: Grant | undefined, writer: AnswerWriter<T>, webrtc: boolean): T {
    const counts = this.scratchCounts;
    counts.refusal = undefined;
    counts.previous = undefined;
    counts.counted = undefined;
    let packed = memory.announceCompact(prepared[1], this.scratch4, this.scratch6, counts);
    const refused = this.end(prepared, grant, counts);
    if (refused !== undefined) return writer.failure(refused);
    if (this.deps.bans.filterUntil !== 0 && !webrtc) packed = this.unbannedCompact(packed);
    return writer.compact!(counts, this.scratch4.subarray(0, (packed & 0xffff) * 6), this.scratch6.subarray(0, (packed >>> 16) * 18), prepared[0]);
  }

  /**
   * The one ending of every announce: a refusal becomes its failure reason (returned); an accepted
   * announce is credited, counted and reported (undefined returned: the caller writes the answer).
   */
  private end(prepared: Prepared, grant: Grant | undefined, outcome: Outcome): string | undefined {
    if (outcome.refusal) return this.deps.failures.refusal(outcome.refusal);
    const history = this.deps.history;
    if (grant?.rules.infoHashV2 !== undefined && prepared[0].transport !== 'websocket') {
      const level = history && this.levelHistory(history, grant.rules, prepared[1].event);
      this.deps.hybridCounts.record(grant.rules, prepared[1], level);
      if (history && !level) this.recordHistory(history, prepared, grant, outcome);
    } else if (history) this.recordHistory(history, prepared, grant, outcome);
    this.credit(prepared, grant, outcome);
    this.report(prepared, grant?.user);
    return undefined;
  }

  /** History of an accepted announce, under a hybrid torrent's v1 hash when its pair is known, with the swarm's counts. */
  private recordHistory(history: HistoryRecorder, prepared: Prepared, grant: Grant | undefined, outcome: Outcome): void {
    const request = prepared[1];
    const v1 = grant?.rules.infoHashV2 !== undefined ? grant.rules.infoHash : undefined;
    const torrent = v1 !== undefined ? v1.toLowerCase() : Buffer.from(request.infoHash).toString('hex');
    history.record(torrent, request.event === 'completed' && outcome.counted !== false, outcome.complete, outcome.incomplete);
  }

  /**
   * A hybrid torrent whose pair is known: its history is recorded from the torrent-level answer (one
   * completion per client, counts of the torrent), once that answer comes. Undefined when there is
   * no torrent level (a store without siblings).
   */
  private levelHistory(history: HistoryRecorder, rules: TorrentRules, event: SwarmAnnounce['event']): ((result: SwarmAnnounceResult) => void) | undefined {
    if (rules.infoHash === undefined || !this.deps.hybridCounts.store()) return undefined;
    const torrent = rules.infoHash.toLowerCase();
    return (result) => {
      if (!result.refusal) history.record(torrent, event === 'completed' && result.counted !== false, result.complete, result.incomplete);
    };
  }

  /**
   * The ban rule: the failure reason for a banned peer (its listed entry is removed, as by its own
   * `stopped`), else undefined. Addresses are the peer's as the tracker sees it.
   */
  private banned(prepared: Prepared, grant: Grant | undefined, webrtc: boolean): string | undefined {
    const [request, swarmRequest] = prepared;
    const ban = this.deps.bans.match(request.remote ?? swarmRequest.ip, request.peerId, grant?.user);
    if (!ban) return undefined;
    const stop: SwarmAnnounce = { ...swarmRequest, event: 'stopped', numwant: 0, limits: undefined };
    const { storage } = this.deps;
    const memory = storage.memoryFor(webrtc);
    try {
      if (memory) memory.announceSync(stop);
      else void storage.opened(webrtc).then((store) => storage.bounded(store.announce(stop))).catch(() => undefined);
    } catch {
      // removing it is a courtesy: it is refused either way, and its entry would expire
    }
    return this.deps.failures.reason(new TrackerFailure(banReason(ban), 'denied'));
  }

  /** A peer sample without the peers banned by address or client (they may be listed until they announce again). */
  private unbanned(peers: Peer[]): Peer[] {
    const bans = this.deps.bans;
    if (bans.filterUntil < Date.now()) bans.filterUntil = 0;
    if (bans.addressBans === 0 && bans.clientBans === 0) return peers;
    return peers.filter((peer) => bans.matchAddress(peer.ip) === undefined && bans.matchClient(peer.peerId) === undefined);
  }

  /** {@link unbanned} for the compact scratch buffers: entries of banned addresses are dropped in place. */
  private unbannedCompact(packed: number): number {
    const bans = this.deps.bans;
    if (bans.filterUntil < Date.now()) bans.filterUntil = 0;
    if (bans.addressBans === 0) return packed;
    const keep = (buffer: Buffer, count: number, size: number): number => {
      let kept = 0;
      for (let i = 0; i < count; i++) {
        if (bans.matchAddress(buffer, i * size, size - 2) !== undefined) continue;
        if (kept !== i) buffer.copy(buffer, kept * size, i * size, i * size + size);
        kept++;
      }
      return kept;
    };
    return keep(this.scratch4, packed & 0xffff, 6) + keep(this.scratch6, packed >>> 16, 18) * 65536;
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
      counters: this.deps.ledger !== undefined,
    };
  }

  /** The store call for a validated announce, or a failure reason. */
  private prepare(request: AnnounceRequest, remote: string | Buffer | undefined): Prepared | string {
    const options = this.options;
    const ip =
      (options.allowIpParameter ? request.ipParameter : undefined) ??
      (typeof remote === 'string' || remote === undefined ? parseAddress(remote) : remote);
    if (!ip) return this.deps.failures.reason(new TrackerFailure('cannot determine your IP address'));
    const numwant = request.event === 'stopped' ? 0 : Math.min(request.numwant ?? options.numwant, options.maxNumwant);
    const swarmRequest: SwarmAnnounce = {
      infoHash: request.infoHash,
      peerId: request.peerId,
      ip,
      port: request.port,
      seeder: request.left === 0,
      event: request.event,
      numwant,
      ttl: options.peerTtl,
      key: request.key,
      limits: this.limits,
    };
    if (request.paused && request.left !== 0) swarmRequest.partial = true;
    if (this.stateful && !this.deps.policy) {
      // Interval enforcement in public mode: peers have no owner.
      swarmRequest.private = { owner: '', minInterval: options.minInterval * 1000, uploaded: request.uploaded, downloaded: request.downloaded, counters: false };
    }
    return [request, swarmRequest];
  }

  /** Private-mode accounting: the credit of an accepted announce goes to the ledger. */
  private credit(prepared: Prepared, grant: Grant | undefined, outcome: Outcome): void {
    const ledger = this.deps.ledger;
    if (!ledger || grant?.user === undefined) return;
    const request = prepared[0];
    const { previous } = outcome;
    const at = Date.now();
    const credit = creditAnnounce(
      previous,
      { event: request.event, uploaded: request.uploaded, downloaded: request.downloaded, at },
      grant.rules,
      this.options.peerTtl * 1000,
      outcome.counted,
    );
    const rate = this.options.maxCreditRate;
    if (rate > 0 && previous) {
      const clipped = clipCredit(credit, at - previous.at, rate, grant.rules);
      if (clipped > 0) this.deps.counters.clipped(clipped);
    }
    const hex = request.infoHash.toString('hex');
    const side = this.deps.hybrid && hybridSide(grant.rules, hex);
    if (side === undefined) return ledger.add(grant.user, hex, credit);
    const client = request.key !== undefined ? `k${request.key}` : `p${request.peerId.toString('hex')}`;
    this.deps.hybrid!.add(grant.user, grant.rules, side, client, credit);
  }

  /** Count the announce and emit `announce` (hex at the edges) when someone listens. */
  private report(prepared: Prepared, user: UserId | undefined): void {
    const request = prepared[1];
    const remote = prepared[0].remote ?? request.ip;
    this.deps.counters.announce(prepared[0].transport ?? 'http', request.event, remote.length === 16);
    const events = this.deps.events;
    if (events.listenerCount('announce') === 0) return;
    const info: AnnounceEventInfo = {
      infoHash: Buffer.from(request.infoHash).toString('hex'),
      peerId: Buffer.from(request.peerId).toString('hex'),
      ip: formatAddress(remote),
      port: request.port,
      event: request.event,
      seeder: request.seeder,
    };
    if (request.partial) info.partial = true;
    if (user !== undefined) info.user = user;
    try {
      events.emit('announce', info);
    } catch (error) {
      // The site's listener threw: the announce stands (it is stored); the error goes to `failure`.
      this.deps.failures.listenerError('an announce listener threw', error);
    }
  }
}
