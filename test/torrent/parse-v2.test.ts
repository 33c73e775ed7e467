/**
 * parseTorrent on BitTorrent v2 and hybrid torrents that break the rules: each one a
 * TorrentParseError naming the problem (inconsistent piece layers, wrong root sizes, missing or
 * wrong pad files, v1 and v2 fields that disagree, unsafe paths, a tree whose names are both file
 * and directory), and seeded fuzzing: every mutated input parses or throws TorrentParseError.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bdecode as strictDecode, type BValue } from '../../src/torrent/bdecode.js';
import { BencodeDict, encodeCanonical, type BencodeValue } from '../../src/torrent/bencode-canonical.js';
import { createTorrent } from '../../src/torrent/create.js';
import { TorrentParseError } from '../../src/torrent/errors.js';
import { parseTorrent } from '../../src/torrent/parse.js';
import { bytes, prng, tempDir, writeTree } from './fixtures.js';

/** A decoded value that can be edited and encoded again (dictionary keys are latin1 strings). */
type Value = number | Buffer | Value[] | Map<string, Value>;

function toValue(value: BValue): Value {
  switch (value.type) {
    case 'int':
      return Number(value.value);
    case 'bytes':
      return Buffer.from(value.value);
    case 'list':
      return value.items.map(toValue);
    case 'dict':
      return new Map([...value.entries].map(([key, item]) => [key, toValue(item)]));
  }
}

function toBencode(value: Value): BencodeValue {
  if (value instanceof Map) {
    const dict = new BencodeDict();
    for (const [key, item] of value) dict.set(Buffer.from(key, 'latin1'), toBencode(item));
    return dict;
  }
  if (Array.isArray(value)) return value.map(toBencode);
  return value;
}

const dict = (value: Value | undefined): Map<string, Value> => value as Map<string, Value>;
const list = (value: Value | undefined): Value[] => value as Value[];

let tmp: ReturnType<typeof tempDir>;
let hybridMulti: Buffer;
let hybridSingle: Buffer;
let v2Multi: Buffer;
const PIECE = 16_384;

beforeAll(async () => {
  tmp = tempDir('ett-parse-v2-');
  const root = `${tmp.dir}/payload`;
  writeTree(root, { 'a.bin': bytes(40_000, 1), 'b.txt': bytes(100, 2), 'c.empty': Buffer.alloc(0), 'sub/d.bin': bytes(70_000, 3) });
  writeTree(`${tmp.dir}/single`, { 'one.bin': bytes(50_000, 4) });
  hybridMulti = (await createTorrent(root, { version: 'hybrid', pieceLength: PIECE, creationDate: false })).torrent;
  v2Multi = (await createTorrent(root, { version: 'v2', pieceLength: PIECE, creationDate: false })).torrent;
  hybridSingle = (await createTorrent(`${tmp.dir}/single/one.bin`, { version: 'hybrid', pieceLength: PIECE, creationDate: false })).torrent;
});
afterAll(() => tmp?.cleanup());

/** Decode `torrent`, let `edit` change it, encode it again. */
function mutate(torrent: Buffer, edit: (root: Map<string, Value>, info: Map<string, Value>) => void): Buffer {
  const root = dict(toValue(strictDecode(torrent)));
  edit(root, dict(root.get('info')));
  return encodeCanonical(toBencode(root));
}

/** Keep `pieces` consistent with the v1 files after an edit of the v1 list (so the intended check is reached). */
function fixPieces(info: Map<string, Value>): void {
  const total = list(info.get('files')).reduce<number>((sum, f) => sum + (dict(f).get('length') as number), 0);
  const count = Math.ceil(total / (info.get('piece length') as number));
  const pieces = info.get('pieces') as Buffer;
  info.set('pieces', Buffer.concat([pieces, Buffer.alloc(Math.max(0, count * 20 - pieces.length))]).subarray(0, count * 20));
}

function firstLayer(root: Map<string, Value>): [string, Buffer] {
  const [key, value] = [...dict(root.get('piece layers'))][0];
  return [key, value as Buffer];
}

function expectParseError(input: Buffer, message: RegExp): void {
  let caught: unknown;
  try {
    parseTorrent(input);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(TorrentParseError);
  expect((caught as Error).message).toMatch(message);
}

describe('parseTorrent, v2 and hybrid', () => {
  it('reads the unchanged torrents', () => {
    expect(parseTorrent(hybridMulti).version).toBe('hybrid');
    expect(parseTorrent(v2Multi).version).toBe('v2');
    expect(parseTorrent(hybridSingle).multiFile).toBe(false);
    // Re-encoding a decoded torrent changes nothing (the helpers below edit exactly what they say).
    expect(mutate(hybridMulti, () => undefined).equals(hybridMulti)).toBe(true);
  });

  it('reads hybrid v1 lists laid out as libtorrent 2.0 lays them out: with or without the tail pad, empty files before or after a pad', () => {
    const files = (torrent: Buffer): string[] =>
      list(dict(dict(toValue(strictDecode(torrent))).get('info')).get('files')).map(
        (f) => `${dict(f).has('attr') ? 'pad ' : ''}${list(dict(f).get('path')).map(String).join('/')}`,
      );
    expect(files(hybridMulti)).toEqual(['a.bin', 'pad .pad/9152', 'b.txt', 'pad .pad/16284', 'c.empty', 'sub/d.bin', 'pad .pad/11920']);
    const expected = parseTorrent(hybridMulti);
    const noTail = mutate(hybridMulti, (_root, info) => {
      list(info.get('files')).pop();
      fixPieces(info);
    });
    // canonical_files_no_tail_padding: the empty file before the pad that follows b.txt, no tail pad.
    const emptyBeforePad = mutate(noTail, (_root, info) => {
      const v1 = list(info.get('files'));
      [v1[3], v1[4]] = [v1[4], v1[3]];
    });
    for (const input of [noTail, emptyBeforePad]) {
      const parsed = parseTorrent(input);
      expect(parsed.version).toBe('hybrid');
      expect(parsed.files.map((f) => [f.path.join('/'), f.length, f.offset])).toEqual(expected.files.map((f) => [f.path.join('/'), f.length, f.offset]));
      expect(parsed.pieces).toHaveLength(expected.pieces.length);
      expect(parsed.lastPieceLength).toBe(70_000 - 4 * PIECE); // the last v1 piece ends with sub/d.bin
    }
    expect(expected.lastPieceLength).toBe(PIECE);
  });

  const cases: Array<[string, () => Buffer, RegExp]> = [
    ['a piece layer that does not match its root', () => mutate(hybridMulti, (root) => {
      const [key, layer] = firstLayer(root);
      layer[5] ^= 1;
      dict(root.get('piece layers')).set(key, layer);
    }), /piece layer of "(a\.bin|sub\/d\.bin)" does not match its "pieces root"/],
    ['a piece layer one node short', () => mutate(v2Multi, (root) => {
      const [key, layer] = firstLayer(root);
      dict(root.get('piece layers')).set(key, layer.subarray(32));
    }), /piece layer of .* has \d+ bytes; .* need/],
    ['a missing piece layer', () => mutate(v2Multi, (root) => {
      dict(root.get('piece layers')).delete(firstLayer(root)[0]);
    }), /missing "piece layers" entry for/],
    ['no piece layers at all', () => mutate(v2Multi, (root) => {
      root.delete('piece layers');
    }), /missing "piece layers" entry for/],
    ['a layer for no file', () => mutate(v2Multi, (root) => {
      dict(root.get('piece layers')).set(Buffer.alloc(32, 7).toString('latin1'), Buffer.alloc(32));
    }), /which is no file's "pieces root"/],
    ['a layer keyed by 20 bytes', () => mutate(v2Multi, (root) => {
      dict(root.get('piece layers')).set(Buffer.alloc(20, 7).toString('latin1'), Buffer.alloc(32));
    }), /key of 20 bytes/],
    ['a pieces root of 31 bytes', () => mutate(v2Multi, (_root, info) => {
      const leaf = dict(dict(dict(info.get('file tree')).get('b.txt')).get(''));
      leaf.set('pieces root', (leaf.get('pieces root') as Buffer).subarray(1));
    }), /"info\.file tree\/b\.txt\.pieces root" must be 32 bytes, got 31/],
    ['a non-empty file without a root', () => mutate(v2Multi, (_root, info) => {
      dict(dict(dict(info.get('file tree')).get('b.txt')).get('')).delete('pieces root');
    }), /missing "info\.file tree\/b\.txt\.pieces root"/],
    ['an empty file with a root', () => mutate(v2Multi, (_root, info) => {
      dict(dict(dict(info.get('file tree')).get('c.empty')).get('')).set('pieces root', Buffer.alloc(32));
    }), /is empty but has a "pieces root"/],
    ['a name that is both a file and a directory', () => mutate(v2Multi, (_root, info) => {
      dict(dict(info.get('file tree')).get('b.txt')).set('x', new Map([['', new Map<string, Value>([['length', 0]])]]));
    }), /"b\.txt" is both a file and a directory/],
    ['an empty directory', () => mutate(v2Multi, (_root, info) => {
      dict(info.get('file tree')).set('void', new Map());
    }), /empty directory "void"/],
    ['a path escaping the folder (..)', () => mutate(v2Multi, (_root, info) => {
      const tree = dict(info.get('file tree'));
      tree.set('..', tree.get('b.txt')!);
      tree.delete('b.txt');
    }), /not a safe path component.*"\.\."/],
    ['a path separator in a tree key', () => mutate(v2Multi, (_root, info) => {
      const tree = dict(info.get('file tree'));
      tree.set('x/../../etc', tree.get('b.txt')!);
      tree.delete('b.txt');
    }), /not a safe path component \(it contains a path separator\)/],
    ['a pad file in the tree', () => mutate(v2Multi, (_root, info) => {
      dict(dict(dict(info.get('file tree')).get('b.txt')).get('')).set('attr', Buffer.from('p'));
    }), /is a pad file/],
    ['meta version 3', () => mutate(v2Multi, (_root, info) => {
      info.set('meta version', 3);
    }), /unsupported "info\.meta version" 3/],
    ['a file tree without meta version', () => mutate(hybridMulti, (_root, info) => {
      info.delete('meta version');
    }), /"info\.file tree" without "info\.meta version" 2/],
    ['piece layers in a v1 torrent', () => mutate(hybridMulti, (_root, info) => {
      info.delete('meta version');
      info.delete('file tree');
    }), /"piece layers" in a v1 torrent/],
    ['a piece length that is not a power of two', () => mutate(v2Multi, (_root, info) => {
      info.set('piece length', 20_000);
    }), /must be a power of two of at least 16384/],
    ['a v2-only torrent with "length"', () => mutate(v2Multi, (_root, info) => {
      info.set('length', 5);
    }), /"info\.length" in a v2-only torrent/],
    ['a missing pad file', () => mutate(hybridMulti, (_root, info) => {
      const files = list(info.get('files'));
      files.splice(1, 1); // the pad after a.bin
      fixPieces(info);
    }), /missing pad file after "a\.bin"/],
    ['a pad file of the wrong size', () => mutate(hybridMulti, (_root, info) => {
      dict(list(info.get('files'))[1]).set('length', 100);
      fixPieces(info);
    }), /pad file after "a\.bin" has 100 bytes; the piece needs/],
    ['a pad file where none belongs', () => mutate(hybridMulti, (_root, info) => {
      list(info.get('files')).unshift(new Map<string, Value>([['attr', Buffer.from('p')], ['length', PIECE], ['path', [Buffer.from('.pad'), Buffer.from(String(PIECE))]]]));
      fixPieces(info);
    }), /unexpected pad file/],
    ['v1 and v2 lengths that disagree', () => mutate(hybridMulti, (_root, info) => {
      dict(list(info.get('files'))[2]).set('length', 99); // b.txt
      dict(list(info.get('files'))[3]).set('length', PIECE - 99);
      fixPieces(info);
    }), /disagree on the length of "b\.txt": 99 and 100/],
    ['v1 and v2 paths that disagree', () => mutate(hybridMulti, (_root, info) => {
      dict(list(info.get('files'))[2]).set('path', [Buffer.from('other.txt')]);
    }), /disagree: file 1 is "other\.txt" in one and "b\.txt" in the other/],
    ['a v1 list whose files are in another order than the tree', () => mutate(hybridMulti, (_root, info) => {
      const v1 = list(info.get('files'));
      [v1[0], v1[2]] = [v1[2], v1[0]]; // b.txt first, then the pad, then a.bin
      [v1[1], v1[3]] = [v1[3], v1[1]];
      fixPieces(info);
    }), /disagree: file 0 is "b\.txt" in one and "a\.bin" in the other/],
    ['a v1 list without a file of the tree', () => mutate(hybridMulti, (_root, info) => {
      list(info.get('files')).splice(4, 1); // c.empty
    }), /disagree: file 2 is "sub\/d\.bin" in one and "c\.empty" in the other/],
    ['two pad files in a row', () => mutate(hybridMulti, (_root, info) => {
      const v1 = list(info.get('files'));
      v1.splice(2, 0, v1[1]);
      fixPieces(info);
    }), /"info\.files\[2\]" is an unexpected pad file \(9152 bytes after "a\.bin", where the data is already on a piece boundary\)/],
    ['a tail pad of the wrong size', () => mutate(hybridMulti, (_root, info) => {
      dict(list(info.get('files'))[6]).set('length', 5);
      fixPieces(info);
    }), /"info\.files\[6\]": the pad file after "sub\/d\.bin" has 5 bytes; the piece needs 11920/],
    ['a file only in the v1 list', () => mutate(hybridMulti, (_root, info) => {
      list(info.get('files')).push(new Map<string, Value>([['length', 0], ['path', [Buffer.from('zz')]]]));
    }), /"zz" is missing from "info\.file tree"/],
    ['a v1 path escaping the folder', () => mutate(hybridMulti, (_root, info) => {
      dict(list(info.get('files'))[2]).set('path', [Buffer.from('..'), Buffer.from('b.txt')]);
    }), /not a safe path component/],
    ['v1 pieces that do not cover the padded layout', () => mutate(hybridMulti, (_root, info) => {
      info.set('pieces', (info.get('pieces') as Buffer).subarray(20));
    }), /"info\.pieces" holds \d+ hashes but \d+ bytes/],
    ['a single-file hybrid whose length disagrees', () => mutate(hybridSingle, (_root, info) => {
      info.set('length', 49_999);
      info.set('pieces', (info.get('pieces') as Buffer));
    }), /disagree on the length of "one\.bin": 49999 and 50000/],
    ['a single-file hybrid whose tree holds another name', () => mutate(hybridSingle, (_root, info) => {
      const tree = dict(info.get('file tree'));
      tree.set('two.bin', tree.get('one.bin')!);
      tree.delete('one.bin');
    }), /"info\.length" makes a single-file torrent but "info\.file tree" does not hold one file named like the torrent/],
  ];
  it.each(cases)('rejects %s', (_label, make, message) => {
    expectParseError(make(), message);
  });

  it('survives seeded fuzzing of v2 and hybrid torrents: every input parses or throws TorrentParseError', () => {
    const random = prng(0xb2b2);
    const seeds = [v2Multi, hybridMulti, hybridSingle];
    const alphabet = Buffer.from('ildeijx0123456789:-p');
    const iterations = 4000;
    let parsed = 0;
    let rejected = 0;
    const started = Date.now();
    for (let i = 0; i < iterations; i++) {
      let input = Buffer.from(seeds[i % seeds.length]);
      const mode = i % 5;
      if (mode === 0) {
        input = input.subarray(0, Math.floor(random() * input.length));
      } else {
        const edits = 1 + Math.floor(random() * 4);
        for (let e = 0; e < edits; e++) {
          // Aim most edits at the structure (the first and last few hundred bytes), not the hashes.
          const near = random() < 0.5 ? Math.floor(random() * Math.min(400, input.length)) : input.length - 1 - Math.floor(random() * Math.min(300, input.length));
          const at = Math.max(0, near);
          const byte = random() < 0.6 ? alphabet[Math.floor(random() * alphabet.length)] : Math.floor(random() * 256);
          if (mode === 1 || mode === 4) input[at] = byte;
          else if (mode === 2) input = Buffer.concat([input.subarray(0, at), Buffer.from([byte]), input.subarray(at)]);
          else input = Buffer.concat([input.subarray(0, at), input.subarray(at + 1 + Math.floor(random() * 8))]);
        }
        if (mode === 4) {
          const other = seeds[(i + 1) % seeds.length];
          const from = Math.floor(random() * other.length);
          const at = Math.floor(random() * input.length);
          input = Buffer.concat([input.subarray(0, at), other.subarray(from, from + Math.floor(random() * 60)), input.subarray(at)]);
        }
      }
      try {
        const t = parseTorrent(input);
        expect(t.infoHash).toMatch(/^[0-9a-f]{40}$/);
        parsed++;
      } catch (error) {
        if (!(error instanceof TorrentParseError)) throw new Error(`iteration ${i}: ${String(error)} for input ${input.toString('hex')}`);
        expect(error.message.length).toBeGreaterThan(0);
        rejected++;
      }
    }
    expect(parsed + rejected).toBe(iterations);
    expect(rejected).toBeGreaterThan(iterations / 2);
    expect(parsed).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
