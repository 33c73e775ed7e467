/**
 * Test helpers for the storage backends: reachability of the local services (Redis, PostgreSQL,
 * MariaDB), unique names per test run, and private redis-server processes for outage tests.
 *
 * Without CI an unreachable service skips its tests with a visible reason; under `CI=true` the
 * tests FAIL instead, so a broken CI service can never pass silently.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, Socket } from 'node:net';
import { describe, it } from 'vitest';
import { freePort } from './clients.js';

export { freePort };

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

/** A private redis-server (no persistence) on `port`, killed by PID. */
export class PrivateRedis {
  private child: ChildProcess | undefined;
  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Start the server and wait until it accepts connections. */
  async start(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
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

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    // RST, not FIN: the clients see ECONNRESET, as when a database host dies.
    for (const s of this.sockets) s.resetAndDestroy();
    this.sockets.clear();
    if (server) await new Promise((r) => server.close(r));
  }
}
