/**
 * Bans shared by two instances on one store: a ban made through instance A refuses announces on
 * instance B over HTTP, UDP and WebSocket (and closes B's WebSocket connections of the banned peer)
 * within the store's propagation time — Redis: 1 s (the store's bus); Keyv (SQLite): the 5 s
 * re-read. Unbans propagate the same way. The times measured are printed.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/swarm/open.js';
import type { SwarmStore } from '../../src/swarm/types.js';
import { httpAnnounce, startDoors, udpAnnounce, until, wsClient, type Doors } from '../helpers/bans.js';
import { describeService, reachable, REDIS_URL, uniqueName } from '../helpers/store-services.js';
import { wsId } from '../helpers/ws.js';

const redisUp = await reachable(REDIS_URL);

function scenario(name: string, open: () => Promise<SwarmStore>, budget: number): void {
  let a: Doors;
  let b: Doors;
  const stores: SwarmStore[] = [];
  const times: Record<string, number> = {};
  beforeAll(async () => {
    stores.push(await open(), await open());
    a = await startDoors({ store: stores[0] });
    b = await startDoors({ store: stores[1] });
  });
  afterAll(async () => {
    console.log(`ban propagation (${name}), ms:`, JSON.stringify(Object.fromEntries(Object.entries(times).map(([k, v]) => [k, Math.round(v)]))));
    for (const ban of await a.app.router.bans()) await a.app.router.unban(ban.id);
    await a.close();
    await b.close();
    for (const s of stores) await s.close?.();
  });

  it(`a ban made on A refuses HTTP, UDP and WebSocket announces on B within ${budget} ms, and closes B's WebSocket`, async () => {
    const ih = randomBytes(20);
    const from = '127.0.9.1';
    const socket = await wsClient(b.wsUrl(), from);
    expect((await socket.announce({ info_hash: wsId(), peer_id: wsId(), left: 1, event: 'started' }))['failure reason']).toBeUndefined();
    expect((await httpAnnounce(b, { infoHash: ih, peerId: randomBytes(20), from })).failure).toBeUndefined();
    const closed = socket.closedWith.then((c) => ({ ...c, at: performance.now() }));
    const start = performance.now();
    const ban = await a.app.router.ban({ address: from, reason: 'shared' });
    times.banCall = performance.now() - start;
    const http = until(async () => (await httpAnnounce(b, { infoHash: ih, peerId: randomBytes(20), from })).failure === 'banned: shared', budget).then(() => (times.http = performance.now() - start));
    const udp = until(async () => (await udpAnnounce(b.udpPort, { infoHash: ih, peerId: randomBytes(20), from })).failure === 'banned: shared', budget).then(() => (times.udp = performance.now() - start));
    await Promise.all([http, udp]);
    const c = await closed;
    expect({ code: c.code, reason: c.reason }).toEqual({ code: 1008, reason: 'banned' });
    times.wsClosed = c.at - start;
    const later = await wsClient(b.wsUrl(), from);
    expect((await later.announce({ info_hash: wsId(), peer_id: wsId(), left: 1 }))['failure reason']).toBe('banned: shared');
    await later.close();
    for (const t of [times.http, times.udp, times.wsClosed]) expect(t).toBeLessThan(budget);
    expect((await b.app.router.bans()).map((x) => x.id)).toEqual([ban.id]);

    const unbanStart = performance.now();
    expect(await a.app.router.unban(ban.id)).toBe(true);
    await until(async () => (await httpAnnounce(b, { infoHash: ih, peerId: randomBytes(20), from })).failure === undefined, budget);
    times.unbanHttp = performance.now() - unbanStart;
    expect((await udpAnnounce(b.udpPort, { infoHash: ih, peerId: randomBytes(20), from })).failure).toBeUndefined();
    expect(await b.app.router.bans()).toEqual([]);
  });

  it(`a client ban made on A applies on B within ${budget} ms; a peer listed on B from that client is not handed out`, async () => {
    const ih = randomBytes(20);
    const bad = () => Buffer.concat([Buffer.from('-ZZ9-'), randomBytes(15)]);
    await httpAnnounce(b, { infoHash: ih, peerId: bad(), from: '127.0.9.2', port: 3001 });
    expect((await httpAnnounce(b, { infoHash: ih, peerId: randomBytes(20), from: '127.0.9.3', port: 3002, compact: false })).peers).toContain('127.0.9.2:3001');
    const start = performance.now();
    const ban = await a.app.router.ban({ client: '-ZZ9-' });
    await until(async () => (await httpAnnounce(b, { infoHash: ih, peerId: bad() })).failure === 'banned', budget);
    times.clientHttp = performance.now() - start;
    expect((await httpAnnounce(b, { infoHash: ih, peerId: randomBytes(20), from: '127.0.9.4', compact: false })).peers).not.toContain('127.0.9.2:3001');
    await a.app.router.unban(ban.id);
  });

  it('listed peers a ban covers leave the shared swarms (counts on both instances)', async () => {
    const ih = randomBytes(20);
    await httpAnnounce(b, { infoHash: ih, peerId: randomBytes(20), from: '127.0.9.5', port: 4001 });
    await httpAnnounce(b, { infoHash: ih, peerId: randomBytes(20), from: '127.0.9.6', port: 4002 });
    await until(async () => (await a.app.router.tracker.counts([ih]))[0].incomplete === 2, budget);
    const start = performance.now();
    const ban = await a.app.router.ban({ address: '127.0.9.5' });
    for (const d of [a, b]) await until(async () => (await d.app.router.tracker.counts([ih]))[0].incomplete === 1, budget + 2000);
    times.listedRemoved = performance.now() - start;
    await a.app.router.unban(ban.id);
  });

  it('bans made at the same time on both instances are all kept', async () => {
    const made = await Promise.all(
      [a, b].map(async (d, n) => {
        const ids: string[] = [];
        for (let i = 0; i < 4; i++) ids.push((await d.app.router.ban({ address: `198.51.${n}.${i}` })).id);
        return ids;
      }),
    );
    const stored = (await stores[0].bans!.list()).map((x) => x.id);
    for (const id of made.flat()) expect(stored).toContain(id);
    for (const id of made.flat()) await a.app.router.unban(id);
  });

  it('expired bans are not listed and are removed from the store', async () => {
    const ban = await a.app.router.ban({ user: 'nobody', expiresAt: Date.now() + 200 });
    expect((await stores[0].bans!.list()).map((x) => x.id)).toContain(ban.id);
    await new Promise((r) => setTimeout(r, 250));
    expect((await a.app.router.bans()).map((x) => x.id)).not.toContain(ban.id);
    await until(async () => !(await stores[0].bans!.list()).some((x) => x.id === ban.id), 2000);
  });
}

describeService('Redis', redisUp, 'bans on two instances sharing Redis', () => {
  const namespace = uniqueName('bans');
  scenario('Redis', async () => (await openStore(REDIS_URL, { namespace })).store, 1000);
});

describe('bans on two instances sharing a Keyv store (SQLite)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bans-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  scenario('Keyv/SQLite', async () => (await openStore(`sqlite://${join(dir, 'shared.sqlite')}`, { claimSettle: 5 })).store, 6500);
});
