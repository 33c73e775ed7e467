/**
 * Accounting of hybrid torrents: the credit of an announce in one of a torrent's two swarms is
 * combined with the other swarm's (policy/credit-once.ts: the larger of the two, not the sum) before
 * it reaches the ledger, under the torrent's v1 info hash. The states live in the store when it can
 * share them between instances (`SwarmStore.mergeCredit`, Redis), else in this process.
 */
import { MemoryCreditMerger, type CreditAmounts } from '../policy/credit-once.js';
import type { UserId } from '../policy/passkey.js';
import type { Credit, TrafficLedger } from '../policy/traffic.js';
import type { TorrentRules } from '../types.js';
import type { StorageAccess } from './storage.js';

/** Which swarm of a hybrid torrent an announce is in: 0 (v1), 1 (v2), or undefined (not a pair). */
export function hybridSide(rules: TorrentRules, infoHashHex: string): 0 | 1 | undefined {
  if (rules.infoHash === undefined || rules.infoHashV2 === undefined) return undefined;
  if (infoHashHex === rules.infoHash) return 0;
  if (infoHashHex === rules.infoHashV2.slice(0, 40)) return 1;
  return undefined;
}

/** See the module comment. */
export class HybridCredit {
  private readonly local = new MemoryCreditMerger();
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly storage: StorageAccess,
    private readonly ledger: TrafficLedger,
    /** How long a state is kept after its last use, ms. */
    private readonly ttl: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /**
   * Combine one swarm's `credit` for `user`'s client (`client`: its `key`, else its peer id) and hand
   * the increment to the ledger. Synchronous with a store that keeps no shared state.
   */
  add(user: UserId, rules: TorrentRules, side: 0 | 1, client: string, credit: Credit): void {
    const amounts: CreditAmounts = [credit.rawUploaded, credit.rawDownloaded, Math.round(credit.seedSeconds * 1000), credit.completed];
    if (amounts.every((n) => n === 0)) return;
    const key = `${rules.infoHash}:${typeof user === 'number' ? 'n' : 's'}${user}:${client}`;
    const store = this.storage.store;
    if (!store?.mergeCredit) return this.apply(user, rules, this.local.mergeSync(key, side, amounts, this.ttl));
    const done: Promise<void> = this.storage.bounded(store.mergeCredit(key, side, amounts, this.ttl)).then(
      (increment) => this.apply(user, rules, increment),
      (error: unknown) => {
        // The store failed: combine in this process rather than lose the credit.
        this.onError(error);
        this.apply(user, rules, this.local.mergeSync(key, side, amounts, this.ttl));
      },
    );
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
  }

  /** Resolves once every combination in flight has reached the ledger. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private apply(user: UserId, rules: TorrentRules, [up, down, seedMs, completed]: CreditAmounts): void {
    this.ledger.add(user, rules.infoHash!, {
      rawUploaded: up,
      rawDownloaded: down,
      uploaded: Math.round(up * (rules.uploadFactor ?? 1)),
      downloaded: Math.round(down * (rules.downloadFactor ?? 1)),
      seedSeconds: seedMs / 1000,
      completed,
    });
  }
}
