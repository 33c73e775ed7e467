/**
 * BEP 6 allowed-fast pieces let a choked peer start, once: a peer that is never unchoked gets each
 * allowed-fast piece at most once (per host and torrent, across reconnects), and everything else it
 * asks for is rejected. Measured in bytes the peer receives.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostKey } from '../../src/seeder/host-key.js';
import { createSeeder, type Seeder } from '../../src/seeder/seeder.js';
import { encode } from '../../src/seeder/wire.js';
import { FakePeer } from './helpers/fake-peer.js';
import { makeTorrent, type TorrentFixture } from './helpers/torrent.js';

const PIECE = 16 * 1024;
let seeder: Seeder;
let fx: TorrentFixture;
const peers: FakePeer[] = [];

beforeAll(async () => {
  fx = await makeTorrent({ size: 1024 * 1024, pieceLength: PIECE }); // 64 pieces
  seeder = await createSeeder({ port: 0, host: '127.0.0.1', announce: false });
  await seeder.add(fx.parsed, fx.dir);
});

afterAll(async () => {
  for (const p of peers) p.destroy();
  await seeder?.close();
});

/** A Fast peer from `localAddress`, past the handshake, with its allowed-fast set. */
async function fastPeer(localAddress: string): Promise<{ peer: FakePeer; allowed: number[] }> {
  const peer = await new Promise<FakePeer>((resolve, reject) => {
    import('node:net').then(({ default: net }) => {
      const socket = net.connect({ port: seeder.port, host: '127.0.0.1', localAddress }, () => resolve(FakePeer.wrap(socket)));
      socket.once('error', reject);
    }, reject);
  });
  peers.push(peer);
  peer.handshake(fx.parsed.infoHashBuffer, Buffer.concat([Buffer.from('-TS0001-'), randomBytes(12)]), { fast: true });
  await peer.waitFor(() => peer.ofType('allowed-fast').length === 4, 5000, 'the allowed-fast set');
  return { peer, allowed: peer.ofType('allowed-fast').map((m) => m.index) };
}

const received = (peer: FakePeer): number => peer.ofType('piece').reduce((n, m) => n + m.block.length, 0);

describe('allowed-fast pieces are served once to a peer that is never unchoked', () => {
  it('2000 requests for the allowed-fast pieces of a 1 MiB torrent get 4 pieces (64 KiB), the rest rejected', { timeout: 30_000 }, async () => {
    const { peer, allowed } = await fastPeer('127.0.0.5');
    const requests = 2000;
    for (let i = 0; i < requests; i += 100) {
      const burst = [];
      for (let j = i; j < i + 100; j++) burst.push(encode.request({ index: allowed[j % allowed.length], begin: 0, length: PIECE }));
      peer.send(Buffer.concat(burst));
      await peer.waitFor(() => peer.ofType('piece').length + peer.ofType('reject').length >= i + 100, 10_000, `answers to ${i + 100} requests`);
    }
    expect(peer.ofType('unchoke')).toHaveLength(0);
    expect(peer.ofType('piece')).toHaveLength(4);
    expect(new Set(peer.ofType('piece').map((m) => m.index))).toEqual(new Set(allowed));
    expect(received(peer)).toBe(4 * PIECE);
    expect(peer.ofType('reject')).toHaveLength(requests - 4);
    expect(peer.closed).toBe(false);

    // Reconnecting from the same host does not renew the allowance.
    peer.destroy();
    const again = await fastPeer('127.0.0.5');
    expect(again.allowed).toEqual(allowed);
    again.peer.send(Buffer.concat(again.allowed.map((index) => encode.request({ index, begin: 0, length: PIECE }))));
    await again.peer.waitFor(() => again.peer.ofType('reject').length === 4, 5000, 'four rejects');
    expect(received(again.peer)).toBe(0);

    // Once unchoked, the same pieces are served as often as asked (choking no longer applies).
    again.peer.send(encode.interested());
    await again.peer.waitFor(() => again.peer.ofType('unchoke').length === 1, 5000, 'unchoke');
    for (let round = 0; round < 3; round++) again.peer.send(encode.request({ index: allowed[0], begin: 0, length: PIECE }));
    await again.peer.waitFor(() => again.peer.ofType('piece').length === 3, 5000, 'three pieces');
  });

  it('counts blocks, not requests: the blocks of one allowed-fast piece add up to the piece, once', { timeout: 30_000 }, async () => {
    const { peer, allowed } = await fastPeer('127.0.0.6');
    const blocks = [];
    for (let round = 0; round < 3; round++) for (let begin = 0; begin < PIECE; begin += 1024) blocks.push(encode.request({ index: allowed[1], begin, length: 1024 }));
    peer.send(Buffer.concat(blocks));
    await peer.waitFor(() => peer.ofType('piece').length + peer.ofType('reject').length === blocks.length, 10_000, 'every answer');
    expect(received(peer)).toBe(PIECE);
    expect(peer.ofType('reject')).toHaveLength(blocks.length - PIECE / 1024);
  });
});

describe('hostKey', () => {
  it('is the IPv4 address, or the IPv6 /64 (IPv4-mapped IPv6 is IPv4)', () => {
    expect(hostKey('192.0.2.7')).toBe('192.0.2.7');
    expect(hostKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(hostKey('2001:db8:1:2::1')).toBe(hostKey('2001:db8:1:2:ffff:ffff:ffff:ffff'));
    expect(hostKey('2001:db8:1:2::1')).not.toBe(hostKey('2001:db8:1:3::1'));
    expect(hostKey('2001:db8:1:2::1')).toBe('20010db800010002::/64');
  });
});
