import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FilePool } from '../../src/seeder/file-pool.js';
import { TorrentPathError, assertSafeComponent, resolveLocalFiles } from '../../src/seeder/paths.js';
import { createSeeder, type Seeder } from '../../src/seeder/seeder.js';
import { TorrentDataError, TorrentStorage } from '../../src/seeder/storage.js';
import type { ParsedTorrent } from '../../src/torrent/types.js';
import { makeTorrent } from './helpers/torrent.js';

const seeders: Seeder[] = [];
afterAll(async () => {
  for (const s of seeders) await s.close();
});
async function seeder(): Promise<Seeder> {
  const s = await createSeeder({ port: 0, host: '127.0.0.1', announce: false });
  seeders.push(s);
  return s;
}

describe('torrent paths', () => {
  it('rejects .., ., empty components, separators, control characters, drive prefixes and Windows device names', () => {
    for (const bad of ['..', '.', '', 'a/b', 'a\\b', 'x\0y', 'C:evil', '...', 'AUX', 'nul.txt', 'COM1', 'esc\u001b[2J', 'c1\u009b']) {
      expect(() => assertSafeComponent(bad), JSON.stringify(bad)).toThrow(TorrentPathError);
    }
    expect(() => assertSafeComponent('ok name.bin')).not.toThrow();
  });

  it('refuses a hand-made ParsedTorrent that tries to escape the data directory', async () => {
    const fx = await makeTorrent({ name: 'set', files: [{ path: ['a.bin'], length: 100 }] });
    const s = await seeder();
    for (const evil of [['..', '..', 'etc', 'passwd'], ['/etc/passwd'], ['sub', '', 'x']]) {
      const parsed: ParsedTorrent = { ...fx.parsed, files: [{ path: evil, length: 100, offset: 0 }] };
      await expect(s.add(parsed, fx.dir, { verify: false })).rejects.toThrow(TorrentPathError);
    }
    await expect(s.add({ ...fx.parsed, name: '..' }, fx.dir, { verify: false })).rejects.toThrow(TorrentPathError);
    await expect(s.add({ ...fx.parsed, name: 'AUX' }, fx.dir, { verify: false })).rejects.toThrow(/is not safe: it is a reserved device name/);
    expect(s.list()).toEqual([]);
  });

  it('accepts names that merely start with two dots', async () => {
    const fx = await makeTorrent({ name: '..dots.bin', size: 10 });
    expect((await resolveLocalFiles(fx.parsed, fx.dir))[0].path).toBe(path.join(fx.dir, '..dots.bin'));
  });

  it('finds single-file data given the file or its directory, multi-file data given the root or its parent', async () => {
    const single = await makeTorrent({ name: 'one.bin', size: 10 });
    expect((await resolveLocalFiles(single.parsed, single.dir))[0].path).toBe(path.join(single.dir, 'one.bin'));
    expect((await resolveLocalFiles(single.parsed, path.join(single.dir, 'one.bin')))[0].path).toBe(path.join(single.dir, 'one.bin'));
    const multi = await makeTorrent({ name: 'tree', files: [{ path: ['x', 'y.bin'], length: 10 }] });
    expect((await resolveLocalFiles(multi.parsed, multi.dir))[0].path).toBe(path.join(multi.dir, 'tree', 'x', 'y.bin'));
    expect((await resolveLocalFiles(multi.parsed, path.join(multi.dir, 'tree')))[0].path).toBe(path.join(multi.dir, 'tree', 'x', 'y.bin'));
    await expect(resolveLocalFiles(multi.parsed, path.join(multi.dir, 'nope'))).rejects.toThrow(/does not exist/);
  });
});

describe('storage and verification', () => {
  it('reads ranges that span several files, including empty ones', async () => {
    const fx = await makeTorrent({
      name: 'span',
      files: [
        { path: ['a'], length: 5000 },
        { path: ['empty'], length: 0 },
        { path: ['b'], length: 20000 },
        { path: ['c'], length: 3 },
      ],
      pieceLength: 16384,
    });
    const files = await resolveLocalFiles(fx.parsed, fx.dir);
    const pool = new FilePool(2);
    const st = new TorrentStorage(files, { length: fx.data.length, pieceLength: 16384, pieceCount: fx.parsed.pieces.length }, pool);
    try {
      expect(await st.read(4990, 30)).toEqual(fx.data.subarray(4990, 5020));
      expect(await st.readBlock(1, 0, fx.data.length - 16384)).toEqual(fx.data.subarray(16384));
      expect(await st.read(0, fx.data.length)).toEqual(fx.data);
      await expect(st.read(fx.data.length - 1, 2)).rejects.toThrow(RangeError);
      expect(await st.verify(fx.parsed.pieces)).toEqual([]);
    } finally {
      await pool.closeAll();
    }
  });

  it('refuses corrupted or short data unless verification is skipped', async () => {
    const fx = await makeTorrent({ name: 'c.bin', size: 50_000, pieceLength: 16384 });
    const corrupted = Buffer.from(fx.data);
    corrupted[20_000] ^= 0xff;
    await writeFile(path.join(fx.dir, 'c.bin'), corrupted);
    const s = await seeder();
    await expect(s.add(fx.torrentBuffer, fx.dir)).rejects.toThrow(/1 of 4 pieces do not match the torrent \(first: piece 1\)/);
    await expect(s.add(fx.torrentBuffer, fx.dir)).rejects.toThrow(TorrentDataError);
    expect((await s.add(fx.torrentBuffer, fx.dir, { verify: false })).infoHash).toBe(fx.parsed.infoHash);
    await expect(s.add(fx.torrentBuffer, fx.dir)).rejects.toThrow(/already being seeded/);

    const short = await makeTorrent({ name: 's.bin', size: 50_000 });
    await writeFile(path.join(short.dir, 's.bin'), short.data.subarray(0, 100));
    await expect(s.add(short.torrentBuffer, short.dir, { verify: false })).rejects.toThrow(/has 100 bytes, the torrent says 50000/);
  });

  it('stops verifying when the signal aborts', async () => {
    const fx = await makeTorrent({ name: 'v.bin', size: 24 * 1024 * 1024, pieceLength: 16384 });
    const s = await seeder();
    const controller = new AbortController();
    let seen = 0;
    const adding = s.add(fx.torrentBuffer, fx.dir, {
      signal: controller.signal,
      onVerifyProgress: (done, total) => {
        seen = done;
        expect(total).toBe(24 * 1024 * 1024);
        controller.abort(new Error('stop now'));
      },
    });
    await expect(adding).rejects.toThrow('stop now');
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThan(24 * 1024 * 1024);
    expect(s.list()).toEqual([]);
    const before = new AbortController();
    before.abort(new Error('never started'));
    await expect(s.add(fx.torrentBuffer, fx.dir, { signal: before.signal })).rejects.toThrow('never started');
  });

  it('follows a symlinked data directory but still validates torrent paths', async () => {
    const fx = await makeTorrent({ name: 'ln', files: [{ path: ['f.bin'], length: 1000 }] });
    await mkdir(path.join(fx.dir, 'holder'));
    await symlink(path.join(fx.dir, 'ln'), path.join(fx.dir, 'holder', 'ln'));
    const s = await seeder();
    expect((await s.add(fx.torrentBuffer, path.join(fx.dir, 'holder'))).name).toBe('ln');
  });
});
