import { afterAll, describe, expect, it } from 'vitest';
import { KeyvSwarmStore } from '../../src/swarm/keyv/keyv-store.js';
import { openStore } from '../../src/swarm/open.js';
import type { SwarmStore } from '../../src/swarm/types.js';
import { describeService, freePort, MYSQL_URL, POSTGRES_URL, reachable, TcpProxy, uniqueName } from '../helpers/store-services.js';
import { announceOf, describeStoreContract, fakeClock, hash } from '../../src/swarm/contract/index.js';

const backends = [
  { name: 'PostgreSQL', url: POSTGRES_URL, up: await reachable(POSTGRES_URL) },
  { name: 'MariaDB', url: MYSQL_URL, up: await reachable(MYSQL_URL) },
];

/** Run one SQL statement through the store's own adapter (the adapters expose `query`). */
async function sql(store: SwarmStore, statement: string): Promise<void> {
  const keyv = (store as unknown as { keyv: { store: { query(s: string): Promise<unknown> } } }).keyv;
  await keyv.store.query(statement);
}

for (const backend of backends) {
  const table = uniqueName('ett');
  describeService(backend.name, backend.up, `Keyv store on ${backend.name}`, () => {
    let cleaner: SwarmStore | undefined;
    afterAll(async () => {
      // One last store on the same table drops it.
      cleaner = (await openStore(backend.url, { table, claimSettle: 5 })).store;
      await sql(cleaner, `DROP TABLE IF EXISTS ${table}`);
      await cleaner.close?.();
    });

    let n = 0;
    describeStoreContract({ describe, it }, `keyv: ${backend.name} URI`, {
      create: async (clock) =>
        (await openStore(backend.url, { table, prefix: `c${n++}`, now: clock.now, claimSettle: 5 })).store,
    });

    describe('outage and recovery (the database behind a TCP proxy that is cut and restored)', () => {
      async function waitForSuccess(fn: () => Promise<unknown>, ms: number): Promise<boolean> {
        const deadline = Date.now() + ms;
        while (Date.now() < deadline) {
          try {
            await fn();
            return true;
          } catch {
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        return false;
      }

      it('fails within about a second while the database is unreachable, never crashes, recovers by itself', async () => {
        const errors: unknown[] = [];
        const onError = (e: unknown): void => void errors.push(e);
        process.on('unhandledRejection', onError);
        process.on('uncaughtException', onError);
        const target = new URL(backend.url);
        const proxy = new TcpProxy(await freePort(), { host: target.hostname, port: Number(target.port) });
        await proxy.start();
        const { store } = await openStore(proxy.rewrite(backend.url), { table, prefix: 'outage', claimSettle: 5, remoteCacheTtl: 0 });
        try {
          const ih = hash();
          const a = announceOf(ih);
          expect((await store.announce(a)).incomplete).toBe(1);
          await (store as KeyvSwarmStore).flush();
          await new Promise((r) => setTimeout(r, 300)); // pooled connections are idle now: cut them
          await proxy.stop();
          for (let i = 0; i < 3; i++) {
            const t = Date.now();
            await expect(store.announce({ ...a, event: 'update' })).rejects.toThrow();
            expect(Date.now() - t).toBeLessThan(1500);
          }
          await proxy.start();
          expect(await waitForSuccess(() => store.announce({ ...a, event: 'update' }), 10_000)).toBe(true);
          expect(await store.scrape([ih])).toEqual([{ complete: 0, incomplete: 1, downloaded: 0, downloaders: 1 }]);
          expect(errors).toEqual([]);
        } finally {
          process.off('unhandledRejection', onError);
          process.off('uncaughtException', onError);
          await store.close?.();
          await proxy.stop();
        }
      });

      it('a store opened while the database is down starts working once it is up', async () => {
        const target = new URL(backend.url);
        const proxy = new TcpProxy(await freePort(), { host: target.hostname, port: Number(target.port) });
        const { store } = await openStore(proxy.rewrite(backend.url), { table, prefix: 'late', claimSettle: 5 });
        try {
          await expect(store.announce(announceOf(hash()))).rejects.toThrow();
          await proxy.start();
          expect(await waitForSuccess(() => store.announce(announceOf(hash())), 10_000)).toBe(true);
        } finally {
          await store.close?.();
          await proxy.stop();
        }
      });
    });

    it('keeps big shards (more peers on one instance than one value holds) and shrinks them again', async () => {
      const clock = fakeClock();
      const a = (await openStore(backend.url, { table, prefix: 'big', now: clock.now, claimSettle: 5, writeInterval: 60_000 })).store as KeyvSwarmStore;
      const keyv = (a as unknown as { keyv: ConstructorParameters<typeof KeyvSwarmStore>[0] }).keyv;
      const b = new KeyvSwarmStore(keyv, { prefix: 'big', now: clock.now, claimSettle: 5, writeInterval: 60_000 });
      try {
        const ih = hash();
        const peers = Array.from({ length: 2000 }, (_, i) => announceOf(ih, { numwant: 0, seeder: i % 2 === 0, ip: Buffer.alloc(16, i % 7) }));
        for (const p of peers) await a.announce(p);
        await a.flush();
        const chunk = `big:${ih.toString('hex')}:${a.instanceId}:4`; // 2000 records: the value + 4 chunks
        expect(await keyv.get(chunk)).toBeDefined();
        expect(await b.scrape([ih])).toEqual([{ complete: 1000, incomplete: 1000, downloaded: 0, downloaders: 1000 }]);
        for (const p of peers.slice(100)) await a.announce({ ...p, event: 'stopped' });
        clock.advance(121); // the tombstones expire too: the shard is back to one value
        await a.announce({ ...peers[0], event: 'update' });
        await a.flush();
        expect(await keyv.get(chunk)).toBeUndefined();
        expect(await b.scrape([ih])).toEqual([{ complete: 1, incomplete: 0, downloaded: 0, downloaders: 0 }]);
      } finally {
        await b.close();
        await a.close();
      }
    });

    describe('several instances on one table', () => {
      it('count exactly once flushed, dedupe moved peers, honour stops sent elsewhere', async () => {
        const clock = fakeClock();
        // One process, one adapter, three stores with their own slots: the same protocol as three hosts.
        const first = (await openStore(backend.url, { table, prefix: 'multi', now: clock.now, claimSettle: 20, writeInterval: 60_000 })).store as KeyvSwarmStore;
        const keyv = (first as unknown as { keyv: ConstructorParameters<typeof KeyvSwarmStore>[0] }).keyv;
        const others = [1, 2].map(() => new KeyvSwarmStore(keyv, { prefix: 'multi', now: clock.now, claimSettle: 20, writeInterval: 60_000 }));
        const stores = [first, ...others];
        try {
          const ih = hash();
          const peers = Array.from({ length: 60 }, (_, i) => announceOf(ih, { seeder: i < 20 }));
          await Promise.all(peers.map((p, i) => stores[i % 3].announce(p)));
          clock.advance(1);
          await Promise.all(peers.slice(20, 40).map((p, i) => stores[(i + 1) % 3].announce({ ...p, event: 'completed', seeder: true })));
          await Promise.all(peers.slice(40, 50).map((p, i) => stores[(i + 2) % 3].announce({ ...p, event: 'stopped' })));
          for (const s of stores) await s.flush();
          for (const s of stores) expect(await s.scrape([ih])).toEqual([{ complete: 40, incomplete: 10, downloaded: 20, downloaders: 10 }]);
          expect(new Set(stores.map((s) => s.instanceId)).size).toBe(3);
        } finally {
          for (const s of others) await s.close();
          await first.close();
        }
      });
    });
  });
}

describe('SQL stores: unreachable database', () => {
  for (const scheme of ['postgresql', 'mysql']) {
    it(`${scheme}:// on a closed port fails within about a second, without crashing`, async () => {
      const errors: unknown[] = [];
      const onError = (e: unknown): void => void errors.push(e);
      process.on('unhandledRejection', onError);
      process.on('uncaughtException', onError);
      try {
        const port = await freePort();
        const { store } = await openStore(`${scheme}://root@127.0.0.1:${port}/test`, { table: 'unused' });
        for (let i = 0; i < 2; i++) {
          const t = Date.now();
          await expect(store.announce(announceOf(hash()))).rejects.toThrow();
          expect(Date.now() - t).toBeLessThan(1500);
        }
        await store.close?.();
        await new Promise((r) => setTimeout(r, 200));
        expect(errors).toEqual([]);
      } finally {
        process.off('unhandledRejection', onError);
        process.off('uncaughtException', onError);
      }
    });
  }
});
