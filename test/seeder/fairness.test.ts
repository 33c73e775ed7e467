/**
 * Connection slots are shared fairly: connections that only hold slots (handshake, `interested`,
 * keep-alives, never a request) cannot keep a real downloader out or waiting, whether they come
 * from one host (per-address cap, slots shared by host) or from many (eviction of connections that
 * are choked or silent, idle slot holders ranked last). Other loopback addresses play other hosts.
 * Measured in connections held and bytes the real downloader receives.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { pickVictim } from '../../src/seeder/eviction.js';
import { createSeeder, type PeerCloseEventInfo, type Seeder, type SeederOptions } from '../../src/seeder/seeder.js';
import { encode } from '../../src/seeder/wire.js';
import { FakePeer } from './helpers/fake-peer.js';
import { leech } from './helpers/leech.js';
import { makeTorrent, type TorrentFixture } from './helpers/torrent.js';

const newId = (): Buffer => Buffer.concat([Buffer.from('-TS0001-'), randomBytes(12)]);

let seeders: Seeder[] = [];
let peers: FakePeer[] = [];
let timers: NodeJS.Timeout[] = [];

afterEach(async () => {
  for (const t of timers) clearInterval(t);
  for (const p of peers) p.destroy();
  await Promise.all(seeders.map((s) => s.close()));
  seeders = [];
  peers = [];
  timers = [];
});

async function seederWith(options: SeederOptions, torrents = 1): Promise<{ seeder: Seeder; fixtures: TorrentFixture[]; closes: PeerCloseEventInfo[] }> {
  const seeder = await createSeeder({ port: 0, host: '127.0.0.1', announce: false, ...options });
  seeders.push(seeder);
  const closes: PeerCloseEventInfo[] = [];
  seeder.on('peer-close', (c: PeerCloseEventInfo) => closes.push(c));
  const fixtures: TorrentFixture[] = [];
  for (let i = 0; i < torrents; i++) {
    const fx = await makeTorrent({ name: `t${i}.bin`, size: 1024 * 1024, pieceLength: 16 * 1024 });
    await seeder.add(fx.parsed, fx.dir, { verify: false });
    fixtures.push(fx);
  }
  return { seeder, fixtures, closes };
}

/**
 * A squatter from `localAddress`: handshakes (Fast), says interested, keeps alive, never requests.
 * Resolves once the seeder answered its handshake or closed the connection.
 */
async function squatter(seeder: Seeder, fx: TorrentFixture, localAddress: string): Promise<FakePeer> {
  const p = await FakePeer.connect(seeder.port, '127.0.0.1', localAddress);
  peers.push(p);
  p.handshake(fx.parsed.infoHashBuffer, newId(), { fast: true });
  p.send(encode.interested());
  await p.waitFor(() => p.closed || p.ofType('have-all').length === 1, 5000, 'the seeder to answer or close');
  return p;
}

function keepAlive(squatters: FakePeer[]): void {
  timers.push(
    setInterval(() => {
      for (const s of squatters) if (!s.closed) s.send(encode.keepAlive());
    }, 200),
  );
}

/** A real downloader from 127.0.0.1 that fetches all of `fx` (Fast peer); returns the bytes it got. */
async function download(seeder: Seeder, fx: TorrentFixture): Promise<number> {
  const p = await FakePeer.connect(seeder.port, '127.0.0.1', '127.0.0.1');
  peers.push(p);
  p.handshake(fx.parsed.infoHashBuffer, newId(), { fast: true });
  await p.waitFor(() => p.closed || p.ofType('have-all').length === 1, 5000, 'the handshake');
  expect(p.closed, 'the real downloader was refused').toBe(false);
  const data = await leech(p, fx, 20_000);
  expect(data.equals(fx.data)).toBe(true);
  return p.ofType('piece').reduce((n, m) => n + m.block.length, 0);
}

describe('seeder fairness', () => {
  it('one host opening 100 connections to a torrent holds 4; a real downloader gets the whole torrent', { timeout: 40_000 }, async () => {
    const { seeder, fixtures, closes } = await seederWith({});
    const [fx] = fixtures;
    const squatters: FakePeer[] = [];
    for (let i = 0; i < 100; i++) squatters.push(await squatter(seeder, fx, '127.0.0.3'));
    keepAlive(squatters);
    expect(squatters.filter((s) => !s.closed)).toHaveLength(4);
    expect(closes.filter((c) => c.reason === 'too many connections from this address')).toHaveLength(96);
    expect(await download(seeder, fx)).toBe(fx.data.length);
    expect(squatters.filter((s) => !s.closed)).toHaveLength(4); // the cap refuses, it does not churn
    expect(seeder.stats().torrents[0].uploaded).toBe(fx.data.length); // nothing went to the squatters
  });

  it('one host filling the seeder-wide limit over many torrents is evicted for a newcomer', { timeout: 40_000 }, async () => {
    const { seeder, fixtures, closes } = await seederWith({ maxConnections: 20, rotateInterval: 300 }, 6);
    const squatters: FakePeer[] = [];
    for (const fx of fixtures) for (let i = 0; i < 4; i++) squatters.push(await squatter(seeder, fx, '127.0.0.3'));
    keepAlive(squatters);
    expect(seeder.stats().peers).toBe(20);
    // Squatters keep their slots for one rotation (300 ms) before they may be evicted.
    const since = Date.now();
    await squatters[0].waitFor(() => Date.now() - since > 400, 2000, 'the eviction grace');
    expect(await download(seeder, fixtures[0])).toBe(fixtures[0].data.length);
    expect(closes.filter((c) => c.reason === 'evicted to make room for another host').every((c) => c.address === '127.0.0.3')).toBe(true);
    expect(closes.some((c) => c.reason === 'evicted to make room for another host')).toBe(true);
  });

  it('twelve hosts filling a torrent with connections that never request: a newcomer evicts one and is served', { timeout: 40_000 }, async () => {
    const { seeder, fixtures, closes } = await seederWith({ maxConnectionsPerTorrent: 12, uploadSlots: 2, rotateInterval: 400 });
    const [fx] = fixtures;
    const squatters: FakePeer[] = [];
    for (let i = 0; i < 12; i++) squatters.push(await squatter(seeder, fx, `127.0.0.${10 + i}`));
    keepAlive(squatters);
    expect(seeder.stats().torrents[0].peers).toBe(12);
    const since = Date.now();
    await squatters[0].waitFor(() => Date.now() - since > 500, 2000, 'the eviction grace');
    expect(await download(seeder, fx)).toBe(fx.data.length);
    const evicted = closes.filter((c) => c.reason === 'evicted to make room for another host');
    expect(evicted).toHaveLength(1);
    expect(evicted[0].address).not.toBe('127.0.0.1');
  });

  it('the per-address cap is per torrent: the same host may download other torrents', { timeout: 20_000 }, async () => {
    const { seeder, fixtures, closes } = await seederWith({ maxConnectionsPerAddress: 2 }, 2);
    const a = [await squatter(seeder, fixtures[0], '127.0.0.4'), await squatter(seeder, fixtures[0], '127.0.0.4')];
    const refused = await squatter(seeder, fixtures[0], '127.0.0.4');
    await refused.waitClosed();
    expect(closes.at(-1)?.reason).toBe('too many connections from this address');
    const other = await squatter(seeder, fixtures[1], '127.0.0.4');
    expect(other.closed).toBe(false);
    expect(a.every((p) => !p.closed)).toBe(true);
  });
});

describe('pickVictim', () => {
  const peer = (host: string, over: Partial<{ ready: boolean; amChoking: boolean; connectedAt: number; lastActiveAt: number }> = {}) => ({
    host,
    ready: true,
    amChoking: true,
    connectedAt: 0,
    lastActiveAt: 0,
    ...over,
  });

  it('takes from the host holding the most, only if it holds more than the newcomer, never a peer downloading now', () => {
    const crowd = [peer('a', { lastActiveAt: 5 }), peer('a', { lastActiveAt: 3 }), peer('a', { lastActiveAt: 9 }), peer('b'), peer('c')];
    expect(pickVictim(crowd, 'z', 1000, 100)).toBe(crowd[1]); // host a, idle longest
    expect(pickVictim(crowd, 'a', 1000, 100)).toBeUndefined(); // a already holds the most
    const busy = [peer('a', { amChoking: false, lastActiveAt: 990 }), peer('b', { amChoking: false, lastActiveAt: 999 })];
    expect(pickVictim(busy, 'z', 1000, 100)).toBeUndefined();
    const silent = [peer('a', { amChoking: false, lastActiveAt: 800 })];
    expect(pickVictim(silent, 'z', 1000, 100)).toBe(silent[0]); // unchoked but no request for the grace
    const young = [peer('a', { connectedAt: 950 })];
    expect(pickVictim(young, 'z', 1000, 100)).toBeUndefined(); // keeps its slot for the grace
    const handshaking = [peer('a', { ready: false, connectedAt: 999 })];
    expect(pickVictim(handshaking, 'z', 1000, 100)).toBe(handshaking[0]);
  });
});
