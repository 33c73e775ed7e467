/**
 * The seeder against the project's real tracker (Express app): its announces carry the right
 * binary info hash, it dials the peers the tracker returns (a scripted peer listening on a
 * socket), and it sends `stopped` on close.
 */
import http from 'node:http';
import net from 'node:net';
import bencode from 'bencode';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSeeder, type Seeder } from '../../src/seeder/seeder.js';
import { encode } from '../../src/seeder/wire.js';
import type { AnnounceEventInfo } from '../../src/tracker.js';
import { rawGet, startApp, type RunningApp } from '../helpers/http.js';
import { waitFor } from '../helpers/clients.js';
import { FakePeer } from './helpers/fake-peer.js';
import { makeTorrent, type TorrentFixture } from './helpers/torrent.js';
import { percentEncodeBytes } from '../../src/seeder/tracker-http.js';

let tracker: RunningApp;
let fx: TorrentFixture;
const announces: AnnounceEventInfo[] = [];
let listener: net.Server;
let accepted: Promise<FakePeer>;
const toClose: Array<{ close(): unknown }> = [];

beforeAll(async () => {
  tracker = await startApp({ interval: 5, minInterval: 1 });
  tracker.router.tracker.on('announce', (a: AnnounceEventInfo) => announces.push(a));
  fx = await makeTorrent({ size: 64 * 1024, announce: `http://127.0.0.1:${(tracker as RunningApp).port}/tracker/announce` });
  listener = net.createServer();
  accepted = new Promise((resolve) => listener.once('connection', (s) => resolve(FakePeer.wrap(s))));
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
});

afterAll(async () => {
  for (const c of toClose) await c.close();
  listener?.close();
  await tracker?.close();
});

describe('seeder announce and dial-out', () => {
  it('announces with the correct binary info hash, dials the leecher it learns about, and sends stopped on close', { timeout: 30_000 }, async () => {
    // A leecher announces first (left > 0), listening on `listener`.
    const leecherId = Buffer.concat([Buffer.from('-TS0001-'), randomBytes(12)]);
    const port = (listener.address() as net.AddressInfo).port;
    const q = `info_hash=${percentEncodeBytes(fx.parsed.infoHashBuffer)}&peer_id=${percentEncodeBytes(leecherId)}&port=${port}&uploaded=0&downloaded=0&left=${fx.data.length}&compact=1&event=started`;
    const res = await rawGet(tracker.port, `/tracker/announce?${q}`);
    expect(res.status).toBe(200);

    const seeder: Seeder = await createSeeder({ port: 0, host: '127.0.0.2' });
    toClose.push(seeder);
    await seeder.add(fx.torrentBuffer, fx.dir);

    const peer = await accepted;
    expect(peer.socket.remoteAddress).toMatch(/127\.0\.0\.2$/); // dialled from the bind address
    await peer.waitFor(() => peer.ofType('handshake').length === 1, 5000, 'the seeder handshake');
    expect(peer.ofType('handshake')[0].infoHash).toEqual(fx.parsed.infoHashBuffer);
    peer.handshake(fx.parsed.infoHashBuffer, leecherId, { fast: true });
    await peer.waitFor(() => peer.ofType('have-all').length === 1);
    peer.send(encode.interested());
    await peer.waitFor(() => peer.ofType('unchoke').length === 1);
    peer.send(encode.request({ index: 3, begin: 0, length: 16384 }));
    await peer.waitFor(() => peer.ofType('piece').length === 1);
    expect(peer.ofType('piece')[0].block).toEqual(fx.data.subarray(3 * 16384, 4 * 16384));

    const mine = announces.filter((a) => a.infoHash === fx.parsed.infoHash && a.ip === '127.0.0.2');
    expect(mine[0]).toMatchObject({ event: 'started', seeder: true, port: seeder.port, peerId: seeder.peerId.toString('hex') });
    expect(seeder.stats().torrents[0]).toMatchObject({ peers: 1, uploaded: 16384, leechers: 1, seeders: 1 });

    await seeder.close();
    expect(announces.filter((a) => a.ip === '127.0.0.2').at(-1)?.event).toBe('stopped');
    await peer.waitClosed();
  });

  it('drops an outgoing connection whose peer answers with another info hash, and backs off', { timeout: 30_000 }, async () => {
    const other = await makeTorrent({ size: 20_000, announce: `http://127.0.0.1:${tracker.port}/tracker/announce` });
    const liar = net.createServer();
    let dialled = 0;
    const gotPeer = new Promise<FakePeer>((resolve) =>
      liar.on('connection', (s) => {
        dialled++;
        resolve(FakePeer.wrap(s));
      }),
    );
    await new Promise<void>((r) => liar.listen(0, '127.0.0.1', r));
    toClose.push({ close: () => liar.close() });
    const id = Buffer.concat([Buffer.from('-TS0001-'), randomBytes(12)]);
    const port = (liar.address() as net.AddressInfo).port;
    const q = `info_hash=${percentEncodeBytes(other.parsed.infoHashBuffer)}&peer_id=${percentEncodeBytes(id)}&port=${port}&uploaded=0&downloaded=0&left=1&compact=1&event=started`;
    expect((await rawGet(tracker.port, `/tracker/announce?${q}`)).status).toBe(200);

    const seeder: Seeder = await createSeeder({ port: 0, host: '127.0.0.2', minAnnounceInterval: 1 });
    toClose.push(seeder);
    const closes: Array<{ reason: string; direction: string }> = [];
    seeder.on('peer-close', (c) => closes.push(c));
    await seeder.add(other.torrentBuffer, other.dir);
    const peer = await gotPeer;
    await peer.waitFor(() => peer.ofType('handshake').length === 1);
    peer.handshake(randomBytes(20), id);
    await peer.waitClosed();
    expect(closes).toEqual([expect.objectContaining({ reason: 'info hash mismatch', direction: 'outgoing' })]);
    // The tracker returns the liar again at the next re-announce; the seeder does not redial it.
    const announced = (): number => announces.filter((a) => a.infoHash === other.parsed.infoHash && a.ip === '127.0.0.2').length;
    const start = announced();
    await waitFor('a re-announce', () => announced() > start, 15_000);
    await new Promise((r) => setTimeout(r, 200)); // let a (wrong) redial reach the listener
    expect(dialled).toBe(1);
  });

  it('recognises itself when a tracker lists it (peer id), and does not keep dialling itself', { timeout: 20_000 }, async () => {
    let seederPort = 0;
    let hits = 0;
    const fake = http.createServer((_req, res) => {
      hits++;
      const peer = Buffer.from([127, 0, 0, 1, seederPort >> 8, seederPort & 0xff]);
      res.end(Buffer.from(bencode.encode({ interval: 1, peers: peer })));
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    toClose.push({ close: () => fake.close() });
    const own = await makeTorrent({ size: 20_000, announce: `http://127.0.0.1:${(fake.address() as net.AddressInfo).port}/announce` });
    const seeder: Seeder = await createSeeder({ port: 0, minAnnounceInterval: 1 }); // all interfaces
    toClose.push(seeder);
    seederPort = seeder.port;
    const closes: string[] = [];
    seeder.on('peer-close', (c) => closes.push(`${c.direction}:${c.reason}`));
    await seeder.add(own.torrentBuffer, own.dir);
    await waitFor('three announces listing the seeder itself', () => hits >= 3, 10_000);
    expect(closes.filter((c) => c === 'incoming:connected to ourselves')).toHaveLength(1);
    expect(seeder.stats().peers).toBe(0);
  });
});
