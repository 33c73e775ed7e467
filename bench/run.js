// `npm run bench`: our tracker against reference servers, measured in one run on one machine, and
// printed as medians and ratios. Absolute numbers drift on a shared machine; ratios measured round
// after round in the same run are what the targets are about.
//
//   npm run bench                       # everything
//   npm run bench -- --only http        # http | metrics | private | udp | ws | swarm | memory | hash | seeder | soak (comma-separated; soak takes 30 minutes and is not in the default set)
//   npm run bench -- --rounds 5 --duration 8
//   npm run bench -- --only create --rounds 5   # v1/v2/hybrid creation: ours (CLI, in-process), mktorrent, python3-libtorrent (also run by hash),
//                                                # then the CLIs under hyperfine when it is installed; each "ours" against mktorrent's v1 time
//   npm run bench -- --only create --size 256M  # the same on a smaller file, for a quick run (--hash-size 256 says the same in MiB)
//   npm run bench -- --only http --servers express,middleware   # some servers only (label substrings)
//   npm run bench -- --only private --baseline e9299bc   # also public mode as built from that commit
//   npm run bench -- --only private --cpu-prof           # its servers under node --cpu-prof (bench/results/profiles)
//
// Extras are installed on first use: bench/node_modules (bittorrent-tracker, --ignore-scripts) and
// the Debian packages wrk, opentracker, mktorrent, aria2 (when running as root).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'http,metrics,private,udp,ws,swarm,memory,hash,seeder' },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    'hash-size': { type: 'string', default: '1024' },
    size: { type: 'string', default: '' },
    servers: { type: 'string', default: '' },
    baseline: { type: 'string', default: '' },
    'cpu-prof': { type: 'boolean', default: false },
  },
});
const only = new Set(args.only.split(','));
if (args.size !== '') {
  // --size 256M / 1G / 512 (MiB): the file size of the hash and create benches.
  const m = /^(\d+(?:\.\d+)?)\s*([mg]i?b?)?$/i.exec(args.size.trim());
  if (m === null) throw new Error(`--size ${args.size}: expected MiB, or a number with M or G`);
  args['hash-size'] = String(Math.round(Number(m[1]) * (/^g/i.test(m[2] ?? '') ? 1024 : 1)));
}
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
  const debs = { wrk: 'wrk', opentracker: 'opentracker', mktorrent: 'mktorrent', aria2c: 'aria2', hyperfine: 'hyperfine' };
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

/** Run wrk once; returns requests per second (and errors seen). `script`/`env`: another Lua script and its settings. */
function wrk({ port, urlPath, hashesFile, close, seconds = duration, conns = connections, script = 'announce.lua', env = {} }) {
  const r = spawnSync(
    'wrk',
    ['-t1', `-c${conns}`, `-d${seconds}s`, '--latency', '-s', path.join(here, script), `http://127.0.0.1:${port}`],
    {
      encoding: 'utf8',
      env: { ...process.env, BENCH_HASHES: hashesFile, BENCH_PATH: urlPath, BENCH_CLOSE: close ? '1' : '0', ...env },
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

/** Pids of the running processes whose command name is `name` (Linux /proc; [] elsewhere). */
function processIds(name) {
  try {
    return readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          return readFileSync(`/proc/${d}/comm`, 'utf8').trim() === name;
        } catch {
          return false;
        }
      })
      .map(Number);
  } catch {
    return [];
  }
}

/** CPU jiffies (utime + stime, + the waited-for children's with `children`) of a process. */
function cpuJiffies(pid, children = false) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]) + (children ? Number(f[13]) + Number(f[14]) : 0);
}

/** cpuJiffies, NaN when the process cannot be read. */
function safeJiffies(pid) {
  try {
    return cpuJiffies(pid);
  } catch {
    return NaN;
  }
}

/** Jiffies the machine spent running processes (user, nice, system; not interrupts, idle, steal). */
function machineBusy() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 4).map(Number);
  return f[0] + f[1] + f[2];
}

/**
 * Start measuring the CPU used by other processes (not this script, its finished children such as
 * wrk, nor `pids`); the returned function gives it in cores since the start. NaN off Linux.
 */
function otherLoadProbe(pids) {
  try {
    const ours = () => cpuJiffies(process.pid, true) + pids.reduce((sum, pid) => sum + cpuJiffies(pid), 0);
    const t0 = process.hrtime.bigint();
    const busy0 = machineBusy();
    const ours0 = ours();
    return () => {
      try {
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        return Math.max(0, (machineBusy() - busy0 - (ours() - ours0)) / 100 / seconds);
      } catch {
        return NaN;
      }
    };
  } catch {
    return () => NaN;
  }
}

/** Wait (at most `maxSeconds`) until other processes than `pids` and this script use little CPU. */
async function waitForQuiet(pids, maxSeconds, cores = 0.15) {
  const until = Date.now() + maxSeconds * 1000;
  for (;;) {
    const probe = otherLoadProbe(pids);
    await new Promise((r) => setTimeout(r, 2000));
    const other = probe();
    if (!(other > cores) || Date.now() > until) return other;
  }
}

/** Build the library as it was at git `ref` (git archive + tsc) in the work dir; returns its dist/index.js URL. */
function buildBaseline(ref) {
  const dir = path.join(work, 'baseline');
  mkdirSync(dir, { recursive: true });
  const archive = spawnSync('git', ['-C', root, 'archive', ref, 'src', 'tsconfig.json', 'tsconfig.build.json', 'package.json'], {
    maxBuffer: 256 << 20,
  });
  if (archive.status !== 0) throw new Error(`git archive ${ref}: ${archive.stderr}`);
  const tar = spawnSync('tar', ['-x', '-C', dir], { input: archive.stdout });
  if (tar.status !== 0) throw new Error(`tar: ${tar.stderr}`);
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const built = spawnSync(process.execPath, [tsc, '-p', path.join(dir, 'tsconfig.build.json')], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`building ${ref}: ${built.stdout}${built.stderr}`);
  return pathToFileURL(path.join(dir, 'dist', 'index.js')).href;
}

/** Delete every Redis key under the given Keyv namespaces; returns how many went. */
async function dropRedisKeys(uri, namespaces) {
  if (namespaces.length === 0) return 0;
  const { createClient } = await import('@keyv/redis');
  const client = createClient({ url: uri });
  client.on('error', () => undefined);
  await client.connect();
  let removed = 0;
  try {
    for (const ns of namespaces) {
      for await (const batch of client.scanIterator({ MATCH: `${ns}:*`, COUNT: 1000 })) {
        const keys = Array.isArray(batch) ? batch : [batch];
        if (keys.length) removed += await client.unlink(keys);
      }
    }
  } finally {
    await (client.close ? client.close() : client.quit());
  }
  return removed;
}

/**
 * Private mode (passkey + onTraffic) against public mode, memory and Redis stores, each server a
 * fresh process measured round after round in this run. Two loads:
 * - `new`: every request a new random peer announcing `started` (the http section's load); the
 *   private servers enforce intervals (the default), which never refuses a peer's first announce;
 * - `reannounce`: a fixed population of peers announcing again without an event, counters growing,
 *   so every announce credits traffic; the private servers run with enforceInterval: false (with it,
 *   each of these re-announces would be refused).
 */
/** UDP announces: bench/udp.js (ours, opentracker, a node:dgram constant, bittorrent-tracker). */
async function benchUdp() {
  log('');
  log('## UDP announces (BEP 15), one load generator for all');
  const r = spawnSync(process.execPath, ['udp.js', '--rounds', String(rounds), '--duration', String(duration)], { cwd: here, encoding: 'utf8' });
  for (const line of `${r.stdout}${r.stderr}`.trim().split('\n')) log(line);
  const ours = Number(/\| ours: (\d+)/.exec(r.stdout)?.[1]);
  const ot = Number(/\| opentracker: (\d+)/.exec(r.stdout)?.[1]);
  const bt = Number(/\| bittorrent-tracker: (\d+)/.exec(r.stdout)?.[1]);
  target('UDP: ours / opentracker', ratio(ours, ot), 0.7);
  target('UDP: ours / bittorrent-tracker', ratio(ours, bt), 3);
}

/** WebTorrent (WebSocket) announces, relayed offers and idle connections: bench/ws.js (ours vs bittorrent-tracker). */
function benchWs() {
  log('');
  log('## WebTorrent (WebSocket tracker), one load generator for both servers');
  const argv = ['ws.js', '--rounds', String(rounds), '--duration', String(duration)];
  if (args['cpu-prof']) argv.push('--cpu-prof');
  const r = spawnSync(process.execPath, argv, { cwd: here, encoding: 'utf8', maxBuffer: 64 << 20 });
  const out = `${r.stdout}`.trim().split('\n');
  let summary;
  try {
    summary = JSON.parse(out.at(-1));
    out.pop();
  } catch {
    summary = undefined;
  }
  for (const line of out) log(line);
  if (r.status !== 0 || !summary) {
    log(`(ws bench failed: ${`${r.stderr}`.slice(-1000)})`);
    return;
  }
  log('');
  target('WebSocket announces/s (no offers): ours / bittorrent-tracker', summary.ratios?.announces, 2);
  target('WebSocket relayed offers/s (5 offers per announce): ours / bittorrent-tracker', summary.ratios?.offers, 2);
  target('WebSocket bytes per idle connection (RSS, 10 000 connections), ours', summary.idle?.ours?.rssPer, 6144, 'lower');
  target('WebSocket bytes per idle connection (RSS): ours / bittorrent-tracker', ratio(summary.idle?.ours?.rssPer, summary.idle?.['bittorrent-tracker']?.rssPer), 1, 'lower');
}

/**
 * The cost of trackerMetrics on the hot path: the middleware without it (twice: A and A') and with
 * it (B, scraped every second), keep-alive, in turn for 2 x rounds. The ratio is B over the mean of
 * A and A'; A' over A shows how far two identical servers differ in this run (the noise).
 */
async function benchMetrics() {
  const hashesFile = path.join(work, 'metrics-hashes.txt');
  makeHashes(1000, hashesFile);
  const servers = [
    ['without trackerMetrics (A)', {}],
    ['with trackerMetrics (B)', { BENCH_METRICS: '1' }],
    ["without trackerMetrics (A')", {}],
  ];
  const running = [];
  for (const [label, env] of servers) running.push({ label, t: await startServer(`metrics-${running.length}`, process.execPath, ['servers/ours-middleware.js'], env), rps: [] });
  for (let round = 0; round < rounds * 2; round++) {
    const order = round % 2 === 0 ? running : [...running].reverse();
    for (const r of order) {
      const { rps } = wrk({ port: r.t.port, urlPath: '/tracker/announce', hashesFile, close: false });
      r.rps.push(rps);
      process.stderr.write(`metrics round ${round + 1}/${rounds * 2} ${r.label}: ${fmt(rps)} req/s\n`);
    }
  }
  for (const r of running) await r.t.stop();
  const [a, b, a2] = running.map((r) => median(r.rps));
  log('');
  log(`### trackerMetrics on the hot path (middleware, memory store, keep-alive, ${rounds * 2} rounds of ${duration} s, medians)`);
  log('');
  log('| server | req/s |');
  log('| --- | ---: |');
  for (const r of running) log(`| ${r.label} | ${fmt(median(r.rps))} |`);
  log('');
  log(`B / mean(A, A') = ${fmt(ratio(b, (a + a2) / 2), 3)}; A' / A (two identical servers: the noise) = ${fmt(ratio(a2, a), 3)}.`);
  target('middleware with trackerMetrics / without (keep-alive)', ratio(b, (a + a2) / 2), 0.95);
}

async function benchPrivate() {
  const redisUri = process.env.BENCH_REDIS ?? 'redis://127.0.0.1:6379';
  const users = 100;
  const population = 10_000;
  const newHashes = path.join(work, 'private-new.txt');
  const newRaw = makeHashes(1000, newHashes);
  const reHashes = path.join(work, 'private-re.txt');
  const reRaw = makeHashes(100, reHashes);
  const passkeysFile = path.join(work, 'passkeys.txt');
  const passkeys = Array.from({ length: users }, (_, i) => `u${i + 1}.${randomBytes(15).toString('base64url')}`);
  writeFileSync(passkeysFile, passkeys.join('\n') + '\n');
  let baselineDist;
  if (args.baseline) {
    try {
      baselineDist = buildBaseline(args.baseline);
    } catch (error) {
      log(`(baseline ${args.baseline} skipped: ${String(error.message ?? error).split('\n')[0]})`);
    }
  }
  const namespaces = [];
  const specs = [];
  for (const store of ['memory', 'Redis']) {
    const storeEnv = () => {
      if (store === 'memory') return {};
      const ns = `ett-bench-${process.pid}-${namespaces.length}`;
      namespaces.push(ns);
      return { BENCH_REDIS: redisUri, BENCH_NAMESPACE: ns };
    };
    const priv = (enforce) => ({ BENCH_PASSKEYS: passkeysFile, BENCH_ENFORCE: enforce ? '1' : '0' });
    specs.push({ store, load: 'new', role: 'public', label: 'public', env: storeEnv() });
    if (baselineDist) {
      specs.push({ store, load: 'new', role: 'baseline', label: `public, built from ${args.baseline}`, env: { ...storeEnv(), BENCH_DIST: baselineDist } });
    }
    specs.push({ store, load: 'new', role: 'private', label: 'private + accounting, enforcement on', env: { ...storeEnv(), ...priv(true) } });
    specs.push({ store, load: 'reannounce', role: 'public', label: 'public', env: storeEnv() });
    specs.push({ store, load: 'reannounce', role: 'private', label: 'private + accounting, enforcement off', env: { ...storeEnv(), ...priv(false) } });
  }
  const loadName = { new: 'new peers, `started`', reannounce: 're-announces, traffic' };
  const nodeArgs = args['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', path.join(here, 'results', 'profiles')] : [];
  const esc = (buf) => [...buf].map((b) => '%' + b.toString(16).padStart(2, '0').toUpperCase()).join('');
  const pick = (n) => Math.floor(Math.random() * n);
  const announcePath = (s, user) => (s.role === 'private' ? `/tracker/${passkeys[user]}/announce` : '/tracker/announce');
  /** One request of the spec's load, built as private.lua builds it. */
  const sampleQuery = (s) => {
    if (s.load === 'new') {
      const id = '-BN0001-' + randomBytes(6).toString('hex');
      return `${announcePath(s, pick(users))}?info_hash=${esc(newRaw[pick(newRaw.length)])}&peer_id=${id}&port=${1024 + pick(60000)}&uploaded=0&downloaded=0&left=1000000&compact=1&numwant=50&event=started`;
    }
    const i = pick(population);
    const t = Math.floor(Date.now() / 1000) - 1700000000;
    const seeder = i % 10 < 3;
    return `${announcePath(s, Math.floor(i / reRaw.length) % users)}?info_hash=${esc(reRaw[i % reRaw.length])}&peer_id=-BN0002-${String(i).padStart(12, '0')}&port=${1024 + (i % 60000)}&uploaded=${t * 65536}&downloaded=${seeder ? 1000000 : t * 16384}&left=${seeder ? 0 : 1000000}&compact=1&numwant=50`;
  };
  /** Sample `n` answers; returns the first bad one (a failure, or no interval), else undefined. */
  const sample = async (s, n = 3) => {
    for (let k = 0; k < n; k++) {
      const body = await get(s.t.port, sampleQuery(s));
      if (body.includes('failure reason') || !body.includes('8:interval')) return body;
    }
    return undefined;
  };
  const run = (s, close, seconds = duration, start = -1) =>
    wrk({
      port: s.t.port,
      urlPath: '/tracker/announce',
      hashesFile: s.load === 'new' ? newHashes : reHashes,
      close,
      seconds,
      script: 'private.lua',
      env: {
        BENCH_MODE: s.load,
        BENCH_PEERS: String(population),
        BENCH_START: String(start),
        BENCH_PASSKEYS: s.role === 'private' ? passkeysFile : '',
        BENCH_PREFIX: '/tracker/',
      },
    });

  const running = [];
  const otherLoad = [];
  const quietCores = 0.3;
  const blocks = { total: 0, rerun: 0, noisy: 0 };
  try {
    for (const s of specs) {
      const name = `${s.store} ${s.load} ${s.label}`;
      try {
        s.t = await startServer(name, process.execPath, [...nodeArgs, 'servers/ours-private.js'], s.env);
        if (nodeArgs.length) process.stderr.write(`${name}: pid ${s.t.child.pid} (CPU profile in bench/results/profiles)\n`);
        const bad = await sample(s, 1);
        if (bad) throw new Error(`answered ${bad.slice(0, 200)}`);
        s.keep = [];
        s.close = [];
        s.keepRatio = [];
        s.closeRatio = [];
        s.cpuKeep = [];
        s.cpuClose = [];
        s.cpuRatio = [];
        running.push(s);
      } catch (error) {
        log(`(skipped ${name}: ${String(error.message ?? error).split('\n')[0]})`);
        await s.t?.stop();
      }
    }
    // Warm-up (not counted): JIT, and one announce of every re-announcing peer (its baseline): the
    // population is walked in order from peer 0 until every peer has announced once.
    for (const s of running) {
      let done = 0;
      do {
        const r = run(s, false, duration, s.load === 'reannounce' ? done : -1);
        const count = Number(/(\d+) requests in/.exec(r.raw)?.[1] ?? 0);
        if (!count) throw new Error(`warm-up of ${s.store}, ${s.label} failed: ${r.raw.slice(0, 300)}`);
        done += count;
      } while (s.load === 'reannounce' && done < population);
    }
    for (const s of running) {
      const bad = await sample(s);
      if (bad) log(`warning: ${s.store}, ${s.load}, ${s.label}: answered a failure after warm-up: ${bad.slice(0, 200)}`);
    }
    // Rounds: within a (store, load) group the servers run back to back, keep-alive then new
    // connections, order reversed every round, so each ratio to public mode is taken from runs a few
    // seconds apart (other work on a shared machine comes and goes over minutes).
    const groups = [];
    for (const s of running) {
      const g = groups.find((x) => x[0].store === s.store && x[0].load === s.load);
      if (g) g.push(s);
      else groups.push([s]);
    }
    const redisPids = processIds('redis-server');
    const allPids = [...running.map((s) => s.t.child.pid), ...redisPids];
    // Waiting for calm and running blocks again may at most double the time of the rounds.
    let spare = rounds * running.length * 2 * duration * 1000;
    for (let round = 0; round < rounds; round++) {
      for (const g of round % 2 === 0 ? groups : [...groups].reverse()) {
        for (const close of [false, true]) {
          // One block: the group's servers back to back. When other processes took more than
          // `quietCores` of CPU during it, it is run again (at most twice), after waiting for calm.
          for (let attempt = 1; ; attempt++) {
            const started = Date.now();
            if (spare > 0) await waitForQuiet(allPids, Math.min(30, spare / 1000));
            spare -= Date.now() - started;
            const results = [];
            for (const s of round % 2 === 0 ? g : [...g].reverse()) {
              const probe = otherLoadProbe([s.t.child.pid, ...(s.store === 'Redis' ? redisPids : [])]);
              const cpu0 = safeJiffies(s.t.child.pid);
              const r = run(s, close);
              // Server CPU per announce, µs (jiffies are 10 ms): less sensitive to other load than req/s.
              const requests = Number(/(\d+) requests in/.exec(r.raw)?.[1] ?? NaN);
              r.cpu = ((safeJiffies(s.t.child.pid) - cpu0) * 10_000) / requests;
              results.push({ s, r, other: probe() });
              process.stderr.write(
                `round ${round + 1}/${rounds} ${s.store}, ${s.load}, ${s.label}, ${close ? 'new connection' : 'keep-alive'}: ${fmt(r.rps)} req/s (other processes: ${fmt(results.at(-1).other, 2)} cores)\n`,
              );
            }
            const worst = Math.max(...results.map((x) => x.other));
            if (!(worst > quietCores) || attempt === 3 || spare <= 0) {
              blocks.total++;
              if (worst > quietCores) blocks.noisy++;
              for (const { s, r, other } of results) {
                (close ? s.close : s.keep).push(r.rps);
                (close ? s.cpuClose : s.cpuKeep).push(r.cpu);
                otherLoad.push(other);
                if (r.non2xx) log(`warning: ${s.store}, ${s.label}: ${r.non2xx} non-2xx answers`);
              }
              break;
            }
            blocks.rerun++;
            spare -= results.length * duration * 1000;
            process.stderr.write(`  other processes took up to ${fmt(worst, 2)} cores: this block again\n`);
          }
        }
        const pub = g.find((s) => s.role === 'public');
        for (const s of g) {
          s.keepRatio.push(ratio(s.keep[round], pub?.keep[round]));
          s.closeRatio.push(ratio(s.close[round], pub?.close[round]));
          s.cpuRatio.push(ratio(s.cpuKeep[round], pub?.cpuKeep[round]));
        }
      }
    }
    // After the runs: answers still real, the counters of the servers, and enforcement really on.
    for (const s of running) {
      s.bad = await sample(s);
      s.stats = JSON.parse(await get(s.t.port, '/bench-stats'));
      if (s.role === 'private' && s.env.BENCH_ENFORCE === '1') {
        const id = '-BN0003-' + randomBytes(6).toString('hex');
        const q = `${announcePath(s, 0)}?info_hash=${esc(newRaw[0])}&peer_id=${id}&port=6881&uploaded=0&downloaded=0&left=1000000&compact=1&numwant=50`;
        const first = await get(s.t.port, q);
        const second = await get(s.t.port, q);
        s.enforced = first.includes('8:interval') && second.includes('failure reason') ? /failure reason\d+:(.*)e$/.exec(second)?.[1] : undefined;
      }
    }
  } finally {
    for (const s of specs) await s.t?.stop();
    try {
      const removed = await dropRedisKeys(redisUri, namespaces);
      process.stderr.write(`removed ${removed} Redis keys under ${namespaces.join(', ')}\n`);
    } catch (error) {
      log(`warning: could not remove the Redis keys under ${namespaces.join(', ')}: ${error.message ?? error}`);
    }
  }

  const find = (store, load, role) => running.find((s) => s.store === store && s.load === load && s.role === role);
  log(`### Private mode with accounting vs public mode (wrk, 1 thread, ${connections} connections, ${duration} s x ${rounds} rounds, medians)`);
  log(
    `Private servers: ${users} users with distinct passkeys (an async \`passkey\` function, answers cached), \`onTraffic\` summing the records into counters every 5 s. ` +
      'Load "new peers": random new peers announcing `started` into 1000 swarms (the announce throughput load), requests spread over the passkeys; ' +
      'the private server enforces intervals (the default), which never refuses a first announce. ' +
      `Load "re-announces": ${population} peers (${reRaw.length} swarms x ${users} users, one peer per user and swarm), each announcing again without an event, ` +
      '`uploaded` and `downloaded` growing, so every announce after the warm-up credits traffic; the private server runs with `enforceInterval: false` ' +
      '(with enforcement, each of these re-announces would be refused). 30% seeders, compact, numwant=50. Ratios against public mode on the same store and load, same run.',
  );
  log('');
  log('| store | load | server | keep-alive req/s | new connection req/s | keep-alive vs public | new conn. vs public | server CPU per announce (keep-alive) | CPU per announce vs public |');
  log('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const s of running) {
    s.m = { keep: median(s.keep), close: median(s.close), keepRatio: median(s.keepRatio), closeRatio: median(s.closeRatio) };
    log(
      `| ${s.store} | ${loadName[s.load]} | ${s.label} | ${fmt(s.m.keep)} | ${fmt(s.m.close)} | ${fmt(s.m.keepRatio, 2)}x | ${fmt(s.m.closeRatio, 2)}x | ${fmt(median(s.cpuKeep))} µs | ${fmt(median(s.cpuRatio), 2)}x |`,
    );
  }
  log('');
  log(
    `Ratios are medians of the per-round ratios (each private run against the public run seconds before or after it). ` +
      `Server CPU per announce: the server process's CPU time (user + system) over the announces of its keep-alive run; ` +
      `its ratio is this server's / public mode's (1.05x: 5% more CPU per announce), less sensitive to other load than req/s. ` +
      `Other processes on the machine (CPU time not spent by wrk, this script, the servers or redis-server) during the counted runs: ` +
      `median ${fmt(median(otherLoad.filter(Number.isFinite)), 2)}, max ${fmt(Math.max(...otherLoad.filter(Number.isFinite)), 2)} cores; ` +
      `${blocks.rerun} of ${blocks.total + blocks.rerun} blocks (a group's servers back to back) were run again because other processes took more than ${quietCores} cores, ` +
      `${blocks.noisy} counted blocks still had more.`,
  );
  log('');
  log('Checks (after the rounds):');
  log('');
  for (const s of running) {
    const failures = Object.entries(s.stats?.failures ?? {});
    const total = failures.reduce((n, [, c]) => n + c, 0);
    let line = `- ${s.store}, ${loadName[s.load]}, ${s.label}: ${total} failure answers during the runs${total ? ` (${failures.map(([r, c]) => `${c} x "${r}"`).join(', ')})` : ''}; sampled answers ${s.bad ? `NOT all successes: ${s.bad.slice(0, 120)}` : 'successes (`8:interval`)'}`;
    if (s.role === 'private') {
      const st = s.stats;
      line += `; passkey function called ${st.passkeyCalls} times; onTraffic called ${st.trafficCalls} times with ${st.trafficRecords} records, ${fmt(st.uploaded / 2 ** 30, 1)} GiB uploaded credited`;
    }
    if (s.enforced !== undefined || (s.role === 'private' && s.env.BENCH_ENFORCE === '1')) {
      line += s.enforced ? `; enforcement on: a second regular announce was refused ("${s.enforced}")` : '; ENFORCEMENT CHECK FAILED';
    }
    log(line + '.');
  }
  log('');
  for (const store of ['memory', 'Redis']) {
    for (const load of ['reannounce', 'new']) {
      const pub = find(store, load, 'public');
      const prv = find(store, load, 'private');
      if (!pub || !prv) continue;
      const what = load === 'new' ? 'new peers, enforcement on' : 're-announces, enforcement off';
      target(`private + accounting / public, ${store}, ${what}, keep-alive`, prv.m.keepRatio, 0.8);
      target(`private + accounting / public, ${store}, ${what}, new connection`, prv.m.closeRatio, 0.8);
    }
  }
  for (const store of ['memory', 'Redis']) {
    const pub = find(store, 'new', 'public');
    const base = find(store, 'new', 'baseline');
    if (!pub || !base) continue;
    log(
      `Public mode now / public mode built from ${args.baseline} (${store}): keep-alive ${fmt(1 / base.m.keepRatio, 2)}x, new connection ${fmt(1 / base.m.closeRatio, 2)}x.`,
    );
  }
  if (baselineDist) log('');
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
  const r2 = spawnSync(process.execPath, ['--expose-gc', path.join(here, 'small-swarms.js')], { encoding: 'utf8' });
  if (r2.status !== 0) {
    log(`(small-swarms bench failed: ${r2.stderr})`);
    return;
  }
  const w = JSON.parse(r2.stdout.trim().split('\n').pop());
  log(`### Small swarms (memory store, ${w.swarms} one-peer swarms)`);
  log('');
  log(`${fmt(w.bytesPerSwarm, 1)} bytes per one-peer swarm (heap + buffers), ${fmt(w.rssPerSwarm, 1)} RSS. Background sweeps, longest slice / longest event-loop delay:`);
  log(`all live ${fmt(w.live.longestSliceMs, 1)} / ${fmt(w.live.maxLoopDelayMs, 1)} ms; all expired ${fmt(w.expired.longestSliceMs, 1)} / ${fmt(w.expired.maxLoopDelayMs, 1)} ms (${w.expired.swarmsLeft} keep a downloaded count); after downloadedTtl ${fmt(w.forgotten.longestSliceMs, 1)} / ${fmt(w.forgotten.maxLoopDelayMs, 1)} ms (${w.forgotten.swarmsLeft} left).`);
  log('');
  target('memory store bytes per one-peer swarm (heap + buffers)', Math.max(w.bytesPerSwarm, w.rssPerSwarm), 200, 'lower');
  target('memory store longest event-loop delay while sweeping 1M swarms (ms)', Math.max(w.live.maxLoopDelayMs, w.expired.maxLoopDelayMs, w.forgotten.maxLoopDelayMs), 50, 'lower');
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
  target('express-torrent-tracker create (CLI) / mktorrent time (1 GiB)', ratio(median(ours), median(theirs)), 1.2, 'lower');
}

/**
 * Torrent creation, v1 / v2 / hybrid (bench/create.js): ours (CLI and in-process) next to mktorrent
 * and python3-libtorrent in rotating rounds, then, when hyperfine is installed, the CLIs of ours and
 * mktorrent under hyperfine. mktorrent makes only v1 torrents: every version of ours is compared with
 * its v1 time (the same data hashed; v2 hashes it with SHA-256 in 16 KiB blocks, hybrid with both).
 */
function benchCreate() {
  const cli = path.join(root, 'dist', 'cli.js');
  if (!existsSync(cli)) {
    log('(create bench skipped: dist/cli.js missing)');
    return;
  }
  const sizeMiB = Number(args['hash-size']);
  const file = path.join(work, 'create.bin');
  spawnSync('sh', ['-c', `head -c ${sizeMiB}M /dev/urandom > ${file}`]);
  const runCreate = (extra) => {
    const r = spawnSync(process.execPath, [path.join(here, 'create.js'), '--file', file, '--json', ...extra], { encoding: 'utf8', timeout: 1_800_000 });
    try {
      return JSON.parse(r.stdout.trim().split('\n').pop());
    } catch {
      log(`(create bench failed: ${(r.stderr || r.stdout || '').slice(-500)})`);
      return undefined;
    }
  };
  const m = runCreate(['--rounds', String(Math.max(rounds, 3))]);
  const h = have('hyperfine') ? runCreate(['--hyperfine', '--rounds', String(Math.max(rounds * 3, 10))]) : undefined;
  rmSync(file, { force: true });
  const size = sizeMiB >= 1024 && sizeMiB % 1024 === 0 ? `${sizeMiB / 1024} GiB` : `${sizeMiB} MiB`;
  if (m !== undefined) {
    const T = m.tools;
    log(`### Creating a torrent of a ${size} file: v1, v2, hybrid (1 MiB pieces, page cache warm, medians of ${m.rounds} rounds, order rotating)`);
    log('');
    log('| tool | CLI seconds (with start-up) | CLI CPU seconds (user + system) | in-process seconds |');
    log('| --- | ---: | ---: | ---: |');
    for (const [name, t] of Object.entries(T)) log(`| ${name} | ${fmt(t.cli, 2)} | ${t.cpu == null ? '' : fmt(t.cpu, 2)} | ${t.inProcess == null ? '' : fmt(t.inProcess, 2)} |`);
    log('');
    log('| ours / mktorrent v1 | CLI (medians) | CLI (per-round pairs) | CPU |');
    log('| --- | ---: | ---: | ---: |');
    for (const [version, r] of Object.entries(m.ratios)) {
      const x = r.vsMktorrent;
      log(`| ${version} | ${fmt(x.cli, 2)}x | ${fmt(x.paired, 2)}x | ${fmt(x.cpu, 2)}x |`);
    }
    log('');
    // The per-round ratio: the two runs of a pair are seconds apart and saw about the same load.
    for (const [version, r] of Object.entries(m.ratios)) {
      target(`torrent-tracker create ${version} (CLI) / mktorrent v1, per-round pairs (${size})`, r.vsMktorrent.paired, 1.2, 'lower');
    }
    if (m.ratios.hybrid?.vsLibtorrent.cli != null) {
      target(`torrent-tracker create hybrid (CLI) / python3-libtorrent hybrid (${size})`, m.ratios.hybrid.vsLibtorrent.cli, 1.2, 'lower');
      target(`createTorrent() hybrid / libtorrent hybrid, in-process (${size})`, m.ratios.hybrid.vsLibtorrent.inProcess, 1.2, 'lower');
    }
    if (!m.python) log('(python3-libtorrent missing: apt-get install python3-libtorrent)');
  }
  if (h !== undefined) {
    log(`### The same under hyperfine (-N, 2 warm-up runs, ${h.rounds} runs each; mean ± σ)`);
    log('');
    log('hyperfine runs one tool after the other, so on a busy machine a change of load between tools');
    log('shows as a difference between them: the rotating rounds above are the comparison; this table');
    log('gives the spread and the user / system split.');
    log('');
    log('| tool | seconds | user + system | vs mktorrent v1 |');
    log('| --- | ---: | ---: | ---: |');
    const mk = h.tools['mktorrent v1'];
    for (const [name, t] of Object.entries(h.tools)) log(`| ${name} | ${fmt(t.cli, 3)} ± ${fmt(t.sigma, 3)} | ${fmt(t.user, 2)} + ${fmt(t.system, 2)} | ${mk ? `${fmt(ratio(t.cli, mk.cli), 2)}x` : ''} |`);
    log('');
  } else if (!have('hyperfine')) {
    log('(hyperfine missing: apt-get install hyperfine, for the hyperfine table)');
  }
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

/** The 30-minute soak (not in the default set: `--only soak`). */
function benchSoak() {
  log('### Soak (30 minutes, memory and Redis stores at once)');
  const r = spawnSync(process.execPath, ['soak.js'], { cwd: here, stdio: 'inherit' });
  log(r.status === 0 ? 'soak: memory flat, nothing leaked (see the lines above)' : `soak FAILED (exit ${r.status})`);
}

async function main() {
  installExtras();
  log(`## express-torrent-tracker bench, ${new Date().toISOString()}`);
  log(`Node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${fmt(os.totalmem() / 2 ** 30, 0)} GiB`);
  log('');
  if (only.has('http')) await benchHttp();
  if (only.has('private')) await benchPrivate();
  if (only.has('udp')) await benchUdp();
  if (only.has('ws')) benchWs();
  if (only.has('swarm')) await benchSwarm();
  if (only.has('metrics')) await benchMetrics();
  if (only.has('memory')) benchMemory();
  if (only.has('hash')) benchHash();
  if (only.has('hash') || only.has('create')) benchCreate();
  if (only.has('seeder')) benchSeeder();
  if (only.has('soak')) benchSoak();
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
