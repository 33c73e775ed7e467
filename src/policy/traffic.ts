/**
 * Traffic accounting (`onTraffic`): the credit of one announce from the peer's previous accepted
 * announce (pure), and the ledger that sums credits per (user, info hash) and hands them to the site
 * in batches.
 *
 * Credit rules:
 * - the first announce of a peer, or `started`, sets the baseline and credits nothing;
 * - a counter lower than before (the client restarted) sets a new baseline and credits nothing;
 * - otherwise the deltas of `uploaded` and `downloaded` are credited, multiplied by the torrent's
 *   `uploadFactor` / `downloadFactor` (raw deltas are reported too);
 * - `seedSeconds`: the time since the previous announce when the peer was a seeder then, capped at
 *   the peer TTL (a peer that vanished for longer was not seeding all along);
 * - `completed`: one per `completed` event the store counted (added to `downloaded`): at most one
 *   per peer while it is listed, so repeats, and a `completed` from a peer already listed as a
 *   seeder, credit nothing.
 */
import { withDeadline } from '../util/deadline.js';
import type { AnnounceEvent, PeerState, TorrentRules } from '../types.js';
import type { UserId } from './passkey.js';

/** One accounting record: what one user did on one torrent since the last batch. */
export interface TrafficRecord {
  /** The user id the passkey function returned. */
  user: UserId;
  /** Info hash, lowercase hex. */
  infoHash: string;
  /** Credited upload (raw × uploadFactor), bytes. */
  uploaded: number;
  /** Credited download (raw × downloadFactor), bytes. */
  downloaded: number;
  /** Uploaded bytes as the client reported them (sum of deltas). */
  rawUploaded: number;
  /** Downloaded bytes as the client reported them (sum of deltas). */
  rawDownloaded: number;
  /** Seconds spent seeding. */
  seedSeconds: number;
  /** `completed` events. */
  completed: number;
}

/** The credit of one announce. */
export type Credit = Omit<TrafficRecord, 'user' | 'infoHash'>;

/** What the accounting needs of the current announce. */
export interface CreditInput {
  event: AnnounceEvent;
  uploaded: number;
  downloaded: number;
  /** Store clock, ms. */
  at: number;
}

/**
 * The credit of an accepted announce, given the peer's state before it (see the module comment).
 * `counted`: for a `completed`, whether the store counted it (`SwarmAnnounceResult.counted`); false
 * credits no completion, undefined counts (a store that does not say counts every `completed`).
 */
export function creditAnnounce(
  previous: PeerState | undefined,
  current: CreditInput,
  rules: TorrentRules,
  peerTtl: number,
  counted?: boolean,
): Credit {
  const completed = current.event === 'completed' && counted !== false ? 1 : 0;
  const credit: Credit = { uploaded: 0, downloaded: 0, rawUploaded: 0, rawDownloaded: 0, seedSeconds: 0, completed };
  if (!previous || current.event === 'started') return credit;
  if (current.uploaded < previous.uploaded || current.downloaded < previous.downloaded) return credit;
  credit.rawUploaded = current.uploaded - previous.uploaded;
  credit.rawDownloaded = current.downloaded - previous.downloaded;
  credit.uploaded = Math.round(credit.rawUploaded * (rules.uploadFactor ?? 1));
  credit.downloaded = Math.round(credit.rawDownloaded * (rules.downloadFactor ?? 1));
  if (previous.seeder) credit.seedSeconds = Math.min(peerTtl, Math.max(0, current.at - previous.at)) / 1000;
  return credit;
}

/** True when a credit carries nothing (a baseline). */
export function isEmptyCredit(c: Credit): boolean {
  return c.rawUploaded === 0 && c.rawDownloaded === 0 && c.seedSeconds === 0 && c.completed === 0;
}

/**
 * Clip a credit to what a client could plausibly have moved since its previous announce: at most
 * `rate` bytes per second of the time between the two announces (at least one second), for upload
 * and download alike; the credited bytes follow the raw ones. Returns the raw bytes clipped.
 */
export function clipCredit(credit: Credit, elapsedMs: number, rate: number, rules: TorrentRules): number {
  const limit = rate * Math.max(1, elapsedMs / 1000);
  let clipped = 0;
  if (credit.rawUploaded > limit) {
    clipped += credit.rawUploaded - limit;
    credit.rawUploaded = Math.floor(limit);
    credit.uploaded = Math.round(credit.rawUploaded * (rules.uploadFactor ?? 1));
  }
  if (credit.rawDownloaded > limit) {
    clipped += credit.rawDownloaded - limit;
    credit.rawDownloaded = Math.floor(limit);
    credit.downloaded = Math.round(credit.rawDownloaded * (rules.downloadFactor ?? 1));
  }
  return Math.round(clipped);
}

/** A byte count as a safe integer: sums saturate at 2^53−1 instead of losing precision or reaching Infinity. */
function safeBytes(n: number): number {
  return Number.isFinite(n) ? Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, Math.round(n))) : n > 0 ? Number.MAX_SAFE_INTEGER : 0;
}

/** Add `b` into `a` (byte counts saturate at 2^53−1: the site only ever sees safe integers). */
function addInto(a: Credit, b: Credit): void {
  a.uploaded = safeBytes(a.uploaded + b.uploaded);
  a.downloaded = safeBytes(a.downloaded + b.downloaded);
  a.rawUploaded = safeBytes(a.rawUploaded + b.rawUploaded);
  a.rawDownloaded = safeBytes(a.rawDownloaded + b.rawDownloaded);
  a.seedSeconds += Number.isFinite(b.seedSeconds) ? b.seedSeconds : 0;
  a.completed += b.completed;
}

/** A credit with its byte counts made safe integers (a torrent factor may be huge). */
function safeCredit(c: Credit): Credit {
  return {
    uploaded: safeBytes(c.uploaded),
    downloaded: safeBytes(c.downloaded),
    rawUploaded: safeBytes(c.rawUploaded),
    rawDownloaded: safeBytes(c.rawDownloaded),
    seedSeconds: Number.isFinite(c.seedSeconds) ? c.seedSeconds : 0,
    completed: c.completed,
  };
}

/** The `onTraffic` callback. */
export type TrafficCallback = (records: TrafficRecord[]) => void | Promise<void>;

/**
 * Sums credits per (user, info hash) and hands them over every `interval` ms. One hand-over at a
 * time; a batch whose callback throws, rejects or does not settle within `timeout` ms is kept and
 * merged into the next one, so nothing is lost (a callback that hangs and then writes late would
 * count its batch twice: docs/private-trackers.md says so). Nothing waits on a hung callback: later batches and
 * {@link close} go on after the deadline.
 */
export class TrafficLedger {
  private pending = new Map<string, TrafficRecord>();
  private running: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly callback: TrafficCallback,
    interval: number,
    private readonly onError: (error: unknown) => void = () => undefined,
    private readonly timeout = 10_000,
  ) {
    this.timer = setInterval(() => void this.flush().catch(() => undefined), interval);
    this.timer.unref();
  }

  /** Records waiting for the next hand-over. */
  get size(): number {
    return this.pending.size;
  }

  /** Add the credit of one announce. */
  add(user: UserId, infoHash: string, credit: Credit): void {
    if (isEmptyCredit(credit)) return;
    const key = `${typeof user === 'number' ? 'n' : 's'}${user}\n${infoHash}`;
    const record = this.pending.get(key);
    if (record) addInto(record, credit);
    else this.pending.set(key, { user, infoHash, ...safeCredit(credit) });
  }

  /**
   * Hand the pending records to the callback now (after any hand-over in progress). Rejects with the
   * callback's error (or a timeout error after `timeout` ms); the records are then kept for the next
   * hand-over.
   */
  async flush(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const run = (async () => {
      try {
        const records = [...batch.values()];
        const call = (async () => this.callback(records))();
        await withDeadline(call, this.timeout, () => new Error(`onTraffic did not settle within ${this.timeout} ms`));
      } catch (error) {
        // Keep the batch: merge it back under whatever arrived meanwhile.
        for (const [key, record] of batch) {
          const newer = this.pending.get(key);
          if (newer) addInto(record, newer);
          this.pending.set(key, record);
        }
        this.onError(error);
        throw error;
      }
    })();
    this.running = run;
    try {
      await run;
    } finally {
      if (this.running === run) this.running = undefined;
    }
  }

  /** Stop the timer and hand over the last batch (rejects if the callback fails or does not settle in time: never hangs). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
