/**
 * Health checks and draining of one tracker: what `tracker.health()` reports and what
 * `tracker.drain()` does. The doors (UDP, WebSocket, the standalone HTTP server) register themselves
 * here ({@link HealthKeeper.attachDoor}) so that readiness knows whether they are up and draining
 * reaches them, without the core knowing any transport.
 */
import type { StorageAccess } from '../core/storage.js';
import type { TrafficLedger } from '../policy/traffic.js';

/** One check's result: `detail` says what failed (never a secret). */
export interface HealthCheck {
  ok: boolean;
  detail?: string;
}

/** What `tracker.health()` reports: ready when every check is ok. */
export interface HealthReport {
  ready: boolean;
  checks: Record<string, HealthCheck>;
}

/** Options of `tracker.drain()`. */
export interface DrainOptions {
  /** Milliseconds the whole drain may take; then whatever is left is closed at once. Default 10 000. */
  timeout?: number;
}

/** What a drain did. */
export interface DrainResult {
  /** True when some step did not finish within the timeout (what was left was closed at once). */
  timedOut: boolean;
  /** Steps that failed (`onTraffic` rejected, the snapshot could not be saved…), for logs. */
  errors: string[];
}

/** A transport as readiness and draining see it. */
export interface Door {
  /** True while the door can take clients (a UDP socket bound). Omit for a door that is always up. */
  ready?(): boolean;
  /** Stop taking new clients and let the current ones go (WebSocket 1001, in-flight HTTP answered). */
  drain(): Promise<void>;
  /** Called when the drain ran out of time: cut what is left at once. */
  abort?(): void;
}

/** Records waiting for `onTraffic` above which the tracker says it is not ready. */
export const MAX_TRAFFIC_BACKLOG = 100_000;

/** What the keeper needs of the core. */
export interface HealthDeps {
  storage: StorageAccess;
  ledger: TrafficLedger | undefined;
  /** Hand pending `onTraffic` records over (the tracker's flushTraffic). */
  flushTraffic(): Promise<void>;
  /** Close the tracker (its close()). */
  close(): Promise<void>;
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Readiness checks and the drain of one tracker. */
export class HealthKeeper {
  private readonly doors = new Map<string, Door>();
  private draining: Promise<DrainResult> | undefined;

  constructor(private readonly deps: HealthDeps) {}

  /** True once a drain started. */
  get isDraining(): boolean {
    return this.draining !== undefined;
  }

  /** Register a door under `name` (`udp`, `websocket`, `http`); returns the function that removes it. */
  attachDoor(name: string, door: Door): () => void {
    let key = name;
    for (let n = 2; this.doors.has(key); n++) key = `${name}${n}`;
    this.doors.set(key, door);
    return () => {
      if (this.doors.get(key) === door) this.doors.delete(key);
    };
  }

  /** Every check: the store (one real call within storeTimeout), each door, the traffic backlog, draining. */
  async health(): Promise<HealthReport> {
    const checks: Record<string, HealthCheck> = {};
    try {
      await this.deps.storage.check();
      checks.store = { ok: true };
    } catch (error) {
      checks.store = { ok: false, detail: message(error) };
    }
    for (const [name, door] of this.doors) {
      if (door.ready === undefined) continue;
      checks[name] = door.ready() ? { ok: true } : { ok: false, detail: `${name} is not listening` };
    }
    const backlog = this.deps.ledger?.size ?? 0;
    checks.traffic =
      backlog <= MAX_TRAFFIC_BACKLOG ? { ok: true } : { ok: false, detail: `${backlog} onTraffic records waiting (more than ${MAX_TRAFFIC_BACKLOG})` };
    checks.draining = this.draining === undefined ? { ok: true } : { ok: false, detail: 'the tracker is draining (shutting down)' };
    return { ready: Object.values(checks).every((check) => check.ok), checks };
  }

  /**
   * Readiness fails at once; every door drains (WebSockets closed with 1001, UDP datagrams dropped,
   * in-flight HTTP answered); pending `onTraffic` records are handed over; the store is saved when it
   * can be (`save()`); then the tracker closes. Bounded by `timeout` overall. Idempotent.
   */
  drain(options: DrainOptions = {}): Promise<DrainResult> {
    this.draining ??= this.run(options.timeout ?? 10_000);
    return this.draining;
  }

  private async run(timeout: number): Promise<DrainResult> {
    const errors: string[] = [];
    const attempt = async (what: string, step: () => Promise<unknown> | undefined): Promise<void> => {
      try {
        await step();
      } catch (error) {
        errors.push(`${what}: ${message(error)}`);
      }
    };
    const doors = [...this.doors.values()];
    const steps = (async () => {
      await Promise.all(doors.map((door) => attempt('a door did not drain', () => door.drain())));
      await attempt('onTraffic', () => this.deps.flushTraffic());
      const store = this.deps.storage.store as { save?: () => Promise<void> } | undefined;
      await attempt('saving the store', () => store?.save?.());
      await attempt('closing', () => this.deps.close());
    })();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), timeout);
      timer.unref();
    });
    const outcome = await Promise.race([steps.then(() => 'done' as const), late]);
    clearTimeout(timer);
    if (outcome === 'done') return { timedOut: false, errors };
    for (const door of doors) {
      try {
        door.abort?.();
      } catch {
        // cutting connections: nothing more to do
      }
    }
    // The close itself is bounded too (trafficTimeout, storeTimeout); give it one more second at most.
    await Promise.race([this.deps.close().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    return { timedOut: true, errors };
  }
}
