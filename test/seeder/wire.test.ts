import { describe, expect, it } from 'vitest';
import {
  HANDSHAKE_LENGTH,
  WireParser,
  WireProtocolError,
  decodeMessage,
  encode,
  encodeHandshake,
  hasReservedBit,
  Reserved,
} from '../../src/seeder/wire.js';

const hash = Buffer.alloc(20, 0xab);
const id = Buffer.from('-TS0001-abcdefghijkl');

describe('wire codec', () => {
  it('encodes the handshake byte for byte', () => {
    const hs = encodeHandshake(hash, id, { extended: true, fast: true });
    expect(hs.length).toBe(HANDSHAKE_LENGTH);
    expect(hs[0]).toBe(19);
    expect(hs.subarray(1, 20).toString('latin1')).toBe('BitTorrent protocol');
    expect([...hs.subarray(20, 28)]).toEqual([0, 0, 0, 0, 0, 0x10, 0, 0x04]);
    expect(hs.subarray(28, 48)).toEqual(hash);
    expect(hs.subarray(48)).toEqual(id);
    expect(hasReservedBit(hs.subarray(20, 28), Reserved.fast)).toBe(true);
    expect(hasReservedBit(hs.subarray(20, 28), Reserved.dht)).toBe(false);
  });

  it('encodes fixed messages with the right lengths and ids', () => {
    expect([...encode.keepAlive()]).toEqual([0, 0, 0, 0]);
    expect([...encode.unchoke()]).toEqual([0, 0, 0, 1, 1]);
    expect([...encode.have(258)]).toEqual([0, 0, 0, 5, 4, 0, 0, 1, 2]);
    expect([...encode.request({ index: 1, begin: 16384, length: 16384 })]).toEqual([
      0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0,
    ]);
    expect([...encode.reject({ index: 2, begin: 0, length: 1 })].slice(0, 5)).toEqual([0, 0, 0, 13, 0x10]);
    expect([...encode.haveAll()]).toEqual([0, 0, 0, 1, 0x0e]);
    expect([...encode.allowedFast(7)]).toEqual([0, 0, 0, 5, 0x11, 0, 0, 0, 7]);
    expect([...encode.extended(3, Buffer.from('de'))]).toEqual([0, 0, 0, 4, 20, 3, 0x64, 0x65]);
    const piece = encode.piece(5, 32, Buffer.from('xyz'));
    expect(piece.readUInt32BE(0)).toBe(12);
    expect(piece[4]).toBe(7);
    expect(piece.subarray(13).toString()).toBe('xyz');
  });

  it('round-trips every message through the parser, across arbitrary chunk boundaries', () => {
    const frames = [
      encodeHandshake(hash, id, { fast: true }),
      encode.keepAlive(),
      encode.choke(),
      encode.unchoke(),
      encode.interested(),
      encode.notInterested(),
      encode.have(9),
      encode.bitfield(Buffer.from([0xff, 0x80])),
      encode.request({ index: 3, begin: 16384, length: 16384 }),
      encode.piece(3, 0, Buffer.alloc(1000, 7)),
      encode.cancel({ index: 3, begin: 16384, length: 16384 }),
      encode.port(6881),
      encode.suggest(4),
      encode.haveAll(),
      encode.haveNone(),
      encode.reject({ index: 1, begin: 2, length: 3 }),
      encode.allowedFast(8),
      encode.extended(0, Buffer.from('d1:pi1ee')),
    ];
    const all = Buffer.concat(frames);
    for (const step of [1, 3, 7, 64, all.length]) {
      const parser = new WireParser();
      const out = [];
      for (let i = 0; i < all.length; i += step) out.push(...parser.push(all.subarray(i, i + step)));
      expect(out.map((m) => m.type)).toEqual([
        'handshake', 'keep-alive', 'choke', 'unchoke', 'interested', 'not-interested', 'have', 'bitfield',
        'request', 'piece', 'cancel', 'port', 'suggest', 'have-all', 'have-none', 'reject', 'allowed-fast', 'extended',
      ]);
      expect(out[6]).toEqual({ type: 'have', index: 9 });
      expect(out[8]).toEqual({ type: 'request', index: 3, begin: 16384, length: 16384 });
      expect(out[11]).toEqual({ type: 'port', port: 6881 });
      expect(out[17]).toMatchObject({ type: 'extended', extendedId: 0 });
      expect(parser.buffered).toBe(0);
    }
  });

  it('rejects a wrong protocol string as soon as it arrives', () => {
    const parser = new WireParser();
    expect(() => parser.push(Buffer.from([19, 0x42, 0x69, 0x74, 0x54, 0x6f, 0x72, 0x72, 0x65, 0x6e, 0x74, 0x20, 0x58]))).toThrow(
      WireProtocolError,
    );
    expect(() => new WireParser().push(Buffer.from('GET / HTTP/1.1\r\n'))).toThrow(/protocol string/);
  });

  it('refuses an oversized frame from its length prefix alone, without buffering it', () => {
    const parser = new WireParser({ expectHandshake: false, maxMessageLength: 1000 });
    const head = Buffer.alloc(4);
    head.writeUInt32BE(1001);
    expect(() => parser.push(head)).toThrow(/exceeds the limit/);
    const ok = new WireParser({ expectHandshake: false, maxMessageLength: 1000 });
    head.writeUInt32BE(1000);
    expect(ok.push(Buffer.concat([head, Buffer.from([5])]))).toEqual([]);
    expect(ok.buffered).toBe(5);
  });

  it('rejects known messages of the wrong size and keeps unknown ids', () => {
    expect(() => decodeMessage(6, Buffer.alloc(11))).toThrow(/request message has payload length 11/);
    expect(() => decodeMessage(0, Buffer.alloc(1))).toThrow(WireProtocolError);
    expect(() => decodeMessage(4, Buffer.alloc(5))).toThrow(WireProtocolError);
    expect(() => decodeMessage(20, Buffer.alloc(0))).toThrow(WireProtocolError);
    expect(decodeMessage(99, Buffer.from([1, 2]))).toEqual({ type: 'unknown', id: 99, payload: Buffer.from([1, 2]) });
  });

  it('cannot be reused after an error', () => {
    const parser = new WireParser({ expectHandshake: false });
    expect(() => parser.push(Buffer.from([0, 0, 0, 2, 0, 0]))).toThrow(WireProtocolError);
    expect(() => parser.push(encode.keepAlive())).toThrow(/after a protocol error/);
  });
});
