/**
 * The wire parser's work is linear in the bytes received however a peer splits its frames, and the
 * seeder accepts no frame larger than the messages it actually takes (control messages, the
 * extension handshake, the torrent's bitfield). Work is measured in bytes copied, not in time.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import bencode from 'bencode';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createSeeder, type PeerCloseEventInfo, type Seeder } from '../../src/seeder/seeder.js';
import { WireParser, encode, encodeHandshake, type Handshake, type WireMessage } from '../../src/seeder/wire.js';
import { parseTorrent } from '../../src/torrent/parse.js';
import type { ParsedTorrent } from '../../src/torrent/types.js';
import { prng } from '../helpers/prng.js';
import { FakePeer } from './helpers/fake-peer.js';

/** Bytes allocated by Buffer.concat and Buffer.from(bytes) while `run` works (however the parser is written). */
function bytesCopiedBy(run: () => void): number {
  let copied = 0;
  const concat = Buffer.concat;
  const from = Buffer.from;
  const spyConcat = vi.spyOn(Buffer, 'concat').mockImplementation((list, total) => {
    const result = concat.call(Buffer, list, total);
    copied += result.length;
    return result;
  });
  const spyFrom = vi.spyOn(Buffer, 'from').mockImplementation(((value: unknown, ...rest: unknown[]) => {
    const result = (from as (...args: unknown[]) => Buffer).call(Buffer, value, ...rest);
    if (value instanceof Uint8Array) copied += result.length;
    return result;
  }) as typeof Buffer.from);
  try {
    run();
  } finally {
    spyConcat.mockRestore();
    spyFrom.mockRestore();
  }
  return copied;
}

/** One extension-message frame of `size` bytes after its length prefix. */
function bigFrame(size: number): Buffer {
  const frame = Buffer.alloc(4 + size);
  frame.writeUInt32BE(size, 0);
  frame[4] = 20;
  return frame;
}

describe('WireParser: linear in bytes received', () => {
  it('joins a 1 MiB frame sent in 1400-byte writes once (bytes copied ≤ 2 × bytes received)', () => {
    const frame = bigFrame(1 << 20);
    const parser = new WireParser({ expectHandshake: false, maxMessageLength: 2 << 20 });
    const messages: Array<Handshake | WireMessage> = [];
    const copied = bytesCopiedBy(() => {
      for (let at = 0; at < frame.length; at += 1400) messages.push(...parser.push(frame.subarray(at, at + 1400)));
    });
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ type: 'extended', extendedId: 0 });
    expect(copied).toBeLessThanOrEqual(2 * frame.length);
    expect(parser.copiedBytes).toBeLessThanOrEqual(2 * frame.length);
    expect(parser.buffered).toBe(0);
  });

  it('stays linear and exact for random splits of many frames (seeded), 1-byte writes included', () => {
    const random = prng(0x3172e);
    const frames: Buffer[] = [encodeHandshake(randomBytes(20), randomBytes(20), { fast: true })];
    for (let i = 0; i < 300; i++) {
      const kind = random();
      if (kind < 0.3) frames.push(encode.request({ index: i, begin: 0, length: 16384 }));
      else if (kind < 0.4) frames.push(encode.keepAlive());
      else if (kind < 0.8) frames.push(encode.extended(1, Buffer.alloc(Math.floor(random() * 3000), i)));
      else frames.push(encode.bitfield(Buffer.alloc(Math.floor(random() * 20_000), 0xff)));
    }
    const all = Buffer.concat(frames);
    for (let round = 0; round < 20; round++) {
      const parser = new WireParser({ maxMessageLength: 32 * 1024 });
      const out: Array<Handshake | WireMessage> = [];
      const copied = bytesCopiedBy(() => {
        for (let at = 0; at < all.length; ) {
          const step = round === 0 ? 1 : 1 + Math.floor(random() * (random() < 0.5 ? 10 : 5000));
          out.push(...parser.push(all.subarray(at, at + step)));
          at += step;
        }
      });
      expect(out).toHaveLength(frames.length);
      expect(out[0].type).toBe('handshake');
      expect(out.slice(1).map((m) => m.type)).toEqual(frames.slice(1).map((f) => (f.length === 4 ? 'keep-alive' : { 6: 'request', 20: 'extended', 5: 'bitfield' }[f[4]])));
      expect(copied, `round ${round}`).toBeLessThanOrEqual(2 * all.length + 20 * 68);
      expect(parser.buffered).toBe(0);
    }
  });

  it('lets the caller set the frame limit from the handshake before the frames that follow it in the same chunk', () => {
    const handshake = encodeHandshake(randomBytes(20), randomBytes(20));
    const bitfield = encode.bitfield(Buffer.alloc(25_000, 0xff)); // a torrent of 200 000 pieces
    const refusing = new WireParser({ maxMessageLength: 16 * 1024 });
    expect(() => refusing.push(Buffer.concat([handshake, bitfield]))).toThrow(/exceeds the limit of 16384/);
    const adapting = new WireParser({ maxMessageLength: 16 * 1024, onHandshake: () => (adapting.maxMessageLength = 25_001) });
    expect(adapting.push(Buffer.concat([handshake, bitfield])).map((m) => m.type)).toEqual(['handshake', 'bitfield']);
  });
});

describe('seeder: frame limit is the size of what it accepts', () => {
  const PIECES = 200_000; // metadata of 4 MB, bitfield of 25 000 bytes
  let seeder: Seeder;
  let dir: string;
  let parsed: ParsedTorrent;
  const closes: PeerCloseEventInfo[] = [];
  const peers: FakePeer[] = [];

  afterAll(async () => {
    for (const p of peers) p.destroy();
    await seeder?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function start(): Promise<void> {
    if (seeder) return;
    dir = await mkdtemp(path.join(os.tmpdir(), 'ett-wire-'));
    const file = await open(path.join(dir, 'big.bin'), 'w');
    await file.truncate(PIECES * 16384); // sparse
    await file.close();
    const info = { length: PIECES * 16384, name: 'big.bin', 'piece length': 16384, pieces: Buffer.alloc(20 * PIECES) };
    parsed = parseTorrent(Buffer.from(bencode.encode({ info })));
    expect(parsed.infoBuffer.length).toBeGreaterThan(4_000_000);
    seeder = await createSeeder({ port: 0, host: '127.0.0.1', announce: false });
    seeder.on('peer-close', (c: PeerCloseEventInfo) => closes.push(c));
    await seeder.add(parsed, dir, { verify: false });
  }

  async function peer(): Promise<FakePeer> {
    const p = await FakePeer.connect(seeder.port);
    peers.push(p);
    return p;
  }

  it('closes a peer at the length prefix of a frame above 16 KiB, even for a torrent with 4 MB of metadata', { timeout: 30_000 }, async () => {
    await start();
    const p = await peer();
    p.handshake(parsed.infoHashBuffer, randomBytes(20), { extended: true });
    await p.waitFor(() => p.ofType('handshake').length === 1, 5000, 'the handshake');
    p.send(bigFrame(1 << 20).subarray(0, 4 + 1400));
    await p.waitClosed();
    await p.waitFor(() => closes.some((c) => c.port === p.localPort), 5000, 'the close event');
    expect(String(closes.find((c) => c.port === p.localPort)!.error)).toMatch(/message of 1048576 bytes exceeds the limit of 25001/);
  });

  it('still takes the bitfield of a big torrent sent in the same chunk as the handshake', { timeout: 30_000 }, async () => {
    await start();
    const p = await peer();
    const bitfield = Buffer.alloc(PIECES / 8); // has nothing
    p.send(Buffer.concat([encodeHandshake(parsed.infoHashBuffer, randomBytes(20), { extended: true }), encode.bitfield(bitfield), encode.interested()]));
    await p.waitFor(() => p.ofType('unchoke').length === 1, 5000, 'unchoke');
    expect(p.closed).toBe(false);
    p.send(encode.extended(0, Buffer.from(bencode.encode({ m: { ut_metadata: 3 }, v: 'x'.repeat(15_000) }))));
    p.send(encode.request({ index: 7, begin: 0, length: 16384 }));
    await p.waitFor(() => p.ofType('piece').length === 1, 5000, 'a piece');
    p.destroy();
  });
});
