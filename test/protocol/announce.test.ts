import { describe, expect, it } from 'vitest';
import { parseAnnounce } from '../../src/protocol/announce.js';
import { escapeAll } from '../helpers/escape.js';

const limits = { maxParameters: 128 };
const ih = Buffer.alloc(20, 0xaa);
const pid = Buffer.from('-qB4520-abcdefghijkl');
const base = `info_hash=${escapeAll(ih)}&peer_id=${escapeAll(pid)}&port=6881&uploaded=0&downloaded=0&left=100`;

function failure(query: string): string {
  try {
    parseAnnounce(query, limits);
  } catch (error) {
    return (error as Error).message;
  }
  return 'no failure';
}

describe('parseAnnounce', () => {
  it('parses a typical announce', () => {
    const r = parseAnnounce(`${base}&event=started&numwant=80&compact=1&no_peer_id=1&key=abc`, limits);
    expect(r.infoHash).toEqual(ih);
    expect(r.peerId).toEqual(pid);
    expect(r).toMatchObject({ port: 6881, left: 100, event: 'started', numwant: 80, compact: true, noPeerId: true });
  });

  it('defaults: compact, update event, no numwant; compact=0 selects the dictionary model', () => {
    expect(parseAnnounce(base, limits)).toMatchObject({ compact: true, event: 'update', numwant: undefined });
    expect(parseAnnounce(`${base}&compact=0`, limits).compact).toBe(false);
    expect(parseAnnounce(`${base}&event=`, limits).event).toBe('update');
    expect(parseAnnounce(`${base}&event=paused`, limits).event).toBe('update');
  });

  it('counts a missing left as a leecher; counters are safe integers (up to 2^53-1, leading zeros allowed)', () => {
    const q = base.replace('&left=100', '');
    expect(parseAnnounce(q, limits).left).toBeUndefined();
    expect(parseAnnounce(base.replace('left=100', 'left=9007199254740991'), limits).left).toBe(Number.MAX_SAFE_INTEGER);
    expect(parseAnnounce(base.replace('left=100', 'left=0000000000000007'), limits).left).toBe(7);
    expect(() => parseAnnounce(base.replace('left=100', 'left=18446744073709551615'), limits)).toThrow('left must be a whole number from 0 to 9007199254740991');
    expect(() => parseAnnounce(base.replace('left=100', 'left=9007199254740992'), limits)).toThrow('left must be a whole number from 0 to 9007199254740991');
  });

  it('reads the ip parameter only as an IP literal', () => {
    expect([...parseAnnounce(`${base}&ip=1.2.3.4`, limits).ipParameter!]).toEqual([1, 2, 3, 4]);
    expect(parseAnnounce(`${base}&ip=example.com`, limits).ipParameter).toBeUndefined();
  });

  it.each([
    [base.replace(/info_hash=[^&]*&/, ''), 'info_hash is missing'],
    [base.replace(/peer_id=[^&]*&/, ''), 'peer_id is missing'],
    [base.replace('port=6881&', ''), 'port is missing'],
    [base.replace(escapeAll(ih), escapeAll(ih.subarray(0, 19))), 'info_hash must be exactly 20 bytes (got 19)'],
    [base.replace(escapeAll(pid), escapeAll(Buffer.alloc(21))), 'peer_id must be exactly 20 bytes (got 21)'],
    [base.replace('port=6881', 'port=0'), 'port must be an integer from 1 to 65535'],
    [base.replace('port=6881', 'port=65536'), 'port must be an integer from 1 to 65535'],
    [base.replace('port=6881', 'port=http'), 'port must be an integer from 1 to 65535'],
    [base.replace('port=6881', 'port=-1'), 'port must be an integer from 1 to 65535'],
    [base.replace('left=100', 'left=-5'), 'left must be a whole number from 0 to 9007199254740991'],
    [base.replace('uploaded=0', 'uploaded=1.5'), 'uploaded must be a whole number from 0 to 9007199254740991'],
    [base.replace('downloaded=0', 'downloaded=abc'), 'downloaded must be a whole number from 0 to 9007199254740991'],
    [`${base}&numwant=-1`, 'numwant must be a non-negative integer'],
    [`${base}&event=finished`, 'event must be started, completed, stopped, paused or empty'],
    [`${base}&port=1`, 'port is given more than once'],
    [base.replace(escapeAll(ih), escapeAll(ih).slice(0, -1)), 'truncated %-escape in info_hash'],
    [base.replace(escapeAll(pid), '%zz' + escapeAll(pid.subarray(1))), 'malformed %-escape in peer_id'],
  ])('names the problem: %#', (query, reason) => {
    expect(failure(query)).toBe(reason);
  });
});

describe('escapes in parameters the tracker does not use', () => {
  const base = `info_hash=${'%41'.repeat(20)}&peer_id=${'%42'.repeat(20)}&port=1`;
  it('a malformed or truncated %-escape anywhere is a failure naming the parameter', () => {
    const limits = { maxParameters: 128 };
    expect(() => parseAnnounce(`${base}&key=%zz`, limits)).toThrow('malformed %-escape in key');
    expect(() => parseAnnounce(`${base}&trackerid=ab%4`, limits)).toThrow('truncated %-escape in trackerid');
    expect(() => parseAnnounce(`${base}&corrupt=%4&left=0`, limits)).toThrow('truncated %-escape in corrupt');
    expect(() => parseAnnounce(`${base}&%zz=1`, limits)).toThrow('malformed %-escape in a parameter name');
    expect(() => parseAnnounce(`${base}&x%E9=%G0`, limits)).toThrow(/malformed %-escape in (x.|a parameter)$/);
    expect(parseAnnounce(`${base}&key=%7E%41`, limits).port).toBe(1);
  });
});
