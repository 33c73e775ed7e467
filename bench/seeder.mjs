#!/usr/bin/env node
/**
 * Upload-rate benchmark for the seeder (run after `npm run build`; uses dist/).
 *
 * Seeds one ~200 MB file to one aria2 leecher twice: once from our seeder, once from aria2 as the
 * seeder, both found through the project's tracker on loopback. The transfer time is measured on
 * the tracker, from the leecher's `started` announce to its announce with left=0, so both runs pay
 * the same fixed costs (the end is the leecher's first announce with left=0: aria2 with
 * --seed-time=0 sends `stopped` rather than `completed`). Prints both rates and ours / aria2's (target >= 0.8).
 *
 * Usage: node bench/seeder.mjs [--size-mb 200] [--runs 2] [--json]
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import bencode from 'bencode';
import express from 'express';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { createSeeder, trackerMiddleware } = await import(path.join(root, 'dist', 'index.js'));

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const SIZE = Math.round(Number(arg('--size-mb', '200')) * 1024 * 1024);
const RUNS = Number(arg('--runs', '2'));
const JSON_OUT = args.includes('--json');
const PIECE = 1024 * 1024;
const SEED_HOST = '127.0.0.2';
const TIMEOUT = 300_000;

if (spawnSync('sh', ['-c', 'command -v aria2c'], { stdio: 'ignore' }).status !== 0) {
  console.error('bench/seeder.mjs needs aria2c on PATH (apt-get install aria2)');
  process.exit(2);
}

const log = (...a) => {
  if (!JSON_OUT) console.log(...a);
};

function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Spawns in its own process group; kill() signals the group. */
function spawnGroup(cmd, argv, logFile) {
  const out = createWriteStream(logFile);
  const child = spawn(cmd, argv, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  let done = false;
  exited.then(() => (done = true));
  return {
    exited,
    async kill() {
      if (done) return;
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        return;
      }
      const t = setTimeout(() => {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {}
      }, 3000);
      await exited;
      clearTimeout(t);
    },
  };
}

const ARIA2 = [
  '--enable-dht=false',
  '--enable-dht6=false',
  '--bt-enable-lpd=false',
  '--enable-peer-exchange=false',
  '--summary-interval=0',
  '--console-log-level=warn',
  '--file-allocation=none',
];

async function writeRandomFile(file, size) {
  const out = createWriteStream(file);
  const hashes = [];
  let pending = Buffer.alloc(0);
  for (let written = 0; written < size; ) {
    const chunk = randomBytes(Math.min(4 * 1024 * 1024, size - written));
    written += chunk.length;
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= PIECE) {
      hashes.push(createHash('sha1').update(pending.subarray(0, PIECE)).digest());
      pending = pending.subarray(PIECE);
    }
    if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
  }
  if (pending.length > 0) hashes.push(createHash('sha1').update(pending).digest());
  await new Promise((r) => out.end(r));
  return Buffer.concat(hashes);
}

async function main() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ett-bench-seeder-'));
  const cleanups = [];
  try {
    const seedDir = path.join(dir, 'seed');
    await mkdir(seedDir);
    log(`writing ${(SIZE / 1048576).toFixed(0)} MiB of random data...`);
    const pieces = await writeRandomFile(path.join(seedDir, 'bench.bin'), SIZE);

    // Tracker: the project's middleware in an Express app.
    const app = express();
    const router = trackerMiddleware({ interval: 5, minInterval: 1 });
    app.use('/tracker', router);
    const server = http.createServer(app);
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await router.close();
    });
    const announceUrl = `http://127.0.0.1:${server.address().port}/tracker/announce`;
    const torrent = Buffer.from(
      bencode.encode({ announce: announceUrl, info: { length: SIZE, name: 'bench.bin', 'piece length': PIECE, pieces } }),
    );
    const torrentPath = path.join(dir, 'bench.torrent');
    await writeFile(torrentPath, torrent);
    const events = [];
    router.tracker.on('announce', (a) => events.push({ ...a, at: performance.now() }));
    const waitEvent = (pred, what) =>
      new Promise((resolve, reject) => {
        const deadline = Date.now() + TIMEOUT;
        const tick = () => {
          const e = events.find(pred);
          if (e) return resolve(e);
          if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
          setTimeout(tick, 20);
        };
        tick();
      });

    /** One leecher run; returns MB/s measured between its started and completed announces. */
    async function leech(label, run) {
      const dl = path.join(dir, `dl-${label}-${run}`);
      await mkdir(dl);
      const port = await freePort();
      const since = events.length;
      const leecher = spawnGroup('aria2c', [...ARIA2, '-d', dl, '--seed-time=0', `--listen-port=${port}`, torrentPath], path.join(dir, `leech-${label}-${run}.log`));
      cleanups.push(() => leecher.kill());
      const isMine = (e) => events.indexOf(e) >= since && e.ip === '127.0.0.1' && e.port === port;
      const started = await waitEvent((e) => isMine(e) && e.event === 'started', `${label} leecher started`);
      // aria2 with --seed-time=0 sends no `completed`; its first announce with left=0 (`completed`
      // or `stopped`) marks the end of the download.
      const completed = await waitEvent((e) => isMine(e) && e.seeder, `${label} leecher to finish`);
      const code = await leecher.exited;
      if (code !== 0) throw new Error(`aria2 leecher exited with ${code}`);
      const got = createHash('sha1').update(await readFile(path.join(dl, 'bench.bin'))).digest();
      const want = createHash('sha1').update(await readFile(path.join(seedDir, 'bench.bin'))).digest();
      if (!got.equals(want)) throw new Error(`${label}: downloaded data differs`);
      await rm(dl, { recursive: true, force: true });
      const seconds = (completed.at - started.at) / 1000;
      return SIZE / 1e6 / seconds;
    }

    const results = { ours: [], aria2: [] };
    for (let run = 0; run < RUNS; run++) {
      // Ours.
      const seeder = await createSeeder({ port: 0, host: SEED_HOST });
      await seeder.add(torrent, seedDir);
      await waitEvent((e) => e.ip === SEED_HOST && e.port === seeder.port && e.seeder, 'our seeder to announce');
      const ours = await leech('ours', run);
      await seeder.close();
      results.ours.push(ours);
      log(`run ${run + 1}: our seeder   -> aria2: ${ours.toFixed(1)} MB/s`);

      // aria2 as the seeder.
      const seedPort = await freePort(SEED_HOST);
      const aria2Seed = spawnGroup(
        'aria2c',
        [...ARIA2, '-V', '-d', seedDir, '--seed-ratio=0.0', `--interface=${SEED_HOST}`, `--listen-port=${seedPort}`, torrentPath],
        path.join(dir, `aria2-seed-${run}.log`),
      );
      cleanups.push(() => aria2Seed.kill());
      await waitEvent((e) => e.ip === SEED_HOST && e.port === seedPort && e.seeder && events.indexOf(e) >= 0, 'aria2 seeder to announce');
      const theirs = await leech('aria2', run);
      await aria2Seed.kill();
      results.aria2.push(theirs);
      log(`run ${run + 1}: aria2 seeder -> aria2: ${theirs.toFixed(1)} MB/s`);
    }
    const best = (xs) => Math.max(...xs);
    const median = (xs) => {
      const v = [...xs].sort((a, b) => a - b);
      return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    };
    const summary = {
      sizeBytes: SIZE,
      runs: RUNS,
      oursMBps: results.ours,
      aria2MBps: results.aria2,
      bestOursMBps: best(results.ours),
      bestAria2MBps: best(results.aria2),
      ratio: best(results.ours) / best(results.aria2),
      medianOursMBps: median(results.ours),
      medianAria2MBps: median(results.aria2),
      medianRatio: median(results.ours) / median(results.aria2),
    };
    if (JSON_OUT) console.log(JSON.stringify(summary));
    else {
      console.log(`\nseeder upload rate (best of ${RUNS}, ${(SIZE / 1e6).toFixed(0)} MB to one aria2 leecher on loopback)`);
      console.log(`  ours : ${summary.bestOursMBps.toFixed(1)} MB/s`);
      console.log(`  aria2: ${summary.bestAria2MBps.toFixed(1)} MB/s`);
      console.log(`  ratio: ${summary.ratio.toFixed(2)}x (target >= 0.8x)`);
      console.log(`  medians: ours ${summary.medianOursMBps.toFixed(1)} MB/s, aria2 ${summary.medianAria2MBps.toFixed(1)} MB/s, ratio ${summary.medianRatio.toFixed(2)}x`);
    }
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
