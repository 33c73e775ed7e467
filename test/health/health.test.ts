/**
 * Health and draining: `tracker.health()` and `trackerHealth()` (store, UDP, traffic backlog,
 * draining), a real app whose private Redis is stopped and restarted, and `drain()` with live
 * clients (an HTTP announce in flight, a WebSocket client, a pending onTraffic batch, UDP).
 */
import express from 'express';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createTrackerServer, type TrackerServer } from '../../src/server.js';
import { trackerMiddleware } from '../../src/middleware.js';
import { trackerHealth } from '../../src/health/router.js';
import { createUdpTracker } from '../../src/transport/udp.js';
import { Tracker } from '../../src/tracker.js';
import type { TrafficRecord } from '../../src/policy/traffic.js';
import { decodeDict, failureOf } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet } from '../helpers/http.js';
import { WsTestClient } from '../helpers/ws.js';
import { UdpTestClient, announcePacket } from '../helpers/udp.js';
import { freePort, PrivateRedis, redisTools } from '../helpers/store-services.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** An Express app with the tracker at /tracker and trackerHealth at the root. */
async function app(options: ConstructorParameters<typeof Tracker>[0] = {}) {
  const router = trackerMiddleware(options);
  const site = express();
  site.use(trackerHealth(router));
  site.use('/tracker', router);
  const server = http.createServer(site);
  const port = await listen(server);
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await router.close().catch(() => undefined);
  });
  return { router, server, port };
}

async function getJson(port: number, path: string): Promise<{ status: number; json: Record<string, unknown>; cache: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, cache: res.headers.get('cache-control'), json: (await res.json()) as Record<string, unknown> };
}

const announceQuery = (ih: Buffer, id: Buffer, extra = '') => `info_hash=${escapeAll(ih)}&peer_id=${escapeAll(id)}&port=6881&uploaded=0&downloaded=0&left=0${extra}`;

describe('tracker.health() and trackerHealth()', () => {
  it('/livez and /readyz answer 200 with every check named', async () => {
    const { port } = await app();
    expect(await getJson(port, '/livez')).toMatchObject({ status: 200, json: { status: 'ok' }, cache: 'no-store' });
    const ready = await getJson(port, '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.json).toEqual({ status: 'ok', checks: { store: { ok: true }, traffic: { ok: true }, draining: { ok: true } } });
  });

  it('accepts a tracker, a router or a server, and refuses anything else', () => {
    const tracker = new Tracker();
    cleanups.push(() => tracker.close());
    expect(() => trackerHealth(tracker)).not.toThrow();
    const server = createTrackerServer({ webSocket: false });
    cleanups.push(() => server.shutdown());
    expect(() => trackerHealth(server)).not.toThrow();
    expect(() => trackerHealth({} as never)).toThrow(/pass a Tracker/);
  });

  it('a drain fails readiness at once, naming the check', async () => {
    const { router, port } = await app();
    const drained = router.drain({ timeout: 2000 });
    const report = await router.tracker.health();
    expect(report.ready).toBe(false);
    expect(report.checks.draining).toEqual({ ok: false, detail: expect.stringMatching(/draining/) });
    const ready = await getJson(port, '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.json.failed).toContain('draining');
    expect(await drained).toEqual({ timedOut: false, errors: [] });
    // Liveness is not readiness: the process still answers.
    expect((await getJson(port, '/livez')).status).toBe(200);
  });

  it('the UDP door is a check while it is attached: ok when bound, not before', async () => {
    const tracker = new Tracker();
    const udp = createUdpTracker({ tracker });
    cleanups.push(async () => {
      await udp.close();
      await tracker.close();
    });
    expect((await tracker.health()).checks.udp).toEqual({ ok: false, detail: 'udp is not listening' });
    await udp.listen(0, '127.0.0.1');
    expect((await tracker.health()).checks.udp).toEqual({ ok: true });
    expect((await tracker.health()).ready).toBe(true);
    await udp.close();
    expect((await tracker.health()).checks.udp).toBeUndefined();
  });

  it.runIf(redisTools())('a real app whose Redis stops: 503 within storeTimeout + 1 s, 200 again once Redis is back', async () => {
    const redis = new PrivateRedis(await freePort());
    await redis.start();
    cleanups.push(() => redis.kill());
    const storeTimeout = 500;
    const { port } = await app({ store: redis.url, storeTimeout });
    expect((await getJson(port, '/readyz')).status).toBe(200);
    await redis.kill();
    const stopped = Date.now();
    let ready = await getJson(port, '/readyz');
    while (ready.status === 200 && Date.now() - stopped < storeTimeout + 1000) ready = await getJson(port, '/readyz');
    expect(Date.now() - stopped).toBeLessThan(storeTimeout + 1000);
    expect(ready.status).toBe(503);
    expect(ready.json).toMatchObject({ status: 'fail', failed: ['store'], checks: { store: { ok: false, detail: expect.stringMatching(/redis/) } } });
    // Nothing secret and nothing but the checks.
    expect(JSON.stringify(ready.json)).not.toMatch(/password/i);
    await redis.start();
    const restarted = Date.now();
    do {
      ready = await getJson(port, '/readyz');
      if (ready.status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    } while (ready.status !== 200 && Date.now() - restarted < 15_000);
    expect(ready.status).toBe(200);
  }, 40_000);
});

describe('drain with live clients', () => {
  const ALICE = 'alicePasskey0123456789abcdefABCD';

  async function server(options: Parameters<typeof createTrackerServer>[0] = {}): Promise<{ server: TrackerServer; port: number }> {
    const s = createTrackerServer(options);
    const port = await listen(s);
    cleanups.push(() => s.shutdown());
    return { server: s, port };
  }

  it('answers the HTTP announce in flight, closes WebSockets with 1001, refuses new upgrades, hands over onTraffic, then closes', async () => {
    const records: TrafficRecord[] = [];
    let slow = false;
    const { server: s, port } = await server({
      interval: 60,
      enforceInterval: false,
      trafficInterval: 3600,
      passkey: async (pk) => {
        if (slow) await new Promise((resolve) => setTimeout(resolve, 400));
        return pk === ALICE ? 'alice' : null;
      },
      onTraffic: (batch) => void records.push(...batch),
    });
    const ih = randomBytes(20);
    const id = randomBytes(20);
    // Two announces of one peer: the second credits 1000 bytes uploaded, pending until the next batch.
    expect(failureOf((await rawGet(port, `/${ALICE}/announce?${announceQuery(ih, id, '&event=started')}`)).body)).toBeUndefined();
    const q2 = announceQuery(ih, id).replace('uploaded=0', 'uploaded=1000');
    expect(failureOf((await rawGet(port, `/${ALICE}/announce?${q2}`)).body)).toBeUndefined();
    expect(records).toEqual([]);

    const ws = await WsTestClient.open(`ws://127.0.0.1:${port}/${ALICE}/announce`);
    // An announce in flight when the drain starts (the site's passkey function takes 400 ms now).
    slow = true;
    const pk2 = 'bobPasskey_9876543210abcdefghijk';
    const inFlight = rawGet(port, `/${pk2}/announce?${announceQuery(randomBytes(20), randomBytes(20))}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const drained = s.drain({ timeout: 5000 });
    expect((await s.health()).ready).toBe(false);

    const closed = await ws.closedWith;
    expect(closed).toEqual({ code: 1001, reason: 'going away' });
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(failureOf(answer.body)).toBe('unknown or disabled passkey'); // answered by the site's function, not cut
    expect(await drained).toEqual({ timedOut: false, errors: [] });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ user: 'alice', uploaded: 1000 });
    expect(s.listening).toBe(false);
  });

  it('a drain refuses WebSocket upgrades with 503 while it lasts', async () => {
    const { server: s, port } = await server();
    const ws = await WsTestClient.open(`ws://127.0.0.1:${port}/announce`);
    // The client does not answer the close at once: the upgrade below comes while the drain lasts.
    ws.ws.pause();
    const drained = s.drain({ timeout: 3000 });
    await expect(WsTestClient.open(`ws://127.0.0.1:${port}/announce`)).rejects.toThrow(/503|ECONNREFUSED|ECONNRESET|socket hang up/);
    ws.ws.resume();
    expect((await ws.closedWith).code).toBe(1001);
    expect((await drained).timedOut).toBe(false);
  });

  it('UDP datagrams are dropped once draining', async () => {
    const tracker = new Tracker();
    const udp = createUdpTracker({ tracker });
    const bound = await udp.listen(0, '127.0.0.1');
    cleanups.push(async () => {
      await udp.close();
      await tracker.close();
    });
    const client = new UdpTestClient(4, '127.0.0.1', bound.port);
    await client.bind();
    cleanups.push(() => client.socket.close());
    const connectionId = await client.connect();
    expect(connectionId).toHaveLength(8);
    const drained = tracker.drain({ timeout: 2000 });
    expect((await tracker.health()).checks.udp).toEqual({ ok: false, detail: 'udp is not listening' });
    await expect(client.connect()).rejects.toThrow(/no answer/);
    await drained;
  });

  it('a drain that runs out of time cuts what is left and says so', async () => {
    const { server: s, port } = await server();
    // A WebSocket client that never answers the close handshake.
    const ws = await WsTestClient.open(`ws://127.0.0.1:${port}/announce`);
    ws.ws.pause();
    (ws.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const started = Date.now();
    const result = await s.drain({ timeout: 300 });
    expect(result.timedOut).toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('interval jitter and event=paused', () => {
  const intervals = async (options: ConstructorParameters<typeof Tracker>[0], n: number) => {
    const tracker = new Tracker(options);
    cleanups.push(() => tracker.close());
    const ih = randomBytes(20);
    const seen: number[] = [];
    for (let i = 0; i < n; i++) seen.push(decodeDict(await tracker.announce(announceQuery(ih, randomBytes(20)), '10.0.0.1')).interval as number);
    return seen;
  };

  it('spreads the interval within ±10 % by default', async () => {
    const seen = await intervals({ interval: 1800 }, 2000);
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(1620);
    expect(Math.max(...seen)).toBeLessThanOrEqual(1980);
    // Spread over the whole range, not a few values.
    expect(Math.min(...seen)).toBeLessThan(1650);
    expect(Math.max(...seen)).toBeGreaterThan(1950);
    expect(new Set(seen).size).toBeGreaterThan(200);
    const mean = seen.reduce((a, b) => a + b, 0) / seen.length;
    expect(Math.abs(mean - 1800)).toBeLessThan(15);
  });

  it('is off with intervalJitter: 0, never below minInterval, and checked', async () => {
    expect(new Set(await intervals({ interval: 1800, intervalJitter: 0 }, 200))).toEqual(new Set([1800]));
    const wide = await intervals({ interval: 100, minInterval: 95, intervalJitter: 0.5 }, 500);
    expect(Math.min(...wide)).toBe(95);
    expect(Math.max(...wide)).toBeLessThanOrEqual(150);
    expect(() => new Tracker({ intervalJitter: 0.6 })).toThrow(/intervalJitter must be a number from 0 to 0.5/);
    expect(() => new Tracker({ intervalJitter: -1 })).toThrow(/intervalJitter/);
  });

  it('UDP and WebSocket answers are jittered too', async () => {
    const tracker = new Tracker({ interval: 1000 });
    const udp = createUdpTracker({ tracker });
    const bound = await udp.listen(0, '127.0.0.1');
    const { createWebSocketTracker } = await import('../../src/transport/websocket.js');
    const httpServer = http.createServer();
    const ws = createWebSocketTracker({ tracker, server: httpServer });
    const port = await listen(httpServer);
    cleanups.push(async () => {
      await ws.close();
      await new Promise((resolve) => httpServer.close(resolve));
      await udp.close();
      await tracker.close();
    });
    const client = new UdpTestClient(4, '127.0.0.1', bound.port);
    await client.bind();
    cleanups.push(() => client.socket.close());
    const connectionId = await client.connect();
    const udpSeen = new Set<number>();
    for (let i = 0; i < 40; i++) {
      const tx = 1000 + i;
      const answer = await client.request(announcePacket({ connectionId, tx, infoHash: randomBytes(20), peerId: randomBytes(20), port: 6881 }), tx);
      udpSeen.add(answer.readUInt32BE(8));
    }
    expect(udpSeen.size).toBeGreaterThan(5);
    for (const v of udpSeen) expect(v >= 900 && v <= 1100).toBe(true);
    const wsClient = await WsTestClient.open(`ws://127.0.0.1:${port}/announce`);
    cleanups.push(() => wsClient.close());
    const wsSeen = new Set<number>();
    for (let i = 0; i < 40; i++) {
      const infoHash = randomBytes(20).toString('latin1');
      const frame = await wsClient.announce({ info_hash: infoHash, peer_id: randomBytes(20).toString('latin1'), numwant: 0, uploaded: 0, downloaded: 0, left: 0, event: 'started', offers: [] });
      wsSeen.add(frame.interval as number);
    }
    expect(wsSeen.size).toBeGreaterThan(5);
    for (const v of wsSeen) expect(v >= 900 && v <= 1100).toBe(true);
  });

  it('event=paused (BEP 21) is accepted as an update', async () => {
    const tracker = new Tracker();
    cleanups.push(() => tracker.close());
    const ih = randomBytes(20);
    const id = randomBytes(20);
    const answer = decodeDict(await tracker.announce(announceQuery(ih, id, '&event=started').replace('left=0', 'left=500'), '10.0.0.2'));
    expect(answer['failure reason']).toBeUndefined();
    const paused = decodeDict(await tracker.announce(announceQuery(ih, id, '&event=paused').replace('left=0', 'left=500'), '10.0.0.2'));
    expect(paused['failure reason']).toBeUndefined();
    expect(paused).toMatchObject({ complete: 0, incomplete: 1 });
  });
});
