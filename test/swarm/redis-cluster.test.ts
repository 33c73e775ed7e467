/**
 * The native Redis store on a real Redis Cluster (three private masters started by the test): the
 * whole contract passes, and the swarms are spread over the nodes (every key of one swarm on one).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import KeyvRedis, { createClient, createCluster } from '@keyv/redis';
import Keyv from 'keyv';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openStore } from '../../src/swarm/open.js';
import { RedisSwarmStore } from '../../src/swarm/redis.js';
import { describeService, freePort, reachable, uniqueName } from '../helpers/store-services.js';
import { announceOf, describeStoreContract, hash } from './contract.js';

const tools = spawnSync('redis-server', ['--version']).status === 0 && spawnSync('redis-cli', ['--version']).status === 0;

describeService('redis-server and redis-cli (for a private Redis Cluster)', tools, 'Redis store on Redis Cluster', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ett-cluster-'));
  const nodes: ChildProcess[] = [];
  const ports: number[] = [];
  const keyvs: Keyv[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      ports.push(port);
      nodes.push(
        spawn(
          'redis-server',
          ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--save', '', '--appendonly', 'no', '--dir', dir],
          { stdio: 'ignore' },
        ),
      );
    }
    for (const port of ports) {
      while (!(await reachable(`redis://127.0.0.1:${port}`, 200))) await new Promise((r) => setTimeout(r, 50));
    }
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    // wait until every node agrees the cluster is up
    for (const port of ports) {
      for (let i = 0; i < 100; i++) {
        const info = spawnSync('redis-cli', ['-p', String(port), 'cluster', 'info'], { encoding: 'utf8' }).stdout;
        if (info.includes('cluster_state:ok')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }, 30_000);

  afterAll(async () => {
    for (const keyv of keyvs) await keyv.disconnect().catch(() => undefined);
    for (const node of nodes) if (node.pid !== undefined && node.exitCode === null) process.kill(node.pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  function clusterKeyv(namespace: string): Keyv {
    const cluster = createCluster({ rootNodes: ports.map((p) => ({ url: `redis://127.0.0.1:${p}` })) });
    cluster.on('error', () => undefined);
    const keyv = new Keyv(new KeyvRedis(cluster), { namespace, useKeyPrefix: false });
    keyv.on('error', () => undefined);
    keyvs.push(keyv);
    return keyv;
  }

  describeStoreContract('redis cluster', {
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
    for (const port of ports) {
      const raw = createClient({ url: `redis://127.0.0.1:${port}` });
      raw.on('error', () => undefined);
      await raw.connect();
      perNode.push(await raw.keys(`${ns}*`));
      await raw.close();
    }
    expect(perNode.flat()).toHaveLength(30 * 4);
    expect(perNode.filter((keys) => keys.length > 0).length).toBe(3);
    for (const keys of perNode) {
      const tags = new Set(keys.map((k) => /\{([0-9a-f]{40})\}/.exec(k)?.[1]));
      for (const tag of tags) expect(keys.filter((k) => k.includes(`{${tag}}`))).toHaveLength(4);
    }
    expect(await store.scrape(hashes.slice(0, 5))).toEqual(Array(5).fill({ complete: 1, incomplete: 1, downloaded: 1 }));
    const all = await store.scrapeAll!(1000); // walks every master
    expect(all.map((e) => Buffer.from(e.infoHash).toString('hex')).sort()).toEqual(hashes.map((h) => h.toString('hex')).sort());
  });
});
