/**
 * Connection-level tests: a scripted fake peer (raw socket) against a real seeder, for the normal
 * exchange and for each kind of hostile or broken peer. Each bad peer must lose its connection
 * while a well-behaved peer on the same seeder keeps being served.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import bencode from 'bencode';
import { createSeeder, type PeerCloseEventInfo, type Seeder } from '../../src/seeder/seeder.js';
import { encode, WireProtocolError } from '../../src/seeder/wire.js';
import { FakePeer } from './helpers/fake-peer.js';
import { makeTorrent, type TorrentFixture } from './helpers/torrent.js';

let seeder: Seeder;
let fx: TorrentFixture;
const closes: PeerCloseEventInfo[] = [];
const peers: FakePeer[] = [];

const newId = (): Buffer => Buffer.concat([Buffer.from('-TS0001-'), randomBytes(12)]);

async function connect(): Promise<FakePeer> {
  const p = await FakePeer.connect(seeder.port);
  peers.push(p);
  return p;
}

/** A peer past the handshake; `interested` waits for the unchoke. */
async function readyPeer(features: { fast?: boolean; extended?: boolean }, interested = true): Promise<FakePeer> {
  const p = await connect();
  p.handshake(fx.parsed.infoHashBuffer, newId(), features);
  await p.waitFor(() => p.ofType('handshake').length === 1 && p.messages.length >= 2, 5000, 'handshake + availability');
  if (interested) {
    p.send(encode.interested());
    await p.waitFor(() => p.ofType('unchoke').length > 0, 5000, 'unchoke');
  }
  return p;
}

/** Asserts that a good peer is still served after a bad one was dropped. */
async function goodPeerStillServed(): Promise<void> {
  const good = await readyPeer({ fast: true });
  good.send(encode.request({ index: 1, begin: 100, length: 5000 }));
  await good.waitFor(() => good.ofType('piece').length === 1, 5000, 'piece');
  expect(good.ofType('piece')[0].block).toEqual(fx.data.subarray(16384 + 100, 16384 + 5100));
  good.destroy();
}

beforeAll(async () => {
  fx = await makeTorrent({ size: 200_000, pieceLength: 16384 });
  seeder = await createSeeder({
    port: 0,
    host: '127.0.0.1',
    announce: false,
    handshakeTimeout: 400,
    idleTimeout: 2000,
    uninterestedTimeout: 1500,
    maxRequests: 50,
  });
  seeder.on('peer-close', (info: PeerCloseEventInfo) => closes.push(info));
  await seeder.add(fx.parsed, fx.dir);
});

afterAll(async () => {
  for (const p of peers) p.destroy();
  await seeder?.close();
});

describe('seeder connection: normal exchange', () => {
  it('answers a Fast + extension peer with handshake, extension handshake, have_all and allowed_fast', async () => {
    const p = await readyPeer({ fast: true, extended: true }, false);
    const [hs] = p.ofType('handshake');
    expect(hs.infoHash).toEqual(fx.parsed.infoHashBuffer);
    expect(hs.peerId).toEqual(seeder.peerId);
    expect(hs.reserved[7] & 0x04).toBe(0x04);
    expect(hs.reserved[5] & 0x10).toBe(0x10);
    await p.waitFor(() => p.ofType('have-all').length === 1 && p.ofType('extended').length === 1);
    expect(p.ofType('bitfield')).toHaveLength(0);
    const ext = bencode.decode(p.ofType('extended')[0].payload) as Record<string, unknown>;
    expect(ext.reqq).toBe(50);
    expect(ext.p).toBe(seeder.port);
    expect(Buffer.from(ext.v as Uint8Array).toString()).toMatch(/express-torrent-tracker/);
    expect(ext.metadata_size).toBe(fx.parsed.infoBuffer.length);
    expect((ext.m as Record<string, unknown>).ut_metadata).toBe(1);
    expect([...(ext.yourip as Uint8Array)]).toEqual([127, 0, 0, 1]);
    await p.waitFor(() => p.ofType('allowed-fast').length === 4);
    p.destroy();
  });

  it('sends a full bitfield to a plain BEP 3 peer, serves blocks after unchoke, across files of pieces', async () => {
    const p = await readyPeer({});
    const [bf] = p.ofType('bitfield');
    // 200 000 bytes / 16 KiB = 13 pieces: 0xff, then 5 bits set.
    expect([...bf.bitfield]).toEqual([0xff, 0xf8]);
    p.send(encode.request({ index: 0, begin: 0, length: 16384 }));
    p.send(encode.request({ index: 12, begin: 0, length: 200_000 - 12 * 16384 }));
    await p.waitFor(() => p.ofType('piece').length === 2);
    const pieces = p.ofType('piece');
    expect(pieces[0].block).toEqual(fx.data.subarray(0, 16384));
    expect(pieces[1].block).toEqual(fx.data.subarray(12 * 16384));
    p.destroy();
  });

  it('answers ut_metadata requests with the info dictionary', async () => {
    const p = await readyPeer({ extended: true }, false);
    p.send(encode.extended(0, Buffer.from(bencode.encode({ m: { ut_metadata: 7 } }))));
    p.send(encode.extended(1, Buffer.from(bencode.encode({ msg_type: 0, piece: 0 }))));
    await p.waitFor(() => p.ofType('extended').some((m) => m.extendedId === 7));
    const msg = p.ofType('extended').find((m) => m.extendedId === 7)!;
    const head = Buffer.from(bencode.encode({ msg_type: 1, piece: 0, total_size: fx.parsed.infoBuffer.length }));
    expect(msg.payload.subarray(0, head.length)).toEqual(head);
    expect(msg.payload.subarray(head.length)).toEqual(fx.parsed.infoBuffer.subarray(0, 16384));
    p.send(encode.extended(1, Buffer.from(bencode.encode({ msg_type: 0, piece: 999 }))));
    await p.waitFor(() => p.ofType('extended').filter((m) => m.extendedId === 7).length === 2);
    const reject = bencode.decode(p.ofType('extended').filter((m) => m.extendedId === 7)[1].payload) as Record<string, unknown>;
    expect(reject.msg_type).toBe(2);
    p.destroy();
  });

  it('rejects requests while choked (Fast) except allowed-fast pieces, and rejects on cancel', async () => {
    const p = await readyPeer({ fast: true }, false);
    await p.waitFor(() => p.ofType('allowed-fast').length === 4);
    const allowed = new Set(p.ofType('allowed-fast').map((m) => m.index));
    const notAllowed = [...Array(13).keys()].find((i) => !allowed.has(i))!;
    const fastIndex = [...allowed][0];
    p.send(encode.request({ index: notAllowed, begin: 0, length: 1024 }));
    p.send(encode.request({ index: fastIndex, begin: 0, length: 1024 }));
    await p.waitFor(() => p.ofType('reject').length === 1 && p.ofType('piece').length === 1);
    expect(p.ofType('reject')[0]).toMatchObject({ index: notAllowed, begin: 0, length: 1024 });
    expect(p.ofType('piece')[0].index).toBe(fastIndex);
    p.destroy();
  });

  it('keeps the request queue bounded: a Fast peer gets rejects beyond reqq', async () => {
    const p = await readyPeer({ fast: true });
    const burst = [];
    for (let i = 0; i < 300; i++) burst.push(encode.request({ index: i % 13, begin: 0, length: 1024 }));
    p.send(Buffer.concat(burst));
    await p.waitFor(() => p.ofType('piece').length + p.ofType('reject').length === 300, 10_000, 'an answer to every request');
    expect(p.ofType('reject').length).toBeGreaterThan(0);
    expect(p.ofType('piece').length).toBeGreaterThanOrEqual(50);
    expect(p.closed).toBe(false);
    p.destroy();
  });
});

describe('seeder connection: hostile or broken peers are dropped, others keep being served', () => {
  /** Resolves once the seeder has reported closing this peer's connection. */
  const waitForClose = (p: FakePeer): Promise<void> =>
    p.waitFor(() => closes.some((c) => c.port === p.localPort), 5000, 'the seeder close event');
  /** The seeder's close event for this peer's connection (matched by port, not by order). */
  const closeOf = (p: FakePeer): PeerCloseEventInfo => {
    const found = closes.find((c) => c.port === p.localPort);
    if (!found) throw new Error(`no close event for port ${p.localPort}`);
    return found;
  };

  it('wrong protocol string', async () => {
    const p = await connect();
    p.send(Buffer.concat([Buffer.from([19]), Buffer.from('BitTorrent protocoX'), Buffer.alloc(48)]));
    await p.waitClosed();
    await waitForClose(p);
    expect(closeOf(p).error).toBeInstanceOf(WireProtocolError);
    await goodPeerStillServed();
  });

  it('connections beyond the per-torrent limit', async () => {
    const small = await createSeeder({ port: 0, host: '127.0.0.1', announce: false, maxConnectionsPerTorrent: 1 });
    const refused: PeerCloseEventInfo[] = [];
    small.on('peer-close', (c: PeerCloseEventInfo) => refused.push(c));
    try {
      await small.add(fx.parsed, fx.dir, { verify: false });
      const a = await FakePeer.connect(small.port);
      a.handshake(fx.parsed.infoHashBuffer, newId());
      await a.waitFor(() => a.ofType('bitfield').length === 1);
      const b = await FakePeer.connect(small.port);
      b.handshake(fx.parsed.infoHashBuffer, newId());
      await b.waitClosed();
      expect(refused.at(-1)?.reason).toBe('too many peers for this torrent');
      expect(a.closed).toBe(false);
      a.destroy();
    } finally {
      await small.close();
    }
  });

  it('unknown info hash', async () => {
    const p = await connect();
    p.handshake(randomBytes(20), newId());
    await p.waitClosed();
    await waitForClose(p);
    expect(p.ofType('handshake')).toHaveLength(0);
    expect(closeOf(p).reason).toBe('unknown info hash');
  });

  it('oversized message', async () => {
    const p = await readyPeer({ fast: true });
    const head = Buffer.alloc(5);
    head.writeUInt32BE(10 * 1024 * 1024);
    head[4] = 7;
    p.send(head);
    await p.waitClosed();
    await waitForClose(p);
    expect(String(closeOf(p).error)).toMatch(/exceeds the limit/);
    await goodPeerStillServed();
  });

  it('malformed message (request with a short payload)', async () => {
    const p = await readyPeer({ fast: true });
    const bad = Buffer.alloc(4 + 1 + 11);
    bad.writeUInt32BE(12);
    bad[4] = 6;
    p.send(bad);
    await p.waitClosed();
    await waitForClose(p);
    expect(String(closeOf(p).error)).toMatch(/request message has payload length 11/);
    await goodPeerStillServed();
  });

  it('malformed extension handshake', async () => {
    const p = await readyPeer({ extended: true });
    p.send(encode.extended(0, Buffer.from('d1:mi')));
    await p.waitClosed();
    await waitForClose(p);
    expect(String(closeOf(p).error)).toMatch(/malformed extension message/);
  });

  it('request outside the piece', async () => {
    const p = await readyPeer({ fast: true });
    p.send(encode.request({ index: 12, begin: 0, length: 16384 })); // last piece is 3392 bytes
    await p.waitClosed();
    await waitForClose(p);
    expect(String(closeOf(p).error)).toMatch(/outside piece 12/);
    expect(p.ofType('piece')).toHaveLength(0);
    await goodPeerStillServed();
  });

  it('request for a piece that does not exist', async () => {
    const p = await readyPeer({ fast: true });
    p.send(encode.request({ index: 13, begin: 0, length: 1 }));
    await p.waitClosed();
    await waitForClose(p);
    expect(String(closeOf(p).error)).toMatch(/piece 13 of 13/);
  });

  it('request longer than 128 KiB', async () => {
    const big = await makeTorrent({ size: 600_000, pieceLength: 512 * 1024 });
    await seeder.add(big.parsed, big.dir);
    const p = await connect();
    p.handshake(big.parsed.infoHashBuffer, newId(), { fast: true });
    await p.waitFor(() => p.ofType('have-all').length === 1);
    p.send(encode.interested());
    await p.waitFor(() => p.ofType('unchoke').length === 1);
    p.send(encode.request({ index: 0, begin: 0, length: 128 * 1024 }));
    await p.waitFor(() => p.ofType('piece').length === 1);
    expect(p.ofType('piece')[0].block).toEqual(big.data.subarray(0, 128 * 1024));
    p.send(encode.request({ index: 0, begin: 0, length: 128 * 1024 + 1 }));
    await p.waitClosed();
    await waitForClose(p);
    expect(String(closeOf(p).error)).toMatch(/request of 131073 bytes/);
    await seeder.remove(big.parsed.infoHash);
  });

  it('request flood from a peer without the Fast extension', async () => {
    const p = await readyPeer({});
    const burst = [];
    for (let i = 0; i < 5000; i++) burst.push(encode.request({ index: i % 13, begin: 0, length: 1024 }));
    p.send(Buffer.concat(burst));
    await p.waitClosed();
    await waitForClose(p);
    expect(String(closeOf(p).error)).toMatch(/more than 50 outstanding requests/);
    expect(p.ofType('piece').length).toBeLessThan(5000);
    await goodPeerStillServed();
  });

  it('Fast messages from a peer that did not negotiate Fast', async () => {
    const p = await readyPeer({}, false);
    p.send(encode.haveNone());
    await p.waitClosed();
    await waitForClose(p);
    expect(String(closeOf(p).error)).toMatch(/without the Fast extension/);
  });

  it('a bitfield of the wrong size', async () => {
    const p = await readyPeer({}, false);
    p.send(encode.bitfield(Buffer.alloc(3)));
    await p.waitClosed();
    await waitForClose(p);
    expect(String(closeOf(p).error)).toMatch(/bitfield of 3 bytes/);
  });

  it('a peer that never sends anything (handshake timeout)', async () => {
    const p = await connect();
    await p.waitClosed(5000);
    await waitForClose(p);
    expect(closeOf(p).reason).toBe('handshake timeout');
    await goodPeerStillServed();
  });

  it('a peer that goes silent after the handshake (idle timeout)', async () => {
    const p = await readyPeer({}); // interested, so only the idle timeout applies
    await p.waitClosed(6000);
    await waitForClose(p);
    expect(closeOf(p).reason).toBe('idle timeout');
  });

  it('a peer that stays uninterested is let go, an interested one is kept', async () => {
    const lazy = await readyPeer({}, false);
    const keen = await readyPeer({});
    // Both keep alive, so only interest tells them apart (the idle timeout, 2 s, cannot fire first).
    const timer = setInterval(() => {
      keen.send(encode.keepAlive());
      if (!lazy.closed) lazy.send(encode.keepAlive());
    }, 200);
    await lazy.waitClosed(6000);
    clearInterval(timer);
    await waitForClose(lazy);
    expect(closeOf(lazy).reason).toBe('not interested');
    expect(keen.closed).toBe(false);
    keen.destroy();
  });

  it('a peer that is already a seed is let go', async () => {
    const p = await readyPeer({ fast: true }, false);
    p.send(encode.haveAll());
    await p.waitClosed();
    await waitForClose(p);
    expect(closeOf(p).reason).toBe('peer is a seed');
  });

  it('a peer that keeps asking but never reads (write buffer cap)', { timeout: 30_000 }, async () => {
    // Interested and unchoked, so every request is answered with a block (a choked peer gets small
    // rejects, and the uninterested timeout of this seeder could end it first).
    const p = await readyPeer({ fast: true });
    p.socket.pause(); // stop reading: the seeder's answers pile up
    const burst = Buffer.concat(Array.from({ length: 10_000 }, () => encode.request({ index: 5, begin: 0, length: 16 })));
    for (let i = 0; i < 1000 && !p.closed; i++) {
      if (!p.socket.write(burst)) await new Promise((r) => setTimeout(r, 10));
    }
    p.socket.resume();
    await p.waitClosed(10_000);
    await waitForClose(p);
    expect(closes.some((c) => c.reason === 'peer is not reading'), JSON.stringify(closes.map((c) => c.reason))).toBe(true);
    await goodPeerStillServed();
  });

  it('a second connection with the same peer id', async () => {
    const id = newId();
    const a = await connect();
    a.handshake(fx.parsed.infoHashBuffer, id);
    await a.waitFor(() => a.ofType('bitfield').length === 1);
    const b = await connect();
    b.handshake(fx.parsed.infoHashBuffer, id);
    await b.waitClosed();
    await waitForClose(b);
    expect(closeOf(b).reason).toBe('duplicate connection');
    expect(a.closed).toBe(false);
    a.destroy();
  });
});
