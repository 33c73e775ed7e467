// Torrent creation of one large file, v1 / v2 / hybrid, ours next to the reference tools:
// mktorrent (v1) and python3-libtorrent 2 (v1, v2, hybrid). Each tool runs once per round, the
// order rotating from round to round, so a busy machine slows all of them alike.
//
//   node bench/create.js --file FILE [--rounds 5] [--piece-length 1048576] [--json] [--only ours,mktorrent]
//   node bench/create.js --file FILE --hyperfine [--rounds 10]   # the CLIs under hyperfine instead
//
// "cli" times a whole process (start-up included): `torrent-tracker create` (dist/cli.js), mktorrent,
// and a python3 process that imports libtorrent and makes the torrent. "in-process" times only the
// creation: createTorrent() (bench/hash.js) and libtorrent's create_torrent + set_piece_hashes +
// bencode inside python. Where /usr/bin/time exists, the CPU time (user + system) of each CLI run is
// recorded too: on a busy machine it is steadier than wall time. Every "ours" is compared with
// mktorrent's v1 time (mktorrent makes only v1 torrents) and with libtorrent's time for the same
// version: as ratios of medians, and as the median of the per-round ratios (the two runs of a pair
// are seconds apart, so they saw about the same load). Prints medians (seconds) and ratios; --json
// prints one JSON line.
//
// --hyperfine: runs `mktorrent` and `torrent-tracker create --version v1|v2|hybrid` under hyperfine
// (-N, 2 warm-up runs, --rounds runs each), which reports mean ± σ and user / system time per tool;
// the ratios are of the means. Needs the hyperfine binary (Debian package hyperfine).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(here);
const { values: args } = parseArgs({
  options: {
    file: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    'piece-length': { type: 'string', default: String(1 << 20) },
    json: { type: 'boolean', default: false },
    only: { type: 'string', default: '' },
    hyperfine: { type: 'boolean', default: false },
  },
});
if (!args.file) throw new Error('--file FILE is required');
const file = path.resolve(args.file);
const pieceLength = Number(args['piece-length']);
const rounds = Number(args.rounds);
const work = mkdtempSync(path.join(os.tmpdir(), 'ett-create-bench-'));
const cli = path.join(root, 'dist', 'cli.js');

/** The first python3 that imports libtorrent (Debian's package installs for /usr/bin/python3). */
const python = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import libtorrent'], { stdio: 'ignore' }).status === 0);
const haveMktorrent = spawnSync('sh', ['-c', 'command -v mktorrent'], { stdio: 'ignore' }).status === 0;
/** GNU time, for the CPU time of each run (wall time only without it). */
const gnuTime = existsSync('/usr/bin/time') && spawnSync('/usr/bin/time', ['-f', '%U', 'true'], { stdio: 'ignore' }).status === 0 ? '/usr/bin/time' : undefined;

const LT_SCRIPT = `
import os, sys, time, libtorrent as lt
path, mode, pl, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
t0 = time.perf_counter()
fs = lt.file_storage()
lt.add_files(fs, path)
flags = {'v1': lt.create_torrent.v1_only, 'v2': lt.create_torrent.v2_only, 'hybrid': 0}[mode]
t = lt.create_torrent(fs, pl, flags=flags)
t.add_tracker('http://127.0.0.1/announce')
lt.set_piece_hashes(t, os.path.dirname(os.path.abspath(path)))
data = lt.bencode(t.generate())
with open(out, 'wb') as f:
    f.write(data)
print(time.perf_counter() - t0)
`;

/** Run a command; wall seconds, stdout, and (with GNU time) CPU seconds, user + system. */
function wall(cmd, argv) {
  const timed = gnuTime === undefined ? [cmd, argv] : [gnuTime, ['-f', 'ETT-CPU %U %S', cmd, ...argv]];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(timed[0], timed[1], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed: ${r.stderr}`);
  const m = /ETT-CPU ([\d.]+) ([\d.]+)/.exec(r.stderr ?? '');
  return { seconds, stdout: r.stdout, cpu: m === null ? undefined : Number(m[1]) + Number(m[2]) };
}

const out = (name) => path.join(work, `${name}.torrent`);
const announce = 'http://127.0.0.1/announce';
/** name → () => { cli?: seconds, inProcess?: seconds } */
const tools = {};
if (haveMktorrent) {
  tools['mktorrent v1'] = () => {
    rmSync(out('mk'), { force: true });
    const r = wall('mktorrent', ['-l', String(Math.log2(pieceLength)), '-a', announce, '-o', out('mk'), file]);
    return { cli: r.seconds, cpu: r.cpu };
  };
}
for (const version of ['v1', 'v2', 'hybrid']) {
  tools[`ours ${version}`] = () => {
    const c = wall(process.execPath, [cli, 'create', file, '-q', '-f', '--version', version, '-a', announce, '-l', String(pieceLength), '-o', out(`ours-${version}`)]);
    const h = wall(process.execPath, [path.join(here, 'hash.js'), file, String(pieceLength), version]);
    return { cli: c.seconds, cpu: c.cpu, inProcess: JSON.parse(h.stdout.trim()).seconds };
  };
  if (python) {
    tools[`libtorrent ${version}`] = () => {
      const r = wall(python, ['-c', LT_SCRIPT, file, version, String(pieceLength), out(`lt-${version}`)]);
      return { cli: r.seconds, cpu: r.cpu, inProcess: Number(r.stdout.trim()) };
    };
  }
}
const selected = Object.keys(tools).filter((name) => args.only === '' || args.only.split(',').some((s) => name.includes(s)));

const median = (xs) => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ratio = (a, b) => (a !== undefined && b !== undefined && b > 0 ? a / b : undefined);
const fixed = (x, digits = 3) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits));

// Warm the page cache and the binaries once.
wall('sh', ['-c', 'cat "$1" > /dev/null', 'sh', file]);

let result;
if (args.hyperfine) {
  result = runHyperfine();
} else {
  const samples = Object.fromEntries(selected.map((name) => [name, { cli: [], cpu: [], inProcess: [] }]));
  for (let round = 0; round < rounds; round++) {
    const order = selected.map((_, i) => selected[(i + round) % selected.length]);
    for (const name of order) {
      const r = tools[name]();
      samples[name].cli.push(r.cli);
      if (r.cpu !== undefined) samples[name].cpu.push(r.cpu);
      if (r.inProcess !== undefined) samples[name].inProcess.push(r.inProcess);
    }
  }
  /** Median over the rounds of a's time / b's time in the same round. */
  const paired = (a, b) => (samples[a] && samples[b] ? median(samples[a].cli.map((x, i) => x / samples[b].cli[i])) : undefined);
  const toolsOut = Object.fromEntries(
    selected.map((name) => [
      name,
      {
        cli: median(samples[name].cli),
        cpu: median(samples[name].cpu),
        inProcess: median(samples[name].inProcess),
        cliMin: Math.min(...samples[name].cli),
        inProcessMin: samples[name].inProcess.length > 0 ? Math.min(...samples[name].inProcess) : undefined,
        samples: samples[name],
      },
    ]),
  );
  const ratios = {};
  for (const version of ['v1', 'v2', 'hybrid']) {
    const o = toolsOut[`ours ${version}`];
    if (o === undefined) continue;
    const mk = toolsOut['mktorrent v1'];
    const lt = toolsOut[`libtorrent ${version}`];
    ratios[version] = {
      vsMktorrent: { cli: ratio(o.cli, mk?.cli), paired: paired(`ours ${version}`, 'mktorrent v1'), mins: ratio(o.cliMin, mk?.cliMin), cpu: ratio(o.cpu, mk?.cpu) },
      vsLibtorrent: { cli: ratio(o.cli, lt?.cli), paired: paired(`ours ${version}`, `libtorrent ${version}`), inProcess: ratio(o.inProcess, lt?.inProcess), cpu: ratio(o.cpu, lt?.cpu) },
    };
  }
  result = { mode: 'rounds', tools: toolsOut, ratios };
}
rmSync(work, { recursive: true, force: true });
Object.assign(result, { file, bytes: statSync(file).size, pieceLength, rounds, python: python ?? null, cpuTimes: gnuTime !== undefined });

if (args.json) {
  console.log(JSON.stringify(result));
} else {
  for (const [name, t] of Object.entries(result.tools)) {
    const inProcess = t.inProcess === undefined ? '' : `   in-process ${fixed(t.inProcess)} s${t.inProcessMin === undefined ? '' : ` (min ${fixed(t.inProcessMin)})`}`;
    const spread = t.sigma === undefined ? (t.cliMin === undefined ? '' : ` (min ${fixed(t.cliMin)})`) : ` ± ${fixed(t.sigma)}`;
    console.log(`${name.padEnd(18)} cli ${fixed(t.cli)} s${spread}   cpu ${fixed(t.cpu)} s${inProcess}`);
  }
  for (const [version, r] of Object.entries(result.ratios)) {
    const m = r.vsMktorrent;
    const l = r.vsLibtorrent;
    console.log(
      `ours ${version} / mktorrent v1: CLI ${fixed(m.cli, 2)}x (paired ${fixed(m.paired, 2)}x, mins ${fixed(m.mins, 2)}x), CPU ${fixed(m.cpu, 2)}x` +
        (l.cli === undefined ? '' : `; / libtorrent ${version}: CLI ${fixed(l.cli, 2)}x, in-process ${fixed(l.inProcess, 2)}x`),
    );
  }
}
if (!existsSync(cli)) console.error('(dist/cli.js missing: run npm run build)');

/** mktorrent and our CLI under hyperfine: mean, σ, user and system seconds per tool. */
function runHyperfine() {
  const json = path.join(work, 'hyperfine.json');
  const commands = [];
  if (haveMktorrent) commands.push(['mktorrent v1', `mktorrent -l ${Math.log2(pieceLength)} -a ${announce} -o ${out('mk')} ${file}`, `rm -f ${out('mk')}`]);
  for (const version of ['v1', 'v2', 'hybrid']) {
    commands.push([`ours ${version}`, `${process.execPath} ${cli} create ${file} -q -f --version ${version} -a ${announce} -l ${pieceLength} -o ${out(`ours-${version}`)}`, 'true']);
  }
  const chosen = commands.filter(([name]) => args.only === '' || args.only.split(',').some((s) => name.includes(s)));
  const argv = ['-N', '-w', '2', '-r', String(rounds), '--style', 'none', '--export-json', json];
  for (const [name, command, prepare] of chosen) argv.push('--prepare', prepare, '-n', name, command);
  const r = spawnSync('hyperfine', argv, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.error !== undefined || r.status !== 0) throw new Error(`hyperfine failed (is it installed? apt-get install hyperfine): ${r.error?.message ?? r.stderr}`);
  const results = JSON.parse(readFileSync(json, 'utf8')).results;
  const toolsOut = Object.fromEntries(
    results.map((x) => [x.command, { cli: x.mean, sigma: x.stddev, cliMin: x.min, cpu: x.user + x.system, user: x.user, system: x.system }]),
  );
  const ratios = {};
  for (const version of ['v1', 'v2', 'hybrid']) {
    const o = toolsOut[`ours ${version}`];
    const mk = toolsOut['mktorrent v1'];
    if (o !== undefined) ratios[version] = { vsMktorrent: { cli: ratio(o.cli, mk?.cli), mins: ratio(o.cliMin, mk?.cliMin), cpu: ratio(o.cpu, mk?.cpu) }, vsLibtorrent: {} };
  }
  return { mode: 'hyperfine', tools: toolsOut, ratios };
}
