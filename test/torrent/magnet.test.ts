import { describe, expect, it } from 'vitest';
import { magnetLink } from '../../src/torrent/magnet.js';

const hash = '0123456789abcdef0123456789abcdef01234567';

describe('magnetLink', () => {
  it('writes xt, dn, every tracker once in tier order, and web seeds', () => {
    const link = magnetLink({
      infoHash: hash.toUpperCase(),
      name: 'my file & more ü.bin',
      announce: [['http://a/announce?x=1&y=2', 'udp://b:80'], ['http://a/announce?x=1&y=2', 'http://c/ann']],
      urlList: ['http://ws/dir/'],
    });
    expect(link).toBe(
      `magnet:?xt=urn:btih:${hash}&dn=my%20file%20%26%20more%20%C3%BC.bin` +
        '&tr=http%3A%2F%2Fa%2Fannounce%3Fx%3D1%26y%3D2&tr=udp%3A%2F%2Fb%3A80&tr=http%3A%2F%2Fc%2Fann' +
        '&ws=http%3A%2F%2Fws%2Fdir%2F',
    );
    const params = new URLSearchParams(link.slice('magnet:?'.length));
    expect(params.getAll('tr')).toEqual(['http://a/announce?x=1&y=2', 'udp://b:80', 'http://c/ann']);
    expect(params.get('dn')).toBe('my file & more ü.bin');
  });

  it('accepts raw bytes and a flat tracker list; leaves out what is absent', () => {
    expect(magnetLink({ infoHash: Buffer.from(hash, 'hex'), announce: ['http://x/a'] })).toBe(
      `magnet:?xt=urn:btih:${hash}&tr=http%3A%2F%2Fx%2Fa`,
    );
    expect(magnetLink({ infoHash: hash })).toBe(`magnet:?xt=urn:btih:${hash}`);
  });

  it('rejects a malformed info hash', () => {
    expect(() => magnetLink({ infoHash: 'abc' })).toThrow(TypeError);
    expect(() => magnetLink({ infoHash: Buffer.alloc(19) })).toThrow(/20 bytes/);
  });
});
