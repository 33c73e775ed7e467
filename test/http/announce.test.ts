import express from 'express';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { escapeAll, escapeLikeLibtorrent } from '../helpers/escape.js';
import { compactPeers, decodeDict, failureOf } from '../helpers/bdecode.js';
import { rawGet, startApp, type RunningApp } from '../helpers/http.js';
import type { SwarmStore } from '../../src/swarm/types.js';

function announcePath(infoHash: Buffer, peerId: Buffer, extra = '', escape = escapeAll): string {
  return `/tracker/announce?info_hash=${escape(infoHash)}&peer_id=${escape(peerId)}&port=6881&uploaded=0&downloaded=0&left=10${extra}`;
}

describe('trackerMiddleware over HTTP (dual stack)', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp({ interval: 120, intervalJitter: 0, minInterval: 30 }, (a) => {
      a.get('/', (_req, res) => void res.send('home'));
      a.post('/echo', (req, res) => void res.json({ body: req.body ?? null }));
    });
  });
  afterAll(() => app.close());

  it('answers a first announce with the exact bencoded dictionary', async () => {
    const ih = randomBytes(20);
    const res = await rawGet(app.port, announcePath(ih, randomBytes(20)));
    expect(res.status).toBe(200);
    expect(res.body.toString('latin1')).toBe(
      'd8:completei0e10:downloadedi0e10:incompletei1e8:intervali120e12:min intervali30e5:peers0:e',
    );
  });

  it('mounting it leaves the rest of the app alone', async () => {
    expect((await rawGet(app.port, '/')).body.toString()).toBe('home');
    expect((await rawGet(app.port, '/tracker/nothing')).status).toBe(404);
    expect(app.app.get('trust proxy')).toBe(false);
    // no body parser was installed by the tracker
    const res = await fetch(`${app.base}/echo`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } });
    expect(await res.json()).toEqual({ body: null });
  });

  it('introduces peers byte by byte, IPv4-mapped addresses normalised, never the requester', async () => {
    const ih = randomBytes(20);
    const a = randomBytes(20);
    const b = randomBytes(20);
    await rawGet(app.port, announcePath(ih, a).replace('port=6881', 'port=7001'), { localAddress: '127.0.0.1' });
    const res = await rawGet(app.port, announcePath(ih, b).replace('port=6881', 'port=7002'), { localAddress: '127.0.0.2' });
    const d = decodeDict(res.body);
    expect(Buffer.from(d.peers as Uint8Array).toString('hex')).toBe('7f0000011b59');
    expect(d.peers6).toBeUndefined();
    expect(d).toMatchObject({ complete: 0, incomplete: 2 });
    const again = decodeDict((await rawGet(app.port, announcePath(ih, a).replace('port=6881', 'port=7001'))).body);
    expect(compactPeers(again.peers, 4)).toEqual(['127.0.0.2:7002']);
  });

  it('no peer hijacking: another host can neither stop nor move a peer, unless it knows its key', async () => {
    const ih = randomBytes(20);
    const id = randomBytes(20);
    const own = (extra: string) => announcePath(ih, id, extra).replace('port=6881', 'port=7101');
    expect(failureOf((await rawGet(app.port, own('&key=8F2C11A0&event=started'), { localAddress: '127.0.0.1' })).body)).toBeUndefined();
    const attacks = ['&event=stopped', '&event=started', '', '&key=00000000&event=stopped'];
    for (const extra of attacks) {
      const r = await rawGet(app.port, announcePath(ih, id, extra).replace('port=6881', 'port=6666'), { localAddress: '127.0.0.2' });
      expect(failureOf(r.body)).toBe('this peer_id is listed from another address: announce from it, or with the same key');
    }
    const look = async () => compactPeers(decodeDict((await rawGet(app.port, announcePath(ih, randomBytes(20)), { localAddress: '127.0.0.3' })).body).peers, 4);
    expect(await look()).toEqual(['127.0.0.1:7101']);
    // Its own key moves it (a client whose address changed).
    const moved = await rawGet(app.port, announcePath(ih, id, '&key=8F2C11A0').replace('port=6881', 'port=7102'), { localAddress: '127.0.0.2' });
    expect(failureOf(moved.body)).toBeUndefined();
    expect(await look()).toContain('127.0.0.2:7102');
  });

  it('serves IPv6 clients and puts IPv6 peers in peers6 for everyone', async () => {
    const ih = randomBytes(20);
    const v6 = randomBytes(20);
    const r6 = await rawGet(app.port, announcePath(ih, v6), { host: '::1' });
    expect(failureOf(r6.body)).toBeUndefined();
    const r4 = decodeDict((await rawGet(app.port, announcePath(ih, randomBytes(20)))).body);
    expect(compactPeers(r4.peers6, 6)).toEqual(['00000000000000000000000000000001:6881']);
    const again6 = decodeDict((await rawGet(app.port, announcePath(ih, v6), { host: '::1' })).body);
    expect(compactPeers(again6.peers, 4)).toEqual(['127.0.0.1:6881']);
    expect(again6.peers6).toBeUndefined();
  });

  it('gives the dictionary model with exact binary peer ids on compact=0, without them on no_peer_id=1', async () => {
    const ih = randomBytes(20);
    const binaryId = Buffer.from(Array.from({ length: 20 }, (_, i) => (i * 37 + 200) & 0xff));
    await rawGet(app.port, announcePath(ih, binaryId, '', escapeLikeLibtorrent));
    const d = decodeDict((await rawGet(app.port, announcePath(ih, randomBytes(20), '&compact=0'))).body);
    const peers = d.peers as Array<Record<string, unknown>>;
    expect(peers).toHaveLength(1);
    expect(Buffer.from(peers[0]['peer id'] as Uint8Array).equals(binaryId)).toBe(true);
    expect(Buffer.from(peers[0].ip as Uint8Array).toString()).toBe('127.0.0.1');
    expect(peers[0].port).toBe(6881);
    const n = decodeDict((await rawGet(app.port, announcePath(ih, randomBytes(20), '&compact=0&no_peer_id=1'))).body);
    expect(Object.keys((n.peers as object[])[0]).sort()).toEqual(['ip', 'port']);
  });

  it('keeps all 256 byte values of info_hash and peer_id whatever the escaping style', async () => {
    const all = Buffer.from(Array.from({ length: 260 }, (_, i) => i & 0xff));
    for (let start = 0; start < 240; start += 20) {
      const ih = all.subarray(start, start + 20);
      for (const escape of [escapeAll, (x: Uint8Array) => escapeAll(x, true), escapeLikeLibtorrent]) {
        const peer = Buffer.from(all.subarray(start + 1, start + 21));
        await rawGet(app.port, announcePath(ih, peer, '', escape));
      }
      // three escapings of the same peer id must be one peer in one swarm
      const scrape = decodeDict((await rawGet(app.port, `/tracker/scrape?info_hash=${escapeLikeLibtorrent(ih)}`)).body);
      const files = scrape.files as Record<string, Record<string, number>>;
      const keys = Object.keys(files);
      expect(keys).toHaveLength(1);
      expect(Buffer.from(keys[0], 'latin1').length).toBe(20);
      expect(files[keys[0]]).toEqual({ complete: 0, incomplete: 1, downloaded: 0, downloaders: 1 });
    }
  });

  it('counts seeders, downloads and removes stopped peers at once', async () => {
    const ih = randomBytes(20);
    const a = randomBytes(20);
    const b = randomBytes(20);
    await rawGet(app.port, announcePath(ih, a, '&event=started'));
    await rawGet(app.port, announcePath(ih, b, '&event=started'));
    const done = decodeDict((await rawGet(app.port, announcePath(ih, a, '&event=completed').replace('left=10', 'left=0'))).body);
    expect(done).toMatchObject({ complete: 1, incomplete: 1, downloaded: 1 });
    const stop = decodeDict((await rawGet(app.port, announcePath(ih, b, '&event=stopped'))).body);
    expect(stop).toMatchObject({ complete: 1, incomplete: 0, downloaded: 1 });
    expect(Buffer.from(stop.peers as Uint8Array).length).toBe(0);
  });

  it('scrape: files keyed by the raw hash, full scrape off by default', async () => {
    const ih = randomBytes(20);
    await rawGet(app.port, announcePath(ih, randomBytes(20)).replace('left=10', 'left=0'));
    const d = decodeDict((await rawGet(app.port, `/tracker/scrape?info_hash=${escapeAll(ih)}`)).body);
    const files = d.files as Record<string, unknown>;
    expect(Buffer.from(Object.keys(files)[0], 'latin1').equals(ih)).toBe(true);
    expect(Object.values(files)[0]).toEqual({ complete: 1, incomplete: 0, downloaded: 0, downloaders: 0 });
    expect(failureOf((await rawGet(app.port, '/tracker/scrape')).body)).toBe(
      'scrape needs at least one info_hash (full scrape is off)',
    );
  });

  it('rejects a too long query with a failure reason', async () => {
    const res = await rawGet(app.port, announcePath(randomBytes(20), randomBytes(20), '&pad=' + 'x'.repeat(9000)));
    expect(res.status).toBe(200);
    expect(failureOf(res.body)).toBe('request too long (limit 8192 characters)');
  });
});

describe('trackerMiddleware options', () => {
  let app: RunningApp | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('honours numwant, its default and its cap', async () => {
    app = await startApp({ numwant: 3, maxNumwant: 5 });
    const ih = randomBytes(20);
    for (let i = 0; i < 10; i++) await rawGet(app.port, announcePath(ih, randomBytes(20)).replace('port=6881', `port=${100 + i}`));
    const count = async (extra: string) =>
      Buffer.from(decodeDict((await rawGet(app!.port, announcePath(ih, randomBytes(20), extra))).body).peers as Uint8Array).length / 6;
    expect(await count('')).toBe(3);
    expect(await count('&numwant=4')).toBe(4);
    expect(await count('&numwant=500')).toBe(5);
    expect(await count('&numwant=0')).toBe(0);
  });

  it("uses req.ip, so the app's own trust proxy setting decides about X-Forwarded-For", async () => {
    const ih = randomBytes(20);
    app = await startApp({}, (a) => a.set('trust proxy', 'loopback'));
    await rawGet(app.port, announcePath(ih, randomBytes(20)), { headers: { 'X-Forwarded-For': '203.0.113.9' } });
    const d = decodeDict((await rawGet(app.port, announcePath(ih, randomBytes(20)))).body);
    expect(compactPeers(d.peers, 4)).toEqual(['203.0.113.9:6881']);
    await app.close();
    app = await startApp();
    await rawGet(app.port, announcePath(ih, randomBytes(20)), { headers: { 'X-Forwarded-For': '203.0.113.9' } });
    const e = decodeDict((await rawGet(app.port, announcePath(ih, randomBytes(20)))).body);
    expect(compactPeers(e.peers, 4)).toEqual(['127.0.0.1:6881']);
  });

  it('ignores the ip parameter unless allowIpParameter is set', async () => {
    const ih = randomBytes(20);
    app = await startApp();
    await rawGet(app.port, announcePath(ih, randomBytes(20), '&ip=198.51.100.7'));
    let d = decodeDict((await rawGet(app.port, announcePath(ih, randomBytes(20)))).body);
    expect(compactPeers(d.peers, 4)).toEqual(['127.0.0.1:6881']);
    await app.close();
    app = await startApp({ allowIpParameter: true });
    await rawGet(app.port, announcePath(ih, randomBytes(20), '&ip=198.51.100.7'));
    d = decodeDict((await rawGet(app.port, announcePath(ih, randomBytes(20)))).body);
    expect(compactPeers(d.peers, 4)).toEqual(['198.51.100.7:6881']);
  });

  it('full scrape when enabled', async () => {
    app = await startApp({ fullScrape: true });
    const hashes = [randomBytes(20), randomBytes(20)];
    for (const h of hashes) await rawGet(app.port, announcePath(h, randomBytes(20)));
    const files = decodeDict((await rawGet(app.port, '/tracker/scrape')).body).files as Record<string, unknown>;
    expect(Object.keys(files).map((k) => Buffer.from(k, 'latin1').toString('hex')).sort()).toEqual(
      hashes.map((h) => h.toString('hex')).sort(),
    );
  });

  it('a hung store gives a failure reason quickly; a failing store too; the app keeps serving', async () => {
    const hung: SwarmStore = { announce: () => new Promise(() => {}), scrape: () => new Promise(() => {}) };
    app = await startApp({ store: hung, storeTimeout: 200 }, (a) => a.get('/ok', (_q, r) => void r.send('ok')));
    const t0 = Date.now();
    const res = await rawGet(app.port, announcePath(randomBytes(20), randomBytes(20)));
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(res.status).toBe(200);
    expect(failureOf(res.body)).toBe('tracker storage did not answer in time, try again later');
    expect(failureOf((await rawGet(app.port, `/tracker/scrape?info_hash=${escapeAll(randomBytes(20))}`)).body)).toMatch(/did not answer/);
    await app.close();
    const broken: SwarmStore = {
      announce: () => Promise.reject(new Error('ECONNREFUSED')),
      scrape: () => {
        throw new Error('sync throw');
      },
    };
    app = await startApp({ store: broken });
    const failures: string[] = [];
    app.router.tracker.on('failure', (f: { reason: string }) => failures.push(f.reason));
    expect(failureOf((await rawGet(app.port, announcePath(randomBytes(20), randomBytes(20)))).body)).toBe(
      'tracker storage is unavailable, try again later',
    );
    expect(failureOf((await rawGet(app.port, `/tracker/scrape?info_hash=${escapeAll(randomBytes(20))}`)).body)).toBeDefined();
    expect(failures).toHaveLength(2);
  });

  it('emits announce events with hex at the edges', async () => {
    app = await startApp();
    const seen: unknown[] = [];
    app.router.tracker.on('announce', (e) => seen.push(e));
    const ih = randomBytes(20);
    const pid = randomBytes(20);
    await rawGet(app.port, announcePath(ih, pid, '&event=started'));
    expect(seen).toEqual([
      { infoHash: ih.toString('hex'), peerId: pid.toString('hex'), ip: '127.0.0.1', port: 6881, event: 'started', seeder: false },
    ]);
  });

  it('works mounted on a nested router and with express.json() elsewhere', async () => {
    app = await startApp({}, (a) => a.use(express.json()));
    const res = await rawGet(app.port, announcePath(randomBytes(20), randomBytes(20)));
    expect(failureOf(res.body)).toBeUndefined();
  });
});
