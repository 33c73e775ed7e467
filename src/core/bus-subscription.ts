/**
 * A subscription to the store's bus (Redis pub/sub) that keeps trying: a failed subscribe is retried
 * every 2 s until it works or the subscription is closed. Shared by the forget bus and the bans.
 */
import type { StoreBus } from '../swarm/types.js';

/** See the module comment. */
export class BusSubscription {
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private unsubscribe: (() => Promise<void>) | undefined;

  /** Start listening to `bus` with `onMessage`. */
  constructor(bus: StoreBus, onMessage: (text: string) => void) {
    const attempt = (): void => {
      this.retry = undefined;
      if (this.closed) return;
      bus.subscribe(onMessage).then(
        (unsubscribe) => {
          if (this.closed) void unsubscribe();
          else this.unsubscribe = unsubscribe;
        },
        () => {
          if (this.closed) return;
          this.retry = setTimeout(attempt, 2000);
          this.retry.unref();
        },
      );
    };
    attempt();
  }

  /** Stop listening (and retrying). Never rejects. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    await this.unsubscribe?.().catch(() => undefined);
  }
}
