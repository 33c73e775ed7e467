/**
 * The admin API on one instance, the swarms served by another, both on one Redis: a torrent
 * registered, a ban made and a torrent unregistered through instance A's API reach instance B's
 * HTTP, UDP and WebSocket doors within a second; rules changed on A are read on B. Every answer of
 * the API is checked against its OpenAPI document. The times are printed.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { trackerAdmin } from '../../src/admin/router.js';
import { openStore } from '../../src/swarm/open.js';
import type { SwarmStore } from '../../src/swarm/types.js';
import { adminRequest } from '../helpers/admin.js';
import { httpAnnounce, startDoors, udpAnnounce, until, wsClient, type Doors } from '../helpers/bans.js';
import { describeService, reachable, REDIS_URL, uniqueName } from '../helpers/store-services.js';
import { wsId } from '../helpers/ws.js';

const redisUp = await reachable(REDIS_URL);

describeService('Redis', redisUp, 'the admin API of instance A, the doors of instance B', () => {
  const namespace = uniqueName('adminredis');
  const stores: SwarmStore[] = [];
  let a: Doors;
  let b: Doors;
  const api = (method: string, path: string, body?: unknown) => adminRequest(a.app.base, method, `/admin/tracker${path}`, body === undefined ? {} : { body });
  const times: Record<string, number> = {};
  beforeAll(async () => {
    stores.push((await openStore(REDIS_URL, { namespace })).store, (await openStore(REDIS_URL, { namespace })).store);
    a = await startDoors({ store: stores[0], torrents: 'registry' });
    b = await startDoors({ store: stores[1], torrents: 'registry' });
    a.app.app.use('/admin/tracker', trackerAdmin(a.app.router));
  });
  afterAll(async () => {
    console.log('admin API on A → doors of B (Redis), ms:', JSON.stringify(Object.fromEntries(Object.entries(times).map(([k, v]) => [k, Math.round(v)]))));
    for (const ban of await a.app.router.bans()) await a.app.router.unban(ban.id);
    await a.close();
    await b.close();
    for (const s of stores) await s.close?.();
  });

  it('register, change rules, ban, unban and unregister through A; B follows within 1 s on every door', async () => {
    const ih = randomBytes(20);
    const wsHash = wsId();
    const wsHex = Buffer.from(wsHash, 'latin1').toString('hex');
    expect((await httpAnnounce(b, { infoHash: ih, peerId: randomBytes(20) })).failure).toBe('unregistered torrent');
    expect((await api('POST', '/torrents', { infoHash: ih.toString('hex'), rules: { uploadFactor: 2 } })).status).toBe(201);
    expect((await api('POST', '/torrents', { infoHash: wsHex })).status).toBe(201);
    let start = performance.now();
    await until(async () => (await httpAnnounce(b, { infoHash: ih, peerId: randomBytes(20) })).failure === undefined, 1000);
    times.registeredHttp = performance.now() - start;
    expect((await udpAnnounce(b.udpPort, { infoHash: ih, peerId: randomBytes(20) })).failure).toBeUndefined();

    // Rules changed through A are what B reads.
    expect((await api('PATCH', `/torrents/${ih.toString('hex')}`, { rules: { downloadFactor: 0 } })).status).toBe(200);
    const listed = await b.app.router.listTorrents();
    expect(listed.torrents.find((t) => t.infoHash === ih.toString('hex'))?.rules).toEqual({ uploadFactor: 2, downloadFactor: 0 });

    // A ban through A: refused on B over HTTP, UDP and WebSocket, and B's socket from there closed.
    const from = '127.0.9.21';
    const socket = await wsClient(b.wsUrl(), from);
    expect((await socket.announce({ info_hash: wsHash, peer_id: wsId(), left: 1, event: 'started' }))['failure reason']).toBeUndefined();
    const closed = socket.closedWith.then(() => performance.now());
    start = performance.now();
    const ban = await api('POST', '/bans', { address: from, reason: 'through the API' });
    expect(ban.status).toBe(201);
    await Promise.all([
      until(async () => (await httpAnnounce(b, { infoHash: ih, peerId: randomBytes(20), from })).failure === 'banned: through the API', 1000).then(() => (times.banHttp = performance.now() - start)),
      until(async () => (await udpAnnounce(b.udpPort, { infoHash: ih, peerId: randomBytes(20), from })).failure === 'banned: through the API', 1000).then(() => (times.banUdp = performance.now() - start)),
      closed.then((at) => (times.banWsClosed = at - start)),
    ]);
    const again = await wsClient(b.wsUrl(), from);
    expect((await again.announce({ info_hash: wsHash, peer_id: wsId(), left: 1 }))['failure reason']).toBe('banned: through the API');
    await again.close();
    start = performance.now();
    expect((await api('DELETE', `/bans/${ban.body.id}`)).status).toBe(204);
    await until(async () => (await httpAnnounce(b, { infoHash: ih, peerId: randomBytes(20), from })).failure === undefined, 1000);
    times.unbanHttp = performance.now() - start;

    // Unregistered through A: B stops serving it on every door.
    const ws = await wsClient(b.wsUrl());
    expect((await ws.announce({ info_hash: wsHash, peer_id: wsId(), left: 1, event: 'started' }))['failure reason']).toBeUndefined();
    start = performance.now();
    expect((await api('DELETE', `/torrents/${ih.toString('hex')}`)).status).toBe(204);
    expect((await api('DELETE', `/torrents/${wsHex}`)).status).toBe(204);
    await Promise.all([
      until(async () => (await httpAnnounce(b, { infoHash: ih, peerId: randomBytes(20) })).failure === 'unregistered torrent', 1000).then(() => (times.unregisteredHttp = performance.now() - start)),
      until(async () => (await udpAnnounce(b.udpPort, { infoHash: ih, peerId: randomBytes(20) })).failure === 'unregistered torrent', 1000).then(() => (times.unregisteredUdp = performance.now() - start)),
      until(async () => (await ws.announce({ info_hash: wsHash, peer_id: wsId(), left: 1 }))['failure reason'] === 'unregistered torrent', 1000).then(() => (times.unregisteredWs = performance.now() - start)),
    ]);
    await ws.close();
    for (const t of Object.values(times)) expect(t).toBeLessThan(1000);
  });
});
