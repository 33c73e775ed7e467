/**
 * Interop: real clients (aria2, qBittorrent, Transmission) download a file whose only seed is our
 * seeder, found through the project's tracker (Express app, short interval). The seeder runs on
 * its own loopback address (127.0.0.2). Transmission never dials loopback peers, so its download
 * also proves that the seeder dials out to the peers the tracker returns.
 */
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSeeder, type PeerCloseEventInfo, type Seeder, type SeederOptions } from '../../src/seeder/seeder.js';
import { encode } from '../../src/seeder/wire.js';
import { magnetLink } from '../../src/torrent/magnet.js';
import type { AnnounceEventInfo } from '../../src/tracker.js';
import { startApp, type RunningApp } from '../helpers/http.js';
import {
  aria2Leecher,
  freePort,
  haveBinaries,
  qbittorrent,
  sha1File,
  transmissionAdd,
  transmissionDaemon,
  waitFor,
  type ClientProcess,
} from '../helpers/clients.js';
import { FakePeer } from '../seeder/helpers/fake-peer.js';
import { makeTorrent, type TorrentFixture } from '../seeder/helpers/torrent.js';
import { tempDir } from '../torrent/fixtures.js';

const SIZE = 4 * 1024 * 1024 + 12_345; // odd size: a short last piece
const PIECE = 256 * 1024;
const DOWNLOAD_TIMEOUT = 90_000;

const available = haveBinaries('aria2c', 'qbittorrent-nox', 'transmission-daemon', 'transmission-remote');

describe.skipIf(!available)('seeder interop with real clients', () => {
  let tracker: RunningApp;
  const announces: AnnounceEventInfo[] = [];
  const dirs: Array<ReturnType<typeof tempDir>> = [];
  let procs: ClientProcess[] = [];
  let seeders: Seeder[] = [];
  let squatters: FakePeer[] = [];
  let timers: NodeJS.Timeout[] = [];

  beforeAll(async () => {
    tracker = await startApp({ interval: 5, minInterval: 1 });
    tracker.router.tracker.on('announce', (a: AnnounceEventInfo) => announces.push(a));
  });

  afterEach(async () => {
    for (const t of timers) clearInterval(t);
    for (const p of squatters) p.destroy();
    timers = [];
    squatters = [];
    await Promise.all(procs.map((p) => p.stop('SIGTERM', 3000)));
    await Promise.all(seeders.map((s) => s.close()));
    procs = [];
    seeders = [];
  });

  afterAll(async () => {
    await tracker?.close();
    for (const d of dirs) d.cleanup();
  });

  async function fixture(): Promise<{ fx: TorrentFixture; root: string; sha1: string }> {
    const tmp = tempDir('ett-seed-interop-');
    dirs.push(tmp);
    const root = tmp.dir;
    const fx = await makeTorrent({
      dir: path.join(root, 'seed'),
      size: SIZE,
      pieceLength: PIECE,
      name: 'payload.bin',
      announce: `http://127.0.0.1:${tracker.port}/tracker/announce`,
    });
    const sha1 = (await sha1File(path.join(fx.dir, 'payload.bin')))!;
    return { fx, root, sha1 };
  }

  async function startSeeder(fx: TorrentFixture, options: SeederOptions = {}): Promise<Seeder> {
    const seeder = await createSeeder({ port: 0, host: '127.0.0.2', minAnnounceInterval: 1, announceRetryDelay: 1000, ...options });
    seeders.push(seeder);
    await seeder.add(fx.parsed, fx.dir);
    return seeder;
  }

  function sawAnnounce(infoHash: string, ip: string): boolean {
    return announces.some((a) => a.infoHash === infoHash && a.ip === ip && a.event !== 'stopped');
  }

  async function expectDownloaded(file: string, sha1: string, who: ClientProcess, seeder: Seeder): Promise<void> {
    try {
      await waitFor(`${file} to be complete`, async () => (await sha1File(file)) === sha1, DOWNLOAD_TIMEOUT, 500);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nseeder: ${JSON.stringify(seeder.stats())}\nclient log:\n${who.output.slice(-3000)}`);
    }
  }

  /** aria2 downloads `torrent` (a file or a magnet link) into `dl` and must exit 0 (its output is the failure message). */
  async function aria2Downloads(torrent: string, dl: string, extraArgs: string[] = []): Promise<void> {
    const aria2 = aria2Leecher({ torrent, dataDir: dl, listenPort: await freePort(), logFile: path.join(dl, '..', 'aria2.log'), extraArgs });
    procs.push(aria2);
    const code = await Promise.race([aria2.exit, new Promise((r) => setTimeout(() => r('timeout'), DOWNLOAD_TIMEOUT))]);
    expect(code, aria2.output).toBe(0);
  }

  it('aria2 downloads from our seeder, byte-identical', { timeout: 120_000 }, async () => {
    const { fx, root, sha1 } = await fixture();
    const seeder = await startSeeder(fx);
    await waitFor('the seeder to announce', () => sawAnnounce(fx.parsed.infoHash, '127.0.0.2'), 10_000);
    const dl = path.join(root, 'aria2-dl');
    const started = Date.now();
    await aria2Downloads(fx.torrentPath, dl);
    console.log(`[no squatters] aria2 downloaded ${SIZE} bytes in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(await sha1File(path.join(dl, 'payload.bin'))).toBe(sha1);
    expect(seeder.stats().uploaded).toBeGreaterThanOrEqual(SIZE);
  });

  it('aria2 downloads a multi-file torrent (blocks spanning files) from our seeder', { timeout: 120_000 }, async () => {
    const tmp = tempDir('ett-seed-interop-multi-');
    dirs.push(tmp);
    const root = tmp.dir;
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
    await waitFor('the seeder to announce', () => sawAnnounce(fx.parsed.infoHash, '127.0.0.2'), 10_000);
    const dl = path.join(root, 'aria2-dl');
    await aria2Downloads(fx.torrentPath, dl);
    for (const f of layout) {
      const rel = path.join('bundle', ...f.path);
      expect(await sha1File(path.join(dl, rel)), rel).toBe(await sha1File(path.join(fx.dir, rel)));
    }
  });

  /**
   * Connections from `localAddress` that handshake, say interested and keep alive but never
   * request: `count` attempts, sequentially; resolves with the ones the seeder kept open.
   */
  async function squat(seeder: Seeder, fx: TorrentFixture, localAddress: string, count: number): Promise<FakePeer[]> {
    const kept: FakePeer[] = [];
    for (let i = 0; i < count; i++) {
      const p = await FakePeer.connect(seeder.port, '127.0.0.2', localAddress);
      squatters.push(p);
      p.handshake(fx.parsed.infoHashBuffer, Buffer.concat([Buffer.from('-SQ0001-'), Buffer.from(`${localAddress}#${i}`.padEnd(12, '.').slice(-12))]), { fast: true });
      p.send(encode.interested());
      await p.waitFor(() => p.closed || p.ofType('have-all').length === 1, 5000, 'the seeder to answer or close');
      if (!p.closed) kept.push(p);
    }
    const timer = setInterval(() => {
      for (const p of kept) if (!p.closed) p.send(encode.keepAlive());
    }, 1000);
    timers.push(timer);
    return kept;
  }

  it('aria2 downloads the whole torrent while another host holds connections to it', { timeout: 120_000 }, async () => {
    const { fx, root, sha1 } = await fixture();
    const seeder = await startSeeder(fx);
    await waitFor('the seeder to announce', () => sawAnnounce(fx.parsed.infoHash, '127.0.0.2'), 10_000);
    const held = await squat(seeder, fx, '127.0.0.3', 200); // tries 200, keeps the per-address cap
    expect(held).toHaveLength(4);
    const started = Date.now();
    await aria2Downloads(fx.torrentPath, path.join(root, 'aria2-dl'));
    console.log(`[one squatting host] aria2 downloaded ${SIZE} bytes in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(await sha1File(path.join(root, 'aria2-dl', 'payload.bin'))).toBe(sha1);
    expect(seeder.stats().torrents[0].uploaded).toBeGreaterThanOrEqual(SIZE); // all of it to aria2:
    expect(squatters.every((p) => p.ofType('piece').length === 0)).toBe(true); // squatters got nothing
    expect(held.every((p) => !p.closed)).toBe(true);
  });

  it('aria2 gets in and downloads when 33 hosts fill all 100 connection slots of the torrent', { timeout: 120_000 }, async () => {
    const { fx, root, sha1 } = await fixture();
    // A shorter rotation (the eviction grace) than the default 10 s keeps the test short.
    const seeder = await startSeeder(fx, { rotateInterval: 2000 });
    const closes: PeerCloseEventInfo[] = [];
    seeder.on('peer-close', (c: PeerCloseEventInfo) => closes.push(c));
    await waitFor('the seeder to announce', () => sawAnnounce(fx.parsed.infoHash, '127.0.0.2'), 10_000);
    await squat(seeder, fx, '127.0.0.3', 4);
    for (let h = 0; h < 32; h++) await squat(seeder, fx, `127.0.1.${h + 1}`, 3);
    expect(seeder.stats().torrents[0].peers).toBe(100);
    const since = Date.now();
    await waitFor('the eviction grace (one rotation)', () => Date.now() - since > 2500, 5000, 100);
    const started = Date.now();
    await aria2Downloads(fx.torrentPath, path.join(root, 'aria2-dl'));
    const evicted = closes.filter((c) => c.reason === 'evicted to make room for another host');
    console.log(`[100 squatters on 33 hosts] aria2 downloaded ${SIZE} bytes in ${((Date.now() - started) / 1000).toFixed(1)} s; ${evicted.length} evicted`);
    expect(await sha1File(path.join(root, 'aria2-dl', 'payload.bin'))).toBe(sha1);
    expect(evicted.length).toBeGreaterThan(0);
    expect(evicted.every((c) => c.address !== '127.0.0.1')).toBe(true);
    expect(squatters.every((p) => p.ofType('piece').length === 0)).toBe(true);
  });

  it('aria2 starts from a magnet link: fetches the info dictionary from our seeder (BEP 9), then the data', { timeout: 120_000 }, async () => {
    const { fx, root, sha1 } = await fixture();
    await startSeeder(fx);
    await waitFor('the seeder to announce', () => sawAnnounce(fx.parsed.infoHash, '127.0.0.2'), 10_000);
    const dl = path.join(root, 'aria2-magnet');
    const magnet = magnetLink({ infoHash: fx.parsed.infoHash, announce: fx.parsed.announce });
    expect(magnet).not.toContain('dn='); // the name must come from the metadata
    await aria2Downloads(magnet, dl, ['--bt-save-metadata=false', '--bt-metadata-only=false']);
    expect(await sha1File(path.join(dl, 'payload.bin'))).toBe(sha1);
  });

  it('qBittorrent (libtorrent) downloads from our seeder, byte-identical', { timeout: 120_000 }, async () => {
    const { fx, root, sha1 } = await fixture();
    const dl = path.join(root, 'qb-dl');
    const qb = qbittorrent({ home: path.join(root, 'qbhome'), torrent: fx.torrentPath, saveDir: dl, port: await freePort(), webuiPort: await freePort() });
    procs.push(qb);
    const seeder = await startSeeder(fx);
    await expectDownloaded(path.join(dl, 'payload.bin'), sha1, qb, seeder);
    expect(seeder.stats().torrents[0].uploaded).toBeGreaterThanOrEqual(SIZE);
  });

  it('Transmission (which never dials loopback peers) downloads because the seeder dials it', { timeout: 120_000 }, async () => {
    const { fx, root, sha1 } = await fixture();
    const dl = path.join(root, 'tr-dl');
    const tr = await transmissionDaemon({ configDir: path.join(root, 'transmission'), downloadDir: dl });
    procs.push(tr);
    await transmissionAdd(tr.rpcPort, fx.torrentPath);
    // Leecher first: it announces and finds nobody; the seeder's first announce returns it.
    await waitFor('Transmission to announce', () => announces.some((a) => a.infoHash === fx.parsed.infoHash && a.ip === '127.0.0.1'), 20_000);
    const seeder = await startSeeder(fx);
    const outgoing: string[] = [];
    seeder.on('peer', (p: { direction: string; client?: string }) => outgoing.push(p.direction));
    await expectDownloaded(path.join(dl, 'payload.bin'), sha1, tr, seeder);
    expect(outgoing).toContain('outgoing');
    expect(outgoing).not.toContain('incoming');
  });
});
