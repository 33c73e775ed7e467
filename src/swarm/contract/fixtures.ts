/**
 * What the store contract's cases are built from: a fake clock (expiry without sleeping), the factory
 * a store author hands in, the test runner's functions, and announce requests with sensible defaults.
 */
import { randomBytes } from 'node:crypto';
import type { SwarmAnnounce, SwarmStore } from '../types.js';
import type { SwarmCounts } from '../../types.js';

/** A controllable clock in milliseconds: hand `now` to the store, `advance` it in the test. */
export interface FakeClock {
  /** The current time, ms since the epoch. */
  now: () => number;
  /** Move time forward by `seconds`. */
  advance(seconds: number): void;
}

/** A {@link FakeClock} starting at `start` (ms; default 2026-01-01 UTC). */
export function fakeClock(start = Date.UTC(2026, 0, 1)): FakeClock {
  let t = start;
  return { now: () => t, advance: (s) => void (t += s * 1000) };
}

/** Creates a fresh, empty store on `clock` for each case; `dispose` (default: `close()`) ends it. */
export interface StoreFactory {
  /** A new, empty store whose clock is `clock.now`. */
  create(clock: FakeClock): Promise<SwarmStore> | SwarmStore;
  /** Called after each case, also when it failed. Default: `store.close?.()`. */
  dispose?(store: SwarmStore): Promise<void>;
  /** Caps see totals up to a second old (Redis Cluster): the caps case waits that long before checking. */
  approximateCaps?: boolean;
  /**
   * `false`: the store does not honour `SwarmAnnounce.private` (its `privateMode` is not true), and the
   * private-mode cases are not registered. Otherwise they run, and a store without `privateMode`
   * fails them.
   */
  privateMode?: boolean;
  /** `false`: the store has no `totals()`; the totals case is not registered. */
  totals?: boolean;
  /**
   * `false`: the store does not keep BEP 21 partial seeds apart (`SwarmAnnounce.partial`, scrape
   * `downloaders`); the partial-seed cases are not registered.
   */
  partialSeeds?: boolean;
}

/**
 * The functions of a test runner the contract registers its cases with: vitest's, jest's or
 * node:test's `describe` and `it` fit as they are. Wrap `it` to give each case a timeout.
 */
export interface TestRunner {
  /** Group cases under a name. */
  describe(name: string, body: () => void): unknown;
  /** One case; it fails when `body` rejects. */
  it(name: string, body: () => Promise<void>): unknown;
}

/** A random 20-byte info hash (or peer id). */
export const hash = (): Buffer => randomBytes(20);

/** An IPv4 address as 4 bytes. */
export const v4 = (a: number, b: number, c: number, d: number): Buffer => Buffer.from([a, b, c, d]);

/** A `started` announce of a new leecher (random peer id, 10.0.0.1:6881, numwant 50, ttl 120 s) into `infoHash`, with `overrides`. */
export function announceOf(infoHash: Buffer, overrides: Partial<SwarmAnnounce> = {}): SwarmAnnounce {
  return {
    infoHash,
    peerId: randomBytes(20),
    ip: v4(10, 0, 0, 1),
    port: 6881,
    seeder: false,
    event: 'started',
    numwant: 50,
    ttl: 120,
    ...overrides,
  };
}

/** Bytes as lowercase hex (peer ids and addresses compare as text). */
export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** One case of the contract: it gets a fresh store on a fresh clock. */
export interface ContractCase {
  /** The case's name, as the runner reports it. */
  name: string;
  /** The case; throws (an assertion error) when the store breaks the contract. */
  run(store: SwarmStore, clock: FakeClock, factory: StoreFactory): Promise<void>;
}

/** The three counters every store keeps, without `downloaders` (the partial-seed cases check that). */
export const three = ({ complete, incomplete, downloaded }: SwarmCounts): SwarmCounts => ({ complete, incomplete, downloaded });
