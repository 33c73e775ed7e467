/**
 * Several app instances, each its own Node process with the tracker middleware, on one shared store:
 * every instance must see one and the same swarm. Runs for Redis (native store) and for the generic
 * Keyv store on SQLite, PostgreSQL and MariaDB.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@keyv/redis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openStore } from '../../src/swarm/open.js';
import { compactPeers, decodeDict, failureOf } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { ensureBuilt, startInstance as start, stopInstance, type Instance } from '../helpers/instances.js';
import { describeService, MYSQL_URL, POSTGRES_URL, reachable, REDIS_URL, uniqueName } from '../helpers/store-services.js';

const INSTANCES = 3;
const PEERS = 600;
const startInstance = (env: Record<string, string>): Promise<Instance> => start('swarm/fixtures/instance.mjs', env);

interface TestPeer {
  id: Buffer;
  port: number;
  seeder: boolean;
}

async function get(url: string): Promise<Buffer> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

async function announce(instance: Instance, ih: Buffer, peer: TestPeer, event = '', numwant = 0): Promise<Record<string, unknown>> {
  const q =
    `info_hash=${escapeAll(ih)}&peer_id=${escapeAll(peer.id)}&port=${peer.port}&uploaded=0&downloaded=0` +
    `&left=${peer.seeder ? 0 : 1000}&compact=1&numwant=${numwant}${event ? `&event=${event}` : ''}`;
  const body = await get(`${instance.base}/tracker/announce?${q}`);
  const failure = failureOf(body);
  if (failure) throw new Error(`announce failed: ${failure}`);
  return decodeDict(body);
}

async function scrape(instance: Instance, ih: Buffer): Promise<{ complete: number; incomplete: number; downloaded: number }> {
  const body = await get(`${instance.base}/tracker/scrape?info_hash=${escapeAll(ih)}`);
  const failure = failureOf(body);
  if (failure) throw new Error(`scrape failed: ${failure}`);
  const files = decodeDict(body).files as Record<string, Record<string, number>>;
  const entry = files[ih.toString('latin1')];
  return { complete: entry.complete, incomplete: entry.incomplete, downloaded: entry.downloaded };
}

async function flushAll(instances: Instance[]): Promise<void> {
  for (const i of instances) {
    const res = await fetch(`${i.base}/control/flush`);
    expect(res.status).toBe(204);
  }
}

/** The scenario of the issue, on `INSTANCES` processes sharing `env`'s store. */
function scenario(env: () => Record<string, string>): void {
  let instances: Instance[] = [];

  beforeAll(async () => {
    ensureBuilt();
    instances = await Promise.all(Array.from({ length: INSTANCES }, () => startInstance(env())));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(instances.map(stopInstance));
  });

  it(`${PEERS} peers through ${INSTANCES} processes: exact counts everywhere, completed and stopped through other instances, full samples`, async () => {
    const ids = instances.map((i) => i.id).filter((id) => id !== null);
    expect(new Set(ids).size).toBe(ids.length); // Keyv stores: every process writes its own shards
    const ih = randomBytes(20);
    const peers: TestPeer[] = Array.from({ length: PEERS }, (_, i) => ({ id: randomBytes(20), port: 10_000 + i, seeder: i % 4 === 0 }));
    // 1. everybody starts, concurrently, spread over the instances
    await Promise.all(peers.map((p, i) => announce(instances[i % INSTANCES], ih, p, 'started')));
    await flushAll(instances);
    let seeders = PEERS / 4;
    for (const i of instances) expect(await scrape(i, ih)).toEqual({ complete: seeders, incomplete: PEERS - seeders, downloaded: 0 });

    // 2. 200 peers complete, each through another instance than the one it started on
    const completing = peers.filter((p) => !p.seeder).slice(0, 200);
    await Promise.all(
      completing.map((p) => {
        p.seeder = true;
        return announce(instances[(peers.indexOf(p) + 1) % INSTANCES], ih, p, 'completed');
      }),
    );
    await flushAll(instances);
    seeders += 200;
    for (const i of instances) expect(await scrape(i, ih)).toEqual({ complete: seeders, incomplete: PEERS - seeders, downloaded: 200 });

    // 3. 100 peers stop, each through yet another instance
    const stopping = peers.slice(100, 200);
    await Promise.all(stopping.map((p) => announce(instances[(peers.indexOf(p) + 2) % INSTANCES], ih, p, 'stopped')));
    const stoppedSeeders = stopping.filter((p) => p.seeder).length;
    await flushAll(instances);
    seeders -= stoppedSeeders;
    const live = PEERS - 100;
    for (const i of instances) expect(await scrape(i, ih)).toEqual({ complete: seeders, incomplete: live - seeders, downloaded: 200 });

    // 4. a new peer gets a full sample of the shared swarm from any instance, never a stopped peer
    const stoppedPorts = new Set(stopping.map((p) => `127.0.0.1:${p.port}`));
    for (const [n, i] of instances.entries()) {
      // each sampling peer has its own port: a later one may be handed an earlier one
      const answer = await announce(i, ih, { id: randomBytes(20), port: 9000 + n, seeder: false }, 'started', 50);
      const sample = compactPeers(answer.peers, 4);
      expect(sample).toHaveLength(50);
      expect(new Set(sample).size).toBe(50);
      for (const p of sample) expect(stoppedPorts.has(p)).toBe(false);
      expect(answer.complete).toBe(seeders);
    }
    const leechers = live - seeders + INSTANCES; // plus the sampling peers of step 4

    // 5. once everything is written, one process crashes (SIGKILL) and another takes its place:
    // every count survives, completed counters included.
    await flushAll(instances);
    const crashed = instances[0];
    process.kill(crashed.child.pid as number, 'SIGKILL');
    await new Promise((r) => crashed.child.once('exit', r));
    instances[0] = await startInstance(env());
    await flushAll(instances);
    for (const i of instances) expect(await scrape(i, ih)).toEqual({ complete: seeders, incomplete: leechers, downloaded: 200 });
  }, 120_000);
}

const redisUp = await reachable(REDIS_URL);
describeService('Redis', redisUp, 'multi-instance: native Redis store', () => {
  const namespace = uniqueName('ettmi');
  scenario(() => ({ STORE: REDIS_URL, NAMESPACE: namespace }));
  afterAll(async () => {
    const raw = createClient({ url: REDIS_URL });
    raw.on('error', () => undefined);
    await raw.connect();
    for await (const keys of raw.scanIterator({ MATCH: `${namespace}*`, COUNT: 1000 })) if (keys.length) await raw.del(keys);
    await raw.close();
  });
});

describeService('SQLite', true, 'multi-instance: Keyv store on one SQLite file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ett-mi-'));
  scenario(() => ({ STORE: `sqlite://${join(dir, 'shared.sqlite')}`, NAMESPACE: 'mi' }));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
});

const postgresUp = await reachable(POSTGRES_URL);
describeService('PostgreSQL', postgresUp, 'multi-instance: Keyv store on PostgreSQL', () => {
  const table = uniqueName('ettmi');
  scenario(() => ({ STORE: POSTGRES_URL, NAMESPACE: 'mi', TABLE: table }));
  afterAll(async () => {
    const { store } = await openStore(POSTGRES_URL, { table });
    const adapter = (store as unknown as { keyv: { store: { query(s: string): Promise<unknown> } } }).keyv.store;
    await adapter.query(`DROP TABLE IF EXISTS ${table}`);
    await store.close?.();
  });
});

const mysqlUp = await reachable(MYSQL_URL);
describeService('MariaDB', mysqlUp, 'multi-instance: Keyv store on MariaDB', () => {
  const table = uniqueName('ettmi');
  scenario(() => ({ STORE: MYSQL_URL, NAMESPACE: 'mi', TABLE: table }));
  afterAll(async () => {
    const { store } = await openStore(MYSQL_URL, { table });
    const adapter = (store as unknown as { keyv: { store: { query(s: string): Promise<unknown> } } }).keyv.store;
    await adapter.query(`DROP TABLE IF EXISTS ${table}`);
    await store.close?.();
  });
});
