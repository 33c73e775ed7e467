import KeyvRedis, { createClient } from '@keyv/redis';
import Keyv from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRedisKeyv, openStore } from '../../src/swarm/open.js';
import { RedisSwarmStore } from '../../src/swarm/redis/redis-store.js';
import type { SwarmAnnounce, SwarmStore } from '../../src/swarm/types.js';
import { describeService, freePort, PrivateRedis, reachable, REDIS_URL, uniqueName } from '../helpers/store-services.js';
import { randomBytes } from 'node:crypto';
import { failureOf } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet, startApp } from '../helpers/http.js';
import { announceOf, describeStoreContract, fakeClock, hash } from '../../src/swarm/contract/index.js';

const up = await reachable(REDIS_URL);

/** A raw client for inspecting keys (SCAN), separate from the stores under test. */
type Raw = ReturnType<typeof createClient>;

async function scanKeys(raw: Raw, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const reply = await raw.scan(cursor, { MATCH: pattern, COUNT: 1000 });
    cursor = String(reply.cursor);
    keys.push(...reply.keys);
  } while (cursor !== '0');
  return keys;
}

async function deleteKeys(raw: Raw, pattern: string): Promise<void> {
  const keys = await scanKeys(raw, pattern);
  if (keys.length > 0) await raw.del(keys);
}

describeService('Redis', up, 'Redis store', () => {
  let raw: Raw;
  const namespaces: string[] = [];

  beforeAll(async () => {
    raw = createClient({ url: REDIS_URL });
    raw.on('error', () => undefined);
    await raw.connect();
  });

  afterAll(async () => {
    for (const ns of namespaces) await deleteKeys(raw, `${ns}*`);
    await raw.close();
  });

  const stores = new Map<SwarmStore, string>();
  describeStoreContract({ describe, it }, 'redis (URI)', {
    async create(clock) {
      const ns = uniqueName('ett');
      namespaces.push(ns);
      const { store } = await openStore(REDIS_URL, { namespace: ns, now: clock.now });
      stores.set(store, ns);
      return store;
    },
    async dispose(store) {
      await store.close?.();
      const ns = stores.get(store);
      if (ns) await deleteKeys(raw, `${ns}*`);
    },
  });

  describeStoreContract({ describe, it }, 'redis (Keyv instance made by the app)', {
    async create(clock) {
      const ns = uniqueName('ettk');
      namespaces.push(ns);
      const keyv = new Keyv(new KeyvRedis(REDIS_URL), { namespace: ns });
      const { store } = await openStore(keyv, { now: clock.now });
      expect(store).toBeInstanceOf(RedisSwarmStore);
      stores.set(store, ns);
      (store as unknown as { appKeyv: Keyv }).appKeyv = keyv;
      return store;
    },
    async dispose(store) {
      await store.close?.();
      await (store as unknown as { appKeyv: Keyv }).appKeyv.disconnect();
      const ns = stores.get(store);
      if (ns) await deleteKeys(raw, `${ns}*`);
    },
  });

  describe('bounded work', () => {
    it('trims at most 1000 expired peers per set and announce; counts and samples never show an expired peer', async () => {
      const ns = uniqueName('etttrim');
      namespaces.push(ns);
      let t = 1_000_000_000_000;
      const { store } = await openStore(REDIS_URL, { namespace: ns, now: () => t });
      const redis = store as RedisSwarmStore;
      const ih = randomBytes(20);
      const [, L] = redis.swarmKeys(ih);
      const ip = Buffer.from([10, 0, 0, 1]);
      for (let i = 0; i < 2500; i += 250) {
        await Promise.all(
          Array.from({ length: 250 }, (_, k) =>
            store.announce({ infoHash: ih, peerId: randomBytes(20), ip, port: 1 + i + k, seeder: false, event: 'started', numwant: 0, ttl: 60 }),
          ),
        );
      }
      const fresh = randomBytes(20);
      t += 61_000; // every peer above expired
      const first = await store.announce({ infoHash: ih, peerId: fresh, ip, port: 9999, seeder: false, event: 'started', numwant: 50, ttl: 60 });
      expect(first).toMatchObject({ complete: 0, incomplete: 1, peers: [] });
      expect(await raw.zCard(L)).toBe(2500 - 1000 + 1); // bounded: the rest waits for later announces
      const second = await store.announce({ infoHash: ih, peerId: randomBytes(20), ip, port: 9998, seeder: false, event: 'started', numwant: 50, ttl: 60 });
      expect(second.incomplete).toBe(2);
      // While a backlog is being trimmed the sample may be short, but never holds an expired peer.
      for (const p of second.peers) expect(p.port).toBe(9999);
      expect(await raw.zCard(L)).toBe(2500 - 2000 + 2);
      expect((await store.scrape([ih]))[0]).toEqual({ complete: 0, incomplete: 2, downloaded: 0, downloaders: 2 });
      await store.announce({ infoHash: ih, peerId: fresh, ip, port: 9999, seeder: false, event: 'update', numwant: 0, ttl: 60 });
      expect(await raw.zCard(L)).toBe(2);
      await store.close?.();
    });

    it('partial seeds never outlive the leechers: a backlog trim and the last peer leaving take them along', async () => {
      const ns = uniqueName('ettpartial');
      namespaces.push(ns);
      let t = 1_000_000_000_000;
      const { store } = await openStore(REDIS_URL, { namespace: ns, now: () => t });
      const ih = randomBytes(20);
      const [, , , , , Q] = (store as RedisSwarmStore).swarmKeys(ih);
      const ip = Buffer.from([10, 0, 0, 1]);
      const peer = (port: number, extra: Partial<SwarmAnnounce> = {}): SwarmAnnounce => ({ infoHash: ih, peerId: randomBytes(20), ip, port, seeder: false, event: 'started', numwant: 0, ttl: 1, ...extra });
      // 1001 short-lived leechers (a trim backlog once they expire), 2 short-lived partial seeds, 1 long-lived seeder.
      for (let i = 0; i < 1001; i += 250) await Promise.all(Array.from({ length: Math.min(250, 1001 - i) }, (_, k) => store.announce(peer(1 + i + k))));
      // (Ids that sort last: among equal expiries the trim takes the first 1000 ids, so these stay behind.)
      await store.announce(peer(2001, { partial: true, peerId: Buffer.alloc(20, 0xff) }));
      await store.announce(peer(2002, { partial: true, peerId: Buffer.alloc(20, 0xfe) }));
      const seeder = peer(3000, { seeder: true, ttl: 100 });
      await store.announce(seeder);
      t += 50_000; // everyone but the seeder expired; the seeder, the last peer, leaves
      await store.announce({ ...seeder, event: 'stopped' });
      expect(await raw.exists(Q)).toBe(0);
      const next = await store.announce(peer(4000, { ttl: 100 }));
      expect(next).toMatchObject({ complete: 0, incomplete: 1, downloaders: 1 });
      expect((await store.scrape([ih]))[0]).toEqual({ complete: 0, incomplete: 1, downloaded: 0, downloaders: 1 });
      await store.close?.();
    });

    it('one full scrape at a time, shared by concurrent callers', async () => {
      const ns = uniqueName('ettfull');
      namespaces.push(ns);
      const { store } = await openStore(REDIS_URL, { namespace: ns });
      await store.announce({ infoHash: randomBytes(20), peerId: randomBytes(20), ip: Buffer.from([1, 2, 3, 4]), port: 1, seeder: true, event: 'started', numwant: 0, ttl: 60 });
      const a = store.scrapeAll!(10);
      const b = store.scrapeAll!(10);
      expect(b).toBe(a);
      expect(await a).toHaveLength(1);
      await store.close?.();
    });
  });

  describe('layout', () => {
    it('keeps every key of a swarm under the Keyv namespace with one hash tag, peer data binary', async () => {
      const ns = uniqueName('ettl');
      namespaces.push(ns);
      const { store } = await openStore(REDIS_URL, { namespace: ns });
      const ih = hash();
      const a = announceOf(ih, { port: 0x1234 });
      await store.announce(a);
      await store.announce({ ...a, event: 'completed', seeder: true });
      const all = (await scanKeys(raw, `${ns}*`)).sort();
      // Besides the swarm, only the global totals (expiry wheel and totals hash, their own hash tag).
      expect(all.filter((k) => k.includes('{totals}')).sort()).toEqual([`${ns}::swarm:{totals}:t`, `${ns}::swarm:{totals}:w`]);
      const keys = all.filter((k) => !k.includes('{totals}'));
      const tag = `{${ih.toString('hex')}}`;
      expect(keys).toHaveLength(3); // seeders, data, counter (the empty leecher set does not exist)
      for (const key of keys) {
        expect(key.startsWith(`${ns}::`)).toBe(true);
        expect(key).toContain(tag);
      }
      const data = await raw.withTypeMapping({ 36: Buffer }).hGet(keys.find((k) => k.endsWith(':d')) as string, a.peerId as Buffer);
      expect(Buffer.isBuffer(data)).toBe(true);
      // address, port, and 'd': the peer is done (its next completion does not count)
      expect((data as unknown as Buffer).toString('hex')).toBe('0a000001123464');
      await store.close?.();
    });

    it('full scrape lists the live swarms of its namespace only, up to the limit', async () => {
      const ns = uniqueName('ettf');
      namespaces.push(ns);
      const { store } = await openStore(REDIS_URL, { namespace: ns });
      const { store: neighbour } = await openStore(REDIS_URL, { namespace: `${ns}x` });
      namespaces.push(`${ns}x`);
      const hashes = Array.from({ length: 5 }, () => hash());
      for (const ih of hashes) await store.announce(announceOf(ih, { seeder: true }));
      await neighbour.announce(announceOf(hash()));
      const all = await store.scrapeAll!(100);
      expect(all.map((e) => Buffer.from(e.infoHash).toString('hex')).sort()).toEqual(hashes.map((h) => h.toString('hex')).sort());
      for (const e of all) expect(e).toMatchObject({ complete: 1, incomplete: 0, downloaded: 0 });
      expect(await store.scrapeAll!(2)).toHaveLength(2);
      await store.close?.();
      await neighbour.close?.();
    });

    it('works when Redis forgot its scripts (EVALSHA falls back to EVAL)', async () => {
      const port = await freePort();
      const server = new PrivateRedis(port);
      await server.start();
      try {
        const { store } = await openStore(server.url, { namespace: 'noscript' });
        await store.announce(announceOf(hash()));
        const admin = createClient({ url: server.url });
        admin.on('error', () => undefined);
        await admin.connect();
        await admin.scriptFlush();
        await admin.close();
        const r = await store.announce(announceOf(hash()));
        expect(r.incomplete).toBe(1);
        await store.close?.();
      } finally {
        await server.kill();
      }
    });
  });

  describe('expiry', () => {
    it('removes expired peers and lets no key outlive its swarm (real key TTLs, fake clock for the script)', async () => {
      const ns = uniqueName('ettx');
      namespaces.push(ns);
      const clock = fakeClock(Math.ceil(Date.now() / 1000) * 1000); // whole seconds, as peer expiries are
      const { store } = await openStore(REDIS_URL, { namespace: ns, now: clock.now, downloadedTtl: 1 });
      const hashes = [hash(), hash(), hash()];
      for (const ih of hashes) {
        for (let i = 0; i < 5; i++) await store.announce(announceOf(ih, { ttl: 1, seeder: i === 0 }));
        await store.announce(announceOf(ih, { ttl: 1, event: 'completed', seeder: true }));
      }
      expect((await scanKeys(raw, `${ns}*`)).length).toBeGreaterThanOrEqual(9);
      // The script's clock says 2 s later: peers are gone for scrape and announce at once.
      clock.advance(2);
      const counts = await store.scrape(hashes);
      for (const c of counts) expect(c.complete + c.incomplete).toBe(0);
      // Real time: every key's TTL (longest peer + 1 s; the counter's 1 s) runs out by itself.
      await new Promise((r) => setTimeout(r, 2600));
      // Only the totals remain: a hash of six small fields, and no expiry bucket once rolled.
      expect(await store.totals!()).toEqual({ torrents: 0, seeders: 0, leechers: 0, peers: 0, ipv4: 0, ipv6: 0 });
      expect(await scanKeys(raw, `${ns}*`)).toEqual([`${ns}::swarm:{totals}:t`]);
      expect(await raw.hLen(`${ns}::swarm:{totals}:t`)).toBeLessThanOrEqual(6);
      await store.close?.();
    });

    it('trims expired peers inside the announce script (no scan)', async () => {
      const ns = uniqueName('etty');
      namespaces.push(ns);
      const clock = fakeClock(Date.now());
      const { store } = await openStore(REDIS_URL, { namespace: ns, now: clock.now });
      const ih = hash();
      for (let i = 0; i < 50; i++) await store.announce(announceOf(ih, { ttl: 60 }));
      clock.advance(61);
      const r = await store.announce(announceOf(ih, { ttl: 60 }));
      expect(r).toMatchObject({ complete: 0, incomplete: 1, peers: [] });
      const [zl] = (await scanKeys(raw, `${ns}*`)).filter((k) => k.endsWith(':l'));
      expect(await raw.zCard(zl)).toBe(1);
      const [hd] = (await scanKeys(raw, `${ns}*`)).filter((k) => k.endsWith(':d'));
      expect(await raw.hLen(hd)).toBe(1);
      await store.close?.();
    });
  });
});

describe('Redis store: outage and recovery (private redis-server)', async () => {
  const ok = await new Promise<boolean>((resolve) => {
    import('node:child_process').then(({ spawnSync }) => resolve(spawnSync('redis-server', ['--version']).status === 0));
  });
  const ways = [
    { how: 'opened from a URI', keyv: undefined },
    // an app's own Keyv: default @keyv/redis client (offline queue on, its own reconnect back-off)
    { how: 'on an app-made Keyv', keyv: (url: string) => new Keyv(new KeyvRedis(url), { namespace: 'outage' }) },
  ];
  for (const way of ways) it.skipIf(!ok && process.env.CI !== 'true')(`fails fast while Redis is down and recovers with the same store object (${way.how})`, async () => {
    const errors: unknown[] = [];
    const onError = (e: unknown): void => void errors.push(e);
    process.on('unhandledRejection', onError);
    process.on('uncaughtException', onError);
    const port = await freePort();
    const server = new PrivateRedis(port);
    await server.start();
    const appKeyv = way.keyv?.(server.url);
    appKeyv?.on('error', () => undefined);
    const { store } = await openStore(appKeyv ?? server.url, { namespace: 'outage' });
    try {
      const ih = hash();
      const a = announceOf(ih);
      expect((await store.announce(a)).incomplete).toBe(1);

      await server.kill();
      for (let i = 0; i < 3; i++) {
        const t = Date.now();
        await expect(store.announce({ ...a, event: 'update' })).rejects.toThrow();
        expect(Date.now() - t).toBeLessThan(2000);
        await expect(store.scrape([ih])).rejects.toThrow();
      }

      await server.start(); // same port, empty (no persistence)
      const deadline = Date.now() + 8000;
      let recovered = false;
      while (Date.now() < deadline && !recovered) {
        try {
          const r = await store.announce({ ...a, event: 'update' });
          recovered = r.incomplete === 1;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      expect(recovered).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      process.off('unhandledRejection', onError);
      process.off('uncaughtException', onError);
      await store.close?.();
      await appKeyv?.disconnect().catch(() => undefined);
      await server.kill();
    }
  });

  it.skipIf(!ok && process.env.CI !== 'true')('through the middleware: failure reasons within 2 s while down, answers again after restart', async () => {
    const port = await freePort();
    const server = new PrivateRedis(port);
    await server.start();
    const app = await startApp({ store: server.url });
    const ih = hash();
    const url = (pid: Buffer): string =>
      `/tracker/announce?info_hash=${escapeAll(ih)}&peer_id=${escapeAll(pid)}&port=6881&uploaded=0&downloaded=0&left=0`;
    try {
      const first = await rawGet(app.port, url(randomBytes(20)));
      expect(failureOf(first.body)).toBeUndefined();
      await server.kill();
      const t = Date.now();
      const down = await rawGet(app.port, url(randomBytes(20)));
      expect(Date.now() - t).toBeLessThan(2000);
      expect(down.status).toBe(200);
      expect(failureOf(down.body)).toBeTruthy();
      await server.start();
      const deadline = Date.now() + 8000;
      let back: string | undefined = 'not yet';
      while (back !== undefined && Date.now() < deadline) {
        back = failureOf((await rawGet(app.port, url(randomBytes(20)))).body);
        if (back !== undefined) await new Promise((r) => setTimeout(r, 100));
      }
      expect(back).toBeUndefined();
    } finally {
      await app.close();
      await server.kill();
    }
  });

  it('a URI to a closed port fails within about a second, without crashing', async () => {
    const port = await freePort();
    const { store } = await openStore(`redis://127.0.0.1:${port}`, { namespace: 'closed' });
    const t = Date.now();
    await expect(store.announce(announceOf(hash()))).rejects.toThrow();
    expect(Date.now() - t).toBeLessThan(1500);
    await store.close?.();
  });
});
