/**
 * Test helpers for the storage backends: reachability of the local services (Redis, PostgreSQL,
 * MariaDB), unique names per test run, and private redis-server processes for outage tests.
 *
 * Without CI an unreachable service skips its tests with a visible reason; under `CI=true` the
 * tests FAIL instead, so a broken CI service can never pass silently.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createServer, Socket } from 'node:net';
import { describe, it } from 'vitest';
import { freePort } from './clients.js';

export { freePort };

const execFileAsync = promisify(execFile);

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
export const MYSQL_URL = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/** A name unique to this test run (letters, digits, `_`). */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/** True when a TCP connection to the URL's host and port succeeds within `ms`. */
export function reachable(url: string, ms = 1000): Promise<boolean> {
  const u = new URL(url);
  const port = Number(u.port || { 'redis:': 6379, 'postgresql:': 5432, 'postgres:': 5432, 'mysql:': 3306 }[u.protocol]);
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(ms, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, u.hostname, () => done(true));
  });
}

/**
 * `describe` when the service is up; otherwise a skipped block naming the reason, or (under CI) a
 * failing test.
 */
export function describeService(service: string, up: boolean, name: string, body: () => void): void {
  if (up) {
    describe(name, body);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it(`${service} is reachable (required under CI)`, () => {
        throw new Error(`${service} is not reachable; under CI=true this fails instead of skipping`);
      });
    });
  } else {
    describe.skip(`${name} — SKIPPED: ${service} is not reachable (set CI=true to make this a failure)`, body);
  }
}

/**
 * A private redis-server on `port`, killed by PID. No persistence unless `args` says otherwise (they
 * come after the defaults, and the last value of a setting wins: e.g. `['--appendonly', 'yes',
 * '--dir', tmp]`).
 */
export class PrivateRedis {
  private child: ChildProcess | undefined;
  constructor(
    readonly port: number,
    private readonly args: string[] = [],
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** True while the process runs. */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null;
  }

  /** Start the server and wait until it accepts connections. */
  async start(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...this.args], {
      stdio: 'ignore',
    });
    this.child = child;
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
      if (await reachable(this.url, 200)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('redis-server did not start');
  }

  /** Kill the server (SIGKILL, by PID) and wait for it to exit. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(child.pid, 'SIGKILL');
    await exited;
    this.child = undefined;
  }
}

/** `redis-cli -p <port> <args>`: its stdout (rejects when it fails). Asynchronous: the event loop keeps serving. */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 5000 });
  return stdout;
}

/** True when redis-server and redis-cli are installed. */
export const redisTools = (): boolean =>
  spawnSync('redis-server', ['--version']).status === 0 && spawnSync('redis-cli', ['--version']).status === 0;

/**
 * A private Redis Cluster: `masters` masters with `replicas` replicas each, every node a
 * {@link PrivateRedis} (no persistence) in one temp dir, on free ports (the cluster bus on a free port
 * too). `nodeTimeout` is `cluster-node-timeout`: how long a master may be unreachable before its
 * replica takes over.
 */
export class PrivateRedisCluster {
  readonly nodes: PrivateRedis[] = [];
  private dir: string | undefined;

  constructor(
    private readonly masters = 3,
    private readonly replicas = 0,
    private readonly nodeTimeout = 15_000,
  ) {}

  get ports(): number[] {
    return this.nodes.map((n) => n.port);
  }

  /**
   * Start one node on a free port and a free bus port. A port found free can be taken by another
   * process before redis-server binds it (tests run in parallel): then the server exits at once, and
   * the node is tried again on other ports.
   */
  private async startNode(dir: string, used: Set<number>): Promise<PrivateRedis> {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const bus = await freePort();
      if (port === bus || used.has(port) || used.has(bus)) continue;
      const node = new PrivateRedis(port, [
        '--cluster-enabled', 'yes',
        '--cluster-port', String(bus),
        '--cluster-config-file', `nodes-${port}.conf`,
        '--cluster-node-timeout', String(this.nodeTimeout),
        '--repl-diskless-sync-delay', '0',
        '--dir', dir,
      ]);
      try {
        await node.start();
        used.add(port).add(bus);
        return node;
      } catch (error) {
        await node.kill();
        if (attempt >= 5) throw error;
      }
    }
  }

  /** Start the nodes, create the cluster and wait until every node reports `cluster_state:ok`. */
  async start(): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), 'ett-cluster-'));
    const used = new Set<number>();
    for (let i = 0; i < this.masters * (1 + this.replicas); i++) this.nodes.push(await this.startNode(this.dir, used));
    await execFileAsync(
      'redis-cli',
      ['--cluster', 'create', ...this.ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(this.replicas), '--cluster-yes'],
      { encoding: 'utf8', timeout: 20_000 },
    );
    await this.waitUntil('every node reports cluster_state:ok and sees every replica', async () => {
      for (const node of this.nodes) {
        if (!(await redisCli(node.port, 'cluster', 'info')).includes('cluster_state:ok')) return false;
        const replicas = (await this.roles(node.port)).filter((r) => r.role === 'slave' && r.connected);
        if (replicas.length !== this.masters * this.replicas) return false;
      }
      return true;
    });
    // Replicas copy their master's data only once their first sync is over (a master waits
    // `repl-diskless-sync-delay`, 5 s by default, before it starts one): until then a failover
    // promotes an empty replica.
    await this.waitUntil('every replica finished its first sync', async () => {
      for (const node of this.nodes) {
        const info = await redisCli(node.port, 'info', 'replication');
        if (/^role:slave/m.test(info) && !(/^master_link_status:up/m.test(info) && /^master_sync_in_progress:0/m.test(info))) return false;
      }
      return true;
    });
  }

  /** CLUSTER NODES as seen by the node on `port`: each node's port, role, master id and link state. */
  async roles(port: number): Promise<Array<{ id: string; port: number; role: 'master' | 'slave'; masterId: string; failed: boolean; connected: boolean }>> {
    return (await redisCli(port, 'cluster', 'nodes'))
      .trim()
      .split('\n')
      .map((line) => {
        const [id, address, flags, masterId, , , , link] = line.split(' ');
        return {
          id,
          port: Number(/:(\d+)@/.exec(address)?.[1]),
          role: flags.includes('master') ? ('master' as const) : ('slave' as const),
          masterId,
          failed: flags.includes('fail'), // `fail` or `fail?`
          connected: link === 'connected',
        };
      });
  }

  /** As seen by the node on `port`: the port of the master that serves a slot. */
  async slotOwners(port: number): Promise<(slot: number) => number> {
    const ranges: Array<[number, number, number]> = [];
    for (const line of (await redisCli(port, 'cluster', 'nodes')).trim().split('\n')) {
      const fields = line.split(' ');
      const owner = Number(/:(\d+)@/.exec(fields[1])?.[1]);
      for (const range of fields.slice(8)) {
        const [from, to] = range.split('-').map(Number);
        if (Number.isInteger(from)) ranges.push([from, to ?? from, owner]);
      }
    }
    return (slot) => ranges.find(([from, to]) => slot >= from && slot <= to)![2];
  }

  /** Ports of the nodes that are masters now, as seen by the node on `askPort` (default: a live node). */
  async masterPorts(askPort = this.nodes.find((n) => n.running)!.port): Promise<number[]> {
    return (await this.roles(askPort)).filter((r) => r.role === 'master' && !r.failed).map((r) => r.port);
  }

  /** The port of the replica of the master on `port`. */
  async replicaOf(port: number): Promise<number> {
    const all = await this.roles(port);
    const master = all.find((r) => r.port === port)!;
    return all.find((r) => r.masterId === master.id)!.port;
  }

  /** Poll `check` every 50 ms until it holds, or throw after `ms`. */
  async waitUntil(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      let ok = false;
      try {
        ok = await check();
      } catch {
        ok = false; // a node still starting
      }
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`Redis Cluster: timed out waiting until ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Kill every node by PID and remove the temp dir. */
  async stop(): Promise<void> {
    for (const node of this.nodes) await node.kill();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}

/**
 * A TCP forwarder to a real service, to simulate the service going down and coming back on the same
 * address without touching the shared service: `stop()` closes the port and cuts every connection.
 */
export class TcpProxy {
  private server: import('node:net').Server | undefined;
  private readonly sockets = new Set<Socket>();
  constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  /** `url` with its host and port replaced by this proxy's. */
  rewrite(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = new Socket();
      this.sockets.add(client);
      this.sockets.add(upstream);
      const close = (): void => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
      upstream.connect(this.target.port, this.target.host, () => {
        client.pipe(upstream);
        upstream.pipe(client);
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  /** Reset every connection and close the port: new connections are refused (the service is "down"). */
  cut(): Promise<void> {
    return this.stop();
  }

  /** Accept connections again (the service is "back"). */
  async restore(): Promise<void> {
    if (!this.server) await this.start();
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    // RST, not FIN: the clients see ECONNRESET, as when a database host dies.
    for (const s of this.sockets) s.resetAndDestroy();
    this.sockets.clear();
    if (server) await new Promise((r) => server.close(r));
  }
}
