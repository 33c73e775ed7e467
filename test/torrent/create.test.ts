import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import bencode from 'bencode';
import { afterAll, describe, expect, it } from 'vitest';
import { createTorrent } from '../../src/torrent/create.js';
import { TorrentCreateError } from '../../src/torrent/errors.js';
import { parseTorrent } from '../../src/torrent/parse.js';
import { bytes, sampleTree, tempDir, writeTree } from './fixtures.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const tree = path.join(tmp.dir, 'tree');
sampleTree(tree);
const single = path.join(tmp.dir, 'single file ü.bin');
writeFileSync(single, bytes(100_000, 9));

/** Expected order: byte-wise on the UTF-8 relative path joined with "/". */
const expectedOrder = [
  '.hidden',
  'B.txt',
  'a.txt',
  'empty',
  'sub dir/Z',
  'sub dir/ä/ö file.bin',
  'sub-x',
  'sub/r',
  '日本語/名前.txt',
];

function decoded(torrent: Buffer): Record<string, unknown> {
  return bencode.decode(torrent) as Record<string, unknown>;
}

describe('createTorrent', () => {
  it('makes a single-file torrent that parses back to the same facts', async () => {
    const made = await createTorrent(single, { announce: 'http://tracker.example/announce', pieceLength: 16_384, creationDate: false });
    const parsed = parseTorrent(made.torrent);
    expect(parsed.infoHash).toBe(made.infoHash);
    expect(parsed.infoHashBuffer.equals(made.infoHashBuffer)).toBe(true);
    expect(parsed.name).toBe('single file ü.bin');
    expect(parsed.multiFile).toBe(false);
    expect(parsed.files).toEqual([{ path: ['single file ü.bin'], length: 100_000, offset: 0 }]);
    expect(made.files).toEqual(parsed.files);
    expect(parsed.pieceLength).toBe(16_384);
    expect(parsed.pieces).toHaveLength(Math.ceil(100_000 / 16_384));
    const content = readFileSync(single);
    parsed.pieces.forEach((piece, i) => {
      expect(piece.equals(createHash('sha1').update(content.subarray(i * 16_384, (i + 1) * 16_384)).digest())).toBe(true);
    });
    expect(parsed.announce).toEqual([['http://tracker.example/announce']]);
    expect(parsed.creationDate).toBeUndefined();
    expect(parsed.createdBy).toMatch(/^express-torrent-tracker\/\d+\.\d+\.\d+/);
    expect(made.magnet).toBe(
      `magnet:?xt=urn:btih:${made.infoHash}&dn=single%20file%20%C3%BC.bin&tr=http%3A%2F%2Ftracker.example%2Fannounce`,
    );
    const top = decoded(made.torrent);
    expect(Object.keys(top)).toEqual(['announce', 'created by', 'info']); // no announce-list for one URL
    expect(Object.keys(top.info as object)).toEqual(['length', 'name', 'piece length', 'pieces']);
  });

  it('lists a tree in byte order with hidden and empty files, and hashes across file boundaries', async () => {
    const made = await createTorrent(tree, { pieceLength: 32_768, creationDate: false });
    expect(made.multiFile).toBe(true);
    expect(made.name).toBe('tree');
    expect(made.files.map((file) => file.path.join('/'))).toEqual(expectedOrder);
    const parsed = parseTorrent(made.torrent);
    expect(parsed.files).toEqual(made.files);
    const all = Buffer.concat(expectedOrder.map((relative) => readFileSync(path.join(tree, relative))));
    expect(parsed.length).toBe(all.length);
    parsed.pieces.forEach((piece, i) => {
      expect(piece.equals(createHash('sha1').update(all.subarray(i * 32_768, (i + 1) * 32_768)).digest())).toBe(true);
    });
  });

  it('writes announce, announce-list tiers, url-list, private, comment, created by and a given date', async () => {
    const date = new Date('2024-05-06T07:08:09Z');
    const made = await createTorrent(single, {
      announce: [['http://a/1', 'udp://a2:6969'], ['https://b/announce']],
      webSeeds: 'http://ws.example/files/',
      private: true,
      comment: 'über comment',
      createdBy: 'someone',
      creationDate: date,
      name: 'renamed.bin',
    });
    const parsed = parseTorrent(made.torrent);
    expect(parsed.announce).toEqual([['http://a/1', 'udp://a2:6969'], ['https://b/announce']]);
    expect(parsed.urlList).toEqual(['http://ws.example/files/']);
    expect(Array.isArray(decoded(made.torrent)['url-list'])).toBe(true);
    expect(parsed.private).toBe(true);
    expect(parsed.comment).toBe('über comment');
    expect(parsed.createdBy).toBe('someone');
    expect(parsed.creationDate?.toISOString()).toBe(date.toISOString());
    expect(parsed.name).toBe('renamed.bin');
    expect(made.magnet).toContain('&tr=udp%3A%2F%2Fa2%3A6969&tr=https%3A%2F%2Fb%2Fannounce&ws=http%3A%2F%2Fws.example%2Ffiles%2F');
    // A flat list: one tier per URL.
    const flat = await createTorrent(single, { announce: ['http://a/1', 'wss://b/2'], creationDate: false });
    expect(parseTorrent(flat.torrent).announce).toEqual([['http://a/1'], ['wss://b/2']]);
    // Privacy changes the info hash; announce and comments do not.
    const plain = await createTorrent(single, { creationDate: false, name: 'renamed.bin' });
    const privateOnly = await createTorrent(single, { creationDate: false, name: 'renamed.bin', private: true, pieceLength: plain.pieceLength });
    expect(privateOnly.infoHash).toBe(made.infoHash);
    expect(plain.infoHash).not.toBe(made.infoHash);
  });

  it('is reproducible without a creation date, and stamps "now" by default', async () => {
    const a = await createTorrent(tree, { creationDate: false, createdBy: null });
    const b = await createTorrent(tree, { creationDate: false, createdBy: null });
    expect(a.torrent.equals(b.torrent)).toBe(true);
    expect(Object.keys(decoded(a.torrent))).toEqual(['info']);
    const before = Math.floor(Date.now() / 1000);
    const stamped = parseTorrent((await createTorrent(tree)).torrent);
    expect(stamped.creationDate!.getTime() / 1000).toBeGreaterThanOrEqual(before);
    expect(stamped.creationDate!.getTime()).toBeLessThanOrEqual(Date.now());
  });

  it('reports hashing progress up to the total', async () => {
    const seen: Array<[number, number]> = [];
    const made = await createTorrent(tree, { onProgress: (done, total) => seen.push([done, total]) });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.at(-1)).toEqual([made.length, made.length]);
    for (let i = 1; i < seen.length; i++) expect(seen[i][0]).toBeGreaterThan(seen[i - 1][0]);
  });

  it('chooses the piece length from the total size by default', async () => {
    expect((await createTorrent(single)).pieceLength).toBe(16_384);
  });

  it('follows symbolic links to files and directories, and reports FIFOs it leaves out', async () => {
    const root = path.join(tmp.dir, 'links');
    writeTree(root, { 'real/x': 'xx', 'f': 'ffff' });
    symlinkSync('f', path.join(root, 'link-to-f'));
    symlinkSync('real', path.join(root, 'link-to-dir'));
    execFileSync('mkfifo', [path.join(root, 'pipe')]);
    const made = await createTorrent(root, { creationDate: false });
    expect(made.files.map((file) => [file.path.join('/'), file.length])).toEqual([
      ['f', 4],
      ['link-to-dir/x', 2],
      ['link-to-f', 4],
      ['real/x', 2],
    ]);
    expect(made.skipped).toEqual([path.join(root, 'pipe')]);
  });

  const failures: Array<[string, () => Promise<unknown>, RegExp]> = [
    ['a missing path', () => createTorrent(path.join(tmp.dir, 'does-not-exist')), /cannot read .*does-not-exist: no such file or directory/],
    ['an empty path', () => createTorrent(''), /no path given/],
    [
      'an empty directory',
      async () => {
        mkdirSync(path.join(tmp.dir, 'empty-dir', 'only-dirs'), { recursive: true });
        return createTorrent(path.join(tmp.dir, 'empty-dir'));
      },
      /empty-dir contains no files/,
    ],
    [
      'a broken symbolic link',
      async () => {
        writeTree(path.join(tmp.dir, 'broken'), { ok: 'x' });
        symlinkSync('missing-target', path.join(tmp.dir, 'broken', 'dangling'));
        return createTorrent(path.join(tmp.dir, 'broken'));
      },
      /cannot read .*dangling: broken symbolic link/,
    ],
    [
      'a symbolic link loop',
      async () => {
        writeTree(path.join(tmp.dir, 'loop', 'd'), { f: 'x' });
        symlinkSync('..', path.join(tmp.dir, 'loop', 'd', 'up'));
        return createTorrent(path.join(tmp.dir, 'loop'));
      },
      /symbolic link loop at .*loop\/d\/up/,
    ],
    [
      'a file name that is not UTF-8',
      async () => {
        const dir = path.join(tmp.dir, 'latin1');
        mkdirSync(dir);
        writeFileSync(Buffer.concat([Buffer.from(`${dir}/caf`), Buffer.from([0xe9])]), 'x');
        return createTorrent(dir);
      },
      /file name is not valid UTF-8/,
    ],
    ['a piece length that is not a power of two', () => createTorrent(single, { pieceLength: 100_000 }), /invalid piece length 100000/],
    ['a piece length too small', () => createTorrent(single, { pieceLength: 8192 }), /invalid piece length 8192/],
    ['an invalid announce URL', () => createTorrent(single, { announce: 'not a url' }), /invalid announce URL "not a url"/],
    ['an announce URL of another scheme', () => createTorrent(single, { announce: ['ftp://x/a'] }), /invalid announce URL "ftp:\/\/x\/a"/],
    ['an empty tier', () => createTorrent(single, { announce: [[]] }), /empty tracker tier/],
    ['an invalid web seed', () => createTorrent(single, { webSeeds: ['udp://x/'] }), /invalid web seed URL/],
    ['a name with a slash', () => createTorrent(single, { name: 'a/b' }), /invalid torrent name "a\/b"/],
    ['a Windows device name as the name', () => createTorrent(single, { name: 'CON' }), /invalid torrent name "CON": it is a reserved device name on Windows/],
    [
      'a file name parseTorrent would refuse (a Windows device name)',
      async () => {
        writeTree(path.join(tmp.dir, 'device'), { 'sub/AUX.txt': 'x', ok: 'y' });
        return createTorrent(path.join(tmp.dir, 'device'));
      },
      /cannot put ".*device\/sub\/AUX.txt" in a torrent: the name "AUX.txt" is not portable \(it is a reserved device name on Windows\)/,
    ],
    [
      'a file name with a terminal escape',
      async () => {
        writeTree(path.join(tmp.dir, 'escape'), { 'a\u001b[2J': 'x' });
        return createTorrent(path.join(tmp.dir, 'escape'));
      },
      /the name "a\\u001b\[2J" is not portable \(it contains a control character\)/,
    ],
    ['an invalid creation date', () => createTorrent(single, { creationDate: new Date(Number.NaN) }), /invalid creation date/],
  ];
  it.each(failures)('fails clearly on %s', async (_label, make, message) => {
    const run = make();
    await expect(run).rejects.toBeInstanceOf(TorrentCreateError);
    await expect(run).rejects.toThrow(message);
  });

  it('can be aborted', async () => {
    const reason = new Error('cancelled');
    await expect(createTorrent(tree, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });
});
