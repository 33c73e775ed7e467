/**
 * The UDP tracker on real sockets (IPv4 and IPv6, ephemeral ports): connect/announce/scrape, the
 * same swarm as the Express tracker, spoof-proof connection ids with no amplification, private
 * trackers through BEP 41 URL data, and a seeded fuzz of 100 000 datagrams.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionIds } from '../../src/transport/connection-id.js';
import { createUdpTracker, type UdpTracker } from '../../src/transport/udp.js';
import type { TrafficRecord } from '../../src/policy/traffic.js';
import { compactPeers, decodeDict } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet, startApp, type RunningApp } from '../helpers/http.js';
import { prng } from '../helpers/prng.js';
import { announcePacket, connectPacket, decodeAnnounce, decodeAnswer, scrapePacket, UdpTestClient } from '../helpers/udp.js';

const clients: UdpTestClient[] = [];
async function client(port: number, family: 4 | 6 = 4, local?: string): Promise<UdpTestClient> {
  const c = new UdpTestClient(family, family === 4 ? '127.0.0.1' : '::1', port);
  await c.bind(local);
  clients.push(c);
  return c;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

let tx = 1;
const next = () => tx++;

describe('connection ids', () => {
  it('are bound to the address, live one to two slots, and cannot be forged', () => {
    const clock = { t: 1_000_000 };
    const ids = new ConnectionIds({ slotSeconds: 60, now: () => clock.t });
    const a = Buffer.from([127, 0, 0, 1]);
    const b = Buffer.from([127, 0, 0, 2]);
    const id = ids.issue(a);
    expect(ids.verify(id, a)).toBe(true);
    expect(ids.verify(id, b)).toBe(false);
    const forged = Buffer.from(id);
    forged[7] ^= 1;
    expect(ids.verify(forged, a)).toBe(false);
    clock.t += 60_000;
    expect(ids.verify(id, a)).toBe(true); // next slot: still valid
    clock.t += 60_000;
    expect(ids.verify(id, a)).toBe(false); // two slots later: expired
    // shared secret: instances accept each other's ids; without it they do not
    const s1 = new ConnectionIds({ secret: 'a shared secret of 32 characters', now: () => clock.t });
    const s2 = new ConnectionIds({ secret: 'a shared secret of 32 characters', now: () => clock.t });
    expect(s2.verify(s1.issue(a), a)).toBe(true);
    expect(new ConnectionIds({ now: () => clock.t }).verify(s1.issue(a), a)).toBe(false);
    expect(() => new ConnectionIds({ secret: 'short' })).toThrow(TypeError);
  });
});

describe('UDP tracker sharing the Express tracker core', () => {
  let app: RunningApp;
  let udp: UdpTracker;
  let port: number;
  beforeAll(async () => {
    app = await startApp({ interval: 900, intervalJitter: 0, minInterval: 60 });
    udp = createUdpTracker({ tracker: app.router.tracker });
    port = (await udp.listen(0)).port;
  });
  afterAll(async () => {
    await udp.close();
    await app.close();
  });

  it('connect, announce over IPv4: counts, interval, the other peers; never the requester', async () => {
    const ih = randomBytes(20);
    const a = await client(port, 4, '127.0.0.1');
    const b = await client(port, 4, '127.0.0.2');
    const ida = await a.connect();
    expect(ida).toHaveLength(8);
    const first = await a.request(announcePacket({ connectionId: ida, tx: next(), infoHash: ih, peerId: randomBytes(20), port: 7001, left: 0n, event: 2 }));
    expect(decodeAnnounce(first, 4)).toEqual({ interval: 900, leechers: 0, seeders: 1, peers: [] });
    const idb = await b.connect();
    const second = await b.request(announcePacket({ connectionId: idb, tx: next(), infoHash: ih, peerId: randomBytes(20), port: 7002, event: 2 }));
    expect(decodeAnnounce(second, 4)).toEqual({ interval: 900, leechers: 1, seeders: 1, peers: ['127.0.0.1:7001'] });
    // num_want 0: counts only
    const none = await b.request(announcePacket({ connectionId: idb, tx: next(), infoHash: ih, peerId: randomBytes(20), port: 7003, numwant: 0 }));
    expect(decodeAnnounce(none, 4).peers).toEqual([]);
  });

  it('IPv6 requesters get 18-byte IPv6 peers', async () => {
    const ih = randomBytes(20);
    const v6a = await client(port, 6);
    const v6b = await client(port, 6);
    const v4 = await client(port, 4);
    const id4 = await v4.connect();
    await v4.request(announcePacket({ connectionId: id4, tx: next(), infoHash: ih, peerId: randomBytes(20), port: 7004 }));
    const ida = await v6a.connect();
    await v6a.request(announcePacket({ connectionId: ida, tx: next(), infoHash: ih, peerId: randomBytes(20), port: 7005 }));
    const idb = await v6b.connect();
    const answer = await v6b.request(announcePacket({ connectionId: idb, tx: next(), infoHash: ih, peerId: randomBytes(20), port: 7006 }));
    const decoded = decodeAnnounce(answer, 6);
    expect(decoded.leechers).toBe(3);
    expect(decoded.peers).toEqual(['0000:0000:0000:0000:0000:0000:0000:0001:7005']);
    expect((answer.length - 20) % 18).toBe(0);
  });

  it('one swarm for HTTP and UDP: each transport returns peers of the other; scrape agrees', async () => {
    const ih = randomBytes(20);
    await rawGet(app.port, `/tracker/announce?info_hash=${escapeAll(ih)}&peer_id=${escapeAll(randomBytes(20))}&port=8001&uploaded=0&downloaded=0&left=0`);
    const c = await client(port, 4, '127.0.0.2');
    const id = await c.connect();
    const answer = decodeAnnounce(await c.request(announcePacket({ connectionId: id, tx: next(), infoHash: ih, peerId: randomBytes(20), port: 8002 })), 4);
    expect(answer.peers).toEqual(['127.0.0.1:8001']);
    const http = decodeDict((await rawGet(app.port, `/tracker/announce?info_hash=${escapeAll(ih)}&peer_id=${escapeAll(randomBytes(20))}&port=8003&uploaded=0&downloaded=0&left=5&numwant=10`)).body);
    expect(compactPeers(http.peers, 4).sort()).toEqual(['127.0.0.1:8001', '127.0.0.2:8002']);
    const scrape = await c.request(scrapePacket(id, next(), [ih, randomBytes(20)]));
    const { action, body } = decodeAnswer(scrape);
    expect(action).toBe(2);
    expect([...Array(6)].map((_, i) => body.readUInt32BE(i * 4))).toEqual([1, 0, 2, 0, 0, 0]);
  });

  it('ignores the IP field unless allowIpParameter', async () => {
    const ih = randomBytes(20);
    const c = await client(port);
    const id = await c.connect();
    await c.request(announcePacket({ connectionId: id, tx: next(), infoHash: ih, peerId: randomBytes(20), port: 9001, ip: 0x01020304 }));
    const other = await client(port);
    const answer = decodeAnnounce(await other.request(announcePacket({ connectionId: await other.connect(), tx: next(), infoHash: ih, peerId: randomBytes(20), port: 9002 })), 4);
    expect(answer.peers).toEqual(['127.0.0.1:9001']);
  });

  it('no amplification: unauthenticated datagrams get nothing but a 16-byte connect answer', async () => {
    const c = await client(port);
    const ih = randomBytes(20);
    const genuine = await c.connect();
    const forged = Buffer.from(genuine);
    forged[3] ^= 0xff;
    const otherAddress = await (await client(port, 4, '127.0.0.2')).connect();
    const probes = [
      announcePacket({ connectionId: forged, tx: next(), infoHash: ih, peerId: randomBytes(20) }),
      announcePacket({ connectionId: randomBytes(8), tx: next(), infoHash: ih, peerId: randomBytes(20) }),
      announcePacket({ connectionId: otherAddress, tx: next(), infoHash: ih, peerId: randomBytes(20) }), // id of another address
      scrapePacket(forged, next(), [ih]),
      scrapePacket(Buffer.alloc(8), next(), [ih]),
      Buffer.alloc(15), // too short
    ];
    const noMagic = connectPacket(next());
    noMagic[0] = 1;
    probes.push(noMagic); // a connect without the protocol id
    const dropped = () => udp.tracker.stats().then((s) => s.udp.dropped);
    const before = c.received.length;
    const droppedBefore = await dropped();
    for (const probe of probes) c.send(probe);
    // Later datagrams of the same socket are answered, so the probes above were read and dropped
    // (they are dropped at once, without waiting for the store).
    await c.connect();
    expect(c.received.length).toBe(before + 1);
    expect((await dropped()) - droppedBefore).toBe(probes.length);
    // The one answer an unproven sender gets: exactly as long as its request.
    const connect = connectPacket(next());
    expect(await c.request(connect)).toHaveLength(connect.length);
  });

  it('error packets with clear messages for bad announces and scrapes of a proven sender', async () => {
    const c = await client(port);
    const id = await c.connect();
    const ih = randomBytes(20);
    const short = announcePacket({ connectionId: id, tx: next(), infoHash: ih, peerId: ih }).subarray(0, 60);
    expect(decodeAnswer(await c.request(short)).body.toString()).toMatch(/announce too short/);
    expect(decodeAnswer(await c.request(announcePacket({ connectionId: id, tx: next(), infoHash: ih, peerId: ih, event: 9 }))).body.toString()).toMatch(/event must be/);
    const tooMany = scrapePacket(id, next(), Array.from({ length: 75 }, () => randomBytes(20)));
    expect(decodeAnswer(await c.request(tooMany)).body.toString()).toMatch(/too many info hashes/);
  });
});

describe('private tracker over UDP (BEP 41 URL data)', () => {
  const USERS: Record<string, string> = { udpPasskeyAlice0001: 'alice', udpPasskeyBob0002: 'bob' };
  let app: RunningApp;
  let udp: UdpTracker;
  let port: number;
  const records: TrafficRecord[] = [];
  const known = randomBytes(20);
  beforeAll(async () => {
    app = await startApp({
      passkey: (pk) => USERS[pk] ?? null,
      torrents: (hex) => hex === known.toString('hex'),
      onTraffic: (batch) => void records.push(...batch),
      interval: 900,
      minInterval: 300,
    });
    udp = createUdpTracker({ tracker: app.router.tracker });
    port = (await udp.listen(0, '127.0.0.1')).port;
  });
  afterAll(async () => {
    await udp.close();
    await app.close();
  });

  const errorOf = (answer: Buffer) => (decodeAnswer(answer).action === 3 ? decodeAnswer(answer).body.toString() : undefined);

  it('takes the passkey from the URL data; refuses missing, unknown and malformed ones; policies apply as over HTTP', async () => {
    const c = await client(port);
    const id = await c.connect();
    const peer = randomBytes(20);
    const ann = (over: Partial<Parameters<typeof announcePacket>[0]>) =>
      c.request(announcePacket({ connectionId: id, tx: next(), infoHash: known, peerId: peer, ...over }));
    expect(errorOf(await ann({}))).toMatch(/private/);
    expect(errorOf(await ann({ urlData: '/nobody99/announce' }))).toBe('unknown or disabled passkey');
    expect(errorOf(await ann({ urlData: '/a b/announce' }))).toMatch(/may only contain/);
    expect(errorOf(await ann({ urlData: '/udpPasskeyAlice0001/scrape' }))).toMatch(/URL data/);
    expect(errorOf(await ann({ urlData: '/udpPasskeyAlice0001/announce', infoHash: randomBytes(20) }))).toBe('unregistered torrent');
    // accepted, with a query string after the path as libtorrent sends it
    const ok = await ann({ urlData: '/udpPasskeyAlice0001/announce?info_hash=x', event: 2, uploaded: 100n, downloaded: 0n });
    expect(errorOf(ok)).toBeUndefined();
    expect(decodeAnnounce(ok, 4).leechers).toBe(1);
    // interval and ownership
    expect(errorOf(await ann({ urlData: '/udpPasskeyAlice0001/announce', uploaded: 200n }))).toMatch(/too soon/);
    expect(errorOf(await ann({ urlData: '/udpPasskeyBob0002/announce', event: 3 }))).toMatch(/in use by another user/);
    // credited through UDP like through HTTP
    expect(errorOf(await ann({ urlData: '/udpPasskeyAlice0001/announce', event: 3, uploaded: 1100n, downloaded: 50n }))).toBeUndefined();
    await app.router.flushTraffic();
    expect(records).toEqual([
      { user: 'alice', infoHash: known.toString('hex'), uploaded: 1000, downloaded: 50, rawUploaded: 1000, rawDownloaded: 50, seedSeconds: 0, completed: 0 },
    ]);
    // scrape carries no URL data: refused on a private tracker
    expect(errorOf(await c.request(scrapePacket(id, next(), [known])))).toMatch(/private tracker/);
  });
});

describe('UDP fuzz', () => {
  it('100 000 seeded random and mutated datagrams: no exception, every answer a well-formed packet, the tracker still works', async () => {
    const udp = createUdpTracker({ interval: 900, intervalJitter: 0 });
    const port = (await udp.listen(0, '127.0.0.1')).port;
    const rejections: unknown[] = [];
    const onRejection = (e: unknown) => rejections.push(e);
    process.on('unhandledRejection', onRejection);
    try {
      const random = prng(20261130);
      const byte = () => Math.floor(random() * 256);
      // a valid connection id for 127.0.0.1, so that mutations reach the announce and scrape parsers
      const id = await new Promise<Buffer>((resolve) => {
        udp.handle(connectPacket(1), '127.0.0.1', (a) => resolve(Buffer.from(a.subarray(8, 16))));
      });
      const hashes = Array.from({ length: 8 }, () => randomBytes(20));
      const seeds = [
        connectPacket(1),
        announcePacket({ connectionId: id, tx: 2, infoHash: hashes[0], peerId: randomBytes(20) }),
        announcePacket({ connectionId: id, tx: 3, infoHash: hashes[1], peerId: randomBytes(20), urlData: '/k/announce' }),
        scrapePacket(id, 4, hashes),
      ];
      let answers = 0;
      const pending: Array<Promise<void>> = [];
      for (let i = 0; i < 100_000; i++) {
        let packet: Buffer;
        const kind = random();
        if (kind < 0.3) {
          packet = Buffer.from(Array.from({ length: Math.floor(random() * 140) }, byte));
        } else {
          packet = Buffer.from(seeds[Math.floor(random() * seeds.length)]);
          const edits = 1 + Math.floor(random() * 4);
          for (let e = 0; e < edits; e++) {
            const r = random();
            if (r < 0.6 && packet.length > 0) packet[Math.floor(random() * packet.length)] = byte();
            else if (r < 0.8) packet = packet.subarray(0, Math.floor(random() * packet.length));
            else packet = Buffer.concat([packet, Buffer.from(Array.from({ length: Math.floor(random() * 40) }, byte))]);
          }
        }
        const address = random() < 0.9 ? '127.0.0.1' : '::1';
        pending.push(
          new Promise<void>((resolve) => {
            let sync = true;
            udp.handle(packet, address, (answer) => {
              answers++;
              expect(answer.length).toBeGreaterThanOrEqual(8);
              expect([0, 1, 2, 3]).toContain(answer.readUInt32BE(0));
              if (sync) resolve();
            });
            sync = false;
            resolve();
          }),
        );
      }
      await Promise.all(pending);
      expect(answers).toBeGreaterThan(10_000);
      // The socket still serves a real client.
      const c = await client(port);
      const cid = await c.connect();
      const ih = randomBytes(20);
      const answer = await c.request(announcePacket({ connectionId: cid, tx: next(), infoHash: ih, peerId: randomBytes(20), event: 2 }));
      expect(decodeAnnounce(answer, 4)).toMatchObject({ interval: 900, leechers: 1 });
      await new Promise((r) => setTimeout(r, 10));
      expect(rejections).toEqual([]);
      // The handler reports what it fails on (an expectation in `reply` that failed included).
      expect((await udp.tracker.stats()).failures.byKind.internal).toBe(0);
    } finally {
      process.off('unhandledRejection', onRejection);
      await udp.close();
    }
    // The tracker's own work here is about a second; the 100 000 promises and assertions of the
    // test itself take 20-30 s on two busy cores, which the default 30 s did not always cover.
  }, 120_000);
});
