import bencode from 'bencode';
import { describe, expect, it } from 'vitest';
import { formatAddress, parseAddress } from '../../src/protocol/address.js';
import { encodeAnnounce, encodeFailure, encodeScrape } from '../../src/protocol/response.js';
import { parseScrape } from '../../src/protocol/scrape.js';

const counts = { complete: 3, incomplete: 7, downloaded: 12 };
const id = (c: string): Buffer => Buffer.alloc(20, c);
const peers = [
  { peerId: id('a'), ip: Buffer.from([10, 0, 0, 1]), port: 6881 },
  { peerId: id('b'), ip: parseAddress('2001:db8::5')!, port: 51413 },
  { peerId: id('c'), ip: Buffer.from([192, 168, 1, 2]), port: 1 },
];
const opts = { interval: 1800, minInterval: 900, compact: true, noPeerId: false };

describe('announce answer', () => {
  it('is the exact compact bencoding, IPv4 in peers and IPv6 in peers6', () => {
    const out = encodeAnnounce(counts, peers, opts);
    const expected = Buffer.concat([
      Buffer.from('d8:completei3e10:downloadedi12e10:incompletei7e8:intervali1800e12:min intervali900e5:peers12:'),
      Buffer.from([10, 0, 0, 1, 0x1a, 0xe1, 192, 168, 1, 2, 0, 1]),
      Buffer.from('6:peers618:'),
      parseAddress('2001:db8::5')!,
      Buffer.from([0xc8, 0xd5]),
      Buffer.from('e'),
    ]);
    expect(out.toString('hex')).toBe(expected.toString('hex'));
  });

  it('has an empty peers string and no peers6 when alone', () => {
    expect(encodeAnnounce(counts, [], opts).toString()).toBe(
      'd8:completei3e10:downloadedi12e10:incompletei7e8:intervali1800e12:min intervali900e5:peers0:e',
    );
  });

  it('uses the dictionary model with exact binary peer ids, or without them', () => {
    const binaryId = Buffer.from(Array.from({ length: 20 }, (_, i) => 240 + (i % 16)));
    const one = [{ peerId: binaryId, ip: Buffer.from([1, 2, 3, 4]), port: 80 }, peers[1]];
    const d = bencode.decode(encodeAnnounce(counts, one, { ...opts, compact: false }));
    expect(d.peers).toHaveLength(2);
    expect(Buffer.from(d.peers[0]['peer id']).equals(binaryId)).toBe(true);
    expect(Buffer.from(d.peers[0].ip).toString()).toBe('1.2.3.4');
    expect(d.peers[0].port).toBe(80);
    expect(Buffer.from(d.peers[1].ip).toString()).toBe('2001:db8::5');
    const n = encodeAnnounce(counts, one, { ...opts, compact: false, noPeerId: true });
    expect(n.toString('latin1')).toContain('5:peersld2:ip7:1.2.3.44:porti80eed2:ip11:2001:db8::54:porti51413eee');
  });

  it('is canonical bencode that round-trips, warning included', () => {
    const out = encodeAnnounce(counts, peers, { ...opts, warning: 'héllo' });
    expect(Buffer.from(bencode.encode(bencode.decode(out))).equals(out)).toBe(true);
    expect(Buffer.from(bencode.decode(out)['warning message']).toString()).toBe('héllo');
  });
});

describe('scrape and failure answers', () => {
  it('keys files by raw hash in sorted order', () => {
    const h1 = Buffer.alloc(20, 0xff);
    const h2 = Buffer.alloc(20, 0x01);
    const out = encodeScrape([
      { infoHash: h1, ...counts },
      { infoHash: h2, complete: 0, incomplete: 0, downloaded: 0 },
    ]);
    const expected = Buffer.concat([
      Buffer.from('d5:filesd20:'),
      h2,
      Buffer.from('d8:completei0e10:downloadedi0e10:incompletei0ee20:'),
      h1,
      Buffer.from('d8:completei3e10:downloadedi12e10:incompletei7eeee'),
    ]);
    expect(out.equals(expected)).toBe(true);
  });

  it('encodes failures', () => {
    expect(encodeFailure('port is missing').toString()).toBe('d14:failure reason15:port is missinge');
  });

  it('parses repeated info_hash, dedupes, and bounds the count', () => {
    const h = '%01'.repeat(20);
    const g = '%02'.repeat(20);
    expect(parseScrape(`info_hash=${h}&info_hash=${g}&info_hash=${h}`, { maxParameters: 128, maxScrapeHashes: 2 })).toHaveLength(2);
    expect(() => parseScrape(`info_hash=${h}&info_hash=${g}`, { maxParameters: 128, maxScrapeHashes: 1 })).toThrow(
      'too many info_hash values in one scrape (limit 1)',
    );
    expect(parseScrape('', { maxParameters: 128, maxScrapeHashes: 2 })).toEqual([]);
  });
});

describe('addresses', () => {
  it.each([
    ['1.2.3.4', '01020304'],
    ['::ffff:1.2.3.4', '01020304'],
    ['::1', '00000000000000000000000000000001'],
    ['2001:db8::1:0:0:1', '20010db8000000000001000000000001'],
    ['fe80::1%eth0', 'fe800000000000000000000000000001'],
  ])('parses %s', (text, hex) => {
    expect(parseAddress(text)!.toString('hex')).toBe(hex);
  });

  it.each(['', '1.2.3', '256.1.1.1', '01.2.3.4', '1::2::3', 'example.com', '1:2:3:4:5:6:7:8:9'])('rejects %j', (t) => {
    expect(parseAddress(t)).toBeUndefined();
  });

  it('formats IPv6 in the shortest form', () => {
    expect(formatAddress(parseAddress('2001:db8:0:0:1:0:0:1')!)).toBe('2001:db8::1:0:0:1');
    expect(formatAddress(parseAddress('::1')!)).toBe('::1');
    expect(formatAddress(parseAddress('1:0:2:3:4:5:6:7')!)).toBe('1:0:2:3:4:5:6:7');
  });
});
