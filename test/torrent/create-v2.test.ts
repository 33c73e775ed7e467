/**
 * BitTorrent v2 and hybrid creation (BEP 52) against in-memory references: merkle roots over 16 KiB
 * blocks, piece layers, v1 piece hashes of the padded layout, pad rules, file-tree order; round
 * trips through parseTorrent; the same result on every thread layout; the CLI's --version; both
 * swarms of a hybrid torrent in the tracker's registry.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli.js';
import { TorrentCreateError } from '../../src/torrent/errors.js';
import { createTorrent } from '../../src/torrent/create.js';
import { BLOCK_SIZE, merkleRoot, nextPowerOfTwo, rootFromPieceLayer, zeroHash } from '../../src/torrent/merkle.js';
import { parseTorrent } from '../../src/torrent/parse.js';
import { hashV2 } from '../../src/torrent/v2-pieces.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet, startApp } from '../helpers/http.js';
import { bdecode } from '../helpers/bdecode.js';
import { bytes, tempDir, writeTree } from './fixtures.js';

const tmp = tempDir('ett-v2-');
afterAll(() => tmp.cleanup());
let counter = 0;

const sha256 = (data: Uint8Array): Buffer => createHash('sha256').update(data).digest();

/** Reference merkle root: leaves of 16 KiB blocks, zero leaves up to a power of two, pairwise SHA-256. */
function referenceRoot(content: Buffer, pieceLength: number): Buffer {
  const blocks = Math.ceil(content.length / BLOCK_SIZE);
  const pieces = Math.ceil(content.length / pieceLength);
  const width = pieces > 1 ? nextPowerOfTwo(pieces) * (pieceLength / BLOCK_SIZE) : nextPowerOfTwo(blocks);
  let layer: Buffer[] = [];
  for (let i = 0; i < width; i++) {
    layer.push(i < blocks ? sha256(content.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE)) : Buffer.alloc(32));
  }
  while (layer.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < layer.length; i += 2) next.push(sha256(Buffer.concat([layer[i], layer[i + 1]])));
    layer = next;
  }
  return layer[0];
}

/** Reference v1 pieces of a hybrid torrent: the files, each padded with zeros to a piece boundary. */
function referenceHybridPieces(contents: Buffer[], pieceLength: number, padLast: boolean): Buffer {
  const parts: Buffer[] = [];
  contents.forEach((content, i) => {
    parts.push(content);
    const rest = content.length % pieceLength;
    if (rest !== 0 && (padLast || i < contents.length - 1)) parts.push(Buffer.alloc(pieceLength - rest));
  });
  const all = Buffer.concat(parts);
  const out: Buffer[] = [];
  for (let at = 0; at < all.length; at += pieceLength) out.push(createHash('sha1').update(all.subarray(at, at + pieceLength)).digest());
  return Buffer.concat(out);
}

function newTree(files: Record<string, Buffer>): string {
  const root = path.join(tmp.dir, `tree-${counter++}`, 'payload');
  writeTree(root, files);
  return root;
}

describe('merkle trees', () => {
  it('padding nodes are roots of zero leaves', () => {
    expect(zeroHash(0).equals(Buffer.alloc(32))).toBe(true);
    expect(zeroHash(1).equals(sha256(Buffer.alloc(64)))).toBe(true);
    expect(zeroHash(2).equals(sha256(Buffer.concat([zeroHash(1), zeroHash(1)])))).toBe(true);
  });

  it('a root over padded nodes equals the root over explicit zero leaves', () => {
    const leaves = Buffer.concat([sha256(Buffer.from('a')), sha256(Buffer.from('b')), sha256(Buffer.from('c'))]);
    const explicit = merkleRoot(Buffer.concat([leaves, Buffer.alloc(32 * 5)]), 8);
    expect(merkleRoot(leaves, 8).equals(explicit)).toBe(true);
    // A piece layer of 3 nodes of height 2 (4 blocks a piece): pads are zeroHash(2).
    expect(rootFromPieceLayer(leaves, 4 * BLOCK_SIZE).equals(merkleRoot(Buffer.concat([leaves, zeroHash(2)]), 4, 2))).toBe(true);
  });
});

describe('createTorrent v2 and hybrid', () => {
  const sizes: Record<string, number> = {
    'a b/x.bin': 40_000, // "a b" sorts before "a" joined with "/", after it component-wise
    'a/x': 16_384, // exactly one block
    'a-b': 1,
    'empty first': 0,
    'exact.bin': 65_536, // exactly two pieces of 32 KiB
    'small.txt': 5, // smaller than a block
    'z/last.bin': 100_001,
  };
  const contents = Object.fromEntries(Object.entries(sizes).map(([name, size], i) => [name, bytes(size, 40 + i)]));
  const treeOrder = ['a/x', 'a b/x.bin', 'a-b', 'empty first', 'exact.bin', 'small.txt', 'z/last.bin'];
  const target = newTree(contents);

  for (const pieceLength of [16_384, 32_768, 262_144]) {
    it(`hybrid, ${pieceLength / 1024} KiB pieces: file-tree order, roots, layers and padded v1 pieces match the references`, async () => {
      const result = await createTorrent(target, { version: 'hybrid', pieceLength, creationDate: false });
      expect(result.version).toBe('hybrid');
      expect(result.files.map((f) => f.path.join('/'))).toEqual(treeOrder);
      let offset = 0;
      for (const file of result.files) {
        const content = contents[file.path.join('/')];
        expect(file.offset).toBe(offset);
        offset += content.length + (content.length % pieceLength === 0 ? 0 : pieceLength - (content.length % pieceLength));
        if (content.length === 0) expect(file.piecesRoot).toBeUndefined();
        else expect(file.piecesRoot!.toString('hex')).toBe(referenceRoot(content, pieceLength).toString('hex'));
        expect(file.pieceLayer !== undefined).toBe(content.length > pieceLength);
      }
      const parsed = parseTorrent(result.torrent);
      expect(parsed.version).toBe('hybrid');
      expect(parsed.infoHash).toBe(result.infoHash);
      expect(parsed.infoHash).toBe(createHash('sha1').update(parsed.infoBuffer).digest('hex'));
      expect(parsed.infoHashV2).toBe(createHash('sha256').update(parsed.infoBuffer).digest('hex'));
      expect(parsed.infoHashV2).toBe(result.infoHashV2);
      expect(parsed.files).toEqual(result.files);
      expect(parsed.length).toBe(Object.values(sizes).reduce((a, b) => a + b, 0));
      const expected = referenceHybridPieces(treeOrder.map((name) => contents[name]), pieceLength, true);
      expect(Buffer.concat(parsed.pieces).equals(expected)).toBe(true);
      // The v1 list: a pad file after every unaligned file, the last one included (as libtorrent).
      const info = bdecode(parsed.infoBuffer) as Record<string, unknown>;
      const v1 = (info.files as Array<Record<string, unknown>>).map((f) => [
        (f.path as Buffer[]).map((c) => c.toString()).join('/'),
        f.length,
        f.attr?.toString(),
      ]);
      const pads = v1.filter((entry) => entry[2] === 'p');
      expect(pads.length).toBe(treeOrder.filter((name) => contents[name].length % pieceLength !== 0).length);
      expect(pads.every(([p, l]) => p === `.pad/${l}`)).toBe(true);
    });
  }

  it('v2: no v1 fields, the tracker hash is the v2 hash cut to 20 bytes, magnet has only btmh', async () => {
    const result = await createTorrent(target, { version: 'v2', pieceLength: 16_384, announce: 'http://t/announce' });
    const parsed = parseTorrent(result.torrent);
    expect(parsed.version).toBe('v2');
    expect(parsed.pieces).toEqual([]);
    expect(result.infoHash).toBe(result.infoHashV2!.slice(0, 40));
    expect(parsed.infoHash).toBe(result.infoHash);
    const info = bdecode(parsed.infoBuffer) as Record<string, unknown>;
    expect(Object.keys(info)).toEqual(['file tree', 'meta version', 'name', 'piece length']);
    expect(result.magnet).toBe(`magnet:?xt=urn:btmh:1220${result.infoHashV2}&dn=payload&tr=${encodeURIComponent('http://t/announce')}`);
  });

  it('hybrid magnet links carry both hashes; v1 stays the default and unchanged', async () => {
    const hybrid = await createTorrent(target, { version: 'hybrid', creationDate: false });
    expect(hybrid.magnet).toBe(`magnet:?xt=urn:btih:${hybrid.infoHash}&xt=urn:btmh:1220${hybrid.infoHashV2}&dn=payload`);
    const v1 = await createTorrent(target, { creationDate: false });
    const explicit = await createTorrent(target, { version: 'v1', creationDate: false });
    expect(v1.torrent.equals(explicit.torrent)).toBe(true);
    expect(v1.version).toBe('v1');
    expect(v1.infoHashV2).toBeUndefined();
    expect(parseTorrent(v1.torrent).version).toBe('v1');
  });

  it('a single file: hybrid has "length" and no pad, pieces hashed as they are', async () => {
    const content = bytes(50_000, 60);
    const file = path.join(tmp.dir, `single-${counter++}.bin`);
    writeFileSync(file, content);
    const result = await createTorrent(file, { version: 'hybrid', pieceLength: 16_384, creationDate: false });
    const parsed = parseTorrent(result.torrent);
    expect(parsed.multiFile).toBe(false);
    expect(parsed.files).toEqual([{ path: [path.basename(file)], length: 50_000, offset: 0, piecesRoot: referenceRoot(content, 16_384), pieceLayer: parsed.files[0].pieceLayer }]);
    expect(Buffer.concat(parsed.pieces).equals(referenceHybridPieces([content], 16_384, false))).toBe(true);
    expect((bdecode(parsed.infoBuffer) as Record<string, unknown>).length).toBe(50_000);
  });

  it('the same torrent from the calling thread alone, one, two or three threads, and workers only', async () => {
    const big = newTree({ 'one.bin': bytes(5_000_000, 61), 'two.bin': bytes(4_000_001, 62), 'three/x': bytes(3, 63), 'zero': Buffer.alloc(0) });
    const outputs = [];
    for (const threads of [0, 1, 2, 3]) {
      outputs.push((await createTorrent(big, { version: 'hybrid', pieceLength: 65_536, creationDate: false, threads })).torrent.toString('hex'));
    }
    expect(new Set(outputs).size).toBe(1);
    const files = ['one.bin', 'three/x', 'two.bin', 'zero'].map((name) => ({ absolutePath: path.join(big, name), length: readFileSync(path.join(big, name)).length }));
    const workersOnly = await hashV2(files, { pieceLength: 65_536, hybrid: true, padPieces: true, threads: 2 });
    const parsed = parseTorrent(Buffer.from(outputs[0], 'hex'));
    expect(workersOnly.pieces!.equals(Buffer.concat(parsed.pieces))).toBe(true);
    expect(workersOnly.files.map((f) => f.piecesRoot?.toString('hex'))).toEqual(parsed.files.map((f) => f.piecesRoot?.toString('hex')));
  });

  it('pieces larger than one read (1 MiB) and smaller ones, on workers and on the calling thread: roots, layers and v1 pieces match the references', async () => {
    const contents: Record<string, Buffer> = {
      'big.bin': bytes(9_437_185, 65), // 9 MiB + 1: a last block of one byte
      'mid.bin': bytes(1_048_577, 66), // one read + 1
      'small.bin': bytes(20_000, 67),
      'zero': Buffer.alloc(0),
    };
    const target = newTree(contents);
    const order = ['big.bin', 'mid.bin', 'small.bin', 'zero'];
    const files = order.map((name) => ({ absolutePath: path.join(target, name), length: contents[name].length }));
    for (const pieceLength of [65_536, 1 << 20, 2 << 20, 8 << 20]) {
      const expectedPieces = referenceHybridPieces(order.map((name) => contents[name]).filter((c) => c.length > 0), pieceLength, true);
      for (const threads of [0, 2]) {
        const got = await hashV2(files, { pieceLength, hybrid: true, padPieces: true, threads });
        order.forEach((name, i) => {
          const content = contents[name];
          if (content.length === 0) return expect(got.files[i].piecesRoot).toBeUndefined();
          expect(got.files[i].piecesRoot!.toString('hex')).toBe(referenceRoot(content, pieceLength).toString('hex'));
          expect(got.files[i].pieceLayer?.length).toBe(content.length > pieceLength ? Math.ceil(content.length / pieceLength) * 32 : undefined);
        });
        expect(got.pieces!.equals(expectedPieces)).toBe(true);
      }
    }
  });

  it('reports progress up to the total, aborts, and fails on a file that changes or is missing', async () => {
    const big = newTree({ 'a.bin': bytes(12_000_000, 64) });
    const progress: number[] = [];
    await createTorrent(big, { version: 'v2', onProgress: (done, total) => progress.push(done / total) });
    expect(progress.at(-1)).toBe(1);
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(createTorrent(big, { version: 'hybrid', signal: controller.signal })).rejects.toThrow('stop');
    const files = [{ absolutePath: path.join(big, 'a.bin'), length: 12_000_001 }];
    await expect(hashV2(files, { pieceLength: 16_384, hybrid: false, padPieces: true, threads: 2 })).rejects.toThrow(TorrentCreateError);
    await expect(hashV2([{ absolutePath: path.join(big, 'nope'), length: 5 }], { pieceLength: 16_384, hybrid: true, padPieces: true })).rejects.toThrow(
      /cannot read .*nope: no such file/,
    );
  });

  it('refuses an unknown version', async () => {
    await expect(createTorrent(target, { version: 'v3' as 'v2' })).rejects.toThrow(/invalid version "v3"/);
  });
});

describe('torrent-tracker create --version and info', () => {
  const tree = newTree({ 'a.bin': bytes(70_000, 70), 'b.txt': bytes(10, 71) });

  async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await run(argv, { writeOut: (text) => (out += text), writeErr: (text) => (err += text) });
    return { code, out, err };
  }

  it('create PATH --version v2 / hybrid makes that version; --version alone prints the package version', async () => {
    for (const version of ['v2', 'hybrid'] as const) {
      const file = path.join(tmp.dir, `cli-${version}.torrent`);
      const { code, out, err } = await cli('create', tree, '-a', 'http://t/announce', '--version', version, '--no-date', '-q', '-o', file);
      expect(err).toBe('');
      expect(code).toBe(0);
      const parsed = parseTorrent(readFileSync(file));
      expect(parsed.version).toBe(version);
      expect(out).toContain(`Info hash v2: ${parsed.infoHashV2}\n`);
      if (version === 'hybrid') expect(out).toContain(`Info hash v1: ${parsed.infoHash}\n`);
      const info = await cli('info', file);
      expect(info.code).toBe(0);
      expect(info.out).toContain(`Info hash v2: ${parsed.infoHashV2}`);
      expect(info.out).toContain(`xt=urn:btmh:1220${parsed.infoHashV2}`);
      const json = JSON.parse((await cli('info', file, '--json')).out) as Record<string, unknown>;
      expect(json).toMatchObject({ version, infoHash: parsed.infoHash, infoHashV2: parsed.infoHashV2 });
    }
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const version = await cli('--version');
    expect(version).toEqual({ code: 0, out: `${pkg.version}\n`, err: '' });
    const bad = await cli('create', tree, '--version', 'v3', '-o', path.join(tmp.dir, 'never.torrent'));
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/expected v1, v2 or hybrid/);
  });
});

describe('the tracker registry and hybrid torrents', () => {
  it('addTorrent(result) registers both swarms of a hybrid torrent, removeTorrent removes both; a v2 torrent is its cut hash', async () => {
    const app = await startApp({ torrents: 'registry', enforceInterval: false });
    try {
      const hybrid = await createTorrent(newTree({ 'x.bin': bytes(30_000, 80) }), { version: 'hybrid' });
      const v2 = await createTorrent(newTree({ 'y.bin': bytes(30_000, 81) }), { version: 'v2' });
      const announce = async (hash: Buffer): Promise<Record<string, unknown>> => {
        const id = Buffer.concat([Buffer.from('-XX0001-'), randomBytes(12)]);
        const res = await rawGet(app.port, `/tracker/announce?info_hash=${escapeAll(hash)}&peer_id=${escapeAll(id)}&port=6881&uploaded=0&downloaded=0&left=0`);
        return bdecode(res.body) as Record<string, unknown>;
      };
      const v1Swarm = hybrid.infoHashBuffer;
      const v2Swarm = hybrid.infoHashV2Buffer!.subarray(0, 20);
      expect((await announce(v1Swarm))['failure reason']?.toString()).toBe('unregistered torrent');
      await app.router.tracker.addTorrent(hybrid);
      await app.router.tracker.addTorrent(v2);
      expect((await announce(v1Swarm))['failure reason']).toBeUndefined();
      expect((await announce(v2Swarm))['failure reason']).toBeUndefined();
      expect((await announce(v2.infoHashBuffer))['failure reason']).toBeUndefined();
      const scrape = await rawGet(app.port, `/tracker/scrape?info_hash=${escapeAll(v1Swarm)}&info_hash=${escapeAll(v2Swarm)}`);
      const files = (bdecode(scrape.body) as { files: Record<string, { complete: number }> }).files;
      expect(Object.values(files).map((f) => f.complete)).toEqual([1, 1]);
      expect(await app.router.tracker.removeTorrent(hybrid)).toBe(true);
      expect((await announce(v1Swarm))['failure reason']?.toString()).toBe('unregistered torrent');
      expect((await announce(v2Swarm))['failure reason']?.toString()).toBe('unregistered torrent');
      expect((await announce(v2.infoHashBuffer))['failure reason']).toBeUndefined();
    } finally {
      await app.close();
    }
  });
});
