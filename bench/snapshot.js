// Memory store snapshot figures (run after `npm run build`):
//   node bench/snapshot.js [swarms=10000] [peersPerSwarm=100]
// Fills a MemorySwarmStore, saves it to a temp file while a timer measures how long the event loop
// is held (longest gap between two 1 ms ticks, and monitorEventLoopDelay's max), then loads the file
// into a new store. Prints save time, file size, load time and the longest block.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { MemorySwarmStore } from '../dist/index.js';

const swarms = Number(process.argv[2] ?? 10_000);
const perSwarm = Number(process.argv[3] ?? 100);
const dir = mkdtempSync(join(tmpdir(), 'ett-snapshot-bench-'));
const file = join(dir, 'swarms.snap');

const store = new MemorySwarmStore({ file });
let t = performance.now();
for (let s = 0; s < swarms; s++) {
  const infoHash = Buffer.alloc(20);
  infoHash.writeUInt32BE(s, 0);
  infoHash.writeUInt32BE((0x9e3779b9 ^ s) >>> 0, 8);
  for (let p = 0; p < perSwarm; p++) {
    const peerId = Buffer.alloc(20);
    peerId.writeUInt32BE(s, 0);
    peerId.writeUInt32BE(p, 4);
    store.announceSync({ infoHash, peerId, ip: Buffer.from([10, (s >> 8) & 255, s & 255, p & 255]), port: 6881 + p, seeder: p % 3 === 0, event: 'started', numwant: 0, ttl: 3600 });
  }
}
const fillMs = performance.now() - t;
const peers = store.peerCount;

// Event-loop block during the save: the longest gap between ticks of a 1 ms timer (what a request
// arriving during the save would wait at most, plus timer slack), and the histogram's max.
const histogram = monitorEventLoopDelay({ resolution: 1 });
let longestGap = 0;
let last = performance.now();
const ticker = setInterval(() => {
  const now = performance.now();
  longestGap = Math.max(longestGap, now - last);
  last = now;
}, 1);
histogram.enable();
await new Promise((resolve) => setTimeout(resolve, 50));
longestGap = 0;
histogram.reset();
last = performance.now();
t = performance.now();
await store.save();
const saveMs = performance.now() - t;
histogram.disable();
clearInterval(ticker);
const bytes = statSync(file).size;
const save = store.lastSave;
clearInterval(store.timer);
await store.close(); // saves once more

t = performance.now();
const loaded = new MemorySwarmStore({ file });
const loadMs = performance.now() - t;
const result = {
  node: process.version,
  swarms,
  peers,
  fillMs: Math.round(fillMs),
  saveMs: Math.round(saveMs),
  fileBytes: bytes,
  bytesPerPeer: +(bytes / peers).toFixed(1),
  longestSliceMs: +save.longestBlockMs.toFixed(1),
  longestTimerGapMs: +longestGap.toFixed(1),
  eventLoopDelayMaxMs: +(histogram.max / 1e6).toFixed(1),
  loadMs: Math.round(loadMs),
  loadedPeers: loaded.snapshot.peers,
  loadedStatus: loaded.snapshot.status,
};
console.log(JSON.stringify(result, null, 2));
await loaded.close();
rmSync(dir, { recursive: true, force: true });
