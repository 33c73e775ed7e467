/**
 * Byte compatibility with the reference tool mktorrent: for the same content, name and piece length
 * our info dictionary is byte-identical to mktorrent's (so the info hashes match), and we parse what
 * mktorrent writes. Without mktorrent the tests skip with a visible reason; under CI=true they fail.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli.js';
import { createTorrent, type CreateTorrentOptions } from '../../src/torrent/create.js';
import { parseTorrent } from '../../src/torrent/parse.js';
import { haveBinary } from '../helpers/clients.js';
import { bytes, sampleTree, tempDir, writeTree } from '../torrent/fixtures.js';

const available = haveBinary('mktorrent');
const ANNOUNCE = 'http://127.0.0.1:1/announce';

describe.skipIf(!available)('byte compatibility with mktorrent', () => {
  // Made in beforeAll, not while collecting, so a skipped suite leaves nothing behind.
  let tmp: ReturnType<typeof tempDir>;
  beforeAll(() => {
    tmp = tempDir('ett-mktorrent-');
  });
  afterAll(() => tmp?.cleanup());
  let counter = 0;

  /** Run mktorrent on `target` and return the .torrent bytes. */
  function mktorrent(target: string, args: string[]): Buffer {
    const output = path.join(tmp.dir, `mk-${counter++}.torrent`);
    const r = spawnSync('mktorrent', ['-a', ANNOUNCE, ...args, '-o', output, target], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mktorrent failed: ${r.stderr}`);
    return readFileSync(output);
  }

  async function compare(target: string, mkArgs: string[], options: CreateTorrentOptions): Promise<string> {
    const theirs = parseTorrent(mktorrent(target, mkArgs));
    const ours = await createTorrent(target, { announce: ANNOUNCE, ...options });
    const oursParsed = parseTorrent(ours.torrent);
    expect(oursParsed.infoBuffer.equals(theirs.infoBuffer)).toBe(true);
    expect(ours.infoHash).toBe(theirs.infoHash);
    expect(oursParsed.files).toEqual(theirs.files);
    return ours.infoHash;
  }

  it('single file, 256 KiB pieces (-l 18)', async () => {
    const file = path.join(tmp.dir, 'single file ü.bin');
    writeFileSync(file, bytes(1_000_000, 11));
    await compare(file, ['-l', '18'], { pieceLength: 262_144 });
  });

  it('single file smaller than a piece, and an exact multiple of the piece length', async () => {
    const small = path.join(tmp.dir, 'small.txt');
    writeFileSync(small, 'hello');
    await compare(small, ['-l', '15'], { pieceLength: 32_768 });
    const exact = path.join(tmp.dir, 'exact.bin');
    writeFileSync(exact, bytes(4 * 32_768, 12));
    await compare(exact, ['-l', '15'], { pieceLength: 32_768 });
  });

  it('a nested tree with spaces, non-ASCII names, hidden and empty files, symbolic links', async () => {
    const root = path.join(tmp.dir, 'tree with space');
    sampleTree(root);
    writeTree(root, { 'deep/a/b/c/d.bin': bytes(500_000, 13), 'zz/.git/config': 'x' });
    symlinkSync('a.txt', path.join(root, 'link to a'));
    symlinkSync('sub dir', path.join(root, 'linked dir'));
    const hash = await compare(root, ['-l', '18'], { pieceLength: 262_144 });
    // Piece boundaries in other places give other hashes, still equal to mktorrent's.
    expect(await compare(root, ['-l', '15'], { pieceLength: 32_768 })).not.toBe(hash);
  });

  it('the private flag (-p) and a name (-n)', async () => {
    const root = path.join(tmp.dir, 'priv');
    writeTree(root, { 'one.bin': bytes(300_000, 14), 'two/ñ.txt': 'two' });
    const publicHash = await compare(root, ['-l', '18'], { pieceLength: 262_144 });
    const privateHash = await compare(root, ['-l', '18', '-p'], { pieceLength: 262_144, private: true });
    expect(privateHash).not.toBe(publicHash);
    await compare(root, ['-l', '18', '-p', '-n', 'Renamed Ω'], { pieceLength: 262_144, private: true, name: 'Renamed Ω' });
  });

  it('a tree large enough to be hashed on worker threads', async () => {
    const root = path.join(tmp.dir, 'workers');
    writeTree(root, { 'a.bin': bytes(5_000_001, 15), 'b/c.bin': bytes(4_999_999, 16), 'b/empty': '' });
    await compare(root, ['-l', '16'], { pieceLength: 65_536, threads: 2 });
  });

  it('the CLI gives the same info hash as mktorrent', async () => {
    const root = path.join(tmp.dir, 'cli tree');
    sampleTree(root);
    const theirs = parseTorrent(mktorrent(root, ['-l', '18', '-p']));
    const output = path.join(tmp.dir, 'cli.torrent');
    let out = '';
    const code = await run(['create', root, '-a', ANNOUNCE, '-l', '256K', '-p', '-o', output], {
      writeOut: (text) => (out += text),
      writeErr: () => undefined,
    });
    expect(code).toBe(0);
    expect(out).toContain(`Info hash: ${theirs.infoHash}\n`);
    expect(parseTorrent(readFileSync(output)).infoBuffer.equals(theirs.infoBuffer)).toBe(true);
  });

  it('parses what mktorrent writes: tiers, web seeds, comment, date', () => {
    const root = path.join(tmp.dir, 'meta');
    writeTree(root, { 'x.bin': bytes(70_000, 17) });
    const output = path.join(tmp.dir, 'meta.torrent');
    const args = ['-a', 'http://a/1,http://a/2', '-a', 'udp://b:6969', '-w', 'http://ws/1/,http://ws/2/', '-c', 'a comment ü', '-l', '15', '-o', output, root];
    const r = spawnSync('mktorrent', args, { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const before = Date.now();
    const parsed = parseTorrent(readFileSync(output));
    expect(parsed.name).toBe('meta');
    expect(parsed.multiFile).toBe(true);
    expect(parsed.files).toEqual([{ path: ['x.bin'], length: 70_000, offset: 0 }]);
    expect(parsed.pieceLength).toBe(32_768);
    expect(parsed.pieces).toHaveLength(3);
    expect(parsed.announce).toEqual([['http://a/1', 'http://a/2'], ['udp://b:6969']]);
    expect(parsed.urlList).toEqual(['http://ws/1/', 'http://ws/2/']);
    expect(parsed.comment).toBe('a comment ü');
    expect(parsed.createdBy).toMatch(/^mktorrent/);
    expect(Math.abs(parsed.creationDate!.getTime() - before)).toBeLessThan(120_000);
    expect(parsed.private).toBe(false);
  });
});
