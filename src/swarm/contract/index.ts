/**
 * The contract every {@link SwarmStore} passes, published as `express-torrent-tracker/store-contract`
 * so that the author of a store can run it: behaviours on a fake clock (expiry without sleeping),
 * registered with the test runner's own `describe` and `it` (vitest, jest, node:test), checked with
 * node:assert. The built-in stores run it in this project's tests.
 *
 * ```ts
 * import { describe, it } from 'vitest';
 * import { describeStoreContract } from 'express-torrent-tracker/store-contract';
 * describeStoreContract({ describe, it }, 'my store', { create: (clock) => new MyStore({ now: clock.now }) });
 * ```
 */
import type { SwarmStore } from '../types.js';
import { announceCases } from './announce-cases.js';
import { banCases } from './ban-cases.js';
import { completionCases } from './completion-cases.js';
import { expect } from './expect.js';
import { listingCases } from './listing-cases.js';
import { partialCases } from './partial-cases.js';
import { fakeClock, type ContractCase, type StoreFactory, type TestRunner } from './fixtures.js';
import { privateCases } from './private-cases.js';
import { scrapeCases } from './scrape-cases.js';
import { capsCases, totalsCases } from './totals-cases.js';

export { announceOf, fakeClock, hash, v4, type FakeClock, type StoreFactory, type TestRunner } from './fixtures.js';

/**
 * Register the contract's cases for the store that `factory` creates, under
 * `SwarmStore contract: <name>`. Each case gets a fresh store on a fresh fake clock and disposes of
 * it afterwards. Private-mode cases are grouped under `private mode` (skip them with
 * `privateMode: false` in the factory); the totals case needs `totals()` (skip: `totals: false`); the
 * BEP 21 partial-seed cases need `downloaders` in scrape counts (skip: `partialSeeds: false`).
 */
export function describeStoreContract(runner: TestRunner, name: string, factory: StoreFactory): void {
  runner.describe(`SwarmStore contract: ${name}`, () => {
    const totals = factory.totals === false ? [] : totalsCases;
    const partial = factory.partialSeeds === false ? [] : partialCases;
    const cases = [...announceCases, ...scrapeCases, ...partial, ...completionCases, ...totals, ...capsCases, ...listingCases, ...banCases];
    for (const c of cases) register(runner, factory, c, false);
    if (factory.privateMode !== false) {
      runner.describe('private mode', () => {
        for (const c of privateCases) register(runner, factory, c, true);
      });
    }
  });
}

/** One case as a test of the runner: fresh store, the case, then dispose (also after a failure). */
function register(runner: TestRunner, factory: StoreFactory, c: ContractCase, needsPrivateMode: boolean): void {
  runner.it(c.name, async () => {
    const clock = fakeClock();
    const store: SwarmStore = await factory.create(clock);
    try {
      if (needsPrivateMode) expect(store.privateMode, 'the store honours SwarmAnnounce.private (privateMode: true)').toBe(true);
      await c.run(store, clock, factory);
    } finally {
      await (factory.dispose ? factory.dispose(store) : store.close?.());
    }
  });
}
