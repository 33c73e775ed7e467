/**
 * Bans on the memory store, over every door: HTTP, UDP and WebSocket announces of a banned address,
 * block, user or client are refused with `banned[: reason]`; listed peers are removed and never
 * handed out; WebSocket connections are closed; expiry and unban; events; bad input.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Ban } from '../../src/policy/bans.js';
import { MemorySwarmStore } from '../../src/swarm/memory/memory-store.js';
import type { SwarmStore } from '../../src/swarm/types.js';
import { httpAnnounce, startDoors, udpAnnounce, until, wsClient, type Doors } from '../helpers/bans.js';
import { wsId } from '../helpers/ws.js';
import type { WsTestClient } from '../helpers/ws.js';

const sockets: WsTestClient[] = [];
afterEach(async () => {
  await Promise.all(sockets.splice(0).map((c) => c.close()));
});
async function ws(url: string, from?: string): Promise<WsTestClient> {
  const c = await wsClient(url, from);
  sockets.push(c);
  return c;
}

describe('bans on the memory store (public mode)', () => {
  let doors: Doors;
  const banned: Ban[] = [];
  const unbanned: Ban[] = [];
  beforeAll(async () => {
    doors = await startDoors();
    doors.app.router.tracker.on('banned', (ban: Ban) => banned.push(ban));
    doors.app.router.tracker.on('unbanned', (ban: Ban) => unbanned.push(ban));
  });
  afterAll(async () => {
    for (const ban of await doors.app.router.bans()) await doors.app.router.unban(ban.id);
    await doors.close();
  });

  it('an address ban refuses HTTP, UDP and WebSocket announces from that address only; unban lifts it', async () => {
    const router = doors.app.router;
    const ih = randomBytes(20);
    const ban = await router.ban({ address: '127.0.0.2', reason: 'abuse' });
    expect(ban).toMatchObject({ address: '127.0.0.2', reason: 'abuse' });
    expect(banned.at(-1)).toEqual(ban);
    expect((await httpAnnounce(doors, { infoHash: ih, peerId: randomBytes(20), from: '127.0.0.2' })).failure).toBe('banned: abuse');
    expect((await httpAnnounce(doors, { infoHash: ih, peerId: randomBytes(20), from: '127.0.0.3' })).failure).toBeUndefined();
    expect((await udpAnnounce(doors.udpPort, { infoHash: ih, peerId: randomBytes(20), from: '127.0.0.2' })).failure).toBe('banned: abuse');
    expect((await udpAnnounce(doors.udpPort, { infoHash: ih, peerId: randomBytes(20), from: '127.0.0.3' })).failure).toBeUndefined();
    const w = await ws(doors.wsUrl(), '127.0.0.2');
    expect((await w.announce({ info_hash: wsId(), peer_id: wsId(), left: 1, event: 'started' }))['failure reason']).toBe('banned: abuse');
    expect(await router.bans()).toEqual([ban]);
    expect(await router.unban(ban.id)).toBe(true);
    expect(unbanned.at(-1)).toEqual(ban);
    expect(await router.unban(ban.id)).toBe(false);
    expect(await router.bans()).toEqual([]);
    expect((await httpAnnounce(doors, { infoHash: ih, peerId: randomBytes(20), from: '127.0.0.2' })).failure).toBeUndefined();
  });

  it('a CIDR ban covers its block; without a reason the failure is `banned`', async () => {
    const ih = randomBytes(20);
    const ban = await doors.app.router.ban({ address: '127.0.1.0/24' });
    expect((await httpAnnounce(doors, { infoHash: ih, peerId: randomBytes(20), from: '127.0.1.9' })).failure).toBe('banned');
    expect((await udpAnnounce(doors.udpPort, { infoHash: ih, peerId: randomBytes(20), from: '127.0.1.200' })).failure).toBe('banned');
    expect((await httpAnnounce(doors, { infoHash: ih, peerId: randomBytes(20), from: '127.0.2.1' })).failure).toBeUndefined();
    await doors.app.router.unban(ban.id);
  });

  it('a client ban refuses peer ids with that prefix over every door', async () => {
    const ih = randomBytes(20);
    const ban = await doors.app.router.ban({ client: '-XL0012-', reason: 'fake client' });
    const xl = () => Buffer.concat([Buffer.from('-XL0012-'), randomBytes(12)]);
    expect((await httpAnnounce(doors, { infoHash: ih, peerId: xl() })).failure).toBe('banned: fake client');
    expect((await udpAnnounce(doors.udpPort, { infoHash: ih, peerId: xl() })).failure).toBe('banned: fake client');
    const w = await ws(doors.wsUrl());
    expect((await w.announce({ info_hash: wsId(), peer_id: '-XL0012-' + 'a'.repeat(12), left: 1 }))['failure reason']).toBe('banned: fake client');
    expect((await httpAnnounce(doors, { infoHash: ih, peerId: Buffer.concat([Buffer.from('-qB4650-'), randomBytes(12)]) })).failure).toBeUndefined();
    await doors.app.router.unban(ban.id);
  });

  it('listed peers of a new ban are removed from their swarms and never handed out', async () => {
    const ih = randomBytes(20);
    await httpAnnounce(doors, { infoHash: ih, peerId: randomBytes(20), from: '127.0.3.1', port: 1001 });
    await httpAnnounce(doors, { infoHash: ih, peerId: Buffer.concat([Buffer.from('-BAD-'), randomBytes(15)]), from: '127.0.3.2', port: 1002 });
    await httpAnnounce(doors, { infoHash: ih, peerId: randomBytes(20), from: '127.0.3.3', port: 1003 });
    const before = await httpAnnounce(doors, { infoHash: ih, peerId: randomBytes(20), from: '127.0.3.4', port: 1004 });
    expect(before.peers.sort()).toEqual(['127.0.3.1:1001', '127.0.3.2:1002', '127.0.3.3:1003']);
    const a = await doors.app.router.ban({ address: '127.0.3.1' });
    const c = await doors.app.router.ban({ client: '-BAD-' });
    // Not handed out from the moment of the ban (compact and dictionary answers), then removed from the swarm.
    for (const compact of [true, false]) {
      const after = await httpAnnounce(doors, { infoHash: ih, peerId: randomBytes(20), from: '127.0.3.5', port: 1005, compact });
      expect(after.peers.every((p) => !p.startsWith('127.0.3.1:') && !p.startsWith('127.0.3.2:'))).toBe(true);
    }
    await until(async () => {
      const counts = await doors.app.router.tracker.counts([ih]);
      return counts[0].incomplete === 4; // .3, .4, .5 and the dictionary one (.5 re-announced under another id)
    });
    await doors.app.router.unban(a.id);
    await doors.app.router.unban(c.id);
  });

  it("while listed peers are still in the store they are filtered out of answers; a banned peer's own announce removes its entry", async () => {
    const ih = randomBytes(20);
    const peerId = randomBytes(20);
    const client = Buffer.concat([Buffer.from('-CL-'), randomBytes(16)]);
    await httpAnnounce(doors, { infoHash: ih, peerId, from: '127.0.4.1', port: 4101 });
    await httpAnnounce(doors, { infoHash: ih, peerId: client, from: '127.0.4.2', port: 4102 });
    await httpAnnounce(doors, { infoHash: ih, peerId: randomBytes(20), from: '127.0.4.3', port: 4103 });
    // The store's walk never finishes here: the peers stay listed, and answers are filtered.
    const store = doors.app.router.tracker.swarmStore as MemorySwarmStore;
    const purge = store.removePeers;
    let release = (): void => undefined;
    store.removePeers = () => new Promise((resolve) => (release = () => resolve(0)));
    const a = await doors.app.router.ban({ address: '127.0.4.1' });
    const c = await doors.app.router.ban({ client: '-CL-' });
    store.removePeers = purge;
    expect((await doors.app.router.tracker.counts([ih]))[0].incomplete).toBe(3);
    const compact = await httpAnnounce(doors, { infoHash: ih, peerId: randomBytes(20), from: '127.0.4.4' });
    expect(compact.peers).not.toContain('127.0.4.1:4101'); // compact answers: by address
    const dict = await httpAnnounce(doors, { infoHash: ih, peerId: randomBytes(20), from: '127.0.4.5', compact: false });
    expect(dict.peers).not.toContain('127.0.4.1:4101');
    expect(dict.peers).not.toContain('127.0.4.2:4102'); // dictionary answers: by client too
    expect(dict.peers).toContain('127.0.4.3:4103');
    const udp = await udpAnnounce(doors.udpPort, { infoHash: ih, peerId: randomBytes(20), from: '127.0.4.6' });
    expect(udp.peers).not.toContain('127.0.4.1:4101');
    expect(udp.peers).toContain('127.0.4.3:4103');
    // Its own next announce is refused and deletes its entry.
    expect((await httpAnnounce(doors, { infoHash: ih, peerId, from: '127.0.4.1' })).failure).toBe('banned');
    expect((await httpAnnounce(doors, { infoHash: ih, peerId: client, from: '127.0.4.2' })).failure).toBe('banned');
    expect((await doors.app.router.tracker.counts([ih]))[0].incomplete).toBe(4);
    release();
    await doors.app.router.unban(a.id);
    await doors.app.router.unban(c.id);
  });

  it('WebSocket connections of a banned address or client are closed (1008 "banned"), others stay', async () => {
    const byAddress = await ws(doors.wsUrl(), '127.0.5.1');
    const byClient = await ws(doors.wsUrl(), '127.0.5.2');
    const other = await ws(doors.wsUrl(), '127.0.5.3');
    const ih = wsId();
    for (const [c, id] of [[byAddress, wsId('a')], [byClient, '-WW0001-' + 'x'.repeat(12)], [other, wsId('o')]] as const) {
      expect((await c.announce({ info_hash: ih, peer_id: id, left: 1, event: 'started' }))['failure reason']).toBeUndefined();
    }
    const a = await doors.app.router.ban({ address: '127.0.5.1' });
    const b = await doors.app.router.ban({ client: '-WW0001-' });
    expect(await byAddress.closedWith).toEqual({ code: 1008, reason: 'banned' });
    expect(await byClient.closedWith).toEqual({ code: 1008, reason: 'banned' });
    expect((await other.announce({ info_hash: ih, peer_id: wsId('o'), left: 1 }))).toMatchObject({ incomplete: 1 });
    await doors.app.router.unban(a.id);
    await doors.app.router.unban(b.id);
  });

  it('an expiring ban stops applying at its expiry and leaves the list', async () => {
    const ih = randomBytes(20);
    const ban = await doors.app.router.ban({ address: '127.0.6.1', expiresAt: Date.now() + 300 });
    expect((await httpAnnounce(doors, { infoHash: ih, peerId: randomBytes(20), from: '127.0.6.1' })).failure).toBe('banned');
    await new Promise((r) => setTimeout(r, 350));
    expect((await httpAnnounce(doors, { infoHash: ih, peerId: randomBytes(20), from: '127.0.6.1' })).failure).toBeUndefined();
    expect((await doors.app.router.bans()).map((b) => b.id)).not.toContain(ban.id);
    expect(await (doors.app.router.tracker.swarmStore as MemorySwarmStore).bans.list()).toEqual([]);
  });

  it('bad input is a TypeError and changes nothing', async () => {
    const router = doors.app.router;
    const before = await router.bans();
    for (const spec of [{}, { address: '300.1.1.1' }, { address: '10.0.0.1/8' }, { address: '1.2.3.4', user: 1 }, { client: '-XL', expiresAt: Date.now() - 1 }, { user: 1, reason: 'x'.repeat(201) }]) {
      await expect(router.ban(spec as never)).rejects.toBeInstanceOf(TypeError);
    }
    expect(await router.bans()).toEqual(before);
  });
});

describe('bans on the memory store (private mode)', () => {
  let doors: Doors;
  beforeAll(async () => {
    doors = await startDoors({ passkey: (key) => ({ alicealicealicealice: 'alice', bobbobbobbobbobbobbo: 7 })[key] ?? null });
  });
  afterAll(async () => {
    await doors.close();
  });

  it("a user ban refuses that user's announces over every door, removes their listed peers and closes their WebSockets", async () => {
    const alice = 'alicealicealicealice';
    const bob = 'bobbobbobbobbobbobbo';
    const ih = randomBytes(20);
    await httpAnnounce(doors, { infoHash: ih, peerId: randomBytes(20), passkey: alice, from: '127.0.7.1', port: 2001 });
    const w = await ws(doors.wsUrl(alice), '127.0.7.3');
    expect((await w.announce({ info_hash: wsId(), peer_id: wsId(), left: 1, event: 'started' }))['failure reason']).toBeUndefined();
    expect((await httpAnnounce(doors, { infoHash: ih, peerId: randomBytes(20), passkey: bob, from: '127.0.7.2' })).peers).toEqual(['127.0.7.1:2001']);
    const ban = await doors.app.router.ban({ user: 'alice', reason: 'ratio' });
    expect(await w.closedWith).toEqual({ code: 1008, reason: 'banned' });
    expect((await httpAnnounce(doors, { infoHash: ih, peerId: randomBytes(20), passkey: alice })).failure).toBe('banned: ratio');
    expect((await udpAnnounce(doors.udpPort, { infoHash: ih, peerId: randomBytes(20), passkey: alice })).failure).toBe('banned: ratio');
    const w2 = await ws(doors.wsUrl(alice));
    expect((await w2.announce({ info_hash: wsId(), peer_id: wsId(), left: 1 }))['failure reason']).toBe('banned: ratio');
    // Alice's listed peer left the swarm (bob's one peer stays).
    await until(async () => (await doors.app.router.tracker.counts([ih]))[0].incomplete === 1);
    expect((await httpAnnounce(doors, { infoHash: ih, peerId: randomBytes(20), passkey: bob, from: '127.0.7.2' })).peers).not.toContain('127.0.7.1:2001');
    // A numeric user id matches its ban given as a number.
    const b7 = await doors.app.router.ban({ user: 7 });
    expect((await udpAnnounce(doors.udpPort, { infoHash: ih, peerId: randomBytes(20), passkey: bob })).failure).toBe('banned');
    await doors.app.router.unban(ban.id);
    await doors.app.router.unban(b7.id);
    expect((await httpAnnounce(doors, { infoHash: ih, peerId: randomBytes(20), passkey: alice })).failure).toBeUndefined();
  });
});

describe('bans with a custom store that keeps none', () => {
  it('are kept in the process and refuse announces; the peer is still removed by its own announce', async () => {
    const inner = new MemorySwarmStore();
    const custom: SwarmStore = { announce: (r) => inner.announce(r), scrape: (h) => inner.scrape(h), privateMode: true };
    const doors = await startDoors({ store: custom });
    try {
      const ih = randomBytes(20);
      const peerId = randomBytes(20);
      await httpAnnounce(doors, { infoHash: ih, peerId, from: '127.0.10.1' });
      const ban = await doors.app.router.ban({ address: '127.0.10.0/24', reason: 'local' });
      expect(await doors.app.router.bans()).toEqual([ban]);
      expect((await httpAnnounce(doors, { infoHash: ih, peerId, from: '127.0.10.1' })).failure).toBe('banned: local');
      await until(async () => (await inner.scrape([ih]))[0].incomplete === 0, 2000);
      expect(await doors.app.router.unban(ban.id)).toBe(true);
      expect(await doors.app.router.bans()).toEqual([]);
    } finally {
      await doors.close();
      await inner.close();
    }
  });

  it('at most 10 000 bans', async () => {
    const doors = await startDoors();
    try {
      for (let i = 0; i < 10_000; i++) await doors.app.router.ban({ address: `10.${(i >> 8) & 255}.${i & 255}.0/24` });
      await expect(doors.app.router.ban({ user: 'one too many' })).rejects.toBeInstanceOf(TypeError);
      // Replacing a ban on the same thing is not one more.
      await expect(doors.app.router.ban({ address: '10.0.0.0/24', reason: 'again' })).resolves.toMatchObject({ reason: 'again' });
      expect(await doors.app.router.bans()).toHaveLength(10_000);
    } finally {
      await doors.close();
    }
  });
});
