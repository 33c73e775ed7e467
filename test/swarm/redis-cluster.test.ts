/**
 * The native Redis store on a real Redis Cluster (three private masters started by the test): the
 * whole contract passes, and the swarms are spread over the nodes (every key of one swarm on one).
 */
import KeyvRedis, { createClient, createCluster } from '@keyv/redis';
import Keyv from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/swarm/open.js';
import { RedisSwarmStore } from '../../src/swarm/redis/redis-store.js';
import { describeService, PrivateRedisCluster, redisTools, uniqueName } from '../helpers/store-services.js';
import { announceOf, describeStoreContract, hash } from '../../src/swarm/contract/index.js';

describeService('redis-server and redis-cli (for a private Redis Cluster)', redisTools(), 'Redis store on Redis Cluster', () => {
  const cluster = new PrivateRedisCluster(3, 0);
  let ports: number[] = [];
  const keyvs: Keyv[] = [];

  beforeAll(async () => {
    await cluster.start();
    ports = cluster.ports;
  }, 30_000);

  afterAll(async () => {
    for (const keyv of keyvs) await keyv.disconnect().catch(() => undefined);
    await cluster.stop();
  });

  function clusterKeyv(namespace: string): Keyv {
    const cluster = createCluster({ rootNodes: ports.map((p) => ({ url: `redis://127.0.0.1:${p}` })) });
    cluster.on('error', () => undefined);
    const keyv = new Keyv(new KeyvRedis(cluster), { namespace, useKeyPrefix: false });
    keyv.on('error', () => undefined);
    keyvs.push(keyv);
    return keyv;
  }

  describeStoreContract({ describe, it }, 'redis cluster', {
    approximateCaps: true,
    async create(clock) {
      const { store } = await openStore(clusterKeyv(uniqueName('cl')), { now: clock.now });
      expect(store).toBeInstanceOf(RedisSwarmStore);
      return store;
    },
  });

  it('spreads swarms over the nodes, all keys of one swarm on one node', async () => {
    const ns = uniqueName('spread');
    const { store } = await openStore(clusterKeyv(ns));
    const hashes = Array.from({ length: 30 }, () => hash());
    for (const ih of hashes) {
      await store.announce(announceOf(ih, { seeder: true }));
      await store.announce(announceOf(ih, { event: 'completed' }));
    }
    const perNode: string[][] = [];
    const totalsKeys: string[] = [];
    for (const port of ports) {
      const raw = createClient({ url: `redis://127.0.0.1:${port}` });
      raw.on('error', () => undefined);
      await raw.connect();
      // The totals (expiry wheel and totals hash) share their own slot, on one of the nodes.
      const keys = await raw.keys(`${ns}*`);
      perNode.push(keys.filter((k) => !k.includes('{totals}')));
      totalsKeys.push(...keys.filter((k) => k.includes('{totals}')));
      await raw.close();
    }
    expect(totalsKeys.sort()).toEqual([`${ns}::swarm:{totals}:t`, `${ns}::swarm:{totals}:w`]);
    expect(await store.totals!()).toEqual({ torrents: 30, seeders: 30, leechers: 30, peers: 60, ipv4: 60, ipv6: 0 });
    expect(perNode.flat()).toHaveLength(30 * 4);
    expect(perNode.filter((keys) => keys.length > 0).length).toBe(3);
    for (const keys of perNode) {
      const tags = new Set(keys.map((k) => /\{([0-9a-f]{40})\}/.exec(k)?.[1]));
      for (const tag of tags) expect(keys.filter((k) => k.includes(`{${tag}}`))).toHaveLength(4);
    }
    expect(await store.scrape(hashes.slice(0, 5))).toEqual(Array(5).fill({ complete: 1, incomplete: 1, downloaded: 1, downloaders: 1 }));
    const all = await store.scrapeAll!(1000); // walks every master
    expect(all.map((e) => Buffer.from(e.infoHash).toString('hex')).sort()).toEqual(hashes.map((h) => h.toString('hex')).sort());
  });
});
