import { describe, expect, it } from 'vitest';
import { MemorySwarmStore } from '../../src/swarm/memory/memory-store.js';
import { PeerTable } from '../../src/swarm/memory/peer-table.js';
import { announceOf, describeStoreContract, fakeClock, hash } from '../../src/swarm/contract/index.js';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setImmediate as yieldToLoop } from 'node:timers/promises';

describeStoreContract({ describe, it }, 'memory', {
  create: async (clock) => new MemorySwarmStore({ now: clock.now }),
});

describe('PeerTable', () => {
  it('stays consistent through thousands of random upserts and removes', () => {
    const table = new PeerTable();
    const model = new Map<string, boolean>();
    const ids: Buffer[] = [];
    for (let i = 0; i < 20_000; i++) {
      const r = Math.random();
      if (r < 0.55 || ids.length === 0) {
        const id = randomBytes(20);
        ids.push(id);
        const seeder = Math.random() < 0.3;
        table.upsert(id, Buffer.from([1, 2, 3, 4]), 1 + (i % 65535), seeder, 100);
        model.set(id.toString('hex'), seeder);
      } else if (r < 0.75) {
        const id = ids[Math.floor(Math.random() * ids.length)];
        const seeder = Math.random() < 0.5;
        table.upsert(id, Buffer.from([1, 2, 3, 4]), 7, seeder, 100);
        model.set(id.toString('hex'), seeder);
      } else {
        const at = Math.floor(Math.random() * ids.length);
        const [id] = ids.splice(at, 1);
        expect(table.remove(id)).toBe(model.delete(id.toString('hex')));
      }
    }
    expect(table.count).toBe(model.size);
    expect(table.seeders).toBe([...model.values()].filter(Boolean).length);
    for (const [id] of model) expect(table.find(Buffer.from(id, 'hex'))).toBeGreaterThanOrEqual(0);
    const listed = new Set([...table.peers()].map((p) => Buffer.from(p.peerId).toString('hex')));
    expect(listed).toEqual(new Set(model.keys()));
  });

  it('expires in bulk and shrinks its buffers', () => {
    const table = new PeerTable();
    for (let i = 0; i < 1000; i++) table.upsert(randomBytes(20), Buffer.alloc(16, 1), 1, false, i < 900 ? 10 : 50);
    const big = table.byteSize;
    expect(table.removeExpired(20)).toBe(900);
    expect(table.count).toBe(100);
    expect(table.byteSize).toBeLessThan(big / 2);
    for (const p of table.peers()) expect(p.ip).toHaveLength(16);
  });
});

describe('MemorySwarmStore memory use', () => {
  it('drops empty swarms after expiry and frees them', async () => {
    const clock = fakeClock();
    const store = new MemorySwarmStore({ now: clock.now });
    for (let i = 0; i < 100; i++) await store.announce(announceOf(hash(), { ttl: 10 }));
    expect(store.swarmCount).toBe(100);
    clock.advance(30);
    store.sweep();
    expect(store.swarmCount).toBe(0);
    expect(store.peerCount).toBe(0);
    await store.close();
  });
});

describe('MemorySwarmStore small swarms', () => {
  it('costs at most 200 bytes per one-peer swarm and 100 bytes per peer of a big swarm (measured in a process of its own)', () => {
    const fixture = fileURLToPath(new URL('./fixtures/swarm-bytes.mjs', import.meta.url));
    const out = execFileSync(process.execPath, ['--expose-gc', fixture], { encoding: 'utf8', env: { ...process.env, SWARMS: '200000', PEERS: '200000' } });
    const m = JSON.parse(out.trim().split('\n').pop()!);
    console.log(`memory store: ${m.perSwarm.toFixed(1)} bytes per one-peer swarm, ${m.perPeer.toFixed(1)} bytes per peer of one big swarm`);
    expect(m.perSwarm).toBeLessThanOrEqual(200);
    expect(m.perPeer).toBeLessThanOrEqual(100);
  });

  it('agrees with a model through promotions, demotions, stops, completions and expiry', async () => {
    const clock = fakeClock();
    const store = new MemorySwarmStore({ now: clock.now });
    const hashes = Array.from({ length: 6 }, () => hash());
    const ids = Array.from({ length: 8 }, () => randomBytes(20));
    type Entry = { seeder: boolean; expires: number; port: number; done: boolean };
    const model = hashes.map(() => ({ peers: new Map<number, Entry>(), downloaded: 0 }));
    let t = 0;
    let seed = 7;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    for (let step = 0; step < 4000; step++) {
      const s = rand(hashes.length);
      const p = rand(ids.length);
      const swarm = model[s];
      const roll = rand(10);
      if (roll === 0) {
        // Time passes and a full sweep removes exactly the expired peers (some or all of a swarm).
        const dt = rand(3) === 0 ? 30 : 12;
        clock.advance(dt);
        t += dt;
        store.sweep();
        for (const m of model) for (const [id, e] of m.peers) if (e.expires < t) m.peers.delete(id);
        continue;
      }
      const event = roll === 1 ? 'stopped' : roll === 2 ? 'completed' : 'started';
      const seeder = rand(2) === 0;
      const port = 1000 + step;
      const result = await store.announce(announceOf(hashes[s], { peerId: ids[p], event, seeder, port, ttl: 20, numwant: 50 }));
      // A completion counts once per listed peer: not when it was listed as a seeder or counted one.
      const before = swarm.peers.get(p);
      const counted = event === 'completed' && !before?.done;
      if (event === 'stopped') swarm.peers.delete(p);
      else swarm.peers.set(p, { seeder, expires: t + 20, port, done: seeder || counted || before?.done === true });
      if (counted) swarm.downloaded++;
      expect(result.counted).toBe(counted);
      const seeders = [...swarm.peers.values()].filter((e) => e.seeder).length;
      expect({ complete: result.complete, incomplete: result.incomplete, downloaded: result.downloaded }).toEqual({
        complete: seeders,
        incomplete: swarm.peers.size - seeders,
        downloaded: swarm.downloaded,
      });
      if (event !== 'stopped') {
        const expected = [...swarm.peers.entries()].filter(([id]) => id !== p).map(([id, e]) => `${ids[id].toString('hex')}:${e.port}`);
        expect(result.peers.map((peer) => `${Buffer.from(peer.peerId!).toString('hex')}:${peer.port}`).sort()).toEqual(expected.sort());
      }
    }
    expect(store.peerCount).toBe(model.reduce((n, m) => n + m.peers.size, 0));
    await store.close();
  });

  it('keeps an empty swarm\'s downloaded count for downloadedTtl, then frees it', async () => {
    const clock = fakeClock();
    const store = new MemorySwarmStore({ now: clock.now, downloadedTtl: 3600 });
    const done = hash();
    await store.announce(announceOf(done, { event: 'completed', seeder: true, ttl: 10 }));
    await store.announce(announceOf(hash(), { ttl: 10 }));
    clock.advance(30);
    store.sweep();
    expect(store.swarmCount).toBe(1);
    expect(store.retainedCount).toBe(1);
    expect(await store.scrape([done])).toEqual([{ complete: 0, incomplete: 0, downloaded: 1, downloaders: 0 }]);
    // A peer comes back: the swarm is live again, and its count carries on.
    await store.announce(announceOf(done, { event: 'completed', ttl: 10 }));
    expect(store.retainedCount).toBe(0);
    clock.advance(30);
    store.sweep();
    expect(await store.scrape([done])).toEqual([{ complete: 0, incomplete: 0, downloaded: 2, downloaders: 0 }]);
    clock.advance(3600);
    store.sweep();
    expect(store.swarmCount).toBe(0);
    expect(await store.scrape([done])).toEqual([{ complete: 0, incomplete: 0, downloaded: 0, downloaders: 0 }]);
    await store.close();
  });

  it('keeps at most maxRetained counters, dropping the longest-empty ones first', async () => {
    const clock = fakeClock();
    const store = new MemorySwarmStore({ now: clock.now, maxRetained: 100 });
    const hashes = Array.from({ length: 300 }, () => hash());
    for (const h of hashes) {
      await store.announce(announceOf(h, { event: 'completed', ttl: 5 }));
      clock.advance(10);
      store.sweep(); // the previous swarm's peer expired: it is retained from now
    }
    clock.advance(10);
    store.sweep();
    expect(store.retainedCount).toBe(100);
    expect(store.swarmCount).toBe(100);
    const counts = await store.scrape(hashes);
    const kept = counts.map((c, i) => (c.downloaded === 1 ? i : -1)).filter((i) => i >= 0);
    expect(kept).toHaveLength(100);
    expect(kept).toContain(299);
    // Approximately oldest first: few of the oldest hundred survive.
    expect(kept.filter((i) => i < 100).length).toBeLessThan(20);
    await store.close();
  });

  it('sweeps in slices: the event loop runs while a background sweep of many swarms is under way', async () => {
    const clock = fakeClock();
    const store = new MemorySwarmStore({ now: clock.now, sweepInterval: 20 });
    const n = 300_000;
    const hashes = randomBytes(20 * n);
    const peer = randomBytes(20);
    for (let i = 0; i < n; i++) store.announceSync(announceOf(hashes.subarray(i * 20, i * 20 + 20), { peerId: peer, ttl: 10 }));
    clock.advance(60);
    const seen: number[] = [];
    const deadline = Date.now() + 20_000;
    while (store.swarmCount > 0 && Date.now() < deadline) {
      seen.push(store.swarmCount);
      await yieldToLoop();
    }
    expect(store.swarmCount).toBe(0);
    // The loop got control back in the middle of the sweep, not only before and after it.
    expect(seen.some((count) => count > 0 && count < n)).toBe(true);
    await store.close();
  });
});
