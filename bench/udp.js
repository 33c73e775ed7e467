// UDP announce throughput (BEP 15): ours (createUdpTracker, memory store), opentracker's UDP and
// bittorrent-tracker's UDP, driven by one load generator (udp-load.js: several sockets in several
// processes, random new peers into 1000 swarms, connect then announce as clients do), in one run,
// round after round with the order rotated. A node:dgram server answering a constant shows the floor
// any Node UDP tracker pays (receive and send in Node). Prints medians and ratios; `npm run bench -- --only udp`
// runs it, or directly: node bench/udp.js [--rounds 3] [--duration 5] [--loaders 2] [--sockets 8] [--window 16]
//                    [--dist-b other/dist/index.js (a second build as "ours-b", in the same rounds)]
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    loaders: { type: 'string', default: '2' },
    sockets: { type: 'string', default: '8' },
    window: { type: 'string', default: '16' },
    'dist-b': { type: 'string', default: '' },
  },
});
const rounds = Number(args.rounds);
const work = mkdtempSync(path.join(os.tmpdir(), 'ett-udpbench-'));
const children = new Set();
const hashes = Array.from({ length: 1000 }, () => randomBytes(20).toString('hex'));
const hashesFile = path.join(work, 'hashes.hex');
writeFileSync(hashesFile, hashes.join('\n') + '\n');

function startNode(name, script, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { cwd: here, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    children.add(child);
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${out}`)), 15_000);
    child.stdout.on('data', (c) => {
      out += c;
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ name, child, port: Number(m[1]) });
      }
    });
    child.stderr.on('data', (c) => (out += c));
  });
}

async function startOpentracker() {
  // Debian's opentracker runs in whitelist mode and refuses to run as root without chroot + user.
  const dir = path.join(work, 'opentracker');
  mkdirSync(dir, { recursive: true });
  chmodSync(work, 0o755);
  chmodSync(dir, 0o755);
  writeFileSync(path.join(dir, 'whitelist.txt'), hashes.join('\n') + '\n');
  writeFileSync(path.join(dir, 'opentracker.conf'), 'access.whitelist /whitelist.txt\n');
  const probe = spawnSync(process.execPath, ['-e', "const s=require('dgram').createSocket('udp4');s.bind(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"], { encoding: 'utf8' });
  const port = Number(probe.stdout.trim());
  const child = spawn('opentracker', ['-i', '127.0.0.1', '-P', String(port), '-p', String(port), '-f', path.join(dir, 'opentracker.conf'), '-u', 'nobody', '-d', dir], { stdio: 'ignore' });
  children.add(child);
  await new Promise((r) => setTimeout(r, 500));
  return { name: 'opentracker', child, port };
}

function load(port) {
  const runs = Array.from({ length: Number(args.loaders) }, () =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, ['udp-load.js', '127.0.0.1', String(port), args.duration, hashesFile, args.sockets, args.window], { cwd: here, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (c) => (out += c));
      child.on('exit', () => resolve(JSON.parse(out.trim().split('\n').pop() || '{}')));
    }),
  );
  return Promise.all(runs).then((results) => {
    const answered = results.reduce((n, r) => n + (r.answered ?? 0), 0);
    const seconds = Math.max(...results.map((r) => r.seconds ?? NaN));
    return { perSecond: answered / seconds, errors: results.reduce((n, r) => n + (r.errors ?? 0), 0), timeouts: results.reduce((n, r) => n + (r.timeouts ?? 0), 0) };
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

try {
  const servers = [
    await startNode('ours', 'servers/ours-udp.js'),
    await startOpentracker(),
    await startNode('node:dgram constant', 'servers/udp-constant.js'),
  ];
  if (args['dist-b']) servers.push(await startNode('ours-b', 'servers/ours-udp.js', { BENCH_DIST: pathToFileURL(path.resolve(args['dist-b'])).href }));
  try {
    servers.push(await startNode('bittorrent-tracker', 'servers/bittorrent-tracker-udp.js'));
  } catch (error) {
    console.log(`bittorrent-tracker not available (${error.message.split('\n')[0]}); install bench extras with npm run bench`);
  }
  const results = new Map(servers.map((s) => [s.name, []]));
  const ratios = { 'ours-b': [], opentracker: [], 'bittorrent-tracker': [], 'node:dgram constant': [] };
  for (let round = 0; round < rounds; round++) {
    const order = servers.map((_, i) => servers[(i + round) % servers.length]);
    const got = {};
    for (const s of order) {
      const r = await load(s.port);
      got[s.name] = r.perSecond;
      results.get(s.name).push(r.perSecond);
      console.log(`round ${round + 1}: ${s.name.padEnd(18)} ${Math.round(r.perSecond)} announces/s (errors ${r.errors}, timeouts ${r.timeouts})`);
    }
    for (const ref of Object.keys(ratios)) if (got[ref]) ratios[ref].push(got.ours / got[ref]);
  }
  console.log('');
  console.log('| UDP announces/s (median) | ours / it |');
  console.log('| --- | --- |');
  for (const [name, xs] of results) {
    const r = name === 'ours' ? '' : ratios[name]?.length ? `${median(ratios[name]).toFixed(2)}x` : '';
    console.log(`| ${name}: ${Math.round(median(xs))} | ${r} |`);
  }
} finally {
  for (const c of children) c.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
