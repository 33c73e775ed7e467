/**
 * Real BitTorrent clients for the seeder interop tests, each in its own temp directory with its
 * own ports, DHT/LSD/PEX off so that only the tracker introduces peers. Processes are spawned in
 * their own process group and killed by that group's id.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** True when a binary is on PATH. */
export function hasBinary(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Which of `binaries` are missing. Under CI=true a missing client is an error (the test must fail,
 * not skip); otherwise the caller skips with the returned reason.
 */
export function missingClients(...binaries: string[]): string | undefined {
  const missing = binaries.filter((b) => !hasBinary(b));
  if (missing.length === 0) return undefined;
  const reason = `missing client binaries: ${missing.join(', ')} (apt-get install aria2 qbittorrent-nox transmission-daemon transmission-cli)`;
  if (process.env.CI === 'true') throw new Error(`${reason}; CI=true requires them`);
  console.warn(`SKIPPING: ${reason}`);
  return reason;
}

/** A free TCP port on `host` (bind port 0, read it, release it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Fresh temp dir. */
export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `ett-${prefix}-`));
}

/** A spawned client. */
export interface Spawned {
  /** The child. */
  child: ChildProcess;
  /** File collecting stdout and stderr. */
  logFile: string;
  /** Resolves with the exit code when the process exits. */
  exited: Promise<number | null>;
  /** Kills the whole process group (SIGTERM, then SIGKILL after `graceMs`). */
  kill(graceMs?: number): Promise<void>;
  /** The log so far. */
  log(): Promise<string>;
}

/** Spawns `cmd` detached (own process group), logging to `logFile`. */
export function spawnLogged(cmd: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): Spawned {
  const out = createWriteStream(logFile);
  const child = spawn(cmd, args, { detached: true, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(out, { end: false });
  child.stderr!.pipe(out, { end: false });
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      exitCode = code;
      resolve(code);
    });
    child.on('error', () => resolve(-1));
  });
  return {
    child,
    logFile,
    exited,
    log: () => readFile(logFile, 'utf8').catch(() => ''),
    async kill(graceMs = 3000) {
      if (exitCode !== undefined || child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, graceMs);
      await exited;
      clearTimeout(timer);
      out.end();
    },
  };
}

/** Polls `check` every `every` ms until it returns true; rejects after `timeout` ms with `what`. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeout: number, what: string, every = 250): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** SHA-1 hex of a file, or undefined if it cannot be read. */
export async function fileSha1(file: string): Promise<string | undefined> {
  try {
    return createHash('sha1').update(await readFile(file)).digest('hex');
  } catch {
    return undefined;
  }
}

const ARIA2_COMMON = [
  '--enable-dht=false',
  '--enable-dht6=false',
  '--bt-enable-lpd=false',
  '--enable-peer-exchange=false',
  '--summary-interval=0',
  '--console-log-level=warn',
  '--file-allocation=none',
  '--check-certificate=false',
];

/** aria2 downloading `torrentPath` into `dir` and exiting when done. */
export async function aria2Leecher(torrentPath: string, dir: string, extra: string[] = []): Promise<Spawned> {
  const port = await freePort();
  await mkdir(dir, { recursive: true });
  return spawnLogged(
    'aria2c',
    [...ARIA2_COMMON, '-d', dir, '--seed-time=0', `--listen-port=${port}`, '--log-level=info', `--log=${path.join(dir, '..', 'aria2.log')}`, ...extra, torrentPath],
    path.join(dir, '..', 'aria2.out'),
  );
}

/** aria2 seeding `torrentPath` from `dir` (verifies first). */
export async function aria2Seeder(torrentPath: string, dir: string, extra: string[] = []): Promise<Spawned> {
  const port = await freePort();
  return spawnLogged(
    'aria2c',
    [...ARIA2_COMMON, '-V', '-d', dir, '--seed-ratio=0.0', `--listen-port=${port}`, ...extra, torrentPath],
    path.join(dir, '..', 'aria2-seed.out'),
  );
}

/** qBittorrent-nox (libtorrent) downloading `torrentPath` into `dlDir`. */
export async function qbittorrentLeecher(torrentPath: string, root: string, dlDir: string): Promise<Spawned> {
  const home = path.join(root, 'qbhome');
  const conf = path.join(home, '.config', 'qBittorrent');
  await mkdir(conf, { recursive: true });
  await mkdir(dlDir, { recursive: true });
  const port = await freePort();
  const webui = await freePort();
  await writeFile(
    path.join(conf, 'qBittorrent.conf'),
    [
      '[LegalNotice]',
      'Accepted=true',
      '[BitTorrent]',
      'Session\\DHTEnabled=false',
      'Session\\LSDEnabled=false',
      'Session\\PeXEnabled=false',
      `Session\\Port=${port}`,
      'Session\\AnonymousModeEnabled=false',
      'Session\\SSRFMitigation=false',
      '[Preferences]',
      'General\\Locale=en',
      '',
    ].join('\n'),
  );
  return spawnLogged('qbittorrent-nox', [`--webui-port=${webui}`, `--save-path=${dlDir}`, torrentPath], path.join(root, 'qbittorrent.out'), {
    ...process.env,
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_DATA_HOME: path.join(home, '.local', 'share'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
  });
}

/** A Transmission daemon with its RPC port, and a helper to run transmission-remote against it. */
export interface TransmissionDaemon extends Spawned {
  /** RPC port. */
  rpcPort: number;
  /** Runs transmission-remote with `args`; resolves with its stdout (or rejects). */
  remote(args: string[]): Promise<string>;
}

/** Starts transmission-daemon (DHT/LPD/PEX/uTP/port mapping off) downloading into `dlDir`. */
export async function transmissionDaemon(root: string, dlDir: string): Promise<TransmissionDaemon> {
  const conf = path.join(root, 'transmission');
  await mkdir(conf, { recursive: true });
  await mkdir(dlDir, { recursive: true });
  const rpcPort = await freePort();
  const peerPort = await freePort();
  await writeFile(
    path.join(conf, 'settings.json'),
    JSON.stringify({
      'dht-enabled': false,
      'lpd-enabled': false,
      'pex-enabled': false,
      'utp-enabled': false,
      'port-forwarding-enabled': false,
      'rpc-port': rpcPort,
      'rpc-bind-address': '127.0.0.1',
      'rpc-whitelist': '127.0.0.1',
      'rpc-authentication-required': false,
      'peer-port': peerPort,
      'peer-port-random-on-start': false,
      'download-dir': dlDir,
      'incomplete-dir-enabled': false,
      'message-level': 2,
    }),
  );
  const spawned = spawnLogged(
    'transmission-daemon',
    ['-f', '-g', conf, '-p', String(rpcPort), '-P', String(peerPort), '--no-dht', '--no-lpd', '--no-portmap', '-w', dlDir],
    path.join(root, 'transmission.out'),
  );
  const remote = (args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = spawn('transmission-remote', [String(rpcPort), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`transmission-remote ${args.join(' ')}: ${out}`))));
    });
  return Object.assign(spawned, { rpcPort, remote });
}

/** Removes a directory tree, ignoring errors. */
export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
}
