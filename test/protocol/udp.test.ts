/** BEP 15 / BEP 41 packet codec, without sockets. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  encodeConnect,
  encodeUdpAnnounce,
  encodeUdpError,
  encodeUdpScrape,
  isConnect,
  MAX_UDP_SCRAPE_HASHES,
  parseUdpAnnounce,
  parseUdpAnnounceRequest,
  parseUdpScrape,
  readHeader,
  UdpPacketError,
} from '../../src/protocol/udp.js';
import { counterReason } from '../../src/protocol/counter.js';
import { announcePacket, connectPacket, scrapePacket } from '../helpers/udp.js';

const cid = Buffer.from('0102030405060708', 'hex');

describe('UDP packets', () => {
  it('reads the header of 16+ byte datagrams only and recognises a connect by its protocol id', () => {
    expect(readHeader(Buffer.alloc(15))).toBeUndefined();
    const c = connectPacket(0xdeadbeef);
    expect(readHeader(c)).toMatchObject({ action: 0, transactionId: 0xdeadbeef });
    expect(isConnect(c)).toBe(true);
    const wrong = Buffer.from(c);
    wrong[7] ^= 1;
    expect(isConnect(wrong)).toBe(false);
  });

  it('parses an announce field by field; num_want -1 means the default; IP 0 means none', () => {
    const ih = randomBytes(20);
    const id = randomBytes(20);
    const p = announcePacket({
      connectionId: cid,
      tx: 7,
      infoHash: ih,
      peerId: id,
      downloaded: 123n,
      left: 0n,
      uploaded: 2n ** 40n,
      event: 2,
      key: 99,
      numwant: -1,
      port: 51413,
    });
    const a = parseUdpAnnounce(p, readHeader(p)!);
    expect(a).toMatchObject({ transactionId: 7, downloaded: 123, left: 0, uploaded: 2 ** 40, event: 'started', key: 99, numwant: undefined, port: 51413, ip: undefined, urlData: '' });
    expect(a.infoHash.equals(ih) && a.peerId.equals(id) && a.connectionId.equals(cid)).toBe(true);
    const withIp = announcePacket({ connectionId: cid, tx: 1, infoHash: ih, peerId: id, ip: 0x0a000001, numwant: 30, event: 3 });
    expect(parseUdpAnnounce(withIp, readHeader(withIp)!)).toMatchObject({ ip: Buffer.from([10, 0, 0, 1]), numwant: 30, event: 'stopped' });
    // aria2: two zero bytes after the 98 (end of options)
    const aria = Buffer.concat([announcePacket({ connectionId: cid, tx: 1, infoHash: ih, peerId: id, uploaded: 2n ** 53n - 1n }), Buffer.alloc(2)]);
    expect(parseUdpAnnounce(aria, readHeader(aria)!)).toMatchObject({ urlData: '', uploaded: Number.MAX_SAFE_INTEGER });
  });

  it('takes counters from 0 to 2^53-1 and refuses larger ones with the one counter rule, never capping them', () => {
    const ih = randomBytes(20);
    for (const field of ['uploaded', 'downloaded', 'left'] as const) {
      for (const value of [0n, 2n ** 53n - 1n]) {
        const p = announcePacket({ connectionId: cid, tx: 1, infoHash: ih, peerId: ih, [field]: value });
        expect(parseUdpAnnounce(p, readHeader(p)!)[field]).toBe(Number(value));
        expect(parseUdpAnnounceRequest(p)[field]).toBe(Number(value));
      }
      for (const value of [2n ** 53n, 2n ** 63n, 2n ** 64n - 1n]) {
        const p = announcePacket({ connectionId: cid, tx: 1, infoHash: ih, peerId: ih, [field]: value });
        expect(() => parseUdpAnnounce(p, readHeader(p)!)).toThrow(new UdpPacketError(counterReason(field), true));
        expect(() => parseUdpAnnounceRequest(p)).toThrow(counterReason(field));
      }
    }
  });

  it('reads BEP 41 URL data: several options concatenated, NOP skipped, end stops', () => {
    const ih = randomBytes(20);
    const long = `/${'k'.repeat(300)}/announce?x=1`;
    const p = announcePacket({ connectionId: cid, tx: 1, infoHash: ih, peerId: ih, urlData: long });
    expect(parseUdpAnnounce(p, readHeader(p)!).urlData).toBe(long);
    const nop = Buffer.concat([announcePacket({ connectionId: cid, tx: 1, infoHash: ih, peerId: ih }), Buffer.from([1, 1, 2, 3]), Buffer.from('/a/'), Buffer.from([0, 2, 9])]);
    expect(parseUdpAnnounce(nop, readHeader(nop)!).urlData).toBe('/a/');
    const truncated = Buffer.concat([announcePacket({ connectionId: cid, tx: 1, infoHash: ih, peerId: ih }), Buffer.from([2, 10, 65])]);
    expect(() => parseUdpAnnounce(truncated, readHeader(truncated)!)).toThrow(UdpPacketError);
    const unknown = Buffer.concat([announcePacket({ connectionId: cid, tx: 1, infoHash: ih, peerId: ih }), Buffer.from([9])]);
    expect(() => parseUdpAnnounce(unknown, readHeader(unknown)!)).toThrow(/unknown BEP 41 option/);
  });

  it('refuses short announces, bad events and port 0 with a reason', () => {
    const ih = randomBytes(20);
    const p = announcePacket({ connectionId: cid, tx: 1, infoHash: ih, peerId: ih });
    expect(() => parseUdpAnnounce(p.subarray(0, 97), readHeader(p)!)).toThrow(/too short/);
    const badEvent = announcePacket({ connectionId: cid, tx: 1, infoHash: ih, peerId: ih, event: 5 });
    expect(() => parseUdpAnnounce(badEvent, readHeader(badEvent)!)).toThrow(/event/);
    // 4 is BEP 21 `paused` as libtorrent sends it: an update from a partial seed
    const paused = announcePacket({ connectionId: cid, tx: 1, infoHash: ih, peerId: ih, event: 4 });
    expect(parseUdpAnnounce(paused, readHeader(paused)!)).toMatchObject({ event: 'update', paused: true });
    expect(parseUdpAnnounceRequest(paused)).toMatchObject({ event: 'update', paused: true });
    expect(parseUdpAnnounceRequest(announcePacket({ connectionId: cid, tx: 1, infoHash: ih, peerId: ih, event: 0 })).paused).toBeUndefined();
    const port0 = announcePacket({ connectionId: cid, tx: 1, infoHash: ih, peerId: ih, port: 0 });
    expect(() => parseUdpAnnounce(port0, readHeader(port0)!)).toThrow(/port/);
  });

  it('parses scrapes of 1 to 74 whole hashes', () => {
    const hashes = Array.from({ length: MAX_UDP_SCRAPE_HASHES }, () => randomBytes(20));
    const p = scrapePacket(cid, 5, hashes);
    expect(p.length).toBeLessThanOrEqual(1500);
    expect(parseUdpScrape(p, readHeader(p)!).infoHashes.map((h) => h.toString('hex'))).toEqual(hashes.map((h) => h.toString('hex')));
    expect(() => parseUdpScrape(scrapePacket(cid, 5, []), readHeader(scrapePacket(cid, 5, []))!)).toThrow(/at least one/);
    const ragged = Buffer.concat([scrapePacket(cid, 5, [hashes[0]]), Buffer.alloc(3)]);
    expect(() => parseUdpScrape(ragged, readHeader(ragged)!)).toThrow(/20 bytes each/);
    const tooMany = scrapePacket(cid, 5, [...hashes, randomBytes(20)]);
    expect(() => parseUdpScrape(tooMany, readHeader(tooMany)!)).toThrow(/too many/);
  });

  it('encodes answers byte for byte', () => {
    expect(encodeConnect(0x01020304, cid).toString('hex')).toBe('00000000010203040102030405060708');
    const peers = Buffer.from('7f0000011ae1', 'hex');
    expect(encodeUdpAnnounce(9, 1800, { complete: 2, incomplete: 3, downloaded: 4 }, peers).toString('hex')).toBe(
      '00000001' + '00000009' + '00000708' + '00000003' + '00000002' + '7f0000011ae1',
    );
    expect(encodeUdpScrape(9, [{ complete: 1, incomplete: 2, downloaded: 3 }]).toString('hex')).toBe('00000002' + '00000009' + '00000001' + '00000003' + '00000002');
    expect(encodeUdpError(9, 'nope').toString('latin1')).toBe('\0\0\0\x03\0\0\0\x09nope');
    expect(encodeUdpError(9, 'a long message', 12).length).toBe(12);
  });
});
