// WebTorrent (WebSocket tracker): ours (createTrackerServer's WebSocket door, memory store) against
// bittorrent-tracker's WebSocket server, each in its own process, driven by one load generator
// (ws-load.js: several processes with many sockets each), in one run, round after round with the
// order alternated:
// - announces/s: periodic announces without offers (numwant 0) by sockets holding 50 torrents each
//   out of 1000 swarms;
// - relayed offers/s: the same with 5 offers (~500-byte SDP each) per announce, counting the offers
//   the tracker handed to the other sockets of the swarms;
// - server CPU per announce (its user + system time over the answered announces), steadier than
//   rates on a shared machine;
// - bytes per idle connection: 10 000 connections that each announced once (into 300 swarms),
//   measured in the server process (process.memoryUsage() after full GCs, over IPC) against a
//   baseline taken after a warm-up.
// `npm run bench -- --only ws` runs it, or directly:
//   node bench/ws.js [--rounds 3] [--duration 5] [--loaders 2] [--sockets 100] [--window 4]
//                    [--idle 10000] [--skip-idle] [--skip-load] [--cpu-prof] [--bufferutil]
//                    [--servers ours,bittorrent-tracker] [--modes announce,offers] [--heap-snapshot]
//                    [--dist path/to/dist/index.js (ours from another build)]
//                    [--servers ours,ours-b,bittorrent-tracker --dist-b other/dist/index.js (two builds side by side)]
// The last line printed is a JSON summary (bench/run.js reads it).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    loaders: { type: 'string', default: '2' },
    sockets: { type: 'string', default: '100' },
    window: { type: 'string', default: '4' },
    torrents: { type: 'string', default: '50' },
    offers: { type: 'string', default: '5' },
    idle: { type: 'string', default: '10000' },
    'skip-idle': { type: 'boolean', default: false },
    'skip-load': { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    'heap-snapshot': { type: 'boolean', default: false },
    dist: { type: 'string', default: '' },
    'dist-b': { type: 'string', default: '' },
    bufferutil: { type: 'boolean', default: false },
    servers: { type: 'string', default: 'ours,bittorrent-tracker' },
    modes: { type: 'string', default: 'announce,offers' },
    'fixed-rate': { type: 'boolean', default: true },
    'skip-saturated': { type: 'boolean', default: false },
    'announce-rate': { type: 'string', default: '6000' },
    'offers-rate': { type: 'string', default: '1000' },
  },
});
const rounds = Number(args.rounds);
const work = mkdtempSync(path.join(os.tmpdir(), 'ett-wsbench-'));
const children = new Set();
const hashesFile = path.join(work, 'hashes.hex');
writeFileSync(hashesFile, Array.from({ length: 1000 }, () => randomBytes(20).toString('hex')).join('\n') + '\n');
const profiles = path.join(here, 'results', 'profiles');

const SERVERS = {
  ours: 'servers/ours-ws.js',
  'bittorrent-tracker': 'servers/bittorrent-tracker-ws.js',
  // ours built from elsewhere (--dist-b), to measure a change next to the current build
  'ours-b': 'servers/ours-ws.js',
};

/** Node in a shell that may raise the descriptor limit first (10 000 sockets on each side). */
function spawnNode(argv, env = {}) {
  const quoted = argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const child = spawn('bash', ['-c', `ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec '${process.execPath}' ${quoted}`], {
    cwd: here,
    // Both servers run `ws` without the native bufferutil (only bench/node_modules has it, so only
    // bittorrent-tracker would get it): the same frame code on both sides unless --bufferutil.
    env: { ...process.env, ...(args.bufferutil ? {} : { WS_NO_BUFFER_UTIL: '1' }), ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

function startServer(name) {
  return new Promise((resolve, reject) => {
    const dist = name === 'ours' ? args.dist : name === 'ours-b' ? args['dist-b'] : '';
    const child = spawnNode(['--expose-gc', SERVERS[name]], dist ? { BENCH_DIST: path.resolve(dist) } : {});
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${out}`)), 20_000);
    child.stdout.on('data', (c) => {
      out += c;
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ name, child, port: Number(m[1]), url: `ws://127.0.0.1:${m[1]}/announce` });
      }
    });
    child.stderr.on('data', (c) => {
      out += c;
      process.stderr.write(`[${name}] ${c}`);
    });
    child.on('exit', (code) => reject(new Error(`${name} exited (${code}): ${out}`)));
  });
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

const nextMessage = (child, key) =>
  new Promise((resolve, reject) => {
    const onMessage = (m) => {
      if (m && m[key] !== undefined) {
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(m[key]);
      }
    };
    const onExit = (code) => reject(new Error(`process exited (${code}) before sending ${key}`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });

async function memoryOf(server) {
  server.child.send('memory');
  const gc = nextMessage(server.child, 'gc');
  const memory = await nextMessage(server.child, 'memory');
  return { ...memory, gc: await gc };
}

/** Jiffies the machine spent running processes (user, nice, system). */
function machineBusy() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 4).map(Number);
  return f[0] + f[1] + f[2];
}

/** CPU jiffies (user + system) of a process. */
function jiffies(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return NaN;
  }
}

/** One measured run of `mode` against `server`: loaders connect and fill the swarms, then all go at once. */
async function load(server, mode, rate = 0, seconds = Number(args.duration), profile = undefined) {
  const loaders = Array.from({ length: Number(args.loaders) }, () => {
    const child = spawnNode([
      'ws-load.js',
      '--url', server.url,
      '--hashes', hashesFile,
      '--mode', mode,
      '--sockets', args.sockets,
      '--window', args.window,
      '--torrents', args.torrents,
      '--offers', args.offers,
      '--seconds', String(seconds),
      '--rate', String(rate / Number(args.loaders)),
    ]);
    child.stderr.on('data', (c) => process.stderr.write(`[loader] ${c}`));
    return child;
  });
  const ready = await Promise.all(loaders.map((c) => nextMessage(c, 'ready')));
  if (profile) {
    server.child.send({ profileStart: true });
    await nextMessage(server.child, 'profiling');
  }
  const cpu0 = jiffies(server.child.pid);
  const ours0 = cpu0 + jiffies(process.pid) + loaders.reduce((n, c) => n + jiffies(c.pid), 0);
  const busy0 = machineBusy();
  const results = Promise.all(loaders.map((c) => nextMessage(c, 'result')));
  for (const c of loaders) c.send('go');
  const done = await results;
  const cpu = jiffies(server.child.pid) - cpu0;
  // CPU other processes took meanwhile (not the server, the loaders or this script), in cores.
  const others = machineBusy() - busy0 - (jiffies(server.child.pid) + jiffies(process.pid) + loaders.reduce((n, c) => n + jiffies(c.pid), 0) - ours0);
  if (profile) {
    server.child.send({ profileStop: profile });
    await nextMessage(server.child, 'profiled');
  }
  for (const c of loaders) c.send('close');
  await Promise.all(loaders.map((c) => new Promise((r) => (c.exitCode !== null ? r() : c.once('exit', r)))));
  // The loaders' counters include their warm-up (the `started` announces).
  const sum = (k) => done.reduce((n, r) => n + r[k], 0);
  const secs = Math.max(...done.map((r) => r.seconds));
  const answered = done.reduce((n, r) => n + r.answered, 0);
  const offers = done.reduce((n, r) => n + r.offersReceived, 0);
  return {
    seconds: secs,
    announces: answered / secs,
    offers: offers / secs,
    cpuPerAnnounce: (cpu * 10_000) / answered, // µs (a jiffy is 10 ms)
    cpuPerOffer: (cpu * 10_000) / offers,
    serverCores: (cpu / 100) / secs,
    otherCores: Math.max(0, others / 100 / secs),
    failures: sum('failures'),
    errors: sum('errors'),
    closedEarly: sum('closedEarly'),
    firstFailure: [...ready, ...done].find((r) => r.firstFailure)?.firstFailure,
  };
}

/** Bytes per idle connection: fresh server, warm-up, baseline, `count` connections announced once. */
async function idleMemory(name, count) {
  const server = await startServer(name);
  try {
    const idle = async (n) => {
      const child = spawnNode(['ws-load.js', '--url', server.url, '--hashes', hashesFile, '--mode', 'idle', '--sockets', String(n), '--swarms', '300']);
      child.stderr.on('data', (c) => process.stderr.write(`[idle] ${c}`));
      const ready = await nextMessage(child, 'ready');
      return { child, ready, close: () => (child.send('close'), new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)))) };
    };
    // Warm-up: code paths, JIT, allocator (not counted).
    const warm = await idle(1000);
    await warm.close();
    await new Promise((r) => setTimeout(r, 2000));
    const before = await memoryOf(server);
    if (!before.gc) throw new Error('server runs without --expose-gc');
    const snapshot = async (when) => {
      if (!args['heap-snapshot']) return undefined;
      mkdirSync(profiles, { recursive: true });
      server.child.send({ heapSnapshot: path.join(profiles, `ws-${name}-idle-${when}.heapsnapshot`) });
      return nextMessage(server.child, 'snapshot');
    };
    const snapBefore = await snapshot('before');
    const held = await idle(count);
    await new Promise((r) => setTimeout(r, 2000));
    const after = await memoryOf(server);
    const snapAfter = await snapshot('after');
    if (snapBefore) console.log(heapDiff(snapBefore, snapAfter, held.ready.opened, name));
    await held.close();
    const n = held.ready.opened;
    return {
      connections: n,
      failures: held.ready.failures,
      errors: held.ready.errors,
      closedEarly: held.ready.closedEarly,
      rssPer: (after.rss - before.rss) / n,
      heapPer: (after.heapUsed - before.heapUsed) / n,
      externalPer: (after.external - before.external) / n,
      rssMiB: after.rss / 2 ** 20,
    };
  } finally {
    await stop(server.child);
  }
}

/** Self size by constructor of a heap snapshot. */
function heapByConstructor(file) {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const f = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((k) => f.indexOf(k));
  const out = new Map();
  for (let i = 0; i < snap.nodes.length; i += f.length) {
    const type = types[snap.nodes[i + iType]];
    const key = type === 'object' || type === 'closure' ? `${snap.strings[snap.nodes[i + iName]]} (${type})` : `(${type})`;
    const e = out.get(key) ?? { count: 0, size: 0 };
    e.count++;
    e.size += snap.nodes[i + iSize];
    out.set(key, e);
  }
  return out;
}

/** What the idle connections added to the heap, per connection, by constructor (largest first). */
function heapDiff(beforeFile, afterFile, connections, name) {
  const a = heapByConstructor(beforeFile);
  const b = heapByConstructor(afterFile);
  const rows = [...b].map(([k, v]) => ({ k, count: (v.count - (a.get(k)?.count ?? 0)) / connections, size: (v.size - (a.get(k)?.size ?? 0)) / connections }));
  rows.sort((x, y) => y.size - x.size);
  const total = rows.reduce((n, r) => n + r.size, 0);
  const lines = [`Heap snapshot diff of ${name}, per idle connection: ${fmt(total)} bytes of self size (heap objects only; largest first):`];
  for (const r of rows.slice(0, 25)) lines.push(`  ${fmt(r.size, 0).padStart(6)} B  ${fmt(r.count, 2).padStart(6)} objects  ${r.k}`);
  return lines.join('\n');
}

const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const summary = { load: {}, idle: {} };
const profiled = [];
if (args['cpu-prof']) mkdirSync(profiles, { recursive: true });

/** The busiest functions (self time) of a .cpuprofile, as % of the busy time and µs per announce. */
function summarizeProfile(file, announces, top) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let busy = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const f = byId.get(p.samples[i]).callFrame;
    if (f.functionName === '(idle)') continue;
    const dt = p.timeDeltas[i] ?? 0;
    busy += dt;
    const where = f.url ? ` ${f.url.replace(/^.*\/(node_modules|dist)\//, '$1/').replace(/^file:\/\//, '')}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'}${where}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  }
  const lines = [`  busy ${fmt(busy / 1000)} ms = ${fmt(busy / announces, 1)} µs per announce; self time:`];
  for (const [k, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`  ${fmt((100 * t) / busy, 1).padStart(5)}%  ${fmt(t / announces, 2).padStart(7)} µs/announce  ${k}`);
  }
  return lines.join('\n');
}
const names = args.servers.split(',').filter((n) => SERVERS[n]);
const modes = args.modes.split(',').filter((m) => m === 'announce' || m === 'offers');

try {
  if (!args['skip-load']) {
    console.log(
      `Load: ${args.loaders} load processes x ${args.sockets} sockets, each socket one client (its own peer id) holding ${args.torrents} torrents ` +
        `picked at random among 1000 swarms (all announced \`started\` first, so the swarms hold ${Number(args.loaders) * Number(args.sockets) * Number(args.torrents)} listening peers), ` +
        `then periodic announces (no event) into random ones of its torrents, ${args.window} in flight per socket, ${args.duration} s per run, ` +
        `${rounds} rounds (order alternated) after a warm-up. Offers: ${args.offers} per announce (numwant ${args.offers}), ~500-byte SDP each, fresh offer ids. ` +
        `Fixed-rate runs send ${args['announce-rate']} announces/s without offers and ${args['offers-rate']}/s with offers (both servers keep up), ` +
        `for server CPU per announce at equal load. \`ws\` ${args.bufferutil ? 'with' : 'without'} the native bufferutil on both servers.`,
    );
    console.log('');
    const servers = [];
    for (const name of names) servers.push(await startServer(name));
    const kinds = [
      { key: 'announce', mode: 'announce', rate: 0, label: 'no offers, as fast as answered' },
      { key: 'offers', mode: 'offers', rate: 0, label: `${args.offers} offers each, as fast as answered` },
      { key: 'announce-fixed', mode: 'announce', rate: Number(args['announce-rate']), label: `no offers, ${args['announce-rate']}/s` },
      { key: 'offers-fixed', mode: 'offers', rate: Number(args['offers-rate']), label: `${args.offers} offers each, ${args['offers-rate']}/s` },
    ].filter((k) => modes.includes(k.mode) && !(k.rate === 0 && args['skip-saturated']) && !(k.rate > 0 && !args['fixed-rate']));
    const rows = Object.fromEntries(servers.map((s) => [s.name, Object.fromEntries(kinds.map((k) => [k.key, []]))]));
    const ratios = { announces: [], offers: [], cpuAnnounce: [], cpuOffer: [], cpuAnnounceFixed: [], cpuOfferFixed: [] };
    // Warm-up (not counted): JIT on both servers and both loads.
    for (const s of servers) for (const mode of modes) await load(s, mode, 0, 2);
    for (let round = 0; round < rounds; round++) {
      for (const k of kinds) {
        const got = {};
        for (const s of round % 2 === 0 ? servers : [...servers].reverse()) {
          const profile = args['cpu-prof'] && round === 0 ? path.join(profiles, `ws-${s.name}-${k.key}.cpuprofile`) : undefined;
          const r = await load(s, k.mode, k.rate, Number(args.duration), profile);
          if (profile) profiled.push({ server: s.name, kind: k, file: profile, announces: r.announces * r.seconds, offers: r.offers * r.seconds });
          got[s.name] = r;
          rows[s.name][k.key].push(r);
          console.log(
            `round ${round + 1}, announces with ${k.label}: ${s.name.padEnd(18)} ` +
              `${fmt(r.announces)} announces/s, ${fmt(r.offers)} offers relayed/s, server ${fmt(r.serverCores, 2)} cores, ` +
              `${fmt(r.cpuPerAnnounce, 1)} µs CPU per announce (failures ${r.failures}, errors ${r.errors}, closed ${r.closedEarly}; other processes ${fmt(r.otherCores, 2)} cores)` +
              (r.firstFailure ? ` first failure: ${r.firstFailure.slice(0, 160)}` : ''),
          );
        }
        const o = got.ours;
        const b = got['bittorrent-tracker'];
        if (!o || !b) continue;
        if (k.key === 'announce') {
          ratios.announces.push(o.announces / b.announces);
          ratios.cpuAnnounce.push(b.cpuPerAnnounce / o.cpuPerAnnounce);
        } else if (k.key === 'offers') {
          ratios.offers.push(o.offers / b.offers);
          ratios.cpuOffer.push(b.cpuPerOffer / o.cpuPerOffer);
        } else if (k.key === 'announce-fixed') ratios.cpuAnnounceFixed.push(b.cpuPerAnnounce / o.cpuPerAnnounce);
        else ratios.cpuOfferFixed.push(b.cpuPerOffer / o.cpuPerOffer);
      }
    }
    for (const s of servers) await stop(s.child);
    for (const p of profiled) {
      console.log('');
      console.log(`CPU profile of ${p.server}, announces with ${p.kind.label} (round 1, ${fmt(p.announces)} announces${p.offers ? `, ${fmt(p.offers)} offers relayed` : ''}; ${path.relative(here, p.file)}):`);
      console.log(summarizeProfile(p.file, p.announces, 22));
    }
    console.log('');
    console.log('| server | load | announces/s | offers relayed/s | server CPU (cores) | server CPU per announce | server CPU per relayed offer |');
    console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
    for (const s of servers) {
      summary.load[s.name] = {};
      for (const k of kinds) {
        const xs = rows[s.name][k.key];
        const m = {
          announces: median(xs.map((r) => r.announces)),
          offers: median(xs.map((r) => r.offers)),
          cores: median(xs.map((r) => r.serverCores)),
          cpuPerAnnounce: median(xs.map((r) => r.cpuPerAnnounce)),
          cpuPerOffer: median(xs.map((r) => r.cpuPerOffer)),
        };
        summary.load[s.name][k.key] = m;
        console.log(
          `| ${s.name} | ${k.label} | ${fmt(m.announces)} | ${k.mode === 'offers' ? fmt(m.offers) : '-'} | ${fmt(m.cores, 2)} | ${fmt(m.cpuPerAnnounce, 1)} µs | ${k.mode === 'offers' ? `${fmt(m.cpuPerOffer, 1)} µs` : '-'} |`,
        );
      }
    }
    summary.ratios = Object.fromEntries(Object.entries(ratios).map(([k, xs]) => [k, median(xs)]));
    const others = Object.values(rows).flatMap((byKind) => Object.values(byKind).flat().map((r) => r.otherCores));
    summary.otherCores = { median: median(others), max: Math.max(...others.filter(Number.isFinite)) };
    const r = summary.ratios;
    console.log('');
    console.log(
      `ours / bittorrent-tracker (medians of per-round ratios): announces/s ${fmt(r.announces, 2)}x, relayed offers/s ${fmt(r.offers, 2)}x. ` +
        `Server CPU, bittorrent-tracker's / ours: per announce ${fmt(r.cpuAnnounce, 2)}x (fixed rate ${fmt(r.cpuAnnounceFixed, 2)}x), ` +
        `per relayed offer ${fmt(r.cpuOffer, 2)}x (fixed rate ${fmt(r.cpuOfferFixed, 2)}x). ` +
        `Other processes on the machine during the runs: median ${fmt(summary.otherCores.median, 2)}, max ${fmt(summary.otherCores.max, 2)} cores (of 2).`,
    );
  }
  if (!args['skip-idle']) {
    const count = Number(args.idle);
    console.log('');
    console.log(`| server | idle connections (each announced once, 300 swarms) | RSS per connection | heapUsed per connection | external per connection | server RSS |`);
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const name of names) {
      const m = await idleMemory(name, count);
      summary.idle[name] = m;
      console.log(
        `| ${name} | ${m.connections} (failures ${m.failures}, errors ${m.errors}, closed ${m.closedEarly}) | ${fmt(m.rssPer)} B | ${fmt(m.heapPer)} B | ${fmt(m.externalPer)} B | ${fmt(m.rssMiB, 1)} MiB |`,
      );
    }
  }
  console.log('');
  console.log(JSON.stringify(summary));
} finally {
  for (const c of children) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}
