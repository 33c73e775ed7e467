/**
 * Real BitTorrent clients for interoperability tests: aria2, qBittorrent (libtorrent) and the
 * Transmission daemon, each with its own temporary config, its own ports, DHT/LSD/PEX off so only
 * the tracker introduces peers. Every process is started in its own process group and killed by
 * PID (never by name).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/**
 * True when every one of `binaries` is on PATH. Without them a test may skip with a visible reason
 * (a warning naming all the missing ones) on a laptop, but under CI=true a missing client is a
 * failure: this throws.
 */
export function haveBinaries(...binaries: string[]): boolean {
  const missing = binaries.filter((binary) => spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status !== 0);
  if (missing.length === 0) return true;
  const list = missing.join(', ');
  if (process.env.CI === 'true') {
    throw new Error(`${list} ${missing.length === 1 ? 'is' : 'are'} required under CI=true (install: see .ci/run)`);
  }
  console.warn(`[skip] ${list} ${missing.length === 1 ? 'is' : 'are'} not installed; skipping the tests that need ${missing.length === 1 ? 'it' : 'them'}`);
  return false;
}

/** True when `binary` is on PATH; see haveBinaries (throws under CI=true when it is missing). */
export function haveBinary(binary: string): boolean {
  return haveBinaries(binary);
}

/** A TCP port that was free a moment ago (bind port 0, read it, release it). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Poll `check` until it returns a truthy value, or throw after `timeoutMs` with `what`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 60_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * SHA-1 of a file's content as hex, or undefined if it does not exist or cannot be read (yet: a
 * client may be renaming or creating it).
 */
export async function sha1File(file: string): Promise<string | undefined> {
  if (!existsSync(file)) return undefined;
  try {
    const hash = createHash('sha1');
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
    return hash.digest('hex');
  } catch {
    return undefined;
  }
}

/** A client process in its own process group, with its output kept for failure messages. */
export class ClientProcess {
  readonly child: ChildProcess;
  output = '';
  exited = false;
  /** Resolves with the exit code when the process exits (null after a signal, -1 if it could not be spawned). */
  readonly exit: Promise<number | null>;

  constructor(
    readonly name: string,
    command: string,
    args: string[],
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.child = spawn(command, args, { detached: true, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString()).slice(-20_000);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exit = new Promise((resolve) => {
      this.child.on('exit', (code) => {
        this.exited = true;
        resolve(code);
      });
      this.child.on('error', (error) => {
        this.output += `\nspawn error: ${error.message}`;
        this.exited = true;
        resolve(-1);
      });
    });
  }

  /** Send `signal` to the whole process group and wait (bounded) for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
    if (this.exited || this.child.pid === undefined) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      return;
    }
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs));
    if ((await Promise.race([gone, timer])) === 'timeout') {
      try {
        process.kill(-this.child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      await gone;
    }
  }
}

const ARIA2_QUIET = [
  '--enable-dht=false',
  '--enable-dht6=false',
  '--bt-enable-lpd=false',
  '--enable-peer-exchange=false',
  '--summary-interval=0',
  '--console-log-level=warn',
  '--file-allocation=none',
  '--check-integrity=true',
  '--bt-hash-check-seed=true',
];

/** Options for aria2Seeder and aria2Leecher. */
export interface Aria2Options {
  /** A .torrent file or a magnet link. */
  torrent: string;
  dataDir: string;
  listenPort: number;
  iface?: string;
  /** aria2's own log (level info). */
  logFile?: string;
  /** More aria2c arguments, placed before the torrent. */
  extraArgs?: string[];
}

function aria2(name: string, mode: string[], options: Aria2Options): ClientProcess {
  const args = [
    ...mode,
    '-d',
    options.dataDir,
    `--listen-port=${options.listenPort}`,
    ...ARIA2_QUIET,
    ...(options.iface ? [`--interface=${options.iface}`] : []),
    ...(options.logFile ? [`--log=${options.logFile}`, '--log-level=info'] : []),
    ...(options.extraArgs ?? []),
    options.torrent,
  ];
  return new ClientProcess(name, 'aria2c', args);
}

/** aria2 seeding `dataDir` (which holds the torrent's content) forever, after verifying it. */
export function aria2Seeder(options: Aria2Options): ClientProcess {
  return aria2('aria2 seeder', ['-V', '--seed-ratio=0.0'], options);
}

/** aria2 downloading into `dataDir` (created if missing) and exiting when done. */
export function aria2Leecher(options: Aria2Options): ClientProcess {
  mkdirSync(options.dataDir, { recursive: true });
  return aria2('aria2 leecher', ['--seed-time=0'], options);
}

/** qBittorrent-nox (libtorrent 2.x) with its own HOME, downloading `torrent` into `saveDir` (created if missing). */
export function qbittorrent(options: { home: string; torrent: string; saveDir: string; port: number; webuiPort: number }): ClientProcess {
  const configDir = path.join(options.home, '.config', 'qBittorrent');
  mkdirSync(configDir, { recursive: true });
  mkdirSync(options.saveDir, { recursive: true });
  writeFileSync(
    path.join(configDir, 'qBittorrent.conf'),
    [
      '[LegalNotice]',
      'Accepted=true',
      '[BitTorrent]',
      'Session\\DHTEnabled=false',
      'Session\\LSDEnabled=false',
      'Session\\PeXEnabled=false',
      // libtorrent blocks trackers on loopback whose path is not exactly /announce ("SSRF
      // mitigation"); ours is mounted at /tracker/announce, as on a real site.
      'Session\\SSRFMitigation=false',
      `Session\\Port=${options.port}`,
      'Session\\AnnounceToAllTrackers=true',
      'Session\\AnonymousModeEnabled=false',
      '[Preferences]',
      'General\\Locale=en',
      'Connection\\UPnP=false',
      'WebUI\\LocalHostAuth=false',
      '',
    ].join('\n'),
  );
  return new ClientProcess(
    'qBittorrent',
    'qbittorrent-nox',
    [`--webui-port=${options.webuiPort}`, `--save-path=${options.saveDir}`, options.torrent],
    {
      ...process.env,
      HOME: options.home,
      XDG_CONFIG_HOME: path.join(options.home, '.config'),
      XDG_DATA_HOME: path.join(options.home, '.local', 'share'),
      XDG_CACHE_HOME: path.join(options.home, '.cache'),
    },
  );
}

/** transmission-daemon in the foreground with its own config dir; add torrents with `transmissionAdd`. */
export function transmission(options: { configDir: string; rpcPort: number; peerPort: number; downloadDir: string }): ClientProcess {
  mkdirSync(options.configDir, { recursive: true });
  writeFileSync(
    path.join(options.configDir, 'settings.json'),
    JSON.stringify({
      'dht-enabled': false,
      'lpd-enabled': false,
      'pex-enabled': false,
      'utp-enabled': false,
      'port-forwarding-enabled': false,
      'rename-partial-files': false,
      'rpc-authentication-required': false,
      'rpc-bind-address': '127.0.0.1',
      'rpc-whitelist-enabled': false,
      'rpc-host-whitelist-enabled': false,
      'message-level': 2,
    }),
  );
  return new ClientProcess('Transmission', 'transmission-daemon', [
    '-f',
    '-g',
    options.configDir,
    '-p',
    String(options.rpcPort),
    '-P',
    String(options.peerPort),
    '-O',
    '-Y',
    '-M',
    '-w',
    options.downloadDir,
  ]);
}

/** A Transmission daemon on ports of its own, with the RPC port to drive it (transmissionAdd, transmissionRemote). */
export type TransmissionDaemon = ClientProcess & { rpcPort: number; peerPort: number };

/** Start transmission-daemon on free ports, config in `configDir`, downloading into `downloadDir` (created if missing). */
export async function transmissionDaemon(options: { configDir: string; downloadDir: string }): Promise<TransmissionDaemon> {
  mkdirSync(options.downloadDir, { recursive: true });
  const rpcPort = await freePort();
  const peerPort = await freePort();
  return Object.assign(transmission({ configDir: options.configDir, rpcPort, peerPort, downloadDir: options.downloadDir }), { rpcPort, peerPort });
}

/** Run transmission-remote against a daemon; returns stdout (throws on a non-zero exit). */
export function transmissionRemote(rpcPort: number, args: string[]): string {
  const r = spawnSync('transmission-remote', [String(rpcPort), ...args], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`transmission-remote ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** Add a torrent to a running Transmission daemon, retrying until its RPC port answers. */
export async function transmissionAdd(rpcPort: number, torrent: string): Promise<void> {
  await waitFor('transmission RPC', () => transmissionRemote(rpcPort, ['-a', torrent]).includes('success'), 20_000, 300);
}

/** Create a torrent with the reference tool mktorrent (piece length 2^pieceLog2). */
export function mktorrent(options: { announce: string; source: string; output: string; pieceLog2?: number }): void {
  const r = spawnSync('mktorrent', ['-a', options.announce, '-l', String(options.pieceLog2 ?? 18), '-o', options.output, options.source], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`mktorrent failed: ${r.stderr}`);
}
