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
 * True when `binary` is on PATH. Without it a test may skip with a visible reason on a laptop, but
 * under CI=true a missing client is a failure: this throws.
 */
export function haveBinary(binary: string): boolean {
  const found = spawnSync('sh', ['-c', `command -v ${binary}`]).status === 0;
  if (!found && process.env.CI === 'true') {
    throw new Error(`${binary} is required under CI=true (install it: see .ci/run)`);
  }
  if (!found) console.warn(`[skip] ${binary} is not installed; skipping the tests that need it`);
  return found;
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

/** SHA-1 of a file's content as hex, or undefined if it does not exist. */
export async function sha1File(file: string): Promise<string | undefined> {
  if (!existsSync(file)) return undefined;
  const hash = createHash('sha1');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A client process in its own process group, with its output kept for failure messages. */
export class ClientProcess {
  readonly child: ChildProcess;
  output = '';
  exited = false;

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
    this.child.on('exit', () => {
      this.exited = true;
    });
    this.child.on('error', (error) => {
      this.output += `\nspawn error: ${error.message}`;
      this.exited = true;
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

/** aria2 seeding `dataDir` (which holds the torrent's content) forever. */
export function aria2Seeder(options: {
  torrent: string;
  dataDir: string;
  listenPort: number;
  iface?: string;
  logFile?: string;
}): ClientProcess {
  const args = [
    '-V',
    '-d',
    options.dataDir,
    '--seed-ratio=0.0',
    `--listen-port=${options.listenPort}`,
    ...ARIA2_QUIET,
    ...(options.iface ? [`--interface=${options.iface}`] : []),
    ...(options.logFile ? [`--log=${options.logFile}`, '--log-level=info'] : []),
    options.torrent,
  ];
  return new ClientProcess('aria2 seeder', 'aria2c', args);
}

/** aria2 downloading into `dataDir` and exiting when done. */
export function aria2Leecher(options: {
  torrent: string;
  dataDir: string;
  listenPort: number;
  iface?: string;
  logFile?: string;
}): ClientProcess {
  const args = [
    '-d',
    options.dataDir,
    '--seed-time=0',
    `--listen-port=${options.listenPort}`,
    ...ARIA2_QUIET,
    ...(options.iface ? [`--interface=${options.iface}`] : []),
    ...(options.logFile ? [`--log=${options.logFile}`, '--log-level=info'] : []),
    options.torrent,
  ];
  return new ClientProcess('aria2 leecher', 'aria2c', args);
}

/** qBittorrent-nox (libtorrent 2.x) with its own HOME, downloading `torrent` into `saveDir`. */
export function qbittorrent(options: { home: string; torrent: string; saveDir: string; port: number; webuiPort: number }): ClientProcess {
  const configDir = path.join(options.home, '.config', 'qBittorrent');
  mkdirSync(configDir, { recursive: true });
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
      '[Preferences]',
      'Connection\\UPnP=false',
      'WebUI\\LocalHostAuth=false',
      '',
    ].join('\n'),
  );
  return new ClientProcess(
    'qBittorrent',
    'qbittorrent-nox',
    [`--webui-port=${options.webuiPort}`, `--save-path=${options.saveDir}`, options.torrent],
    { ...process.env, HOME: options.home, XDG_CONFIG_HOME: path.join(options.home, '.config'), XDG_DATA_HOME: path.join(options.home, '.local', 'share') },
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
