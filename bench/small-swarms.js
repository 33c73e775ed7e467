// Small swarms of the in-memory store: bytes per one-peer swarm (a flood of random info hashes),
// and how long the background sweep holds the event loop at that many swarms (live, all expired,
// and after the `downloaded` counters' retention). Run with --expose-gc (bench/run.js does).
// Prints one JSON line. BENCH_SWARMS sets the number of swarms (default 1 000 000).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemorySwarmStore } from '../dist/index.js';

const swarms = Number(process.env.BENCH_SWARMS ?? 1_000_000);
const settle = () => {
  for (let i = 0; i < 4; i++) globalThis.gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed + m.external };
};
let clock = Date.now();
const store = new MemorySwarmStore({ now: () => clock, sweepInterval: 250 });
const hashes = randomBytes(20 * swarms);
const ids = randomBytes(20 * swarms);
const ip = Buffer.from([10, 0, 0, 1]);
const baseline = settle();
let worstAnnounce = 0;
for (let i = 0; i < swarms; i++) {
  const t0 = performance.now();
  store.announceSync({
    infoHash: hashes.subarray(i * 20, i * 20 + 20),
    peerId: ids.subarray(i * 20, i * 20 + 20),
    ip,
    port: 6881,
    seeder: false,
    event: i % 2 ? 'completed' : 'started', // half of them keep a `downloaded` count once empty
    numwant: 50,
    ttl: 3600,
  });
  worstAnnounce = Math.max(worstAnnounce, performance.now() - t0);
}
const filled = settle();
if (store.swarmCount !== swarms) throw new Error(`stored ${store.swarmCount} swarms, expected ${swarms}`);

const delay = monitorEventLoopDelay({ resolution: 5 });
delay.enable();
const keepAlive = setInterval(() => {}, 20);
/** Let background sweeps run for `ms` with the clock at `now`; the longest pause seen. */
async function sweepsFor(ms) {
  store.longestSlice = 0;
  delay.reset();
  await sleep(ms);
  return { longestSliceMs: store.longestSlice, maxLoopDelayMs: delay.max / 1e6 };
}
const live = await sweepsFor(2000);
clock += 2 * 3600_000; // every peer expired
const expired = await sweepsFor(3000);
const retained = store.retainedCount;
clock += 31 * 24 * 3600_000; // past the default downloadedTtl (30 days)
const forgotten = await sweepsFor(3000);
clearInterval(keepAlive);
console.log(
  JSON.stringify({
    swarms,
    bytesPerSwarm: (filled.heap - baseline.heap) / swarms,
    rssPerSwarm: (filled.rss - baseline.rss) / swarms,
    worstAnnounceMs: worstAnnounce,
    live,
    expired: { ...expired, swarmsLeft: retained },
    forgotten: { ...forgotten, swarmsLeft: store.swarmCount },
  }),
);
await store.close();
