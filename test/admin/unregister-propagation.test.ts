/**
 * Unregistering a torrent through instance A stops it being served on instance B (two instances on
 * one Redis, `torrents: 'registry'`) within a second, over HTTP, UDP and WebSocket: the registry is
 * in the store and the forget message travels on the store's bus. The times are printed.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openStore } from '../../src/swarm/open.js';
import type { SwarmStore } from '../../src/swarm/types.js';
import { httpAnnounce, startDoors, udpAnnounce, until, wsClient, type Doors } from '../helpers/bans.js';
import { describeService, reachable, REDIS_URL, uniqueName } from '../helpers/store-services.js';
import { wsId } from '../helpers/ws.js';

const redisUp = await reachable(REDIS_URL);

describeService('Redis', redisUp, 'unregistering on A reaches B', () => {
  const namespace = uniqueName('unreg');
  const stores: SwarmStore[] = [];
  let a: Doors;
  let b: Doors;
  beforeAll(async () => {
    stores.push((await openStore(REDIS_URL, { namespace })).store, (await openStore(REDIS_URL, { namespace })).store);
    a = await startDoors({ store: stores[0], torrents: 'registry' });
    b = await startDoors({ store: stores[1], torrents: 'registry' });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    for (const s of stores) await s.close?.();
  });

  it('HTTP, UDP and WebSocket announces on B are refused within 1 s of removeTorrent on A', async () => {
    const ih = randomBytes(20);
    const wsHash = wsId();
    await a.app.router.addTorrent(ih);
    await a.app.router.addTorrent(Buffer.from(wsHash, 'latin1'));
    // B answers (and caches its positive answer) before the removal.
    expect((await httpAnnounce(b, { infoHash: ih, peerId: randomBytes(20) })).failure).toBeUndefined();
    expect((await udpAnnounce(b.udpPort, { infoHash: ih, peerId: randomBytes(20) })).failure).toBeUndefined();
    const socket = await wsClient(b.wsUrl());
    expect((await socket.announce({ info_hash: wsHash, peer_id: wsId(), left: 1, event: 'started' }))['failure reason']).toBeUndefined();

    const start = performance.now();
    expect(await a.app.router.removeTorrent(ih)).toBe(true);
    expect(await a.app.router.removeTorrent(Buffer.from(wsHash, 'latin1'))).toBe(true);
    const times: Record<string, number> = {};
    await Promise.all([
      until(async () => (await httpAnnounce(b, { infoHash: ih, peerId: randomBytes(20) })).failure === 'unregistered torrent', 1000).then(() => (times.http = performance.now() - start)),
      until(async () => (await udpAnnounce(b.udpPort, { infoHash: ih, peerId: randomBytes(20) })).failure === 'unregistered torrent', 1000).then(() => (times.udp = performance.now() - start)),
      until(async () => (await socket.announce({ info_hash: wsHash, peer_id: wsId(), left: 1 }))['failure reason'] === 'unregistered torrent', 1000).then(() => (times.ws = performance.now() - start)),
    ]);
    console.log('unregistration propagation (Redis), ms:', JSON.stringify(Object.fromEntries(Object.entries(times).map(([k, v]) => [k, Math.round(v)]))));
    for (const t of Object.values(times)) expect(t).toBeLessThan(1000);
    await socket.close();
  });
});
