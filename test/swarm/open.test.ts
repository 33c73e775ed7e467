import Keyv from 'keyv';
import { describe, expect, it } from 'vitest';
import { KeyvSwarmStore } from '../../src/swarm/keyv/keyv-store.js';
import { MemorySwarmStore } from '../../src/swarm/memory/memory-store.js';
import { importAdapter, isKeyv, openStore } from '../../src/swarm/open.js';
import { POSTGRES_URL, reachable } from '../helpers/store-services.js';
import { announceOf, hash } from '../../src/swarm/contract/index.js';

const postgresUp = await reachable(POSTGRES_URL);

describe('openStore', () => {
  it('nothing gives the memory store, owned by the tracker', async () => {
    const opened = await openStore(undefined);
    expect(opened.store).toBeInstanceOf(MemorySwarmStore);
    expect(opened.owned).toBe(true);
    await opened.store.close?.();
  });

  it('a SwarmStore is used as is and not owned', async () => {
    const mine = new MemorySwarmStore();
    expect(await openStore(mine)).toEqual({ store: mine, owned: false });
    await mine.close();
  });

  it('a Keyv that is not Redis gives the Keyv store; the Keyv is not disconnected on close', async () => {
    const keyv = new Keyv();
    expect(isKeyv(keyv)).toBe(true);
    const { store } = await openStore(keyv, { claimSettle: 5 });
    expect(store).toBeInstanceOf(KeyvSwarmStore);
    await store.announce(announceOf(hash()));
    await store.close?.();
    expect(await keyv.set('still', 'usable')).toBe(true);
  });

  it('rejects unknown schemes and other values with a clear message', async () => {
    await expect(openStore('mongodb://localhost/x')).rejects.toThrow(/unsupported URI scheme "mongodb"/);
    await expect(openStore(42 as never)).rejects.toThrow(/options\.store must be a connection URI .*, a Keyv instance or a SwarmStore; leave it out for memory \(got 42\)/);
  });

  it('names the package to install when an adapter is missing', async () => {
    await expect(importAdapter('@keyv/not-installed-adapter', 'sqlite')).rejects.toThrow(
      'options.store: a sqlite:// URI needs the package @keyv/not-installed-adapter; install it with "npm install @keyv/not-installed-adapter"',
    );
  });

  it.skipIf(!postgresUp && process.env.CI !== 'true')('accepts postgres:// as well as postgresql://', async () => {
    const table = `ett_alias_${process.pid}`;
    const { store } = await openStore(POSTGRES_URL.replace(/^postgresql:/, 'postgres:'), { table, claimSettle: 5 });
    expect((await store.announce(announceOf(hash()))).incomplete).toBe(1);
    await (store as unknown as { keyv: { store: { query(s: string): Promise<unknown> } } }).keyv.store.query(`DROP TABLE ${table}`);
    await store.close?.();
  });
});
