/**
 * Failure mapping: every error the core meets becomes the one `failure reason` a client is told,
 * counted by kind and reported to `failure` listeners (with the cause, which clients never see).
 */
import type { EventEmitter } from 'node:events';
import { TrackerFailure } from '../protocol/errors.js';
import { LookupError } from '../policy/cache.js';
import { intervalReason } from '../rules/interval.js';
import { OWNER_REASON } from '../rules/owner.js';
import type { TrackerCounters } from '../stats/counters.js';
import type { PeerRefusal } from '../types.js';
import { StorageError } from './storage.js';

/** The failure for an announce that would move or remove someone else's peer. */
export const ADDRESS_REASON = 'this peer_id is listed from another address: announce from it, or with the same key';

/** The failure for an announce past `maxSwarms` / `maxPeers`. */
export const FULL_REASON = 'tracker is full, try again later';

/** The reason told for a bug of ours (the cause goes only to `failure` listeners). */
export const INTERNAL_REASON = 'internal tracker error';

/** Turns errors into failure reasons; counts them and emits `failure` on the tracker. */
export class FailureReporter {
  constructor(
    private readonly emitter: EventEmitter,
    private readonly counters: TrackerCounters,
    /** `minInterval` in ms, for the wording of interval refusals. */
    private readonly minIntervalMs: number,
    /** Told about a storage failure when nothing listens for `failure` (logs it once). */
    private readonly unheardStorageFailure: (error: StorageError) => void = () => undefined,
  ) {}

  /** The failure reason for `error`; counts it by kind and emits `failure`. */
  reason(error: unknown): string {
    let reason: string;
    if (error instanceof TrackerFailure) {
      reason = error.message;
      this.counters.failure(error.kind);
    } else if (error instanceof StorageError || error instanceof LookupError) {
      // A store that failed, or a site function (passkey, torrents) that threw or hung.
      reason = error.publicReason;
      this.counters.failure('storage');
    } else {
      reason = INTERNAL_REASON;
      this.counters.failure('internal');
    }
    this.emit(reason, error);
    return reason;
  }

  /** The failure reason for a store's refusal of an announce. */
  refusal(refusal: PeerRefusal): string {
    if (refusal.kind === 'full') return this.reason(new TrackerFailure(FULL_REASON, 'full'));
    const reason =
      refusal.kind === 'owner'
        ? OWNER_REASON
        : refusal.kind === 'address'
          ? ADDRESS_REASON
          : intervalReason(refusal.retryIn, this.minIntervalMs);
    return this.reason(new TrackerFailure(reason, 'refused'));
  }

  /** A bug in a site's listener or callback that answers nobody: counted as internal, reported. */
  listenerError(reason: string, error: unknown): void {
    this.counters.failure('internal');
    this.emit(reason, error);
  }

  /** Emit a site's event (`torrentRegistered`…); a listener that throws is reported to `failure`, never thrown. */
  notify(event: string, info: unknown): void {
    try {
      this.emitter.emit(event, info);
    } catch (error) {
      this.listenerError(`a ${event} listener threw`, error);
    }
  }

  /** Emit `failure` when someone listens; a listener that throws cannot break an answer. */
  emit(reason: string, error: unknown): void {
    if (this.emitter.listenerCount('failure') === 0) {
      if (error instanceof StorageError) this.unheardStorageFailure(error);
      return;
    }
    try {
      this.emitter.emit('failure', { reason, error });
    } catch {
      // Nowhere left to report it: the answer goes out regardless.
    }
  }
}
