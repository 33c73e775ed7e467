/**
 * A private tracker on three processes sharing one Redis: peers that a load balancer sends to a
 * different instance on every announce are credited exactly once (the sum of every batch of every
 * instance equals the exact totals), ownership and min interval hold across instances, and
 * `forgetPasskey` on one instance refuses that passkey on all of them within a second.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@keyv/redis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TrafficRecord } from '../../src/policy/traffic.js';
import { failureOf } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { ensureBuilt, startInstance, stopInstance, type Instance } from '../helpers/instances.js';
import { prng } from '../helpers/prng.js';
import { describeService, reachable, REDIS_URL, uniqueName } from '../helpers/store-services.js';

const USERS = { passkeyAlice000000000000000000001: 'alice', passkeyBob00000000000000000000002: 2, passkeyCarol0000000000000000000003: 'carol' };
const PASSKEYS = Object.keys(USERS) as Array<keyof typeof USERS>;
const PEERS = 60;
const ROUNDS = 6;

async function announce(instance: Instance, passkey: string, q: string): Promise<string | undefined> {
  const res = await fetch(`${instance.base}/tracker/${passkey}/announce?${q}`);
  expect(res.status).toBe(200);
  return failureOf(Buffer.from(await res.arrayBuffer()));
}

const redisUp = await reachable(REDIS_URL);
describeService('Redis', redisUp, 'private tracker: three processes on one Redis', () => {
  const namespace = uniqueName('ettpriv');
  const dir = mkdtempSync(join(tmpdir(), 'ett-privmi-'));
  const usersFile = join(dir, 'users.json');
  let free: Instance[] = [];
  let strict: Instance[] = [];
  let small: Instance[] = [];

  beforeAll(async () => {
    ensureBuilt();
    writeFileSync(usersFile, JSON.stringify(USERS));
    const env = (enforce: string) => ({ STORE: REDIS_URL, NAMESPACE: namespace, USERS: usersFile, ENFORCE: enforce });
    const smallCache = { ...env('0'), CACHE_SIZE: '20', REFUSAL_TTL: '0' };
    [free, strict, small] = await Promise.all([
      Promise.all([0, 1, 2].map(() => startInstance('swarm/fixtures/private-instance.mjs', env('0')))),
      Promise.all([0, 1].map(() => startInstance('swarm/fixtures/private-instance.mjs', env('1')))),
      Promise.all([0, 1].map(() => startInstance('swarm/fixtures/private-instance.mjs', smallCache))),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([...free, ...strict, ...small].map(stopInstance));
    rmSync(dir, { recursive: true, force: true });
    const raw = createClient({ url: REDIS_URL });
    raw.on('error', () => undefined);
    await raw.connect();
    for await (const keys of raw.scanIterator({ MATCH: `${namespace}*`, COUNT: 1000 })) if (keys.length) await raw.del(keys);
    await raw.close();
  });

  it(`${PEERS} peers hop between instances on every announce: every byte credited exactly once`, async () => {
    const random = prng(9);
    const torrents = [randomBytes(20), randomBytes(20)];
    const expected = new Map<string, { up: number; down: number; completed: number }>();
    const peers = Array.from({ length: PEERS }, (_, i) => ({
      id: randomBytes(20),
      passkey: PASSKEYS[i % 3],
      ih: torrents[i % 2],
      up: Math.floor(random() * 1e6),
      down: Math.floor(random() * 1e6),
    }));
    const q = (p: (typeof peers)[number], event: string, left = 1000) =>
      `info_hash=${escapeAll(p.ih)}&peer_id=${escapeAll(p.id)}&port=6881&uploaded=${p.up}&downloaded=${p.down}&left=${left}${event ? `&event=${event}` : ''}`;
    await Promise.all(
      peers.map(async (p, i) => {
        const key = `${USERS[p.passkey]}|${p.ih.toString('hex')}`;
        const total = expected.get(key) ?? { up: 0, down: 0, completed: 0 };
        expected.set(key, total);
        // started on one instance (the baseline: whatever the counters say, nothing is credited)
        expect(await announce(free[i % 3], p.passkey, q(p, 'started'))).toBeUndefined();
        for (let round = 1; round <= ROUNDS; round++) {
          const dUp = Math.floor(random() * 5e6);
          const dDown = Math.floor(random() * 5e6);
          p.up += dUp;
          p.down += dDown;
          total.up += dUp;
          total.down += dDown;
          const completes = round === 3 && i % 4 === 0;
          if (completes) total.completed++;
          const event = completes ? 'completed' : round === ROUNDS ? 'stopped' : '';
          // a different instance every time
          expect(await announce(free[(i + round) % 3], p.passkey, q(p, event, completes || round > 3 ? 0 : 1000))).toBeUndefined();
        }
      }),
    );
    const all: TrafficRecord[] = [];
    for (const instance of free) all.push(...((await (await fetch(`${instance.base}/control/traffic`)).json()) as TrafficRecord[]));
    // Every instance credited something (the hops really spread the work).
    expect(new Set(all.map((r) => r.infoHash)).size).toBe(2);
    const sums = new Map<string, { up: number; down: number; rawUp: number; rawDown: number; completed: number }>();
    for (const r of all) {
      const key = `${r.user}|${r.infoHash}`;
      const s = sums.get(key) ?? { up: 0, down: 0, rawUp: 0, rawDown: 0, completed: 0 };
      s.up += r.uploaded;
      s.down += r.downloaded;
      s.rawUp += r.rawUploaded;
      s.rawDown += r.rawDownloaded;
      s.completed += r.completed;
      sums.set(key, s);
    }
    expect(sums.size).toBe(expected.size);
    for (const [key, e] of expected) {
      expect(sums.get(key), key).toEqual({ up: e.up, down: e.down, rawUp: e.up, rawDown: e.down, completed: e.completed });
    }
    expect(typeof all.find((r) => r.user === 2)?.user).toBe('number');
  }, 60_000);

  it('ownership and min interval hold across instances (the state lives in Redis)', async () => {
    const ih = randomBytes(20);
    const id = randomBytes(20);
    const q = (event = '', up = 0) => `info_hash=${escapeAll(ih)}&peer_id=${escapeAll(id)}&port=6881&uploaded=${up}&downloaded=0&left=5${event ? `&event=${event}` : ''}`;
    expect(await announce(strict[0], PASSKEYS[0], q('started'))).toBeUndefined();
    expect(await announce(strict[1], PASSKEYS[0], q('', 10))).toMatch(/^announced too soon: wait \d+ more seconds/);
    expect(await announce(strict[1], PASSKEYS[1], q('stopped'))).toBe('this peer_id is in use by another user of this torrent');
    expect(await announce(strict[0], PASSKEYS[1], q('started'))).toBe('this peer_id is in use by another user of this torrent');
    expect(await announce(strict[1], PASSKEYS[0], q('stopped', 10))).toBeUndefined();
  });

  it('forgetPasskey on one instance refuses the passkey on all of them within a second', async () => {
    const ih = randomBytes(20);
    const banned = PASSKEYS[2];
    const q = () => `info_hash=${escapeAll(ih)}&peer_id=${escapeAll(randomBytes(20))}&port=6881&uploaded=0&downloaded=0&left=5&event=started`;
    // Every instance has the answer cached (policyCacheTtl is 60 s).
    for (const instance of free) expect(await announce(instance, banned, q())).toBeUndefined();
    const { [banned]: _gone, ...rest } = USERS;
    writeFileSync(usersFile, JSON.stringify(rest));
    for (const instance of free.slice(1)) expect(await announce(instance, banned, q())).toBeUndefined(); // still cached
    const t0 = Date.now();
    expect((await fetch(`${free[0].base}/control/forget?passkey=${banned}`)).status).toBe(204);
    const refusedAt: number[] = [];
    for (const instance of free) {
      for (;;) {
        if ((await announce(instance, banned, q())) === 'unknown or disabled passkey') break;
        expect(Date.now() - t0).toBeLessThan(1000);
      }
      refusedAt.push(Date.now() - t0);
    }
    expect(Math.max(...refusedAt)).toBeLessThan(1000);
    // Other users are unaffected.
    expect(await announce(free[2], PASSKEYS[0], q())).toBeUndefined();
  });

  // Failed on the old main: the digest → passkey side table was bounded apart from the cache, so a
  // flood of refused passkeys (not cached with policyRefusalTtl 0) pushed the member's digest out and
  // the forget from the other instance found nothing to drop.
  it('forgetPasskey reaches an instance flooded with random passkeys (policyRefusalTtl 0, a small cache)', async () => {
    const ih = randomBytes(20);
    const member = PASSKEYS[0];
    const q = () => `info_hash=${escapeAll(ih)}&peer_id=${escapeAll(randomBytes(20))}&port=6881&uploaded=0&downloaded=0&left=5&event=started`;
    for (const instance of small) expect(await announce(instance, member, q())).toBeUndefined();
    // 2 x policyCacheSize refused passkeys on the second instance.
    for (let i = 0; i < 40; i++) {
      expect(await announce(small[1], `flood${randomBytes(12).toString('hex')}`, q())).toBe('unknown or disabled passkey');
    }
    const { [member]: _gone, ...rest } = USERS;
    writeFileSync(usersFile, JSON.stringify(rest));
    try {
      expect(await announce(small[1], member, q())).toBeUndefined(); // still cached there
      const t0 = Date.now();
      expect((await fetch(`${small[0].base}/control/forget?passkey=${member}`)).status).toBe(204);
      for (;;) {
        if ((await announce(small[1], member, q())) === 'unknown or disabled passkey') break;
        expect(Date.now() - t0).toBeLessThan(1000);
      }
    } finally {
      writeFileSync(usersFile, JSON.stringify(USERS));
    }
  });
});
