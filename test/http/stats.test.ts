/**
 * `tracker.stats()` stays exact under concurrency: announces by event, transport and family,
 * scrapes, failures by kind, storage latency, and live swarm totals; with Redis, three instances
 * report the same totals.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/swarm/open.js';
import { createUdpTracker } from '../../src/transport/udp.js';
import { createWebSocketTracker } from '../../src/transport/websocket.js';
import { Tracker } from '../../src/tracker.js';
import { failureOf } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet, startApp } from '../helpers/http.js';
import { describeService, reachable, REDIS_URL, uniqueName } from '../helpers/store-services.js';
import { announcePacket, UdpTestClient } from '../helpers/udp.js';
import { WsTestClient, wsId } from '../helpers/ws.js';

const q = (ih: Buffer, id: Buffer, rest: string) => `info_hash=${escapeAll(ih)}&peer_id=${escapeAll(id)}&port=6881&uploaded=0&downloaded=0&${rest}`;

describe('tracker.stats() on the memory store', () => {
  it('counts exactly under 300 concurrent requests over HTTP (IPv4 and IPv6), UDP and WebSocket', async () => {
    const app = await startApp({ torrents: (hex) => !hex.startsWith('00') });
    const udp = createUdpTracker({ tracker: app.router.tracker });
    const { port: udpPort } = await udp.listen(0, '127.0.0.1');
    const wss = createWebSocketTracker({ tracker: app.router.tracker, server: app.server, path: '/tracker' });
    try {
      const hashes = Array.from({ length: 10 }, () => Buffer.concat([Buffer.from([0x42]), randomBytes(19)]));
      const jobs: Array<Promise<unknown>> = [];
      // 200 HTTP starts: half over IPv4, half over IPv6; one in four a seeder
      for (let i = 0; i < 200; i++) {
        const host = i % 2 === 0 ? '127.0.0.1' : '::1';
        jobs.push(rawGet(app.port, `/tracker/announce?${q(hashes[i % 10], randomBytes(20), `left=${i % 4 === 0 ? 0 : 5}&event=started`)}`, { host }));
      }
      // 50 malformed requests, 25 for an unregistered torrent, 25 scrapes of 2 hashes each
      for (let i = 0; i < 50; i++) jobs.push(rawGet(app.port, `/tracker/announce?info_hash=short&i=${i}`));
      for (let i = 0; i < 25; i++) jobs.push(rawGet(app.port, `/tracker/announce?${q(Buffer.alloc(20), randomBytes(20), 'left=1')}`));
      for (let i = 0; i < 25; i++) jobs.push(rawGet(app.port, `/tracker/scrape?info_hash=${escapeAll(hashes[0])}&info_hash=${escapeAll(hashes[1])}`));
      await Promise.all(jobs);
      // 5 UDP announces (completed) and 3 WebSocket peers
      const client = new UdpTestClient(4, '127.0.0.1', udpPort);
      await client.bind();
      const cid = await client.connect();
      for (let i = 0; i < 5; i++) {
        const answer = await client.request(announcePacket({ connectionId: cid, tx: 100 + i, infoHash: hashes[1], peerId: randomBytes(20), event: 1, left: 0n }), 100 + i);
        expect(answer.readUInt32BE(0)).toBe(1);
      }
      await client.close();
      const sockets = await Promise.all([0, 1, 2].map(() => WsTestClient.open(`ws://127.0.0.1:${app.port}/tracker/announce`)));
      for (const [i, s] of sockets.entries()) await s.announce({ info_hash: wsId('wshash'), peer_id: wsId(`w${i}`), left: i === 0 ? 0 : 9, event: 'started' });

      const stats = await app.router.tracker.stats();
      expect(stats.announces.byTransport).toEqual({ http: 200, udp: 5, websocket: 3 });
      expect(stats.announces.byEvent).toEqual({ started: 203, completed: 5, stopped: 0, update: 0 });
      expect(stats.announces.byFamily).toEqual({ ipv4: 100 + 5 + 3, ipv6: 100 }); // WebSocket announces count by their socket's address
      expect(stats.announces.total).toBe(208);
      expect(stats.scrapes).toEqual({ requests: 25, hashes: 50 });
      expect(stats.failures.byKind).toMatchObject({ request: 50, denied: 25, refused: 0, storage: 0, internal: 0 });
      expect(stats.swarms).toEqual({ torrents: 10, seeders: 50 + 5, leechers: 150, peers: 205, ipv4: 105, ipv6: 100 });
      expect(stats.webrtcSwarms).toEqual({ torrents: 1, seeders: 1, leechers: 2, peers: 3, ipv4: 0, ipv6: 3 });
      // closing the sockets takes their peers out
      await Promise.all(sockets.map((s) => s.close()));
      await expect.poll(async () => (await app.router.tracker.stats()).webrtcSwarms?.peers, { timeout: 5000 }).toBe(0);
    } finally {
      await wss.close();
      await udp.close();
      await app.close();
    }
  });

  it('a custom store without totals reports undefined swarms, and storage calls are timed', async () => {
    const calls: number[] = [];
    const tracker = new Tracker({
      store: {
        announce: async () => {
          calls.push(1);
          return { complete: 1, incomplete: 0, downloaded: 0, peers: [] };
        },
        scrape: async (h) => h.map(() => ({ complete: 0, incomplete: 0, downloaded: 0 })),
      },
    });
    const answer = await tracker.announce(q(randomBytes(20), randomBytes(20), 'left=0'), '10.0.0.1');
    expect(failureOf(answer)).toBeUndefined();
    const stats = await tracker.stats();
    expect(stats.swarms).toBeUndefined();
    expect(stats.storage.calls).toBe(1);
    expect(stats.storage.latency.count).toBe(1);
    expect(stats.storage.latency.buckets.at(-1)!.count).toBe(1);
    await tracker.close();
  });
});

const redisUp = await reachable(REDIS_URL);
describeService('Redis', redisUp, 'tracker.stats() on Redis', () => {
  const namespace = uniqueName('stats');
  const trackers: Tracker[] = [];
  afterAll(async () => {
    for (const t of trackers) {
      await t.close();
      await t.swarmStore?.close?.();
    }
  });

  it('three instances report the same global totals after concurrent announces through all of them', async () => {
    for (let i = 0; i < 3; i++) {
      const { store } = await openStore(REDIS_URL, { namespace });
      trackers.push(new Tracker({ store }));
    }
    const hashes = Array.from({ length: 7 }, () => randomBytes(20));
    const ids = Array.from({ length: 150 }, () => randomBytes(20));
    await Promise.all(ids.map((id, i) => trackers[i % 3].announce(q(hashes[i % 7], id, `left=${i % 3 === 0 ? 0 : 1}&event=started`), i % 5 === 0 ? '::1' : '127.0.0.1')));
    // 30 stop through another instance than the one they started on; 20 complete
    await Promise.all(ids.slice(0, 30).map((id, i) => trackers[(i + 1) % 3].announce(q(hashes[i % 7], id, 'left=1&event=stopped'), i % 5 === 0 ? '::1' : '127.0.0.1')));
    await Promise.all(ids.slice(30, 50).map((id, j) => trackers[(j + 2) % 3].announce(q(hashes[(j + 30) % 7], id, 'left=0&event=completed'), (j + 30) % 5 === 0 ? '::1' : '127.0.0.1')));
    const expected = { torrents: 7, peers: 120 };
    const all = await Promise.all(trackers.map((t) => t.stats()));
    for (const s of all) expect(s.swarms).toMatchObject(expected);
    expect(new Set(all.map((s) => JSON.stringify(s.swarms))).size).toBe(1);
    const live = ids.slice(30).map((_, k) => k + 30);
    const seeders = live.filter((i) => i % 3 === 0 || i < 50).length;
    const v6 = live.filter((i) => i % 5 === 0).length;
    expect(all[0].swarms).toEqual({ torrents: 7, seeders, leechers: 120 - seeders, peers: 120, ipv4: 120 - v6, ipv6: v6 });
    // per-instance counters add up
    expect(all.reduce((n, s) => n + s.announces.total, 0)).toBe(200);
    expect(all.reduce((n, s) => n + s.storage.calls, 0)).toBeGreaterThanOrEqual(200);
  });
});

describe('tracker.counts()', () => {
  it('gives live counts of torrents for site pages, in order, zeros for unknown ones, and WebTorrent swarms apart', async () => {
    const app = await startApp();
    const wss = createWebSocketTracker({ tracker: app.router.tracker, server: app.server, path: '/tracker' });
    try {
      const a = randomBytes(20);
      const b = randomBytes(20);
      await rawGet(app.port, `/tracker/announce?${q(a, randomBytes(20), 'left=0&event=started')}`);
      await rawGet(app.port, `/tracker/announce?${q(a, randomBytes(20), 'left=0&event=completed')}`);
      await rawGet(app.port, `/tracker/announce?${q(a, randomBytes(20), 'left=9&event=started')}`);
      const tracker = app.router.tracker;
      expect(await tracker.counts([a.toString('hex'), b, { infoHash: a.toString('hex') }])).toEqual([
        { complete: 2, incomplete: 1, downloaded: 1, downloaders: 1 },
        { complete: 0, incomplete: 0, downloaded: 0, downloaders: 0 },
        { complete: 2, incomplete: 1, downloaded: 1, downloaders: 1 },
      ]);
      const ws = await WsTestClient.open(`ws://127.0.0.1:${app.port}/tracker/announce`);
      await ws.announce({ info_hash: a.toString('latin1'), peer_id: wsId('browser'), left: 0, event: 'started' });
      expect(await tracker.counts([a], { webrtc: true })).toEqual([{ complete: 1, incomplete: 0, downloaded: 0, downloaders: 0 }]);
      await ws.close();
      await expect(tracker.counts(['not hex'])).rejects.toThrow(TypeError);
    } finally {
      await wss.close();
      await app.close();
    }
  });
});
