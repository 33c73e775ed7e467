import { describe, expect, it } from 'vitest';
import { MemorySwarmStore } from '../../src/swarm/memory.js';
import { PeerTable } from '../../src/swarm/peer-table.js';
import { announceOf, describeStoreContract, fakeClock, hash } from './contract.js';
import { randomBytes } from 'node:crypto';

describeStoreContract('memory', {
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
