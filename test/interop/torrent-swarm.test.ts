/**
 * A torrent made by createTorrent really works: aria2 seeds the original tree, and Transmission and
 * an aria2 leecher, introduced only by trackerMiddleware (DHT, LSD and PEX off), download it
 * byte-identical — multi-file, names with spaces and non-ASCII characters, pieces spanning files.
 * Without the clients the test skips with a visible reason; under CI=true it fails.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTorrent } from '../../src/torrent/create.js';
import type { AnnounceEventInfo } from '../../src/tracker.js';
import {
  aria2Leecher,
  aria2Seeder,
  ClientProcess,
  freePort,
  haveBinary,
  sha1File,
  transmission,
  transmissionAdd,
  transmissionRemote,
  waitFor,
} from '../helpers/clients.js';
import { startApp, type RunningApp } from '../helpers/http.js';
import { bytes, tempDir, writeTree } from '../torrent/fixtures.js';

const available = ['aria2c', 'transmission-daemon', 'transmission-remote'].every((binary) => haveBinary(binary));

describe.skipIf(!available)('a created torrent in a real swarm', () => {
  // Made in beforeAll, not while collecting, so a skipped suite leaves nothing behind.
  let tmp: ReturnType<typeof tempDir>;
  beforeAll(() => {
    tmp = tempDir('ett-swarm-');
  });
  const started: ClientProcess[] = [];
  let app: RunningApp | undefined;

  afterAll(async () => {
    await Promise.all(started.map((client) => client.stop()));
    await app?.close();
    tmp?.cleanup();
  });

  it('aria2 seeds it; Transmission and aria2 download it byte-identical through the tracker', async () => {
    app = await startApp({ interval: 10, minInterval: 5 });
    const announces: AnnounceEventInfo[] = [];
    app.router.tracker.on('announce', (event: AnnounceEventInfo) => announces.push(event));
    const clientOf = (event: AnnounceEventInfo): string => Buffer.from(event.peerId, 'hex').subarray(0, 3).toString('latin1');

    const seedDir = path.join(tmp.dir, 'seed');
    const name = 'Shared tree ü';
    const contents: Record<string, Buffer> = {
      'a first file.bin': bytes(1_000_003, 31),
      'dir with space/ö.txt': bytes(77_777, 32),
      'dir with space/deeper/日本.bin': bytes(1_500_000, 33),
      'small': bytes(10, 34),
      'empty file': Buffer.alloc(0),
      'z-last.bin': bytes(300_001, 35),
    };
    writeTree(path.join(seedDir, name), contents);
    const made = await createTorrent(path.join(seedDir, name), {
      announce: `http://127.0.0.1:${app.port}/tracker/announce`,
      pieceLength: 32_768,
    });
    const torrent = path.join(tmp.dir, 'shared.torrent');
    writeFileSync(torrent, made.torrent);
    expect(made.files).toHaveLength(Object.keys(contents).length);

    // Leechers first: they announce, get no peers, and wait to be dialled by the seeder.
    const trDir = path.join(tmp.dir, 'tr-dl');
    mkdirSync(trDir);
    const trRpc = await freePort();
    const tr = transmission({ configDir: path.join(tmp.dir, 'tr-conf'), rpcPort: trRpc, peerPort: await freePort(), downloadDir: trDir });
    started.push(tr);
    await transmissionAdd(trRpc, torrent);
    const a2Dir = path.join(tmp.dir, 'a2-dl');
    const leecher = aria2Leecher({ torrent, dataDir: a2Dir, listenPort: await freePort() });
    started.push(leecher);
    await waitFor('Transmission and the aria2 leecher to announce', () => {
      const names = new Set(announces.map(clientOf));
      return names.has('-TR') && names.has('A2-');
    }, 60_000);
    expect(announces.every((event) => event.infoHash === made.infoHash)).toBe(true);

    const seeder = aria2Seeder({ torrent, dataDir: seedDir, listenPort: await freePort('127.0.0.2'), iface: '127.0.0.2' });
    started.push(seeder);

    // Transmission 3 does not create zero-length files on disk; aria2 does. So the empty file is
    // checked in aria2's download only.
    const nonEmpty = Object.entries(contents).filter(([, content]) => content.length > 0);
    const identical = async (root: string, entries: Array<[string, Buffer]>): Promise<boolean> => {
      for (const [relative, content] of entries) {
        const file = path.join(root, name, relative);
        if (!existsSync(file) || statSync(file).size !== content.length) return false;
        if ((await sha1File(file)) !== createHash('sha1').update(content).digest('hex')) return false;
      }
      return true;
    };
    try {
      await waitFor('both downloads to be byte-identical', async () => (await identical(trDir, nonEmpty)) && (await identical(a2Dir, Object.entries(contents))), 120_000, 500);
    } catch (error) {
      let info: string;
      try {
        info = transmissionRemote(trRpc, ['-t', '1', '-i']);
      } catch (e) {
        info = String(e);
      }
      throw new Error(`${String(error)}\n--- transmission\n${info}\n--- aria2 seeder\n${seeder.output}\n--- aria2 leecher\n${leecher.output}`);
    }
    for (const [relative, content] of nonEmpty) expect(readFileSync(path.join(trDir, name, relative)).equals(content)).toBe(true);
    for (const [relative, content] of Object.entries(contents)) {
      expect(readFileSync(path.join(a2Dir, name, relative)).equals(content)).toBe(true);
    }
    // The seeder was introduced by the tracker, from its own address.
    expect(announces.find((event) => event.ip === '127.0.0.2')).toMatchObject({ seeder: true });
  }, 240_000);
});

