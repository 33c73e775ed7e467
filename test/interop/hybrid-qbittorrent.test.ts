/**
 * A hybrid torrent (BitTorrent v1 + v2, BEP 52) made by createTorrent really works: qBittorrent
 * (libtorrent 2) downloads it byte-identical from our seeder (v1 wire protocol, pad files served as
 * zeros), introduced only by our tracker, where the torrent is registered under both of its swarms
 * (`torrents: 'registry'`, `addTorrent(result)`); libtorrent announces the v2 swarm too.
 * Without qBittorrent the test skips with a visible reason; under CI=true it fails.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSeeder, type Seeder } from '../../src/seeder/seeder.js';
import { createTorrent } from '../../src/torrent/create.js';
import type { AnnounceEventInfo } from '../../src/tracker.js';
import { freePort, haveBinaries, qbittorrent, sha1File, waitFor, type ClientProcess } from '../helpers/clients.js';
import { startApp, type RunningApp } from '../helpers/http.js';
import { bytes, tempDir, writeTree } from '../torrent/fixtures.js';

const available = haveBinaries('qbittorrent-nox');

describe.skipIf(!available)('a hybrid torrent in a real swarm', () => {
  let tmp: ReturnType<typeof tempDir>;
  let app: RunningApp | undefined;
  let seeder: Seeder | undefined;
  let qb: ClientProcess | undefined;
  beforeAll(() => {
    tmp = tempDir('ett-hybrid-qb-');
  });
  afterAll(async () => {
    await qb?.stop();
    await seeder?.close();
    await app?.close();
    tmp?.cleanup();
  });

  it('qBittorrent downloads it from our seeder through our tracker, byte-identical', { timeout: 150_000 }, async () => {
    app = await startApp({ interval: 5, minInterval: 1, torrents: 'registry' });
    const announces: AnnounceEventInfo[] = [];
    app.router.tracker.on('announce', (event: AnnounceEventInfo) => announces.push(event));

    const name = 'Hybrid set ü';
    const contents: Record<string, Buffer> = {
      'a first file.bin': bytes(1_000_003, 91),
      'dir/ö small.txt': bytes(777, 92),
      'dir/deeper/日本.bin': bytes(1_500_000, 93),
      'empty file': Buffer.alloc(0),
      'tiny': bytes(10, 94),
      'z-last.bin': bytes(300_001, 95),
    };
    const seedRoot = path.join(tmp.dir, 'seed', name);
    writeTree(seedRoot, contents);
    const made = await createTorrent(seedRoot, {
      version: 'hybrid',
      pieceLength: 65_536,
      announce: `http://127.0.0.1:${app.port}/tracker/announce`,
    });
    const torrentFile = path.join(tmp.dir, 'hybrid.torrent');
    writeFileSync(torrentFile, made.torrent);
    await app.router.tracker.addTorrent(made);

    seeder = await createSeeder({ port: 0, host: '127.0.0.2', minAnnounceInterval: 1, announceRetryDelay: 1000 });
    await seeder.add(made.torrent, path.dirname(seedRoot));
    const v2Swarm = made.infoHashV2!.slice(0, 40);
    await waitFor('the seeder to announce', () => announces.some((a) => a.infoHash === made.infoHash && a.ip === '127.0.0.2'), 15_000);

    const saveDir = path.join(tmp.dir, 'qb-dl');
    qb = qbittorrent({ home: path.join(tmp.dir, 'qb-home'), torrent: torrentFile, saveDir, port: await freePort(), webuiPort: await freePort() });
    try {
      for (const [file, content] of Object.entries(contents)) {
        const expected = createHash('sha1').update(content).digest('hex');
        await waitFor(`${file} to be complete`, async () => (await sha1File(path.join(saveDir, name, file))) === expected, 100_000, 500);
      }
    } catch (error) {
      throw new Error(`${(error as Error).message}\nseeder: ${JSON.stringify(seeder.stats())}\nqBittorrent:\n${qb.output.slice(-3000)}`);
    }
    expect(seeder.stats().uploaded).toBeGreaterThanOrEqual(Object.values(contents).reduce((sum, c) => sum + c.length, 0));
    // qBittorrent announced both swarms of the hybrid torrent, each accepted by the registry.
    await waitFor('qBittorrent to announce the v2 swarm', () => announces.some((a) => a.infoHash === v2Swarm && a.ip === '127.0.0.1'), 30_000);
    expect(announces.some((a) => a.infoHash === made.infoHash && a.ip === '127.0.0.1')).toBe(true);
  });
});
