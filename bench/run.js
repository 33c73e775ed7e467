// `npm run bench`: our tracker against reference servers, measured in one run on one machine, and
// printed as medians and ratios. Absolute numbers drift on a shared machine; ratios measured round
// after round in the same run are what the targets are about.
//
//   npm run bench                       # everything
//   npm run bench -- --only http        # http | swarm | memory | hash | seeder (comma-separated)
//   npm run bench -- --rounds 5 --duration 8
//   npm run bench -- --only http --servers express,middleware   # some servers only (label substrings)
//
// Extras are installed on first use: bench/node_modules (bittorrent-tracker, --ignore-scripts) and
// the Debian packages wrk, opentracker, mktorrent, aria2 (when running as root).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'http,swarm,memory,hash,seeder' },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    'hash-size': { type: 'string', default: '1024' },
    servers: { type: 'string', default: '' },
  },
});
const only = new Set(args.only.split(','));
const rounds = Number(args.rounds);
const duration = Number(args.duration);
const connections = Number(args.connections);
const work = mkdtempSync(path.join(os.tmpdir(), 'ett-bench-'));
const children = new Set();
const lines = [];

function log(text = '') {
  console.log(text);
  lines.push(text);
}

function have(binary) {
  return spawnSync('sh', ['-c', `command -v ${binary}`]).status === 0;
}

function installExtras() {
  const debs = { wrk: 'wrk', opentracker: 'opentracker', mktorrent: 'mktorrent', aria2c: 'aria2' };
  const missing = Object.entries(debs).filter(([bin]) => !have(bin)).map(([, pkg]) => pkg);
  if (missing.length && process.getuid?.() === 0) {
    console.log(`installing ${missing.join(' ')} (Debian)`);
    spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit' });
    spawnSync('apt-get', ['install', '-y', '-q', ...missing], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  if (!existsSync(path.join(here, 'node_modules', 'bittorrent-tracker'))) {
    console.log('installing bench-only npm packages into bench/node_modules (--ignore-scripts)');
    spawnSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: here, stdio: 'inherit' });
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};

/** Start a server process and resolve with its port once it prints `listening <port>`. */
function startServer(name, command, argv, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { cwd: here, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${out}`)), 20_000);
    const onData = (chunk) => {
      out += chunk.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ name, child, port: Number(m[1]), stop: () => stopChild(child) });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (c) => (out += c.toString()));
    child.on('exit', (code) => {
      children.delete(child);
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}): ${out.slice(-2000)}`));
    });
  });
}

function stopChild(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}

/** opentracker (Debian, whitelist mode): the bench's info hashes go into its whitelist. */
async function startOpentracker(hexHashes) {
  // opentracker refuses to run as root: it chroots into `dir` and drops to `nobody`, so the
  // whitelist is named by its path inside the chroot and the directory must be world-readable.
  const dir = path.join(work, 'opentracker');
  mkdirSync(dir, { recursive: true });
  chmodSync(work, 0o755);
  chmodSync(dir, 0o755);
  writeFileSync(path.join(dir, 'whitelist.txt'), hexHashes.join('\n') + '\n');
  const port = await new Promise((resolve) => {
    import('node:net').then(({ default: net }) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    });
  });
  writeFileSync(path.join(dir, 'opentracker.conf'), 'access.whitelist /whitelist.txt\n');
  const child = spawn('opentracker', ['-i', '127.0.0.1', '-p', String(port), '-P', String(port), '-f', path.join(dir, 'opentracker.conf'), '-u', 'nobody', '-d', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  // Wait until it answers.
  for (let i = 0; i < 100; i++) {
    const r = spawnSync('sh', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`]);
    if (r.status === 0) break;
    await new Promise((r2) => setTimeout(r2, 100));
  }
  return { name: 'opentracker', child, port, stop: () => stopChild(child) };
}

/** Run wrk once; returns requests per second (and errors seen). */
function wrk({ port, urlPath, hashesFile, close, seconds = duration, conns = connections }) {
  const r = spawnSync(
    'wrk',
    ['-t1', `-c${conns}`, `-d${seconds}s`, '--latency', '-s', path.join(here, 'announce.lua'), `http://127.0.0.1:${port}`],
    {
      encoding: 'utf8',
      env: { ...process.env, BENCH_HASHES: hashesFile, BENCH_PATH: urlPath, BENCH_CLOSE: close ? '1' : '0' },
    },
  );
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? NaN);
  const errors = /Socket errors: (.*)/.exec(r.stdout)?.[1];
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? 0);
  const p99 = /99%\s+([\d.]+\w+)/.exec(r.stdout)?.[1];
  return { rps, errors, non2xx, p99, raw: r.stdout + r.stderr };
}

/** GET on a fresh connection (no keep-alive reuse of a socket the server may be closing). */
function get(port, urlPath) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
      })
      .on('error', reject);
  });
}

/** One announce through the target, to check it really answers peers (not a failure). */
async function sanity(target, urlPath, escapedHash) {
  const id = '-BN0001-' + 'abcdefghijkl';
  const body = await get(target.port, `${urlPath}?info_hash=${escapedHash}&peer_id=${id}&port=6881&uploaded=0&downloaded=0&left=0&compact=1&numwant=50`);
  if (body.includes('failure reason')) throw new Error(`${target.name} answered a failure: ${body}`);
}

function makeHashes(count, file) {
  const raw = Array.from({ length: count }, () => randomBytes(20));
  writeFileSync(file, raw.map((h) => [...h].map((b) => '%' + b.toString(16).padStart(2, '0').toUpperCase()).join('')).join('\n') + '\n');
  return raw;
}

const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN);
const targetsMet = [];
function target(label, value, goal, better = 'higher') {
  const ok = Number.isFinite(value) && (better === 'higher' ? value >= goal : value <= goal);
  targetsMet.push(`| ${label} | ${fmt(value, 2)} | ${better === 'higher' ? '>=' : '<='} ${goal} | ${Number.isFinite(value) ? (ok ? 'met' : 'MISSED') : 'not measured'} |`);
}

async function benchHttp() {
  const hashesFile = path.join(work, 'hashes.txt');
  const raw = makeHashes(1000, hashesFile);
  const redisUri = process.env.BENCH_REDIS ?? 'redis://127.0.0.1:6379';
  const specs = [
    ['node:http constant', () => startServer('node-bare', process.execPath, ['servers/node-bare.js']), '/announce'],
    ['Express constant', () => startServer('express-bare', process.execPath, ['servers/express-bare.js']), '/tracker/announce'],
    ['bittorrent-tracker', () => startServer('bittorrent-tracker', process.execPath, ['servers/bittorrent-tracker.js']), '/announce'],
    ['opentracker', () => startOpentracker(raw.map((h) => h.toString('hex'))), '/announce'],
    ['ours: middleware, memory', () => startServer('ours-mw', process.execPath, ['servers/ours-middleware.js']), '/tracker/announce'],
    ['ours: middleware, Redis', () => startServer('ours-mw-redis', process.execPath, ['servers/ours-middleware.js'], { BENCH_STORE: `${redisUri}?namespace=bench-${process.pid}` }), '/tracker/announce'],
    ['ours: standalone, memory', () => startServer('ours-standalone', process.execPath, ['servers/ours-standalone.js']), '/announce'],
  ];
  const running = [];
  const wanted = args.servers ? args.servers.split(',').map((x) => x.toLowerCase()) : [];
  for (const [label, start, urlPath] of specs) {
    if (wanted.length && !wanted.some((w) => label.toLowerCase().includes(w))) continue;
    try {
      const t = await start();
      await sanity(t, urlPath, [...raw[0]].map((b) => '%' + b.toString(16).padStart(2, '0')).join(''));
      running.push({ label, t, urlPath, keep: [], close: [], p99: [] });
    } catch (error) {
      log(`(skipped ${label}: ${String(error.message ?? error).split('\n')[0]})`);
    }
  }
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? running : [...running].reverse();
    for (const r of order) {
      const keep = wrk({ port: r.t.port, urlPath: r.urlPath, hashesFile, close: false });
      const close = wrk({ port: r.t.port, urlPath: r.urlPath, hashesFile, close: true });
      r.keep.push(keep.rps);
      r.close.push(close.rps);
      r.p99.push(keep.p99);
      if (keep.non2xx || close.non2xx) log(`warning: ${r.label}: non-2xx answers (${keep.non2xx}/${close.non2xx})`);
      process.stderr.write(`round ${round + 1}/${rounds} ${r.label}: keep-alive ${fmt(keep.rps)} req/s, new connection ${fmt(close.rps)} req/s\n`);
    }
  }
  for (const r of running) await r.t.stop();
  const by = Object.fromEntries(running.map((r) => [r.label, { keep: median(r.keep), close: median(r.close) }]));
  const ref = by['Express constant'];
  log(`### Announce throughput (wrk, 1 thread, ${connections} connections, ${duration} s x ${rounds} rounds, medians)`);
  log('Random new peers into 1000 swarms, 30% seeders, compact, numwant=50.');
  log('');
  log('| server | keep-alive req/s | new connection req/s | keep-alive vs Express constant | new conn. vs Express constant |');
  log('| --- | ---: | ---: | ---: | ---: |');
  for (const r of running) {
    const m = by[r.label];
    log(`| ${r.label} | ${fmt(m.keep)} | ${fmt(m.close)} | ${fmt(ratio(m.keep, ref?.keep), 2)}x | ${fmt(ratio(m.close, ref?.close), 2)}x |`);
  }
  log('');
  const mw = by['ours: middleware, memory'];
  const sa = by['ours: standalone, memory'];
  const bt = by['bittorrent-tracker'];
  const ot = by['opentracker'];
  const rd = by['ours: middleware, Redis'];
  target('middleware (memory) / Express constant, keep-alive', ratio(mw?.keep, ref?.keep), 0.9);
  target('middleware (memory) / Express constant, new connection', ratio(mw?.close, ref?.close), 0.9);
  target('middleware (memory) / bittorrent-tracker, keep-alive', ratio(mw?.keep, bt?.keep), 2);
  target('middleware (memory) / bittorrent-tracker, new connection', ratio(mw?.close, bt?.close), 2);
  target('standalone / opentracker, keep-alive', ratio(sa?.keep, ot?.keep), 2);
  target('standalone / opentracker, new connection', ratio(sa?.close, ot?.close), 0.9);
  target('middleware Redis / middleware memory, keep-alive', ratio(rd?.keep, mw?.keep), 0.6);
}

async function benchSwarm() {
  const hashesFile = path.join(work, 'small.txt');
  makeHashes(1000, hashesFile);
  const oneFile = path.join(work, 'one.txt');
  const [one] = makeHashes(1, oneFile);
  const small = [];
  const big = [];
  let peers = 0;
  const a = await startServer('ours-mw', process.execPath, ['servers/ours-middleware.js']);
  const b = await startServer('ours-mw-big', process.execPath, ['servers/ours-middleware.js']);
  // Grow the single swarm past 100k peers first (keep-alive, as fast as it goes).
  const escaped = [...one].map((x) => '%' + x.toString(16).padStart(2, '0')).join('');
  const count = async () => {
    const body = await get(b.port, `/tracker/scrape?info_hash=${escaped}`);
    return Number(/8:completei(\d+)e/.exec(body)?.[1] ?? 0) + Number(/10:incompletei(\d+)e/.exec(body)?.[1] ?? 0);
  };
  while ((peers = await count()) < 100_000) wrk({ port: b.port, urlPath: '/tracker/announce', hashesFile: oneFile, close: false, seconds: 5 });
  for (let round = 0; round < rounds; round++) {
    small.push(wrk({ port: a.port, urlPath: '/tracker/announce', hashesFile, close: false }).rps);
    big.push(wrk({ port: b.port, urlPath: '/tracker/announce', hashesFile: oneFile, close: false }).rps);
  }
  peers = await count();
  await a.stop();
  await b.stop();
  const costRatio = ratio(median(small), median(big));
  log(`### One big swarm vs 1000 small swarms (middleware, memory store, keep-alive)`);
  log('');
  log(`| case | req/s (median) |`);
  log(`| --- | ---: |`);
  log(`| 1000 swarms | ${fmt(median(small))} |`);
  log(`| 1 swarm of ${peers} peers | ${fmt(median(big))} |`);
  log('');
  log(`Announce cost in the big swarm relative to small swarms: ${fmt(costRatio, 2)}x`);
  log('');
  target('announce cost, one swarm of 100k+ peers / 1000 small swarms', costRatio, 1.2, 'lower');
}

function benchMemory() {
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(here, 'memory.js')], { encoding: 'utf8' });
  if (r.status !== 0) {
    log(`(memory bench failed: ${r.stderr})`);
    return;
  }
  const m = JSON.parse(r.stdout.trim().split('\n').pop());
  log(`### Memory per peer (memory store, ${m.peers} peers in ${m.swarms} swarms)`);
  log('');
  log(`RSS growth ${fmt(m.rssBytes / 1048576, 1)} MiB: ${fmt(m.rssPerPeer, 1)} bytes per peer (heap + buffers: ${fmt(m.heapPerPeer, 1)} bytes per peer).`);
  log('');
  target('memory store bytes per peer at 1M peers (RSS)', m.rssPerPeer, 100, 'lower');
}

function benchHash() {
  const cli = path.join(root, 'dist', 'cli.js');
  if (!existsSync(cli) || !have('mktorrent')) {
    log('(hash bench skipped: dist/cli.js or mktorrent missing)');
    return;
  }
  const sizeMiB = Number(args['hash-size']);
  const file = path.join(work, 'big.bin');
  spawnSync('sh', ['-c', `head -c ${sizeMiB}M /dev/urandom > ${file}`]);
  const time = (cmd, argv) => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, argv, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
  const ours = [];
  const inProcess = [];
  const theirs = [];
  for (let i = 0; i < rounds; i++) {
    rmSync(path.join(work, 'm.torrent'), { force: true });
    theirs.push(time('mktorrent', ['-l', '20', '-a', 'http://127.0.0.1/announce', '-o', path.join(work, 'm.torrent'), file]));
    rmSync(path.join(work, 'o.torrent'), { force: true });
    ours.push(time(process.execPath, [cli, 'create', file, '--announce', 'http://127.0.0.1/announce', '--piece-length', String(1 << 20), '--output', path.join(work, 'o.torrent')]));
    const r = spawnSync(process.execPath, [path.join(here, 'hash.js'), file, String(1 << 20)], { encoding: 'utf8' });
    inProcess.push(JSON.parse(r.stdout.trim()).seconds);
  }
  rmSync(file, { force: true });
  log(`### Hashing a ${sizeMiB} MiB file (1 MiB pieces, page cache warm, medians of ${rounds})`);
  log('');
  log(`| tool | seconds | vs mktorrent |`);
  log(`| --- | ---: | ---: |`);
  log(`| mktorrent (Debian, threads = cores) | ${fmt(median(theirs), 2)} | 1.00x |`);
  log(`| createTorrent() in-process | ${fmt(median(inProcess), 2)} | ${fmt(ratio(median(inProcess), median(theirs)), 2)}x |`);
  log(`| torrent-tracker create (CLI, with Node start-up) | ${fmt(median(ours), 2)} | ${fmt(ratio(median(ours), median(theirs)), 2)}x |`);
  log('');
  target('createTorrent() hashing time / mktorrent (1 GiB)', ratio(median(inProcess), median(theirs)), 1.2, 'lower');
  target('torrent-tracker create (CLI) / mktorrent time (1 GiB)', ratio(median(ours), median(theirs)), 1.2, 'lower');
}

function benchSeeder() {
  const script = path.join(here, 'seeder.mjs');
  if (!existsSync(script)) {
    log('(seeder bench skipped: bench/seeder.mjs missing)');
    return;
  }
  const r = spawnSync(process.execPath, [script, '--json', '--runs', String(rounds)], { encoding: 'utf8', timeout: 900_000 });
  let m;
  try {
    m = JSON.parse((r.stdout || '').trim().split('\n').pop());
  } catch {
    log(`(seeder bench failed: ${(r.stderr || r.stdout || '').slice(-500)})`);
    return;
  }
  log(`### Seeder upload rate (${fmt(m.sizeBytes ? m.sizeBytes / 1e6 : NaN)} MB to one aria2 leecher on loopback, ${rounds} runs)`);
  log('');
  log('| seeder | median MB/s | best MB/s |');
  log('| --- | ---: | ---: |');
  log(`| ours (createSeeder) | ${fmt(m.medianOursMBps, 1)} | ${fmt(m.bestOursMBps, 1)} |`);
  log(`| aria2 | ${fmt(m.medianAria2MBps, 1)} | ${fmt(m.bestAria2MBps, 1)} |`);
  log('');
  target('seeder upload rate / aria2 seeding (medians)', m.medianRatio, 0.8);
}

async function main() {
  installExtras();
  log(`## express-torrent-tracker bench, ${new Date().toISOString()}`);
  log(`Node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${fmt(os.totalmem() / 2 ** 30, 0)} GiB`);
  log('');
  if (only.has('http')) await benchHttp();
  if (only.has('swarm')) await benchSwarm();
  if (only.has('memory')) benchMemory();
  if (only.has('hash')) benchHash();
  if (only.has('seeder')) benchSeeder();
  log('### Targets');
  log('');
  log('| target | measured | goal | |');
  log('| --- | ---: | ---: | --- |');
  for (const t of targetsMet) log(t);
  mkdirSync(path.join(here, 'results'), { recursive: true });
  writeFileSync(path.join(here, 'results', 'latest.md'), lines.join('\n') + '\n');
  console.log(`\n(written to bench/results/latest.md)`);
}

function cleanup() {
  for (const c of children) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));
main().catch((error) => {
  console.error(error);
  process.exit(1);
});
