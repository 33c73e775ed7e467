// Memory per peer of the in-memory store: RSS growth after storing 1,000,000 peers in 1000 swarms.
// Run with --expose-gc (bench/run.js does). Prints one JSON line.
import { randomBytes } from 'node:crypto';
import { MemorySwarmStore } from '../dist/index.js';

const peers = Number(process.env.BENCH_PEERS ?? 1_000_000);
const swarms = 1000;
const hashes = Array.from({ length: swarms }, () => randomBytes(20));
const settle = () => {
  for (let i = 0; i < 4; i++) globalThis.gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed + m.external };
};
const store = new MemorySwarmStore();
// Warm up code paths and allocator before the baseline.
for (let i = 0; i < 1000; i++) store.announceSync({ infoHash: randomBytes(20), peerId: randomBytes(20), ip: randomBytes(4), port: 1, seeder: false, event: 'started', numwant: 0, ttl: 3600 });
await store.close();
const baseline = settle();
const s = new MemorySwarmStore();
const id = randomBytes(20);
const ip = Buffer.alloc(4);
for (let i = 0; i < peers; i++) {
  id.writeUInt32LE(i, 0); // distinct ids without allocating per peer
  ip.writeUInt32BE(0x0a000000 + i, 0);
  s.announceSync({ infoHash: hashes[i % swarms], peerId: id, ip, port: 1 + (i % 65535), seeder: i % 10 < 3, event: 'started', numwant: 0, ttl: 3600 });
}
const after = settle();
if (s.peerCount !== peers) throw new Error(`stored ${s.peerCount} peers, expected ${peers}`);
console.log(
  JSON.stringify({
    peers,
    swarms,
    rssBytes: after.rss - baseline.rss,
    rssPerPeer: (after.rss - baseline.rss) / peers,
    heapPerPeer: (after.heap - baseline.heap) / peers,
  }),
);
