/**
 * The UDP door answers strangers with silence (BEP 15 as opentracker reads it; the class of
 * CVE-2024-2169): real servers on ephemeral ports. Two tracker instances and one datagram with a
 * spoofed source (no endless ping-pong); stale ids, unknown actions and foreign answers get nothing;
 * proven senders still get their errors; counters at their edges; a handler that fails drops the
 * datagram and reports an internal failure; and a seeded, structure-aware fuzz from several sockets.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { counterReason } from '../../src/protocol/counter.js';
import { createUdpTracker, type UdpTracker } from '../../src/transport/udp.js';
import { prng } from '../helpers/prng.js';
import { announcePacket, connectPacket, decodeAnnounce, decodeAnswer, PROTOCOL_ID, scrapePacket, UdpTestClient } from '../helpers/udp.js';

const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((o) => o.close()));
});

async function client(port: number, local = '127.0.0.1'): Promise<UdpTestClient> {
  const family = local.includes(':') ? 6 : 4;
  const c = new UdpTestClient(family, family === 4 ? '127.0.0.1' : '::1', port);
  await c.bind(local);
  opened.push(c);
  return c;
}

/** A UDP tracker on an ephemeral port, with its own socket at hand (to send from its address). */
async function tracker(options: Parameters<typeof createUdpTracker>[0] = {}, host = '127.0.0.1'): Promise<{ udp: UdpTracker; port: number; socket: dgram.Socket }> {
  const spy = vi.spyOn(dgram, 'createSocket');
  try {
    const udp = createUdpTracker({ interval: 900, intervalJitter: 0, ...options });
    opened.push(udp);
    const { port } = await udp.listen(0, host);
    return { udp, port, socket: spy.mock.results[0].value as dgram.Socket };
  } finally {
    spy.mockRestore();
  }
}

/** Datagrams the tracker dropped (NaN on a tracker without the counter, so tests fail on what they check). */
const dropped = async (udp: UdpTracker) => (await udp.tracker.stats()).udp?.dropped ?? NaN;

/**
 * Wait until `read()` has not changed for `quietMs` (or `capMs` passed) and return it: a bounded
 * measurement window, not an assertion by sleeping.
 */
async function settled(read: () => number, quietMs = 150, capMs = 600): Promise<number> {
  const started = Date.now();
  let last = read();
  let since = Date.now();
  while (Date.now() - started < capMs) {
    await new Promise((r) => setTimeout(r, 10));
    const now = read();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) break;
  }
  return read();
}

/**
 * Send `packets` and then a connect from the same socket: the connect's answer comes after the
 * tracker read (and dropped at once) everything sent before it. Returns what arrived meanwhile
 * besides that answer.
 */
async function answersTo(c: UdpTestClient, packets: Buffer[]): Promise<Buffer[]> {
  const before = c.received.length;
  for (const p of packets) c.send(p);
  await c.connect();
  return c.received.slice(before, -1);
}

let tx = 1;
const next = () => tx++;

describe('two UDP trackers and one spoofed datagram', () => {
  it('no ping-pong: whatever one tracker receives from the other, the exchange stops at once', async () => {
    const a = await tracker();
    const b = await tracker();
    let atA = 0;
    let atB = 0;
    a.socket.on('message', () => atA++);
    b.socket.on('message', () => atB++);
    const cid = randomBytes(8);
    // What a tracker answers, and what an attacker would put in a datagram "from" tracker A to B.
    const error = Buffer.concat([Buffer.from([0, 0, 0, 3, 0, 0, 0, 7]), Buffer.from('connection id expired or invalid: connect again')]);
    const connectAnswer = Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 7]), cid]);
    const announceAnswer = Buffer.from('00000001000000070000038400000001000000027f0000011ae1', 'hex');
    const scrapeAnswer = Buffer.from('00000002000000070000000100000000000000020000000000000000', 'hex');
    const unknownAction = scrapePacket(cid, 7, [randomBytes(20)]);
    unknownAction.writeUInt32BE(0x756e6b6e, 8); // 'unkn', as an error packet 'unknown action' reads
    const exchanged: number[] = [];
    for (const datagram of [error, connectAnswer, announceAnswer, scrapeAnswer, unknownAction, connectPacket(7)]) {
      const [fromA, fromB] = [atA, atB];
      a.socket.send(datagram, b.port, '127.0.0.1'); // B sees A's address and port as the source
      await settled(() => atA + atB);
      exchanged.push(atA - fromA + (atB - fromB));
      expect(atB - fromB, `datagrams B received after ${datagram.toString('hex').slice(0, 24)}…`).toBe(1);
      // A gets at most B's connect answer to a connect, and drops it.
      expect(atA - fromA).toBe(datagram.readUInt32BE(8) === 0 && datagram.readBigUInt64BE(0) === PROTOCOL_ID ? 1 : 0);
    }
    expect(exchanged).toEqual([1, 1, 1, 1, 1, 2]);
    expect(await dropped(b.udp)).toBe(5);
    expect(await dropped(a.udp)).toBe(1);
  });
});

describe('silence for strangers, errors for proven senders', () => {
  it('a stale connection id (as after a restart) and an id of another address get no answer', async () => {
    const old = await tracker();
    const now = await tracker();
    const c = await client(now.port);
    const other = await client(now.port, '127.0.0.2');
    const stale = await (await client(old.port)).connect();
    const foreign = await other.connect();
    const ih = randomBytes(20);
    const packets = [
      announcePacket({ connectionId: stale, tx: next(), infoHash: ih, peerId: randomBytes(20) }),
      announcePacket({ connectionId: foreign, tx: next(), infoHash: ih, peerId: randomBytes(20) }),
      announcePacket({ connectionId: Buffer.alloc(8), tx: next(), infoHash: ih, peerId: randomBytes(20), event: 9 }),
      scrapePacket(stale, next(), [ih]),
      scrapePacket(foreign, next(), Array.from({ length: 75 }, () => randomBytes(20))),
    ];
    const before = await dropped(now.udp);
    expect(await answersTo(c, packets)).toEqual([]);
    expect((await dropped(now.udp)) - before).toBe(packets.length);
    // After connecting again the same announce is answered.
    const id = await c.connect();
    expect(decodeAnnounce(await c.request(announcePacket({ connectionId: id, tx: next(), infoHash: ih, peerId: randomBytes(20) })), 4).leechers).toBe(1);
  });

  it('an unknown action gets no answer, even with a valid connection id', async () => {
    const { udp, port } = await tracker();
    const c = await client(port);
    const id = await c.connect();
    const packets = [3, 4, 7, 0xffffffff, 0x756e6b6e].map((action) => {
      const p = scrapePacket(id, next(), [randomBytes(20)]);
      p.writeUInt32BE(action, 8);
      return p;
    });
    const before = await dropped(udp);
    expect(await answersTo(c, packets)).toEqual([]);
    expect((await dropped(udp)) - before).toBe(packets.length);
  });

  it("a proven sender's bad announce and scrape still get their error packets", async () => {
    const { port } = await tracker();
    const c = await client(port);
    const id = await c.connect();
    const ih = randomBytes(20);
    const error = async (p: Buffer) => {
      const { action, body } = decodeAnswer(await c.request(p));
      expect(action).toBe(3);
      return body.toString();
    };
    expect(await error(announcePacket({ connectionId: id, tx: next(), infoHash: ih, peerId: ih, event: 9 }))).toMatch(/^event must be/);
    expect(await error(announcePacket({ connectionId: id, tx: next(), infoHash: ih, peerId: ih, port: 0 }))).toMatch(/^port must be/);
    expect(await error(announcePacket({ connectionId: id, tx: next(), infoHash: ih, peerId: ih }).subarray(0, 60))).toBe('announce too short (60 of 98 bytes)');
    expect(await error(Buffer.concat([announcePacket({ connectionId: id, tx: next(), infoHash: ih, peerId: ih }), Buffer.from([2, 200, 65])]))).toBe('truncated BEP 41 URL data');
    expect(await error(scrapePacket(id, next(), []))).toMatch(/at least one info_hash/);
  });
});

describe('byte counters over UDP', () => {
  it('takes 2^53-1 and refuses 2^53 and 2^64-1 with the counter rule, changing nothing', async () => {
    const { port } = await tracker();
    const c = await client(port);
    const id = await c.connect();
    for (const field of ['uploaded', 'downloaded', 'left'] as const) {
      const ih = randomBytes(20);
      const peerId = randomBytes(20);
      for (const value of [2n ** 53n, 2n ** 64n - 1n]) {
        const { action, body } = decodeAnswer(await c.request(announcePacket({ connectionId: id, tx: next(), infoHash: ih, peerId, event: 2, [field]: value })));
        expect([action, body.toString()]).toEqual([3, counterReason(field)]);
      }
      const ok = await c.request(announcePacket({ connectionId: id, tx: next(), infoHash: ih, peerId, event: 2, [field]: 2n ** 53n - 1n }));
      expect(decodeAnswer(ok).action).toBe(1);
      // the refused announces added no peer: this is the swarm's first
      const counts = decodeAnnounce(ok, 4);
      expect(counts.seeders + counts.leechers).toBe(1);
    }
  });
});

describe('a datagram handler that cannot fail', () => {
  it('a bug drops the datagram, counts an internal failure and emits `failure`; the socket keeps serving', async () => {
    const { udp, port } = await tracker();
    const failures: unknown[] = [];
    udp.tracker.on('failure', (f: { error: unknown }) => failures.push(f.error));
    const c = await client(port);
    const id = await c.connect();
    const ih = randomBytes(20);
    const bug = new TypeError('a bug in the core');
    const spy = vi.spyOn(udp.tracker, 'announceRequest').mockImplementation(() => {
      throw bug;
    });
    expect(await answersTo(c, [announcePacket({ connectionId: id, tx: next(), infoHash: ih, peerId: randomBytes(20) })])).toEqual([]);
    spy.mockRestore();
    // A reply function that throws (through the entry point the socket uses).
    const late = new Promise<void>((resolve) => {
      udp.handle(connectPacket(next()), '127.0.0.1', () => {
        throw new RangeError('reply failed');
      });
      udp.handle(announcePacket({ connectionId: id, tx: next(), infoHash: ih, peerId: randomBytes(20) }), '127.0.0.1', () => {
        resolve();
        throw new RangeError('reply failed too');
      });
    });
    await late;
    await new Promise((r) => setImmediate(r));
    const stats = await udp.tracker.stats();
    expect(stats.failures.byKind.internal).toBe(3);
    expect(stats.udp?.dropped).toBe(3);
    expect(failures).toEqual([bug, new RangeError('reply failed'), new RangeError('reply failed too')]);
    // A `failure` listener that throws does not get out either.
    udp.tracker.on('failure', () => {
      throw new Error('listener');
    });
    expect(() => udp.handle(connectPacket(next()), '127.0.0.1', () => {
      throw new Error('reply');
    })).not.toThrow();
    const answer = await c.request(announcePacket({ connectionId: id, tx: next(), infoHash: ih, peerId: randomBytes(20), event: 2 }));
    expect(decodeAnnounce(answer, 4)).toMatchObject({ interval: 900, leechers: 2 });
  });
});

describe('structure-aware UDP fuzz against a real server', () => {
  it('seeded datagrams from several sockets: only connect answers to unproven senders, none larger than the request; a good client keeps being served', async () => {
    const TOTAL = 8_000;
    const BATCH = 100;
    const { udp, port } = await tracker({}, '::'); // dual-stack: IPv4 and IPv6 senders
    const rejections: unknown[] = [];
    const onRejection = (e: unknown) => rejections.push(e);
    process.on('unhandledRejection', onRejection);
    try {
      const random = prng(20261207);
      const int = (n: number) => Math.floor(random() * n);
      const pick = <T>(items: readonly T[]): T => items[int(items.length)];
      const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
      // Fuzzing sockets: three proven (they connected; one over IPv6), one that never connects.
      const sockets = await Promise.all(['127.0.0.2', '127.0.0.3', '::1', '127.0.0.4'].map((local) => client(port, local)));
      const ids: Array<Buffer | undefined> = [...(await Promise.all(sockets.slice(0, 3).map((s) => s.connect()))), undefined];
      const good = await client(port, '127.0.0.5');
      const goodHash = randomBytes(20);
      const leecher = randomBytes(20);
      const seederId = await good.connect();
      await good.request(announcePacket({ connectionId: seederId, tx: next(), infoHash: goodHash, peerId: randomBytes(20), left: 0n, port: 7777, event: 2 }));
      const hashes = Array.from({ length: 6 }, () => randomBytes(20));
      const COUNTERS = [0n, 1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n];
      const counter = () => (random() < 0.85 ? COUNTERS[int(3)] : COUNTERS[3 + int(3)]); // mostly valid, edges both sides
      const ACTIONS = [0, 1, 2, 3, 4, 0x100, 0x7fffffff, 0xffffffff];
      const urlOptions = (): Buffer => {
        const r = random();
        if (r < 0.3) return Buffer.alloc(0);
        if (r < 0.4) return Buffer.from([0, 0]); // aria2's end of options
        if (r < 0.55) return Buffer.concat([Buffer.from([1, 1, 2, 11]), Buffer.from('/k/announce'), Buffer.from([0])]);
        if (r < 0.7) {
          // long URL data in several options
          const parts: Buffer[] = [];
          for (let n = 1 + int(6); n > 0; n--) parts.push(Buffer.from([2, 255]), Buffer.alloc(255, 0x61 + int(26)));
          return Buffer.concat(parts);
        }
        if (r < 0.85) return Buffer.concat([Buffer.from([2, 1 + int(255)]), bytes(int(20))]); // truncated
        return Buffer.concat([Buffer.from([int(256)]), bytes(int(30))]); // unknown option type, anything
      };
      type Sent = { socket: number; length: number; proven: boolean; connect: boolean; action: number; bigCounter: boolean };
      const sent = new Map<number, Sent>();
      let txNext = 0x40000000;
      let short = 0;
      const datagram = (socket: number): Buffer => {
        const own = ids[socket];
        const idChoice = random();
        const connectionId =
          idChoice < 0.55 && own ? own : idChoice < 0.7 ? pick(ids.filter((x): x is Buffer => x !== undefined)) : idChoice < 0.8 ? Buffer.alloc(8) : idChoice < 0.85 ? Buffer.from('0000041727101980', 'hex') : bytes(8);
        const kind = random();
        let p: Buffer;
        if (kind < 0.15) p = bytes(int(200));
        else if (kind < 0.3) {
          p = connectPacket(0);
          if (random() < 0.3) p = Buffer.concat([p, bytes(int(100))]);
          if (random() < 0.2) p[int(16)] = int(256);
        } else if (kind < 0.75) {
          p = Buffer.concat([
            announcePacket({
              connectionId,
              tx: 0,
              infoHash: random() < 0.8 ? pick(hashes) : bytes(20),
              peerId: bytes(20),
              uploaded: counter(),
              downloaded: counter(),
              left: random() < 0.5 ? counter() : 0n,
              event: random() < 0.9 ? int(4) : 4 + int(2),
              ip: random() < 0.1 ? int(2 ** 32) : 0,
              numwant: pick([-1, 0, 5, 200, 0x7fffffff, -2]),
              port: random() < 0.05 ? 0 : 1 + int(65535),
            }),
            urlOptions(),
          ]);
        } else p = Buffer.concat([scrapePacket(connectionId, 0, Array.from({ length: int(80) }, () => bytes(20))), bytes(random() < 0.2 ? 1 + int(19) : 0)]);
        if (random() < 0.25 && kind >= 0.15) p.writeUInt32BE(pick(ACTIONS), 8);
        if (random() < 0.15) p = p.subarray(0, int(p.length + 1));
        if (p.length < 16) {
          short++;
          return p;
        }
        const t = txNext++;
        p.writeUInt32BE(t, 12);
        const action = p.readUInt32BE(8);
        const big = (at: number) => p.length >= at + 8 && p.readBigUInt64BE(at) > 2n ** 53n - 1n;
        sent.set(t, {
          socket,
          length: p.length,
          proven: own !== undefined && p.subarray(0, 8).equals(own),
          connect: p.readBigUInt64BE(0) === PROTOCOL_ID && action === 0,
          action,
          bigCounter: big(56) || big(64) || big(72),
        });
        return p;
      };
      const problems: string[] = [];
      const replies = { connect: 0, announce: 0, scrape: 0, error: 0 };
      sockets.forEach((s, index) =>
        s.socket.on('message', (reply: Buffer) => {
          const request = reply.length >= 8 ? sent.get(reply.readUInt32BE(4)) : undefined;
          if (!request || request.socket !== index) return void problems.push(`a reply to no request of this socket: ${reply.toString('hex').slice(0, 40)}`);
          const action = reply.readUInt32BE(0);
          replies[(['connect', 'announce', 'scrape', 'error'] as const)[action] ?? 'error']++;
          if (!request.proven) {
            if (!request.connect || action !== 0 || reply.length !== 16) problems.push(`a reply (action ${action}) to an unproven sender's action ${request.action}`);
            if (reply.length > request.length) problems.push(`a ${reply.length}-byte reply to a ${request.length}-byte unproven request`);
          } else if (action !== 3 && action !== request.action) problems.push(`action ${action} answers action ${request.action}`);
          else if (request.action !== 1 && request.action !== 2) problems.push(`a reply to unknown action ${request.action}`);
          else if (action === 1 && request.bigCounter) problems.push('an announce with a counter above 2^53-1 was taken');
        }),
      );
      let goodAnswers = 0;
      let retries = 0;
      const goodAnnounce = async () => {
        for (let attempt = 0; ; attempt++) {
          const id = await good.connect();
          try {
            const answer = await good.request(announcePacket({ connectionId: id, tx: next(), infoHash: goodHash, peerId: leecher, port: 7778 }), undefined, 1000);
            expect(decodeAnnounce(answer, 4)).toEqual({ interval: 900, leechers: 1, seeders: 1, peers: ['127.0.0.5:7777'] });
            goodAnswers++;
            return;
          } catch (error) {
            // A datagram the kernel dropped under the burst is retried, as clients do; twice at most.
            if (attempt === 2 || !(error instanceof Error && error.message.startsWith('no answer'))) throw error;
            retries++;
          }
        }
      };
      const started = Date.now();
      for (let i = 0; i < TOTAL; i += BATCH) {
        for (let j = 0; j < BATCH; j++) {
          const socket = int(sockets.length);
          sockets[socket].send(datagram(socket));
        }
        await goodAnnounce(); // during
      }
      const sending = Date.now() - started;
      await settled(() => sockets.reduce((n, s) => n + s.received.length, 0));
      await goodAnnounce(); // after
      const stats = await udp.tracker.stats();
      console.log(
        `UDP door fuzz: ${TOTAL} datagrams (${short} under 16 bytes) from ${sockets.length} sockets in ${sending} ms;` +
          ` replies ${JSON.stringify(replies)}; dropped ${stats.udp?.dropped}; good client ${goodAnswers} answers, ${retries} retries`,
      );
      expect(problems).toEqual([]);
      expect(replies.connect).toBeGreaterThan(100);
      expect(replies.announce).toBeGreaterThan(100);
      expect(replies.error).toBeGreaterThan(100);
      expect(stats.udp?.dropped).toBeGreaterThan(TOTAL / 4);
      expect(stats.failures.byKind.internal).toBe(0);
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  }, 30_000);
});
