/**
 * Storage mistakes caught at startup: a store option that cannot be a store is a TypeError when the
 * tracker is created (with the fix in the message, never a password); `router.ready()` /
 * `server.ready()` reject when the store cannot be opened; the first storage failure nobody listens
 * for is logged once with a code.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { trackerMiddleware } from '../../src/middleware.js';
import { createTrackerServer } from '../../src/server.js';
import { createUdpTracker } from '../../src/transport/udp.js';
import { MemorySwarmStore } from '../../src/swarm/memory/memory-store.js';
import { rawGet, startApp } from '../helpers/http.js';
import { describeService, freePort, MYSQL_URL, POSTGRES_URL, reachable, REDIS_URL } from '../helpers/store-services.js';

const HASH = '%01'.repeat(20);
const ANNOUNCE = `/tracker/announce?info_hash=${HASH}&peer_id=-qB4650-000000000001&port=6881&uploaded=0&downloaded=0&left=0&compact=1`;

/** A TCP port nothing listens on (bound once, then released). */
const closedPort = () => freePort();

describe('a store that cannot be a store is a TypeError at creation', () => {
  const cases: Array<[unknown, RegExp]> = [
    ['redis//127.0.0.1:6379', /options\.store "redis\/\/127\.0\.0\.1:6379" is not a connection URI: it needs a scheme followed by ":\/\/"; did you mean "redis:\/\/127\.0\.0\.1:6379"\?/],
    ['redis:/127.0.0.1:6379', /did you mean "redis:\/\/127\.0\.0\.1:6379"\?/],
    ['mongodb://user:hunter2@db/x', /unsupported URI scheme "mongodb" in "mongodb:\/\/user:\*\*\*@db\/x"; use memory:\/\/, redis:\/\/, rediss:\/\/, sqlite:\/\/, postgresql:\/\/ or mysql:\/\//],
    ['localhost:6379', /"localhost:6379" is not a connection URI: it needs a scheme followed by ":\/\/" \(e\.g\. "redis:\/\/127\.0\.0\.1:6379"/],
    [6379, /options\.store must be a connection URI .* a Keyv instance or a SwarmStore; leave it out for memory \(got 6379\)/],
    [{ host: 'localhost', port: 6379 }, /\(got an object without the SwarmStore or Keyv methods \(keys: host, port\)\)/],
    ['redis://:hunter2@[::1', /"redis:\/\/:\*\*\*@\[::1" is not a valid URI/],
    ['postgresql:///test', /"postgresql:\/\/\/test" names no host/],
    ['sqlite://', /"sqlite:\/\/" names no database file \(e\.g\. "sqlite:\/\/\/var\/lib\/tracker\.sqlite"\)/],
  ];

  it.each(cases)('%o', (store, message) => {
    for (const [scope, create] of [
      ['trackerMiddleware', () => trackerMiddleware({ store: store as string })],
      ['createTrackerServer', () => createTrackerServer({ store: store as string })],
      ['createUdpTracker', () => createUdpTracker({ store: store as string })],
    ] as const) {
      let thrown: unknown;
      try {
        create();
      } catch (error) {
        thrown = error;
      }
      expect(thrown, scope).toBeInstanceOf(TypeError);
      const text = (thrown as Error).message;
      expect(text.startsWith(`${scope}: options.store`), text).toBe(true);
      expect(text).toMatch(message);
      expect(text).not.toContain('hunter2');
    }
  });

  it('names the adapter package to install when it is missing (checked at creation, before any I/O)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ett-hide-'));
    try {
      // A resolve hook that hides @keyv/postgres, as on a site that never installed it.
      writeFileSync(
        join(dir, 'hide.mjs'),
        "export async function resolve(s, c, next) { if (s === '@keyv/postgres') { const e = new Error('Cannot find package ' + s); e.code = 'ERR_MODULE_NOT_FOUND'; throw e; } return next(s, c); }\n",
      );
      writeFileSync(join(dir, 'register.mjs'), "import { register } from 'node:module'; register('./hide.mjs', import.meta.url);\n");
      const dist = pathToFileURL(join(process.cwd(), 'dist', 'index.js')).href;
      writeFileSync(
        join(dir, 'main.mjs'),
        `import { trackerMiddleware } from ${JSON.stringify(dist)};\ntry { trackerMiddleware({ store: 'postgresql://127.0.0.1/test' }); console.log('created'); } catch (e) { console.log(e.constructor.name + ': ' + e.message); }\n`,
      );
      const run = spawnSync(process.execPath, ['--import', './register.mjs', 'main.mjs'], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
      expect(run.stdout.trim()).toBe(
        'TypeError: trackerMiddleware: options.store: a postgresql:// URI needs the package @keyv/postgres; install it with "npm install @keyv/postgres"',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a store without private-mode state is refused at creation for a private tracker', () => {
    const store = new MemorySwarmStore();
    Object.defineProperty(store, 'privateMode', { value: false });
    expect(() => trackerMiddleware({ store, passkey: () => 'user' })).toThrow(
      /trackerMiddleware: options\.store does not keep the per-peer state that private mode \(passkey\) needs/,
    );
  });
});

describe('ready() says whether the store can be opened', () => {
  it('resolves for the memory store', async () => {
    const router = trackerMiddleware();
    await expect(router.ready()).resolves.toBeUndefined();
    await router.close();
  });

  it('rejects for Redis on a port nobody listens on, naming the store (no password) and the cause', async () => {
    const port = await closedPort();
    const router = trackerMiddleware({ store: `redis://:hunter2@127.0.0.1:${port}` });
    const started = Date.now();
    const error = await router.ready().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error!.message).toBe(`tracker storage (redis://:***@127.0.0.1:${port}) could not be opened: Redis is not reachable: connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(Date.now() - started).toBeLessThan(5000);
    await router.close();
  });

  it('rejects for PostgreSQL and MySQL on closed ports (server.ready())', async () => {
    for (const scheme of ['postgresql', 'mysql']) {
      const port = await closedPort();
      const server = createTrackerServer({ store: `${scheme}://root:hunter2@127.0.0.1:${port}/test` });
      const error = await server.ready().then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error?.message).toBe(`tracker storage (${scheme}://root:***@127.0.0.1:${port}/test) could not be opened: connect ECONNREFUSED 127.0.0.1:${port}`);
      await server.shutdown();
    }
  });
});

describe('ready() against the running services', async () => {
  const up = await Promise.all([reachable(REDIS_URL), reachable(POSTGRES_URL), reachable(MYSQL_URL)]);
  for (const [i, [service, url]] of ([['Redis', REDIS_URL], ['PostgreSQL', POSTGRES_URL], ['MariaDB', MYSQL_URL]] as const).entries()) {
    describeService(service, up[i]!, `${service}`, () => {
      it('resolves once the store answers', async () => {
        const server = createTrackerServer({ store: url });
        await expect(server.ready()).resolves.toBeUndefined();
        await server.shutdown();
      });
    });
  }
});

describe('the first storage failure nobody listens for is logged once', () => {
  afterEach(() => vi.restoreAllMocks());

  async function failingApp(options: Parameters<typeof startApp>[0] = {}) {
    const port = await closedPort();
    const app = await startApp({ store: `redis://:hunter2@127.0.0.1:${port}`, ...options });
    return { app, port };
  }

  it('logs ERR_TRACKER_STORAGE once, with the store and the cause, never the password', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const { app, port } = await failingApp();
    try {
      for (let i = 0; i < 3; i++) {
        const res = await rawGet(app.port, ANNOUNCE);
        expect(res.status).toBe(200);
        expect(res.body.toString()).toContain('failure reason');
      }
      const logged = warn.mock.calls.map((c) => String(c[0])).filter((m) => m.includes('ERR_TRACKER_STORAGE'));
      expect(logged).toHaveLength(1);
      expect(logged[0]).toContain(`tracker storage (redis://:***@127.0.0.1:${port}) failed:`);
      expect(logged[0]).toContain(`ECONNREFUSED 127.0.0.1:${port}`);
      expect(logged[0]).not.toContain('hunter2');
    } finally {
      await app.close();
    }
  });

  it('stays quiet when the site listens for failure, or turned it off with validate', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const heard: string[] = [];
    const { app } = await failingApp();
    app.router.tracker.on('failure', (f: { reason: string }) => heard.push(f.reason));
    const off = await failingApp({ validate: { storageFailure: false } });
    try {
      await rawGet(app.port, ANNOUNCE);
      await rawGet(off.app.port, ANNOUNCE);
      expect(heard.length).toBeGreaterThan(0);
      expect(warn.mock.calls.filter((c) => String(c[0]).includes('ERR_TRACKER_STORAGE'))).toHaveLength(0);
    } finally {
      await app.close();
      await off.app.close();
    }
  });
});
