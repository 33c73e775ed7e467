import { createHash } from 'node:crypto';
import bencode from 'bencode';
import { describe, expect, it } from 'vitest';
import { TorrentParseError } from '../../src/torrent/errors.js';
import { parseTorrent } from '../../src/torrent/parse.js';
import { prng } from './fixtures.js';

const hash20 = (n: number): Buffer => createHash('sha1').update(String(n)).digest();
const encode = (value: unknown): Buffer => Buffer.from(bencode.encode(value));

function singleFile(overrides: Record<string, unknown> = {}, infoOverrides: Record<string, unknown> = {}): Buffer {
  return encode({
    announce: 'http://tracker.example/announce',
    'created by': 'test',
    'creation date': 1_700_000_000,
    comment: 'a comment',
    info: { length: 40_000, name: 'file.bin', 'piece length': 16_384, pieces: Buffer.concat([hash20(1), hash20(2), hash20(3)]), ...infoOverrides },
    ...overrides,
  });
}

function multiFile(files: unknown, infoOverrides: Record<string, unknown> = {}): Buffer {
  return encode({
    info: { files, name: 'root', 'piece length': 16_384, pieces: Buffer.concat([hash20(1), hash20(2)]), ...infoOverrides },
  });
}

describe('parseTorrent', () => {
  it('reads a single-file torrent', () => {
    const input = singleFile();
    const t = parseTorrent(input);
    expect(t.name).toBe('file.bin');
    expect(t.multiFile).toBe(false);
    expect(t.files).toEqual([{ path: ['file.bin'], length: 40_000, offset: 0 }]);
    expect(t.length).toBe(40_000);
    expect(t.pieceLength).toBe(16_384);
    expect(t.pieces).toHaveLength(3);
    expect(t.pieces[2].equals(hash20(3))).toBe(true);
    expect(t.lastPieceLength).toBe(40_000 - 2 * 16_384);
    expect(t.announce).toEqual([['http://tracker.example/announce']]);
    expect(t.private).toBe(false);
    expect(t.urlList).toEqual([]);
    expect(t.comment).toBe('a comment');
    expect(t.createdBy).toBe('test');
    expect(t.creationDate?.toISOString()).toBe(new Date(1_700_000_000_000).toISOString());
  });

  it('hashes the exact bytes of the info dictionary', () => {
    const input = singleFile();
    const t = parseTorrent(input);
    const start = input.indexOf('4:infod') + '4:info'.length;
    const end = input.length - 1; // info is the last key; the final "e" closes the outer dict
    expect(t.infoBuffer.equals(input.subarray(start, end))).toBe(true);
    expect(t.infoHash).toBe(createHash('sha1').update(input.subarray(start, end)).digest('hex'));
    expect(t.infoHashBuffer.toString('hex')).toBe(t.infoHash);
  });

  it('keeps unknown info keys in the hash (no re-encoding)', () => {
    const plain = parseTorrent(singleFile());
    const extra = parseTorrent(singleFile({}, { source: 'XYZ', 'x-custom': [1, 2] }));
    expect(extra.infoHash).not.toBe(plain.infoHash);
    expect(extra.infoBuffer.includes('6:source3:XYZ')).toBe(true);
  });

  it('reads a multi-file torrent with offsets, announce-list, url-list, private', () => {
    const input = encode({
      announce: 'http://a/1',
      'announce-list': [['http://a/1', 'http://a/2'], [], ['udp://b:80']],
      'url-list': ['http://ws/1/', ''],
      info: {
        files: [
          { length: 10_000, path: ['d', 'x'] },
          { length: 0, path: ['empty'] },
          { length: 12_000, path: ['ü n'] },
        ],
        name: 'root',
        'piece length': 16_384,
        pieces: Buffer.concat([hash20(1), hash20(2)]),
        private: 1,
      },
    });
    const t = parseTorrent(input);
    expect(t.multiFile).toBe(true);
    expect(t.files).toEqual([
      { path: ['d', 'x'], length: 10_000, offset: 0 },
      { path: ['empty'], length: 0, offset: 10_000 },
      { path: ['ü n'], length: 12_000, offset: 10_000 },
    ]);
    expect(t.length).toBe(22_000);
    expect(t.lastPieceLength).toBe(22_000 - 16_384);
    expect(t.announce).toEqual([['http://a/1', 'http://a/2'], ['udp://b:80']]);
    expect(t.urlList).toEqual(['http://ws/1/']);
    expect(t.private).toBe(true);
  });

  it('accepts url-list as a single string', () => {
    expect(parseTorrent(singleFile({ 'url-list': 'http://ws/file.bin' })).urlList).toEqual(['http://ws/file.bin']);
  });

  it('reads a zero-length torrent as zero pieces', () => {
    const t = parseTorrent(encode({ info: { length: 0, name: 'e', 'piece length': 16_384, pieces: Buffer.alloc(0) } }));
    expect(t.pieces).toEqual([]);
    expect(t.lastPieceLength).toBe(0);
  });

  const bad: Array<[string, () => Buffer, RegExp]> = [
    ['not a dictionary', () => encode([1, 2]), /must be a bencoded dictionary/],
    ['no info', () => encode({ announce: 'x' }), /missing "info"/],
    ['info is a list', () => encode({ info: [] }), /"info" must be a dictionary/],
    ['no name', () => singleFile({}, { name: undefined }), /missing "info.name"/],
    ['name is ..', () => singleFile({}, { name: '..' }), /not a safe path component/],
    ['name with slash', () => singleFile({}, { name: 'a/b' }), /not a safe path component/],
    ['name not UTF-8', () => singleFile({}, { name: Buffer.from([0xff, 0xfe]) }), /"info.name" is not valid UTF-8/],
    ['no piece length', () => singleFile({}, { 'piece length': undefined }), /missing "info.piece length"/],
    ['zero piece length', () => singleFile({}, { 'piece length': 0 }), /piece length" must be from 1/],
    ['piece length as string', () => singleFile({}, { 'piece length': '16384' }), /must be an integer/],
    ['no pieces', () => singleFile({}, { pieces: undefined }), /missing "info.pieces"/],
    ['meta version 2 without a file tree', () => singleFile({}, { pieces: undefined, 'meta version': 2 }), /missing "info.file tree"/],
    ['pieces not multiple of 20', () => singleFile({}, { pieces: Buffer.alloc(59) }), /not a multiple of 20/],
    ['too few pieces', () => singleFile({}, { pieces: Buffer.alloc(40) }), /holds 2 hashes but 40000 bytes .* need 3/],
    ['too many pieces', () => singleFile({}, { pieces: Buffer.alloc(80) }), /holds 4 hashes/],
    ['negative length', () => singleFile({}, { length: -1 }), /must not be negative/],
    ['huge length', () => singleFile({}, { length: 2 ** 60 }), /out of range/],
    ['both length and files', () => singleFile({}, { files: [{ length: 1, path: ['a'] }] }), /both "length" and "files"/],
    ['neither length nor files', () => singleFile({}, { length: undefined }), /neither "length" nor "files"/],
    ['private 2', () => singleFile({}, { private: 2 }), /"info.private" must be 0 or 1/],
    ['announce not a string', () => singleFile({ announce: 5 }), /"announce" must be a byte string/],
    ['announce-list tier not a list', () => singleFile({ 'announce-list': ['http://x'] }), /"announce-list\[0\]" must be a list/],
    ['url-list item not a string', () => singleFile({ 'url-list': [1] }), /"url-list\[0\]" must be a byte string/],
    ['comment not UTF-8', () => singleFile({ comment: Buffer.from([0xc3]) }), /"comment" is not valid UTF-8/],
    ['creation date as string', () => singleFile({ 'creation date': 'today' }), /"creation date" must be an integer/],
    ['empty files', () => multiFile([]), /"info.files" is empty/],
    ['file without path', () => multiFile([{ length: 1 }]), /missing "info.files\[0\].path"/],
    ['empty path', () => multiFile([{ length: 1, path: [] }]), /"info.files\[0\].path" is empty/],
    ['path with ..', () => multiFile([{ length: 1, path: ['..', 'etc'] }]), /info.files\[0\].path\[0\]" is not a safe/],
    ['path component with slash', () => multiFile([{ length: 1, path: ['a/b'] }]), /not a safe path component/],
    ['empty path component', () => multiFile([{ length: 1, path: [''] }]), /not a safe path component/],
    ['duplicate paths', () => multiFile([{ length: 1, path: ['a'] }, { length: 1, path: ['a'] }]), /repeats or conflicts/],
    ['file is also a directory', () => multiFile([{ length: 1, path: ['a'] }, { length: 1, path: ['a', 'b'] }]), /which is a file/],
    ['directory is also a file', () => multiFile([{ length: 1, path: ['a', 'b'] }, { length: 1, path: ['a'] }]), /repeats or conflicts/],
    ['non-canonical bencode', () => Buffer.from('d4:infod4:name1:a12:piece lengthi016384e6:pieces0:6:lengthi0eee'), /leading zero/],
    ['unsorted keys', () => Buffer.from('d4:infod4:name1:a6:lengthi0e12:piece lengthi16384e6:pieces0:ee'), /not sorted/],
    ['trailing garbage', () => Buffer.concat([singleFile(), Buffer.from('x')]), /after the end/],
  ];
  it.each(bad)('rejects %s with a clear TorrentParseError', (_label, make, message) => {
    const input = make();
    let caught: unknown;
    try {
      parseTorrent(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TorrentParseError);
    expect((caught as Error).message).toMatch(message);
  });

  it('rejects input that is not bytes', () => {
    expect(() => parseTorrent('d4:infoe' as unknown as Buffer)).toThrow(TorrentParseError);
  });

  it('survives seeded fuzzing: every input either parses or throws TorrentParseError', () => {
    const random = prng(0x5eed);
    const seeds = [
      singleFile({ 'announce-list': [['http://a/1'], ['http://b/2']], 'url-list': ['http://w/'] }, { private: 1 }),
      encode({
        announce: 'http://a/1',
        info: {
          files: [
            { length: 20_000, path: ['x', 'y'] },
            { length: 0, path: ['z'] },
            { length: 3, path: ['ä'] },
          ],
          name: 'root',
          'piece length': 16_384,
          pieces: Buffer.concat([hash20(1), hash20(2)]),
        },
      }),
    ];
    const alphabet = Buffer.from('ildeijx0123456789:-');
    const iterations = 6000;
    let parsed = 0;
    let rejected = 0;
    for (let i = 0; i < iterations; i++) {
      const base = seeds[i % seeds.length];
      let input: Buffer = Buffer.from(base);
      const mode = i % 5;
      if (mode === 0) {
        input = input.subarray(0, Math.floor(random() * input.length)); // truncation
      } else {
        const edits = 1 + Math.floor(random() * 4);
        for (let e = 0; e < edits; e++) {
          const at = Math.floor(random() * input.length);
          const byte = random() < 0.6 ? alphabet[Math.floor(random() * alphabet.length)] : Math.floor(random() * 256);
          if (mode === 1 || mode === 4) input[at] = byte; // overwrite
          else if (mode === 2) input = Buffer.concat([input.subarray(0, at), Buffer.from([byte]), input.subarray(at)]); // insert
          else input = Buffer.concat([input.subarray(0, at), input.subarray(at + 1 + Math.floor(random() * 8))]); // delete
        }
        if (mode === 4) {
          // Splice a random slice of the other seed in (structural confusion).
          const other = seeds[(i + 1) % seeds.length];
          const from = Math.floor(random() * other.length);
          const at = Math.floor(random() * input.length);
          input = Buffer.concat([input.subarray(0, at), other.subarray(from, from + Math.floor(random() * 40)), input.subarray(at)]);
        }
      }
      try {
        const t = parseTorrent(input);
        expect(t.infoHash).toMatch(/^[0-9a-f]{40}$/);
        parsed++;
      } catch (error) {
        if (!(error instanceof TorrentParseError)) {
          throw new Error(`iteration ${i}: ${String(error)} for input ${input.toString('hex')}`);
        }
        expect(error.message.length).toBeGreaterThan(0);
        rejected++;
      }
    }
    expect(parsed + rejected).toBe(iterations);
    expect(rejected).toBeGreaterThan(iterations / 2); // the mutations really break things
    expect(parsed).toBeGreaterThan(0); // and some survive (e.g. edits inside hashes)
  });

  it('rejects deep nesting without overflowing the stack', () => {
    const deep = Buffer.concat([Buffer.from('d4:info'), Buffer.alloc(100_000, 'l'), Buffer.alloc(100_000, 'e'), Buffer.from('e')]);
    expect(() => parseTorrent(deep)).toThrow(/nesting deeper/);
  });
});
