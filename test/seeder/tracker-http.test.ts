import { describe, expect, it } from 'vitest';
import bencode from 'bencode';
import {
  TrackerError,
  buildAnnounceUrl,
  parseAnnounceResponse,
  parseCompactPeers,
  parseCompactPeers6,
  percentEncodeBytes,
} from '../../src/seeder/tracker-http.js';

const enc = (v: unknown): Buffer => Buffer.from(bencode.encode(v));

describe('tracker HTTP client pieces', () => {
  it('percent-encodes every byte except unreserved characters', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const text = percentEncodeBytes(all);
    // Decoding must give the bytes back exactly.
    const back = Buffer.from(text.replace(/%([0-9A-F]{2})|(.)/g, (_m, hex, ch) => String.fromCharCode(hex ? parseInt(hex, 16) : ch.charCodeAt(0))), 'latin1');
    expect(back).toEqual(all);
    expect(percentEncodeBytes(Buffer.from('aZ09-._~ /?&=+%'))).toBe('aZ09-._~%20%2F%3F%26%3D%2B%25');
  });

  it('builds an announce URL, keeping an existing query', () => {
    const url = buildAnnounceUrl('http://t.example/announce?passkey=abc', {
      infoHash: Buffer.alloc(20, 0xff),
      peerId: Buffer.from('-ET0100-abcdefghijkl'),
      port: 6881,
      uploaded: 5,
      downloaded: 0,
      left: 0,
      event: 'started',
      numwant: 50,
      key: 'k1',
    });
    expect(url).toBe(
      'http://t.example/announce?passkey=abc&info_hash=' + '%FF'.repeat(20) +
        '&peer_id=-ET0100-abcdefghijkl&port=6881&uploaded=5&downloaded=0&left=0&compact=1&event=started&numwant=50&key=k1',
    );
  });

  it('parses compact IPv4 and IPv6 peers', () => {
    expect(parseCompactPeers(Buffer.from([127, 0, 0, 2, 0x1a, 0xe1, 10, 1, 2, 3, 0, 80]))).toEqual([
      { host: '127.0.0.2', port: 6881 },
      { host: '10.1.2.3', port: 80 },
    ]);
    const six = Buffer.alloc(18);
    six.writeUInt16BE(0x2001, 0);
    six.writeUInt16BE(0xdb8, 2);
    six.writeUInt16BE(1, 14);
    six.writeUInt16BE(443, 16);
    expect(parseCompactPeers6(six)).toEqual([{ host: '2001:db8:0:0:0:0:0:1', port: 443 }]);
    expect(parseCompactPeers(Buffer.alloc(5))).toEqual([]); // trailing partial record ignored
  });

  it('parses a full answer with peers, peers6, counts and tracker id', () => {
    const r = parseAnnounceResponse(
      enc({
        interval: 60,
        'min interval': 30,
        complete: 2,
        incomplete: 7,
        'tracker id': 'xyz',
        peers: Buffer.from([1, 2, 3, 4, 0, 99]),
        peers6: Buffer.concat([Buffer.alloc(15), Buffer.from([1, 0, 100])]),
      }),
    );
    expect(r).toMatchObject({ interval: 60, minInterval: 30, complete: 2, incomplete: 7, trackerId: 'xyz' });
    expect(r.peers).toEqual([
      { host: '1.2.3.4', port: 99 },
      { host: '0:0:0:0:0:0:0:1', port: 100 },
    ]);
  });

  it('parses the dictionary peer model and drops invalid entries', () => {
    const r = parseAnnounceResponse(
      enc({ interval: 10, peers: [{ ip: '10.0.0.1', port: 5000, 'peer id': 'x' }, { ip: 'not-an-ip', port: 1 }, { ip: '10.0.0.2', port: 0 }] }),
    );
    expect(r.peers).toEqual([{ host: '10.0.0.1', port: 5000 }]);
  });

  it('reports failure reasons and garbage as TrackerError', () => {
    expect(() => parseAnnounceResponse(enc({ 'failure reason': 'unregistered torrent' }))).toThrow('unregistered torrent');
    expect(() => parseAnnounceResponse(Buffer.from('<html>'))).toThrow(TrackerError);
    expect(() => parseAnnounceResponse(enc([1, 2]))).toThrow(/not a dictionary/);
    expect(() => parseAnnounceResponse(enc({ peers: '' }))).toThrow(/no interval/);
  });
});
