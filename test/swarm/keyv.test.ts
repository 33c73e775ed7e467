import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import KeyvSqlite from '@keyv/sqlite';
import Keyv from 'keyv';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyvSwarmStore } from '../../src/swarm/keyv/keyv-store.js';
import { openStore } from '../../src/swarm/open.js';
import type { SwarmStore } from '../../src/swarm/types.js';
import { announceOf, describeStoreContract, fakeClock, hash, type FakeClock } from '../../src/swarm/contract/index.js';

const dir = mkdtempSync(join(tmpdir(), 'ett-keyv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeStoreContract({ describe, it }, 'keyv: new Keyv() (Map)', {
  create: async (clock) => new KeyvSwarmStore(new Keyv(), { now: clock.now, claimSettle: 5 }),
});

let n = 0;
describeStoreContract({ describe, it }, 'keyv: @keyv/sqlite instance', {
  create: async (clock) =>
    new KeyvSwarmStore(new Keyv(new KeyvSqlite({ uri: `sqlite://${join(dir, `c${n++}.sqlite`)}` })), {
      now: clock.now,
      claimSettle: 5,
    }),
  dispose: async (store) => {
    await (store as KeyvSwarmStore).close();
  },
});

describeStoreContract({ describe, it }, 'keyv: sqlite:// URI through openStore', {
  create: async (clock) => (await openStore(`sqlite://${join(dir, `u${n++}.sqlite`)}`, { now: clock.now, claimSettle: 5 })).store,
});

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Several instances on one shared Keyv (one process stands in for several). */
function cluster(keyv: Keyv, count: number, clock: FakeClock, extra: Partial<ConstructorParameters<typeof KeyvSwarmStore>[1]> = {}): KeyvSwarmStore[] {
  return Array.from({ length: count }, () => new KeyvSwarmStore(keyv, { now: clock.now, claimSettle: 20, writeInterval: 60_000, ...extra }));
}

async function flushAll(stores: KeyvSwarmStore[]): Promise<void> {
  for (const s of stores) await s.flush();
}

describe('KeyvSwarmStore: several instances on one database', () => {
  const opened: SwarmStore[] = [];
  afterAll(async () => {
    for (const s of opened) await s.close?.();
  });

  it('claims distinct slots and lists them all in the registry', async () => {
    const keyv = new Keyv();
    const stores = cluster(keyv, 4, fakeClock());
    opened.push(...stores);
    await Promise.all(stores.map((s) => s.scrape([hash()])));
    const ids = stores.map((s) => s.instanceId);
    expect(new Set(ids).size).toBe(4);
    await flushAll(stores);
    const registry = (await keyv.get('swarm:instances')) as string[];
    expect([...registry].sort()).toEqual([...ids].sort());
  });

  it('counts exactly across instances once flushed; a peer that moved counts once; stopped through another instance removes it', async () => {
    const keyv = new Keyv();
    const clock = fakeClock();
    const [a, b, c] = cluster(keyv, 3, clock);
    opened.push(a, b, c);
    const ih = hash();
    const peers = Array.from({ length: 90 }, (_, i) => announceOf(ih, { seeder: i % 3 === 0 }));
    const stores = [a, b, c];
    await Promise.all(peers.map((p, i) => stores[i % 3].announce(p)));
    await flushAll(stores);
    for (const s of stores) expect(await s.scrape([ih])).toEqual([{ complete: 30, incomplete: 60, downloaded: 0, downloaders: 60 }]);

    // 30 peers move to the next instance (load balancer) and complete there.
    clock.advance(1);
    await Promise.all(peers.slice(0, 30).map((p, i) => stores[(i + 1) % 3].announce({ ...p, event: 'completed', seeder: true })));
    // 15 others stop through another instance than the one they announced to.
    await Promise.all(peers.slice(60, 75).map((p, i) => stores[(i + 2) % 3].announce({ ...p, event: 'stopped' })));
    await flushAll(stores);
    // seeders: 30 moved (all seeders now) + i%3==0 among 30..89 except stopped 60..74
    let seeders = 30;
    let leechers = 0;
    for (let i = 30; i < 90; i++) {
      if (i >= 60 && i < 75) continue;
      if (i % 3 === 0) seeders++;
      else leechers++;
    }
    // downloaded: the 20 of them that were leechers (a peer listed as a seeder, on any instance, has
    // completed already)
    for (const s of stores) expect(await s.scrape([ih])).toEqual([{ complete: seeders, incomplete: leechers, downloaded: 20, downloaders: leechers }]);

    // A new peer gets a full sample of the shared swarm, none stopped, no duplicates.
    // (a's view of the others was refreshed by its scrape just above)
    const fresh = await a.announce(announceOf(ih, { numwant: 200 }));
    const ids = new Set(fresh.peers.map((p) => hex(p.peerId)));
    expect(ids.size).toBe(fresh.peers.length);
    for (const p of peers.slice(60, 75)) expect(ids.has(hex(p.peerId))).toBe(false);
    expect(fresh.peers.length).toBe(seeders + leechers);
  });

  it('a restarted instance takes its slot back with its peers and completed counters', async () => {
    const keyv = new Keyv();
    const clock = fakeClock();
    const [a, b] = cluster(keyv, 2, clock);
    opened.push(b);
    const ih = hash();
    const p = announceOf(ih);
    await a.announce(p);
    await a.announce({ ...p, event: 'completed', seeder: true });
    await b.announce(announceOf(ih));
    await b.flush();
    const slot = a.instanceId;
    await a.close(); // flushes and releases the slot
    const a2 = new KeyvSwarmStore(keyv, { now: clock.now, claimSettle: 20, writeInterval: 60_000 });
    opened.push(a2);
    expect(await a2.scrape([ih])).toEqual([{ complete: 1, incomplete: 1, downloaded: 1, downloaders: 1 }]);
    expect(a2.instanceId).toBe(slot);
    const q = announceOf(ih);
    await a2.announce({ ...q, event: 'completed', seeder: true });
    await flushAll([a2, b]);
    expect(await b.scrape([ih])).toEqual([{ complete: 2, incomplete: 1, downloaded: 2, downloaders: 1 }]);
  });

  it('expires peers of every instance, including one that died without flushing its last changes', async () => {
    const keyv = new Keyv();
    const clock = fakeClock();
    const [a, b] = cluster(keyv, 2, clock);
    opened.push(a, b);
    const ih = hash();
    await a.announce(announceOf(ih, { ttl: 60 }));
    await b.announce(announceOf(ih, { ttl: 60 }));
    await flushAll([a, b]);
    expect(await a.scrape([ih])).toEqual([{ complete: 0, incomplete: 2, downloaded: 0, downloaders: 2 }]);
    clock.advance(61);
    expect(await a.scrape([ih])).toEqual([{ complete: 0, incomplete: 0, downloaded: 0, downloaders: 0 }]);
    expect(await b.scrape([ih])).toEqual([{ complete: 0, incomplete: 0, downloaded: 0, downloaders: 0 }]);
    const r = await b.announce(announceOf(ih, { ttl: 60 }));
    expect(r).toMatchObject({ complete: 0, incomplete: 1, peers: [] });
  });

  it('writes behind at a bounded rate and deletes shards that hold nothing', async () => {
    const keyv = new Keyv();
    const clock = fakeClock();
    const store = new KeyvSwarmStore(keyv, { now: clock.now, claimSettle: 5, writeInterval: 50, maxWritesPerFlush: 10 });
    opened.push(store);
    const hashes = Array.from({ length: 35 }, () => hash());
    for (const ih of hashes) await store.announce(announceOf(ih, { ttl: 30 }));
    const id = store.instanceId as string;
    const written = async (): Promise<number> =>
      (await keyv.getMany(hashes.map((h) => `swarm:${hex(h)}:${id}`))).filter((v) => v !== undefined).length;
    expect(await written()).toBe(0);
    await new Promise((r) => setTimeout(r, 75));
    const first = await written();
    expect(first).toBeGreaterThanOrEqual(10);
    expect(first).toBeLessThan(35);
    await store.flush();
    expect(await written()).toBe(35);
    clock.advance(31);
    await new Promise((r) => setTimeout(r, 150)); // the timer sweeps the expired peers and deletes the shards
    await store.flush();
    expect(await written()).toBe(0);
  });

  it('without flush, another instance scrapes exact counts within writeInterval + remoteCacheTtl of a burst', async () => {
    const keyv = new Keyv();
    const clock = fakeClock();
    const writeInterval = 100;
    const remoteCacheTtl = 100;
    const [a, b] = cluster(keyv, 2, clock, { writeInterval, remoteCacheTtl });
    opened.push(a, b);
    const ih = hash();
    await Promise.all([a.scrape([ih]), b.scrape([ih])]); // both hold their slots
    const peers = Array.from({ length: 200 }, (_, i) => announceOf(ih, { seeder: i % 4 === 0 }));
    for (let i = 0; i < peers.length; i += 20) await Promise.all(peers.slice(i, i + 20).map((p) => a.announce(p)));
    const deadline = Date.now() + writeInterval + remoteCacheTtl + 1000; // margin for a loaded machine
    let seen = await b.scrape([ih]);
    while (seen[0].complete + seen[0].incomplete < peers.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
      seen = await b.scrape([ih]);
    }
    expect(seen).toEqual([{ complete: 50, incomplete: 150, downloaded: 0, downloaders: 150 }]);
  });

  it('an instance that lost its slot (paused past its lease) moves to a new one without double counting', async () => {
    const keyv = new Keyv();
    const clock = fakeClock();
    const a = new KeyvSwarmStore(keyv, { now: clock.now, claimSettle: 5, writeInterval: 60_000, heartbeat: 100 });
    const b = new KeyvSwarmStore(keyv, { now: clock.now, claimSettle: 5, writeInterval: 60_000 });
    opened.push(a, b);
    const ih = hash();
    const p = announceOf(ih);
    await a.announce(p);
    await a.announce({ ...p, event: 'completed', seeder: true });
    await a.flush();
    const q = announceOf(ih);
    await a.announce({ ...q, event: 'completed', seeder: true }); // not written yet
    const old = a.instanceId as string;
    await keyv.set(`swarm:lease:${old}`, { token: 'someone else' }, 60_000);
    for (let i = 0; i < 50 && a.instanceId === old; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 50));
    expect(a.instanceId).toBeDefined();
    expect(a.instanceId).not.toBe(old);
    await a.flush();
    await b.flush();
    // the old slot's shard still holds p and one completion; the new one holds p, q and the other
    expect(await b.scrape([ih])).toEqual([{ complete: 2, incomplete: 0, downloaded: 2, downloaders: 0 }]);
  });

  it('fences writes with the lease: an instance that paused past its lease never overwrites the slot another took over', async () => {
    const keyv = new Keyv();
    const clock = fakeClock();
    const options = { now: clock.now, claimSettle: 5, writeInterval: 60_000, heartbeat: 100, maxClockSkew: 0 };
    const a = new KeyvSwarmStore(keyv, options);
    opened.push(a);
    const ih = hash();
    const p = announceOf(ih);
    await a.announce(p);
    await a.announce({ ...p, event: 'completed', seeder: true }); // acknowledged 1 (written through)
    expect(a.instanceId).toBe('1');
    // "pause" a: its timers stop, its lease (3 heartbeats) runs out, b takes slot 1 over
    const paused = a as unknown as { timer: NodeJS.Timeout; heartbeatTimer: NodeJS.Timeout };
    clearInterval(paused.timer);
    clearInterval(paused.heartbeatTimer);
    await new Promise((r) => setTimeout(r, 400));
    const b = new KeyvSwarmStore(keyv, options);
    opened.push(b);
    for (const q of [announceOf(ih), announceOf(ih)]) {
      await b.announce(q);
      await b.announce({ ...q, event: 'completed', seeder: true }); // acknowledged 2 and 3
    }
    expect(b.instanceId).toBe('1');
    // a wakes up and completes one more: its write-through must not land in slot 1
    const late = announceOf(ih);
    await a.announce(late).catch(() => undefined);
    const r = await a.announce({ ...late, event: 'completed', seeder: true }).catch(async () => a.announce({ ...late, event: 'completed', seeder: true }));
    expect(r.refusal).toBeUndefined(); // acknowledged 4
    expect(a.instanceId).not.toBe('1');
    const reader = new KeyvSwarmStore(keyv, { now: clock.now, claimSettle: 5 });
    opened.push(reader);
    expect((await reader.scrape([ih]))[0].downloaded).toBe(4);
  });

  it('writes completions through: a crash right after cannot lose them; a failed write is not counted', async () => {
    const map = new Map<string, unknown>();
    let failSets = false;
    const adapter = {
      get: async (k: string) => map.get(k),
      set: async (k: string, v: unknown) => {
        if (failSets) throw new Error('write failed');
        map.set(k, v);
      },
      delete: async (k: string) => map.delete(k),
      clear: async () => map.clear(),
    };
    const keyv = new Keyv(adapter as never);
    const clock = fakeClock();
    const a = new KeyvSwarmStore(keyv, { now: clock.now, claimSettle: 5, writeInterval: 60_000 });
    const ih = hash();
    const p = announceOf(ih);
    await a.announce(p);
    failSets = true;
    await expect(a.announce({ ...p, event: 'completed', seeder: true })).rejects.toThrow(/write failed/);
    failSets = false;
    const r = await a.announce({ ...p, event: 'completed', seeder: true }); // the client's retry
    expect(r.downloaded).toBe(1);
    // "crash": a is never flushed nor closed; another instance reads what is stored
    const b = new KeyvSwarmStore(keyv, { now: clock.now, claimSettle: 5 });
    opened.push(b);
    expect(await b.scrape([ih])).toEqual([{ complete: 1, incomplete: 0, downloaded: 1, downloaders: 0 }]);
    opened.push(a);
  });

  it('an instanceId in use by a running instance is refused', async () => {
    const keyv = new Keyv();
    const a = new KeyvSwarmStore(keyv, { instanceId: 'web-1' });
    opened.push(a);
    await a.scrape([hash()]);
    const b = new KeyvSwarmStore(keyv, { instanceId: 'web-1' });
    await expect(b.scrape([hash()])).rejects.toThrow(/in use/);
    await b.close();
  });
});

describe('KeyvSwarmStore: failures', () => {
  it('rejects within the command timeout when the adapter hangs, and recovers', async () => {
    const map = new Map<string, unknown>();
    let hang = false;
    const adapter = {
      get: (k: string) => (hang ? new Promise(() => undefined) : Promise.resolve(map.get(k))),
      set: (k: string, v: unknown) => (hang ? new Promise(() => undefined) : Promise.resolve(void map.set(k, v))),
      delete: (k: string) => (hang ? new Promise(() => undefined) : Promise.resolve(map.delete(k))),
      clear: () => Promise.resolve(map.clear()),
    };
    const store = new KeyvSwarmStore(new Keyv(adapter as never), { claimSettle: 5, commandTimeout: 300, remoteCacheTtl: 0 });
    const ih = hash();
    await store.announce(announceOf(ih));
    hang = true;
    const t = Date.now();
    await expect(store.announce(announceOf(ih))).rejects.toThrow(/did not answer/);
    expect(Date.now() - t).toBeLessThan(1000);
    hang = false;
    const r = await store.announce(announceOf(ih));
    expect(r.incomplete).toBeGreaterThanOrEqual(2);
    await store.close();
  });

  it('rejects (does not read "missing") when the adapter throws', async () => {
    const adapter = {
      get: () => Promise.reject(new Error('boom')),
      set: () => Promise.reject(new Error('boom')),
      delete: () => Promise.reject(new Error('boom')),
      clear: () => Promise.resolve(),
    };
    const store = new KeyvSwarmStore(new Keyv(adapter as never), { claimSettle: 5 });
    await expect(store.announce(announceOf(hash()))).rejects.toThrow(/boom/);
    await expect(store.scrape([hash()])).rejects.toThrow(/boom/);
    await store.close();
  });
});
