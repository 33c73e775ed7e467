/**
 * Interop: real clients (aria2, qBittorrent, Transmission) download a file whose only seed is our
 * seeder, found through the project's tracker (Express app, short interval). The seeder runs on
 * its own loopback address (127.0.0.2). Transmission never dials loopback peers, so its download
 * also proves that the seeder dials out to the peers the tracker returns.
 */
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSeeder, type Seeder } from '../../src/seeder/seeder.js';
import { magnetLink } from '../../src/torrent/magnet.js';
import type { AnnounceEventInfo } from '../../src/tracker.js';
import { startApp, type RunningApp } from '../helpers/http.js';
import {
  aria2Leecher,
  fileSha1,
  missingClients,
  qbittorrentLeecher,
  removeDir,
  tempDir,
  transmissionDaemon,
  waitUntil,
  type Spawned,
} from '../seeder/helpers/clients.js';
import { makeTorrent, type TorrentFixture } from '../seeder/helpers/torrent.js';

const SIZE = 4 * 1024 * 1024 + 12_345; // odd size: a short last piece
const PIECE = 256 * 1024;
const DOWNLOAD_TIMEOUT = 90_000;

const skipReason = missingClients('aria2c', 'qbittorrent-nox', 'transmission-daemon', 'transmission-remote');

describe.skipIf(skipReason !== undefined)('seeder interop with real clients', () => {
  let tracker: RunningApp;
  const announces: AnnounceEventInfo[] = [];
  const dirs: string[] = [];
  let procs: Spawned[] = [];
  let seeders: Seeder[] = [];

  beforeAll(async () => {
    tracker = await startApp({ interval: 5, minInterval: 1 });
    tracker.router.tracker.on('announce', (a: AnnounceEventInfo) => announces.push(a));
  });

  afterEach(async () => {
    await Promise.all(procs.map((p) => p.kill()));
    await Promise.all(seeders.map((s) => s.close()));
    procs = [];
    seeders = [];
  });

  afterAll(async () => {
    await tracker?.close();
    for (const d of dirs) await removeDir(d);
  });

  async function fixture(): Promise<{ fx: TorrentFixture; root: string; sha1: string }> {
    const root = await tempDir('seed-interop');
    dirs.push(root);
    const fx = await makeTorrent({
      dir: path.join(root, 'seed'),
      size: SIZE,
      pieceLength: PIECE,
      name: 'payload.bin',
      announce: `http://127.0.0.1:${tracker.port}/tracker/announce`,
    });
    const sha1 = (await fileSha1(path.join(fx.dir, 'payload.bin')))!;
    return { fx, root, sha1 };
  }

  async function startSeeder(fx: TorrentFixture): Promise<Seeder> {
    const seeder = await createSeeder({ port: 0, host: '127.0.0.2', minAnnounceInterval: 1, announceRetryDelay: 1000 });
    seeders.push(seeder);
    await seeder.add(fx.parsed, fx.dir);
    return seeder;
  }

  function sawAnnounce(infoHash: string, ip: string): boolean {
    return announces.some((a) => a.infoHash === infoHash && a.ip === ip && a.event !== 'stopped');
  }

  async function expectDownloaded(file: string, sha1: string, who: Spawned, seeder: Seeder): Promise<void> {
    try {
      await waitUntil(async () => (await fileSha1(file)) === sha1, DOWNLOAD_TIMEOUT, `${file} to be complete`, 500);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nseeder: ${JSON.stringify(seeder.stats())}\nclient log:\n${(await who.log()).slice(-3000)}`);
    }
  }

  it('aria2 downloads from our seeder, byte-identical', { timeout: 120_000 }, async () => {
    const { fx, root, sha1 } = await fixture();
    const seeder = await startSeeder(fx);
    await waitUntil(() => sawAnnounce(fx.parsed.infoHash, '127.0.0.2'), 10_000, 'the seeder to announce');
    const dl = path.join(root, 'aria2-dl');
    const aria2 = await aria2Leecher(fx.torrentPath, dl);
    procs.push(aria2);
    const code = await Promise.race([aria2.exited, new Promise((r) => setTimeout(() => r('timeout'), DOWNLOAD_TIMEOUT))]);
    expect(code, await aria2.log()).toBe(0);
    expect(await fileSha1(path.join(dl, 'payload.bin'))).toBe(sha1);
    expect(seeder.stats().uploaded).toBeGreaterThanOrEqual(SIZE);
  });

  it('aria2 downloads a multi-file torrent (blocks spanning files) from our seeder', { timeout: 120_000 }, async () => {
    const root = await tempDir('seed-interop-multi');
    dirs.push(root);
    const layout = [
      { path: ['a.bin'], length: 1_000_003 },
      { path: ['empty.txt'], length: 0 },
      { path: ['deep', 'er', 'b.bin'], length: 2_500_000 },
      { path: ['deep', 'c.txt'], length: 17 },
    ];
    const fx = await makeTorrent({
      dir: path.join(root, 'seed'),
      name: 'bundle',
      files: layout,
      pieceLength: PIECE,
      announce: `http://127.0.0.1:${tracker.port}/tracker/announce`,
    });
    await startSeeder(fx);
    await waitUntil(() => sawAnnounce(fx.parsed.infoHash, '127.0.0.2'), 10_000, 'the seeder to announce');
    const dl = path.join(root, 'aria2-dl');
    const aria2 = await aria2Leecher(fx.torrentPath, dl);
    procs.push(aria2);
    const code = await Promise.race([aria2.exited, new Promise((r) => setTimeout(() => r('timeout'), DOWNLOAD_TIMEOUT))]);
    expect(code, await aria2.log()).toBe(0);
    for (const f of layout) {
      const rel = path.join('bundle', ...f.path);
      expect(await fileSha1(path.join(dl, rel)), rel).toBe(await fileSha1(path.join(fx.dir, rel)));
    }
  });

  it('aria2 starts from a magnet link: fetches the info dictionary from our seeder (BEP 9), then the data', { timeout: 120_000 }, async () => {
    const { fx, root, sha1 } = await fixture();
    await startSeeder(fx);
    await waitUntil(() => sawAnnounce(fx.parsed.infoHash, '127.0.0.2'), 10_000, 'the seeder to announce');
    const dl = path.join(root, 'aria2-magnet');
    const magnet = magnetLink({ infoHash: fx.parsed.infoHash, announce: fx.parsed.announce });
    expect(magnet).not.toContain('dn='); // the name must come from the metadata
    const aria2 = await aria2Leecher(magnet, dl, ['--bt-save-metadata=false', '--bt-metadata-only=false']);
    procs.push(aria2);
    const code = await Promise.race([aria2.exited, new Promise((r) => setTimeout(() => r('timeout'), DOWNLOAD_TIMEOUT))]);
    expect(code, await aria2.log()).toBe(0);
    expect(await fileSha1(path.join(dl, 'payload.bin'))).toBe(sha1);
  });

  it('qBittorrent (libtorrent) downloads from our seeder, byte-identical', { timeout: 120_000 }, async () => {
    const { fx, root, sha1 } = await fixture();
    const dl = path.join(root, 'qb-dl');
    const qb = await qbittorrentLeecher(fx.torrentPath, root, dl);
    procs.push(qb);
    const seeder = await startSeeder(fx);
    await expectDownloaded(path.join(dl, 'payload.bin'), sha1, qb, seeder);
    expect(seeder.stats().torrents[0].uploaded).toBeGreaterThanOrEqual(SIZE);
  });

  it('Transmission (which never dials loopback peers) downloads because the seeder dials it', { timeout: 120_000 }, async () => {
    const { fx, root, sha1 } = await fixture();
    const dl = path.join(root, 'tr-dl');
    const tr = await transmissionDaemon(root, dl);
    procs.push(tr);
    await waitUntil(
      () => tr.remote(['-a', fx.torrentPath]).then(() => true, () => false),
      20_000,
      'transmission-daemon RPC to accept the torrent',
      300,
    );
    // Leecher first: it announces and finds nobody; the seeder's first announce returns it.
    await waitUntil(() => announces.some((a) => a.infoHash === fx.parsed.infoHash && a.ip === '127.0.0.1'), 20_000, 'Transmission to announce');
    const seeder = await startSeeder(fx);
    const outgoing: string[] = [];
    seeder.on('peer', (p: { direction: string; client?: string }) => outgoing.push(p.direction));
    await expectDownloaded(path.join(dl, 'payload.bin'), sha1, tr, seeder);
    expect(outgoing).toContain('outgoing');
    expect(outgoing).not.toContain('incoming');
  });
});
