import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli.js';
import { startCreateEarly } from '../../src/cli/create-early.js';
import { createTorrent } from '../../src/torrent/create.js';
import { cancelEarlyHash, startEarlyHash, takeEarlyHash, takeEarlyHashV2 } from '../../src/torrent/early-hash.js';
import { hashPieces, type PieceFile } from '../../src/torrent/pieces.js';
import { tempDir } from './fixtures.js';

const tmp = tempDir();
afterAll(() => {
  cancelEarlyHash();
  tmp.cleanup();
});
const file = path.join(tmp.dir, 'data.bin');
writeFileSync(file, randomBytes(5 * 1024 * 1024 + 123));
const pieceFile = (): PieceFile => {
  const s = statSync(file);
  return { absolutePath: file, length: s.size, mtimeMs: s.mtimeMs };
};

describe('early hashing (the head start of `create`)', () => {
  it('hands its result to the caller that hashes exactly that file, with progress from where it is', async () => {
    startEarlyHash(pieceFile(), 65536, 2);
    const seen: number[] = [];
    const taken = takeEarlyHash([pieceFile()], 65536, (done) => seen.push(done));
    expect(taken).toBeDefined();
    const expected = await hashPieces([pieceFile()], { pieceLength: 65536, threads: 0 });
    expect((await taken!).equals(expected)).toBe(true);
    expect(seen.at(-1)).toBe(pieceFile().length);
    // Taken once only.
    expect(takeEarlyHash([pieceFile()], 65536)).toBeUndefined();
  });

  it('is not taken for another piece length, another file or a file changed since', async () => {
    startEarlyHash(pieceFile(), 65536, 2);
    expect(takeEarlyHash([pieceFile()], 32768)).toBeUndefined();
    expect(takeEarlyHash([{ ...pieceFile(), absolutePath: `${file}.other` }], 65536)).toBeUndefined();
    const later = new Date(Date.now() + 5000);
    utimesSync(file, later, later);
    expect(takeEarlyHash([pieceFile()], 65536)).toBeUndefined();
    cancelEarlyHash();
  });

  it('stops when cancelled, and when the taker aborts', async () => {
    startEarlyHash(pieceFile(), 16384, 2);
    const controller = new AbortController();
    const taken = takeEarlyHash([pieceFile()], 16384, undefined, controller.signal)!;
    controller.abort(new Error('stop'));
    await expect(taken).rejects.toThrow('stop');
    startEarlyHash(pieceFile(), 16384, 2);
    cancelEarlyHash();
    expect(takeEarlyHash([pieceFile()], 16384)).toBeUndefined();
  });

  it('v2 and hybrid: taken only for the same kind of torrent, and gives what hashV2 gives', async () => {
    const { hashV2 } = await import('../../src/torrent/v2-pieces.js');
    for (const version of ['v2', 'hybrid'] as const) {
      startEarlyHash(pieceFile(), 65536, 2, version);
      expect(takeEarlyHash([pieceFile()], 65536)).toBeUndefined(); // a v1 taker does not get it
      expect(takeEarlyHashV2([pieceFile()], 65536, version === 'v2' ? 'hybrid' : 'v2')).toBeUndefined();
      const taken = takeEarlyHashV2([pieceFile()], 65536, version);
      expect(taken).toBeDefined();
      const expected = await hashV2([pieceFile()], { pieceLength: 65536, hybrid: version === 'hybrid', padPieces: false, threads: 0 });
      const got = await taken!;
      expect(got.files[0].piecesRoot!.equals(expected.files[0].piecesRoot!)).toBe(true);
      expect(got.files[0].pieceLayer!.equals(expected.files[0].pieceLayer!)).toBe(true);
      expect(got.pieces?.toString('hex')).toBe(expected.pieces?.toString('hex'));
    }
  });

  it('the command makes the same v2 and hybrid torrents as createTorrent', async () => {
    const quiet = { writeOut: () => undefined, writeErr: () => undefined };
    for (const version of ['v2', 'hybrid'] as const) {
      const out = path.join(tmp.dir, `data-${version}.torrent`);
      expect(await run(['create', file, '--version', version, '-l', '32K', '--no-date', '-o', out], quiet)).toBe(0);
      const expected = await createTorrent(file, { version, pieceLength: 32768, creationDate: false });
      expect(readFileSync(out).equals(expected.torrent)).toBe(true);
      expect(takeEarlyHashV2([pieceFile()], 32768, version)).toBeUndefined(); // taken by the command
    }
  });

  it('starts only for one regular file (v1, v2 or hybrid), whatever else the arguments say', () => {
    try {
      expect(startCreateEarly(['create', file, '-a', 'http://t/announce', '-l', '64K', '-o', path.join(tmp.dir, 'x.torrent')])).toBe(true);
      expect(startCreateEarly(['create', file, '--version', 'v1'])).toBe(true);
      expect(startCreateEarly(['create', file, '--version', 'hybrid'])).toBe(true);
      expect(startCreateEarly(['create', file, '--version', 'V2'])).toBe(true);
      expect(startCreateEarly(['create', file, '--version', 'v3'])).toBe(false);
      expect(startCreateEarly(['create', tmp.dir])).toBe(false);
      expect(startCreateEarly(['create', path.join(tmp.dir, 'missing')])).toBe(false);
      expect(startCreateEarly(['create', file, '-l', '1000'])).toBe(false);
      expect(startCreateEarly(['create', file, 'second'])).toBe(false);
    } finally {
      cancelEarlyHash();
    }
  });

  it('the command makes the same torrent as createTorrent, and a refused command leaves no hash running', async () => {
    const out = path.join(tmp.dir, 'data.torrent');
    const argv = ['create', file, '--announce', 'http://t/announce', '--piece-length', '256K', '--no-date', '-o', out];
    const quiet = { writeOut: () => undefined, writeErr: () => undefined };
    expect(await run(argv, quiet)).toBe(0);
    const expected = await createTorrent(file, { announce: 'http://t/announce', pieceLength: 262144, creationDate: false });
    expect(readFileSync(out).equals(expected.torrent)).toBe(true);
    // The output exists now: the command fails before hashing, and the early hash is cancelled.
    expect(await run(argv, quiet)).toBe(1);
    expect(takeEarlyHash([pieceFile()], 262144)).toBeUndefined();
  });
});
