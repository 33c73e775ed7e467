/**
 * BEP 21 partial seeds end to end, over real HTTP and UDP, on the memory and Redis stores: an
 * announce with `event=paused` (UDP event 4) and bytes left is a partial seed. It counts among the
 * leechers (`incomplete`, as every client expects) but not among the scrape's `downloaders`, the
 * peers still downloading; a peer that says `paused` with nothing left is a plain seeder, and a
 * partial seed that announces without `paused` is a downloader again.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/swarm/open.js';
import type { SwarmStore } from '../../src/swarm/types.js';
import { createUdpTracker } from '../../src/transport/udp.js';
import { decodeDict, failureOf } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet, startApp } from '../helpers/http.js';
import { reachable, REDIS_URL, uniqueName } from '../helpers/store-services.js';
import { announcePacket, UdpTestClient } from '../helpers/udp.js';

const redisUp = await reachable(REDIS_URL);
if (!redisUp && process.env.CI === 'true') throw new Error('Redis is not reachable; required under CI=true');
const kinds = redisUp ? (['memory', 'redis'] as const) : (['memory'] as const);

const stores: SwarmStore[] = [];
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close?.()));
});

describe.each(kinds)('BEP 21 partial seeds over HTTP and UDP (%s store)', (kind) => {
  it('event=paused with bytes left is a leecher but not a downloader; scrape says downloaders', async () => {
    let store: SwarmStore | undefined;
    if (kind === 'redis') stores.push((store = (await openStore(REDIS_URL, { namespace: uniqueName('partial') })).store));
    const app = await startApp({ store, interval: 900, intervalJitter: 0 });
    const udp = createUdpTracker({ tracker: app.router.tracker });
    const { port } = await udp.listen(0);
    const client = new UdpTestClient(4, '127.0.0.1', port);
    await client.bind('127.0.0.1');
    try {
      const ih = randomBytes(20);
      const ids = Array.from({ length: 4 }, () => randomBytes(20));
      const announce = async (id: Buffer, rest: string) => {
        const res = await rawGet(app.port, `/tracker/announce?info_hash=${escapeAll(ih)}&peer_id=${escapeAll(id)}&port=6881&uploaded=0&downloaded=0&compact=1&${rest}`);
        expect(res.status).toBe(200);
        expect(failureOf(res.body)).toBeUndefined();
        return decodeDict(res.body);
      };
      const scrape = async () => {
        const d = decodeDict((await rawGet(app.port, `/tracker/scrape?info_hash=${escapeAll(ih)}`)).body);
        return Object.values(d.files as Record<string, Record<string, number>>)[0];
      };

      await announce(ids[0]!, 'left=1000&event=started');
      const paused = await announce(ids[1]!, 'left=500&event=paused');
      expect(paused).toMatchObject({ complete: 0, incomplete: 2 });
      await announce(ids[2]!, 'left=0&event=paused'); // nothing left: a seeder
      expect(await scrape()).toEqual({ complete: 1, downloaded: 0, incomplete: 2, downloaders: 1 });

      // UDP event 4 (paused) from another address: a second partial seed.
      const connectionId = await client.connect();
      await client.request(announcePacket({ connectionId, tx: 7, infoHash: ih, peerId: ids[3]!, left: 300n, event: 4, port: 6882 }));
      expect(await scrape()).toEqual({ complete: 1, downloaded: 0, incomplete: 3, downloaders: 1 });

      // The HTTP partial seed announces without `paused` (it wants more pieces): a downloader again.
      await announce(ids[1]!, 'left=500');
      expect(await scrape()).toEqual({ complete: 1, downloaded: 0, incomplete: 3, downloaders: 2 });
      // The UDP one completes: a seeder, and a counted download.
      await client.request(announcePacket({ connectionId, tx: 8, infoHash: ih, peerId: ids[3]!, left: 0n, event: 1, port: 6882 }));
      expect(await scrape()).toEqual({ complete: 2, downloaded: 1, incomplete: 2, downloaders: 2 });
    } finally {
      await client.close();
      await udp.close();
      await app.close();
    }
  });
});
