/**
 * Nothing escapes an HTTP entry point into the host app: a throwing `announce` or `failure`
 * listener, or an app setting that throws while the client's address is read, still gives the
 * client HTTP 200 with a bencoded answer, never a 500 and never an unhandled rejection. Real
 * requests to a real Express app (memory and Redis stores: the synchronous and the asynchronous path).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/swarm/open.js';
import { decodeDict, failureOf } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet, startApp } from '../helpers/http.js';
import { reachable, REDIS_URL, uniqueName } from '../helpers/store-services.js';

const redisUp = await reachable(REDIS_URL);
if (!redisUp && process.env.CI === 'true') throw new Error('Redis is not reachable; required under CI=true');

const q = () => `info_hash=${escapeAll(randomBytes(20))}&peer_id=${escapeAll(randomBytes(20))}&port=6881&uploaded=0&downloaded=0&left=0`;

let unhandled: unknown[] = [];
const onUnhandled = (e: unknown): void => void unhandled.push(e);
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUnhandled);
});

describe.each(['memory', ...(redisUp ? ['redis'] : [])])('HTTP entry points are total (%s store)', (kind) => {
  const open = async () => (kind === 'redis' ? (await openStore(REDIS_URL, { namespace: uniqueName('total') })).store : undefined);

  // Failed on the old main: the listener's error left the handler (Express answered 500 on the memory
  // store; on Redis the request hung and the rejection went unhandled).
  it('a throwing announce listener: the announce stands, the client gets its answer, failure says internal', async () => {
    unhandled = [];
    const store = await open();
    const app = await startApp({ store });
    try {
      const failures: Array<{ reason: string }> = [];
      app.router.tracker.on('failure', (f) => failures.push(f));
      app.router.tracker.on('announce', () => {
        throw new Error('bug in the site');
      });
      const res = await rawGet(app.port, `/tracker/announce?${q()}`);
      expect(res.status).toBe(200);
      expect(failureOf(res.body)).toBeUndefined();
      expect(decodeDict(res.body).complete).toBe(1);
      expect(failures.map((f) => f.reason)).toEqual(['an announce listener threw']);
      expect((await app.router.tracker.stats()).failures.byKind.internal).toBe(1);
      expect(unhandled).toEqual([]);
    } finally {
      await app.close();
      await store?.close?.();
    }
  });

  it('a throwing failure listener does not stop the failure answer', async () => {
    unhandled = [];
    const store = await open();
    const app = await startApp({ store });
    try {
      app.router.tracker.on('failure', () => {
        throw new Error('bug in the site');
      });
      const res = await rawGet(app.port, `/tracker/announce?info_hash=x`);
      expect(res.status).toBe(200);
      expect(failureOf(res.body)).toBe('info_hash must be exactly 20 bytes (got 1)');
      const scrape = await rawGet(app.port, `/tracker/scrape?info_hash=${escapeAll(randomBytes(20))}`);
      expect(scrape.status).toBe(200);
      expect(unhandled).toEqual([]);
    } finally {
      await app.close();
      await store?.close?.();
    }
  });
});

// Failed on the old main: Express's error handler answered HTTP 500.
it('an app setting that throws while the address is read gives a bencoded failure, not a 500', async () => {
  const app = await startApp({}, (a) =>
    a.set('trust proxy', () => {
      throw new Error('broken trust function');
    }),
  );
  try {
    const failures: Array<{ reason: string }> = [];
    app.router.tracker.on('failure', (f) => failures.push(f));
    const res = await rawGet(app.port, `/tracker/announce?${q()}`, { headers: { 'X-Forwarded-For': '203.0.113.9' } });
    expect(res.status).toBe(200);
    expect(failureOf(res.body)).toBe('internal tracker error');
    expect(failures.map((f) => f.reason)).toEqual(['internal tracker error']);
  } finally {
    await app.close();
  }
});

it('the standalone server takes the same guarded path: a throwing announce listener still gets the client its answer', async () => {
  const { createTrackerServer } = await import('../../src/server.js');
  const server = createTrackerServer({ webSocket: false });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    server.tracker.on('announce', () => {
      throw new Error('bug in the site');
    });
    const port = (server.address() as { port: number }).port;
    const res = await rawGet(port, `/announce?${q()}`);
    expect(res.status).toBe(200);
    expect(failureOf(res.body)).toBeUndefined();
  } finally {
    await server.shutdown();
  }
});
