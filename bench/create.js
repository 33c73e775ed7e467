// Torrent creation of one large file, v1 / v2 / hybrid, ours next to the reference tools:
// mktorrent (v1) and python3-libtorrent 2 (v1, v2, hybrid). Each tool runs once per round, the
// order rotating from round to round, so a busy machine slows all of them alike.
//
//   node bench/create.js --file FILE [--rounds 5] [--piece-length 1048576] [--json]
//
// "cli" times a whole process (start-up included): `torrent-tracker create` (dist/cli.js), mktorrent,
// and a python3 process that imports libtorrent and makes the torrent. "in-process" times only the
// creation: createTorrent() (bench/hash.js) and libtorrent's create_torrent + set_piece_hashes +
// bencode inside python. Prints medians (seconds) and ratios; --json prints one JSON line.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
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

function wall(cmd, argv) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed: ${r.stderr}`);
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, stdout: r.stdout };
}

const out = (name) => path.join(work, `${name}.torrent`);
const announce = 'http://127.0.0.1/announce';
/** name → () => { cli?: seconds, inProcess?: seconds } */
const tools = {};
if (haveMktorrent) {
  tools['mktorrent v1'] = () => {
    rmSync(out('mk'), { force: true });
    return { cli: wall('mktorrent', ['-l', String(Math.log2(pieceLength)), '-a', announce, '-o', out('mk'), file]).seconds };
  };
}
for (const version of ['v1', 'v2', 'hybrid']) {
  tools[`ours ${version}`] = () => {
    const c = wall(process.execPath, [cli, 'create', file, '-q', '-f', '--version', version, '-a', announce, '-l', String(pieceLength), '-o', out(`ours-${version}`)]);
    const h = wall(process.execPath, [path.join(here, 'hash.js'), file, String(pieceLength), version]);
    return { cli: c.seconds, inProcess: JSON.parse(h.stdout.trim()).seconds };
  };
  if (python) {
    tools[`libtorrent ${version}`] = () => {
      const r = wall(python, ['-c', LT_SCRIPT, file, version, String(pieceLength), out(`lt-${version}`)]);
      return { cli: r.seconds, inProcess: Number(r.stdout.trim()) };
    };
  }
}
const selected = Object.keys(tools).filter((name) => args.only === '' || args.only.split(',').some((s) => name.includes(s)));

// Warm the page cache and the binaries once.
wall('sh', ['-c', 'cat "$1" > /dev/null', 'sh', file]);
const samples = Object.fromEntries(selected.map((name) => [name, { cli: [], inProcess: [] }]));
for (let round = 0; round < rounds; round++) {
  const order = selected.map((_, i) => selected[(i + round) % selected.length]);
  for (const name of order) {
    const r = tools[name]();
    samples[name].cli.push(r.cli);
    if (r.inProcess !== undefined) samples[name].inProcess.push(r.inProcess);
  }
}
rmSync(work, { recursive: true, force: true });

const median = (xs) => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const result = {
  file,
  bytes: (await import('node:fs')).statSync(file).size,
  pieceLength,
  rounds,
  python: python ?? null,
  tools: Object.fromEntries(
    selected.map((name) => [
      name,
      {
        cli: median(samples[name].cli),
        inProcess: median(samples[name].inProcess),
        cliMin: Math.min(...samples[name].cli),
        inProcessMin: samples[name].inProcess.length > 0 ? Math.min(...samples[name].inProcess) : undefined,
        samples: samples[name],
      },
    ]),
  ),
};
if (args.json) {
  console.log(JSON.stringify(result));
} else {
  for (const [name, t] of Object.entries(result.tools)) {
    const inProcess = t.inProcess === undefined ? '   -  ' : `${t.inProcess.toFixed(3)} s (min ${t.inProcessMin.toFixed(3)})`;
    console.log(`${name.padEnd(18)} cli ${t.cli.toFixed(3)} s (min ${t.cliMin.toFixed(3)})   in-process ${inProcess}`);
  }
  const ratio = (a, b) => (a !== undefined && b !== undefined ? (a / b).toFixed(2) : '-');
  const T = result.tools;
  console.log(`ours v1 CLI / mktorrent: ${ratio(T['ours v1']?.cli, T['mktorrent v1']?.cli)} (mins: ${ratio(T['ours v1']?.cliMin, T['mktorrent v1']?.cliMin)})`);
  for (const v of ['v1', 'v2', 'hybrid']) {
    const o = T[`ours ${v}`];
    const l = T[`libtorrent ${v}`];
    console.log(
      `ours ${v} / libtorrent ${v}: CLI ${ratio(o?.cli, l?.cli)} (mins ${ratio(o?.cliMin, l?.cliMin)}), in-process ${ratio(o?.inProcess, l?.inProcess)} (mins ${ratio(o?.inProcessMin, l?.inProcessMin)})`,
    );
  }
}
if (!existsSync(cli)) console.error('(dist/cli.js missing: run npm run build)');
