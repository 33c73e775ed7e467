/**
 * BitTorrent v2 and hybrid torrents (BEP 52) checked against libtorrent 2 (python3-libtorrent):
 * libtorrent loads the torrents createTorrent makes, reports the v1 and v2 info hashes we computed
 * and verifies the data against them 100% (and not after one byte changes); libtorrent's own
 * torrents of the same files have byte-identical info dictionaries, and parseTorrent reads them
 * with libtorrent's info hashes. Odd sizes: empty files, files smaller than a 16 KiB block, exactly
 * one piece, many small files, names whose file-tree order differs from their joined-path order.
 * Without libtorrent the tests skip with a visible reason; under CI=true they fail.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent, type CreatedTorrent } from '../../src/torrent/create.js';
import { bdecode, type BValue } from '../../src/torrent/bdecode.js';
import { parseTorrent } from '../../src/torrent/parse.js';
import { haveLibtorrent, libtorrentCheck, libtorrentCreate, libtorrentInfo } from '../helpers/libtorrent.js';
import { bytes, prng, tempDir, writeTree } from '../torrent/fixtures.js';

const available = haveLibtorrent();
const VERSIONS = ['v2', 'hybrid'] as const;

// Each case runs several python3 processes: generous timeouts for a busy machine.
describe.skipIf(!available)('v2 and hybrid torrents against libtorrent', { timeout: 240_000 }, () => {
  let tmp: ReturnType<typeof tempDir>;
  let counter = 0;
  beforeAll(() => {
    tmp = tempDir('ett-libtorrent-');
  });
  afterAll(() => tmp?.cleanup());

  /** A fresh directory holding `files` under `<dir>/<name>`; returns the target path. */
  function tree(name: string, files: Record<string, Buffer | string>): string {
    const root = path.join(tmp.dir, `case-${counter++}`);
    writeTree(path.join(root, name), files);
    return path.join(root, name);
  }

  function single(name: string, content: Buffer): string {
    const root = path.join(tmp.dir, `case-${counter++}`);
    mkdirSync(root, { recursive: true });
    writeFileSync(path.join(root, name), content);
    return path.join(root, name);
  }

  /**
   * Ours and libtorrent's torrent of `target`: same info dictionary, same hashes; libtorrent loads
   * ours, reports our hashes and verifies the data 100%.
   */
  async function agree(target: string, version: 'v2' | 'hybrid', pieceLength: number, threads?: number): Promise<CreatedTorrent> {
    const ours = await createTorrent(target, { version, pieceLength, creationDate: false, threads });
    const ourFile = path.join(tmp.dir, `ours-${counter++}.torrent`);
    writeFileSync(ourFile, ours.torrent);
    const seen = libtorrentInfo(ourFile);
    expect(seen.v2).toBe(ours.infoHashV2);
    expect(seen.v1).toBe(version === 'hybrid' ? ours.infoHash : null);
    const check = libtorrentCheck(ourFile, path.dirname(target));
    expect(check).toMatchObject({ checked: true, error: null });
    expect(check.numPieces).toBe(check.total);
    expect(check.progress).toBe(1);

    const theirFile = path.join(tmp.dir, `lt-${counter++}.torrent`);
    libtorrentCreate(target, version, pieceLength, theirFile);
    const theirs = parseTorrent(readFileSync(theirFile));
    const parsedOurs = parseTorrent(ours.torrent);
    expect(parsedOurs.infoBuffer.equals(theirs.infoBuffer)).toBe(true);
    expect(theirs.version).toBe(version);
    expect(theirs.infoHashV2).toBe(ours.infoHashV2);
    expect(theirs.infoHash).toBe(ours.infoHash);
    const theirSeen = libtorrentInfo(theirFile);
    expect(theirs.infoHashV2).toBe(theirSeen.v2);
    if (version === 'hybrid') expect(theirs.infoHash).toBe(theirSeen.v1);
    else expect(theirs.infoHash).toBe(theirSeen.v2!.slice(0, 40));
    // Same files and offsets as libtorrent sees them (its pad files left out).
    const theirFiles = theirSeen.files.filter((f) => !f.pad);
    expect(parsedOurs.files.map((f) => [f.length, f.offset])).toEqual(theirFiles.map((f) => [f.size, f.offset]));
    // Piece layers: identical keys and values.
    expect(parsedOurs.files.map((f) => f.pieceLayer?.toString('hex'))).toEqual(theirs.files.map((f) => f.pieceLayer?.toString('hex')));
    return ours;
  }

  for (const version of VERSIONS) {
    describe(version, () => {
      it('a single file: odd size, smaller than a block, exactly one piece, a whole number of pieces', async () => {
        await agree(single('odd.bin', bytes(100_001, 1)), version, 16_384);
        await agree(single('tiny.txt', Buffer.from('hello')), version, 16_384);
        await agree(single('one-piece.bin', bytes(65_536, 2)), version, 65_536);
        await agree(single('three.bin', bytes(3 * 32_768, 3)), version, 32_768);
        await agree(single('blocks.bin', bytes(5 * 16_384 + 1, 4)), version, 262_144); // one piece, 6 blocks: 8 leaves
      });

      it('a tree: empty files, small files, pad rules, file-tree order unlike joined-path order, non-ASCII names', async () => {
        const target = tree('Tree ü', {
          'a b/x.bin': bytes(40_000, 5),
          'a/x': bytes(16_384, 6),
          'a-b': bytes(1, 7),
          'empty first': Buffer.alloc(0),
          'zz/empty': Buffer.alloc(0),
          'exact.bin': bytes(32_768, 8),
          '日本語/名前.txt': bytes(12_345, 9),
          'last.bin': bytes(70_001, 10),
        });
        for (const pieceLength of [16_384, 32_768, 131_072]) await agree(target, version, pieceLength);
      });

      it('identical files share a pieces root and one piece layer', async () => {
        const same = bytes(100_000, 11);
        const ours = await agree(tree('twins', { 'one.bin': same, 'two.bin': same, 'other.bin': bytes(50_000, 12) }), version, 16_384);
        expect(ours.files[0].piecesRoot!.equals(ours.files[2].piecesRoot!)).toBe(true);
      });

      it('many small files and one large enough for the worker threads', async () => {
        const random = prng(13);
        const files: Record<string, Buffer> = {};
        for (let i = 0; i < 300; i++) files[`d${i % 7}/f${i}.bin`] = bytes(Math.floor(random() * 20_000), 100 + i);
        files['big.bin'] = bytes(9_000_000, 14);
        const target = tree('many', files);
        await agree(target, version, 32_768, 2);
        await agree(target, version, 1 << 20, 3);
      });
    });
  }

  it('libtorrent finds a changed byte in data made into a hybrid torrent', async () => {
    const target = tree('changed', { 'a.bin': bytes(100_000, 15), 'b.bin': bytes(50_000, 16) });
    const ours = await createTorrent(target, { version: 'hybrid', pieceLength: 16_384 });
    const file = path.join(tmp.dir, `changed-${counter++}.torrent`);
    writeFileSync(file, ours.torrent);
    const content = readFileSync(path.join(target, 'b.bin'));
    content[40_000] ^= 1;
    writeFileSync(path.join(target, 'b.bin'), content);
    const check = libtorrentCheck(file, path.dirname(target));
    expect(check.checked).toBe(true);
    expect(check.numPieces).toBe(check.total - 1);
  });

  describe("libtorrent's own hybrid torrents, with and without the tail pad", () => {
    /** The v1 `files` list of a torrent, pad files marked (straight from the bytes, not through our parser). */
    function v1List(torrent: Buffer): Array<{ path: string; length: number; pad: boolean }> {
      const info = bdecode(torrent);
      if (info.type !== 'dict') throw new Error('not a dictionary');
      const dictOf = (value: BValue | undefined): Map<string, BValue> => (value?.type === 'dict' ? value.entries : new Map());
      const files = dictOf(info).get('info');
      const list = dictOf(files).get('files');
      if (list?.type !== 'list') return [];
      return list.items.map((item) => {
        const entry = dictOf(item);
        const length = entry.get('length');
        const pathValue = entry.get('path');
        return {
          path: pathValue?.type === 'list' ? pathValue.items.map((c) => (c.type === 'bytes' ? Buffer.from(c.value).toString('utf8') : '?')).join('/') : '?',
          length: length?.type === 'int' ? Number(length.value) : -1,
          pad: entry.has('attr'),
        };
      });
    }

    /** libtorrent's hybrid torrent of `target`; parseTorrent reads it with libtorrent's hashes, files and offsets. */
    function readTheirs(target: string, pieceLength: number, tailPadding: boolean): { parsed: ReturnType<typeof parseTorrent>; raw: Buffer } {
      const file = path.join(tmp.dir, `lt-hybrid-${counter++}.torrent`);
      libtorrentCreate(target, 'hybrid', pieceLength, file, { tailPadding });
      const raw = readFileSync(file);
      const parsed = parseTorrent(raw);
      const seen = libtorrentInfo(file);
      expect(parsed.version).toBe('hybrid');
      expect(parsed.infoHash).toBe(seen.v1);
      expect(parsed.infoHashV2).toBe(seen.v2);
      expect(parsed.pieces).toHaveLength(seen.pieces);
      const theirFiles = seen.files.filter((f) => !f.pad);
      expect(parsed.files.map((f) => [f.length, f.offset])).toEqual(theirFiles.map((f) => [f.size, f.offset]));
      return { parsed, raw };
    }

    const sizes = {
      'a.bin': bytes(300_000, 20),
      'blocks3.bin': bytes(50_000, 21), // 3 blocks, far from the piece boundary
      'empty.txt': Buffer.alloc(0),
      'sub/b.bin': bytes(70_000, 22),
      'sub/exact.bin': bytes(262_144, 23), // a whole piece: no pad after it
      'z.bin': bytes(12_345, 24), // the last file ends mid-piece
    };

    for (const tailPadding of [true, false]) {
      it(`a multi-file tree, sizes not multiples of the piece length, ${tailPadding ? 'with' : 'without'} the tail pad`, () => {
        const target = tree(`lt-tree-${tailPadding ? 'tail' : 'no-tail'}`, sizes);
        for (const pieceLength of [16_384, 262_144]) {
          const { parsed, raw } = readTheirs(target, pieceLength, tailPadding);
          const list = v1List(raw);
          // The layout under test really is what libtorrent wrote: a pad after z.bin, or none.
          expect(list[list.length - 1].pad).toBe(tailPadding);
          expect(list.filter((f) => !f.pad).map((f) => f.path)).toEqual(['a.bin', 'blocks3.bin', 'empty.txt', 'sub/b.bin', 'sub/exact.bin', 'z.bin']);
          const lastData = 12_345 % pieceLength;
          expect(parsed.lastPieceLength).toBe(tailPadding ? pieceLength : lastData);
          // Our hybrid of the same tree has the tail pad and the same v2 hash (the v2 part is the same).
          expect(parsed.length).toBe(Object.values(sizes).reduce((sum, b) => sum + b.length, 0));
        }
      });

      it(`a single file of an odd size ${tailPadding ? 'with' : 'without'} tail padding asked for`, () => {
        const target = single(`lt-one-${tailPadding ? 'tail' : 'no-tail'}.bin`, bytes(1_000_001, 25));
        const { parsed, raw } = readTheirs(target, 65_536, tailPadding);
        expect(v1List(raw)).toEqual([]); // "length", no file list and so no pad
        expect(parsed.multiFile).toBe(false);
        expect(parsed.lastPieceLength).toBe(1_000_001 % 65_536);
      });
    }

    it('our hybrid of the same tree has the same v2 info hash as libtorrent\'s, with and without its tail pad', async () => {
      const target = tree('lt-same', sizes);
      const ours = await createTorrent(target, { version: 'hybrid', pieceLength: 16_384, creationDate: false });
      const withTail = readTheirs(target, 16_384, true).parsed;
      const withoutTail = readTheirs(target, 16_384, false).parsed;
      expect(withTail.infoHash).toBe(ours.infoHash); // byte-identical info dictionaries
      expect(withTail.infoHashV2).toBe(ours.infoHashV2);
      expect(withoutTail.infoHash).not.toBe(ours.infoHash); // another v1 list, so another v1 hash
    });
  });

  it('the info hashes of a libtorrent v2 torrent of a single file', () => {
    const target = single('lt.bin', bytes(200_000, 17));
    const file = path.join(tmp.dir, `lt-only-${counter++}.torrent`);
    libtorrentCreate(target, 'v2', 16_384, file);
    const parsed = parseTorrent(readFileSync(file));
    const seen = libtorrentInfo(file);
    expect(parsed.version).toBe('v2');
    expect(parsed.infoHashV2).toBe(seen.v2);
    expect(parsed.multiFile).toBe(false);
    expect(parsed.files).toHaveLength(1);
    expect(parsed.files[0].length).toBe(200_000);
  });
});
