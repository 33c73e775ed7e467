/**
 * `express-torrent-tracker serve` under a process manager: the store it prints (no secrets), a store
 * it cannot open (exit 1, one line), the summary line when stdout is no terminal, and the /stats,
 * /metrics, /livez and /readyz routes. Real processes (dist/cli.js, built by pretest), port 0,
 * killed by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { describeStore, summaryLine } from '../../src/cli/serve-extras.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet } from '../helpers/http.js';
import { WsTestClient } from '../helpers/ws.js';
import { describeService, freePort, PrivateRedis, reachable, REDIS_URL, redisTools } from '../helpers/store-services.js';

interface Serve {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  /** Resolves with the match once stdout matches `pattern`; rejects when the process exits first. */
  waitOut: (pattern: RegExp, ms?: number) => Promise<RegExpExecArray>;
  exit: Promise<number | null>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function serve(...args: string[]): Serve {
  const child = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', '0', '--host', '127.0.0.1', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    for (const l of listeners) l();
  });
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitOut = (pattern: RegExp, ms = 15_000) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = (): void => {
        const m = pattern.exec(out);
        if (m) {
          listeners.delete(check);
          clearTimeout(timer);
          resolve(m);
        }
      };
      const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${ms} ms; stdout: ${out}; stderr: ${err}`)), ms);
      listeners.add(check);
      void exit.then((code) => {
        clearTimeout(timer);
        reject(new Error(`exited ${code} before ${pattern}; stdout: ${out}; stderr: ${err}`));
      });
      check();
    });
  return { child, out: () => out, err: () => err, waitOut, exit };
}

async function portOf(s: Serve): Promise<number> {
  return Number((await s.waitOut(/port (\d+): announce URL http:/))[1]);
}

async function getJson(port: number, path: string): Promise<{ status: number; json: unknown; type: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, type: res.headers.get('content-type') ?? '', json: await res.json() };
}

async function stop(s: Serve): Promise<number | null> {
  s.child.kill('SIGTERM');
  return s.exit;
}

describe('serve: the store', () => {
  it('names the store without secrets', () => {
    expect(describeStore(undefined)).toBe('memory');
    expect(describeStore('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(describeStore('redis://:s3cret@host:6379/0')).toBe('redis://:***@host:6379/0');
    expect(describeStore('redis://alice:s3cret@host:6379')).toBe('redis://alice:***@host:6379');
    expect(describeStore('redis://s3cret@host')).toBe('redis://***@host');
    expect(describeStore('postgresql://u:p%40ss@db/x?sslmode=require&password=pw')).toBe('postgresql://u:***@db/x?sslmode=require&password=***');
    expect(describeStore('redis//:pw@x')).toBe('***@x');
  });

  it('prints "store: memory" at start', async () => {
    const s = serve('--no-summary');
    await s.waitOut(/^store: memory$/m);
    expect(await stop(s)).toBe(0);
  });

  it.each([['redis//127.0.0.1:6379'], ['foo://x'], ['not a uri']])('exits 1 with one line, no stack, on the store %j', async (store) => {
    const s = serve('--store', store);
    expect(await s.exit).toBe(1);
    expect(s.out()).toBe('');
    const lines = s.err().trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    // "cannot open the store …: … unsupported URI scheme", or the TypeError createTrackerServer throws
    // at once for a store that cannot be one: either way one line about the store.
    expect(lines[0]).toMatch(/^express-torrent-tracker: error: .*store/i);
    expect(s.err()).not.toMatch(/\n\s+at /);
  });

  it('exits 1 within a few seconds when Redis does not answer, naming the store without its password', async () => {
    const port = await freePort(); // free now: nothing listens there
    const started = Date.now();
    const s = serve('--store', `redis://:hunter2@127.0.0.1:${port}/0`);
    expect(await s.exit).toBe(1);
    expect(Date.now() - started).toBeLessThan(6000);
    expect(s.err()).toMatch(/^express-torrent-tracker: error: .+\n$/);
    expect(s.err()).toContain(`redis://:***@127.0.0.1:${port}/0`);
    expect(s.err() + s.out()).not.toContain('hunter2');
    expect(s.out()).not.toContain('listening');
  });
});

describe('serve: summary line when stdout is not a terminal', () => {
  it('logs announces, scrapes, failures and the swarms every --summary-interval seconds', async () => {
    const s = serve('--summary-interval', '1');
    const port = await portOf(s);
    const q = `info_hash=${escapeAll(randomBytes(20))}&peer_id=${escapeAll(randomBytes(20))}&port=1&left=0`;
    await rawGet(port, `/announce?${q}`);
    const line = await s.waitOut(/^\S+Z last 1 s: 1 announce, 0 scrapes, 0 failures; now 1 torrent, 1 peer \(1 seeder, 0 leechers\)$/m);
    expect(line[0]).toMatch(/^\d{4}-\d\d-\d\dT/);
    // The next line counts only what happened since: no announce.
    await s.waitOut(/last 1 s: 0 announces, 0 scrapes, 0 failures; now 1 torrent/);
    expect(await stop(s)).toBe(0);
  });

  it('--no-summary logs none', async () => {
    const s = serve('--no-summary', '--summary-interval', '1', '--health');
    const port = await portOf(s);
    // Wait past two intervals by asking the process itself (its /livez) rather than sleeping blind.
    const until = Date.now() + 2200;
    while (Date.now() < until) expect((await getJson(port, '/livez')).status).toBe(200);
    expect(s.out()).not.toMatch(/last \d+ s:/);
    expect(await stop(s)).toBe(0);
  });

  it('formats a line from stats', () => {
    const stats = {
      swarms: { torrents: 2, seeders: 3, leechers: 2, peers: 5, ipv4: 5, ipv6: 0 },
      webrtcSwarms: undefined,
      announces: { total: 12 },
      scrapes: { requests: 3 },
      failures: { total: 4, byKind: { storage: 2 } },
    } as unknown as Parameters<typeof summaryLine>[0];
    const line = summaryLine(stats, { announces: 2, scrapes: 0, failures: 1, storageFailures: 0 }, 60, new Date(0));
    expect(line).toBe('1970-01-01T00:00:00.000Z last 60 s: 10 announces, 3 scrapes, 3 failures (2 storage); now 2 torrents, 5 peers (3 seeders, 2 leechers)');
  });
});

describe('serve: --stats, --metrics, --health', () => {
  it('answers /stats, /metrics, /livez and /readyz beside /announce', async () => {
    const s = serve('--stats', '--metrics', '--health', '--no-summary');
    const port = await portOf(s);
    await s.waitOut(/^also answering .*\/stats .*\/metrics .*\/livez .*\/readyz$/m);
    const q = `info_hash=${escapeAll(randomBytes(20))}&peer_id=${escapeAll(randomBytes(20))}&port=1&left=0`;
    expect((await rawGet(port, `/announce?${q}`)).status).toBe(200);
    const stats = await getJson(port, '/stats');
    expect(stats.status).toBe(200);
    expect(stats.type).toMatch(/application\/json/);
    expect(stats.json).toMatchObject({ announces: { total: 1 }, swarms: { torrents: 1, peers: 1 } });
    const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await metrics.text();
    expect(text).toMatch(/^bittorrent_tracker_announces_total\{transport="http",event="update",family="ipv4"\} 1$/m);
    expect(text).toMatch(/^bittorrent_tracker_peers\{swarms="bittorrent",family="ipv4"\} 1$/m);
    expect(await getJson(port, '/livez')).toMatchObject({ status: 200, json: { status: 'ok' } });
    expect(await getJson(port, '/readyz')).toMatchObject({ status: 200, json: { status: 'ok', checks: { store: { ok: true }, draining: { ok: true } } } });
    // Other paths still belong to the tracker.
    expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
    expect(await stop(s)).toBe(0);
  });

  it('without the flags, /stats and /metrics are 404; /livez and /readyz are always answered', async () => {
    const s = serve('--no-summary');
    const port = await portOf(s);
    for (const path of ['/stats', '/metrics']) expect((await fetch(`http://127.0.0.1:${port}${path}`)).status).toBe(404);
    for (const path of ['/livez', '/readyz']) expect((await fetch(`http://127.0.0.1:${port}${path}`)).status).toBe(200);
    expect(await stop(s)).toBe(0);
  });
});

describe('serve: health and draining', () => {
  it('answers /livez and /readyz at its root, and on SIGTERM drains (WebSocket 1001) and exits 0', async () => {
    const s = serve('--no-summary', '--udp-port', '0');
    const port = await portOf(s);
    await s.waitOut(/^UDP tracker on /m);
    expect(await getJson(port, '/livez')).toMatchObject({ status: 200, json: { status: 'ok' } });
    expect(await getJson(port, '/readyz')).toMatchObject({ status: 200, json: { status: 'ok', checks: { store: { ok: true }, udp: { ok: true } } } });
    const ws = await WsTestClient.open(`ws://127.0.0.1:${port}/announce`);
    s.child.kill('SIGTERM');
    expect(await ws.closedWith).toEqual({ code: 1001, reason: 'going away' });
    expect(await s.exit).toBe(0);
    expect(s.out()).toMatch(/^draining$/m);
    expect(s.out()).toMatch(/^tracker stopped$/m);
    expect(s.err()).toBe('');
  });
});

const redisUp = await reachable(REDIS_URL);

describeService('Redis', redisUp, 'serve with Redis', () => {
  it('prints the Redis store at start', async () => {
    const s = serve('--store', REDIS_URL, '--no-summary');
    await s.waitOut(new RegExp(`^store: ${REDIS_URL.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    expect(await stop(s)).toBe(0);
  });

  it.runIf(redisTools())('/readyz turns 503 naming the store when Redis goes away', async () => {
    const redis = new PrivateRedis(await freePort());
    await redis.start();
    try {
      const s = serve('--store', redis.url, '--health', '--no-summary');
      const port = await portOf(s);
      expect((await getJson(port, '/readyz')).status).toBe(200);
      await redis.kill();
      const ready = await getJson(port, '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.json).toMatchObject({ status: 'fail', failed: ['store'], checks: { store: { ok: false, detail: expect.any(String) } } });
      expect((await getJson(port, '/livez')).status).toBe(200);
      // Ready again once Redis is back.
      await redis.start();
      const until = Date.now() + 15_000;
      let again = await getJson(port, '/readyz');
      while (again.status !== 200 && Date.now() < until) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        again = await getJson(port, '/readyz');
      }
      expect(again.status).toBe(200);
      expect(await stop(s)).toBe(0);
    } finally {
      await redis.kill();
    }
  });
});
