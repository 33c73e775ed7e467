/**
 * Real WebTorrent peers (`webtorrent` 3 in Node, WebRTC from node-datachannel, each its own process)
 * transfer a file through our WebSocket tracker, byte-identical:
 * - one Express app with trackerMiddleware + createWebSocketTracker (the README's setup);
 * - two tracker instances on one Redis, the seeder announcing to one and the leecher to the other:
 *   they can only meet through peers in Redis and offers/answers relayed over Redis pub/sub.
 * The peers find each other only through the ws:// URLs given here: no DHT, no local discovery, no
 * PEX, no uTP, no web seed, no HTTP tracker. The leecher reports the bytes it got per connection type:
 * all of them must come over WebRTC.
 */
import { createClient } from '@keyv/redis';
import express from 'express';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { trackerMiddleware } from '../../src/middleware.js';
import { createTrackerServer, type TrackerServer } from '../../src/server.js';
import { openStore } from '../../src/swarm/open.js';
import type { SwarmStore } from '../../src/swarm/types.js';
import { createTorrent } from '../../src/torrent/create.js';
import { createWebSocketTracker } from '../../src/transport/websocket.js';
import { waitFor } from '../helpers/clients.js';
import { reachable, REDIS_URL, uniqueName } from '../helpers/store-services.js';
import { describeWebTorrent, WebTorrentPeer, type PeerEvent } from '../helpers/webtorrent.js';
import { tempDir } from '../torrent/fixtures.js';

const SIZE = 3 * 1024 * 1024 + 12_345; // not a multiple of the piece length
const redisUp = await reachable(REDIS_URL);

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

describeWebTorrent('webtorrent peers through our WebSocket tracker', false, () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A temp dir with `seed/data.bin` (random) and an announce-less torrent of it; removed after the test. */
  async function content(): Promise<{ dir: string; seedDir: string; torrent: string; file: string }> {
    const tmp = tempDir('ett-webtorrent-');
    cleanups.push(tmp.cleanup);
    const seedDir = path.join(tmp.dir, 'seed');
    mkdirSync(seedDir);
    const file = path.join(seedDir, 'data.bin');
    writeFileSync(file, randomBytes(SIZE));
    const made = await createTorrent(file, { pieceLength: 256 * 1024 });
    const torrent = path.join(tmp.dir, 'data.torrent');
    writeFileSync(torrent, made.torrent);
    return { dir: tmp.dir, seedDir, torrent, file };
  }

  /**
   * Seeder on `seedUrl`, leecher on `leechUrl` (loaded alongside, started once the seeder's offers
   * are out): the leecher must end with the seeder's bytes, all of them over WebRTC. node-datachannel now and then fails one WebRTC
   * negotiation on loopback ("Got a remote candidate without ICE transport", a client-side error
   * after our tracker relayed the right answer); clients only retry at the next interval (30 min), so
   * a leecher that has not connected in time is replaced once by a fresh one (with a warning).
   */
  async function transfer(seedUrl: string, leechUrl: string): Promise<void> {
    const { dir, seedDir, torrent, file } = await content();
    const seeder = new WebTorrentPeer('webtorrent seeder', { torrent, dir: seedDir, announce: [seedUrl] });
    cleanups.push(() => seeder.stop());
    const first = new WebTorrentPeer('webtorrent leecher #1', { torrent, dir: path.join(dir, 'leech-1'), announce: [leechUrl], onSignal: true });
    cleanups.push(() => first.stop());
    await seeder.next('done'); // verified: it has every piece
    // WebTorrent announces twice on start: `completed` at once, then `started` with its offers once
    // node-datachannel made them (~5 s). A leecher that joins in between gets those offers while the
    // seeder answers the leecher's: each side then keeps the connection the other dropped as a
    // duplicate (WebRTC glare in the client) and no data flows. So the leecher comes after both.
    await seeder.next('announced', 20_000, (e) => (e.count ?? 0) >= 2);
    let done: PeerEvent | undefined;
    let leecher: WebTorrentPeer | undefined;
    let leechDir = '';
    for (let attempt = 1; !done; attempt++) {
      leechDir = path.join(dir, `leech-${attempt}`);
      const current = attempt === 1 ? first : new WebTorrentPeer(`webtorrent leecher #${attempt}`, { torrent, dir: leechDir, announce: [leechUrl] });
      leecher = current;
      if (current === first) await first.start();
      else cleanups.push(() => current.stop());
      try {
        done = await current.next('done', 35_000);
      } catch (error) {
        if (attempt === 2) throw error;
        console.warn(`[retry] ${(error as Error).message.split('\n')[0]}; seeder output:\n${seeder.output}`);
        await current.stop();
      }
    }
    expect(done.wires).toEqual({ webrtc: SIZE });
    const wires = leecher!.events.filter((e) => e.event === 'wire').map((e) => e.type);
    expect(wires.length).toBeGreaterThan(0);
    expect(wires.filter((type) => type !== 'webrtc')).toEqual([]);
    expect(sha256(path.join(leechDir, 'data.bin'))).toBe(sha256(file));
  }

  it('a seeder and a leecher meet through an Express app with createWebSocketTracker', { timeout: 90_000 }, async () => {
    const app = express();
    const router = trackerMiddleware();
    app.use('/tracker', router);
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const wss = createWebSocketTracker({ tracker: router.tracker, server, path: '/tracker' });
    cleanups.push(async () => {
      await wss.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await router.close();
    });
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/tracker/announce`;
    await transfer(url, url);
    // The seeder and the leecher (a replaced leecher's socket is gone).
    await waitFor('two WebSocket connections', () => wss.connectionCount === 2, 5000, 50);
  });

  (redisUp || process.env.CI === 'true' ? it : it.skip)(
    `two tracker instances on one Redis: seeder on one, leecher on the other${redisUp ? '' : ` (SKIPPED: ${REDIS_URL} not reachable)`}`,
    { timeout: 90_000 },
    async () => {
      const namespace = uniqueName('ett_wt');
      const servers: TrackerServer[] = [];
      const stores: SwarmStore[] = [];
      cleanups.push(async () => {
        for (const server of servers) await server.shutdown();
        for (const store of stores) await store.close?.();
        const raw = createClient({ url: REDIS_URL });
        await raw.connect();
        for await (const keys of raw.scanIterator({ MATCH: `${namespace}*`, COUNT: 1000 })) if (keys.length) await raw.del(keys);
        await raw.quit();
      });
      const urls: string[] = [];
      for (let i = 0; i < 2; i++) {
        const { store } = await openStore(REDIS_URL, { namespace });
        stores.push(store);
        const server = createTrackerServer({ store });
        servers.push(server);
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        urls.push(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/announce`);
      }
      await transfer(urls[0], urls[1]);
      // One connection each: they met only through Redis.
      await waitFor('one WebSocket connection on each instance', () => servers.every((s) => s.webSocket!.connectionCount === 1), 5000, 50);
    },
  );
});
