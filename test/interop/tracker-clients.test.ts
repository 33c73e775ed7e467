/**
 * Real clients exchange a file through trackerMiddleware: qBittorrent and Transmission leech, aria2
 * seeds from its own loopback address. DHT, LSD and PEX are off everywhere, so only the tracker can
 * have introduced the peers to each other.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AnnounceEventInfo } from '../../src/tracker.js';
import { decodeDict } from '../helpers/bdecode.js';
import {
  aria2Seeder,
  ClientProcess,
  freePort,
  haveBinary,
  mktorrent,
  qbittorrent,
  sha1File,
  transmission,
  transmissionAdd,
  transmissionRemote,
  waitFor,
} from '../helpers/clients.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet, startApp, type RunningApp } from '../helpers/http.js';

const needed = ['aria2c', 'qbittorrent-nox', 'transmission-daemon', 'transmission-remote', 'mktorrent'];
const available = needed.every((b) => haveBinary(b));

describe.skipIf(!available)('real clients through trackerMiddleware', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ett-interop-'));
  const started: ClientProcess[] = [];
  let app: RunningApp | undefined;

  afterAll(async () => {
    await Promise.all(started.map((c) => c.stop()));
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('aria2 seeds to qBittorrent and Transmission; counters and stop events are exact', async () => {
    app = await startApp({ interval: 10, minInterval: 5 });
    const announces: AnnounceEventInfo[] = [];
    app.router.tracker.on('announce', (e: AnnounceEventInfo) => announces.push(e));
    const clientOf = (e: AnnounceEventInfo): string => Buffer.from(e.peerId, 'hex').subarray(0, 3).toString('latin1');

    const seedDir = path.join(dir, 'seed');
    mkdirSync(seedDir);
    const data = randomBytes(6 * 1024 * 1024 + 12345);
    writeFileSync(path.join(seedDir, 'payload.bin'), data);
    const expected = await sha1File(path.join(seedDir, 'payload.bin'));
    const torrent = path.join(dir, 'payload.torrent');
    mktorrent({ announce: `http://127.0.0.1:${app.port}/tracker/announce`, source: path.join(seedDir, 'payload.bin'), output: torrent });

    // Leechers first: they announce, get no peers, and wait to be dialled.
    const qbDir = path.join(dir, 'qb-dl');
    const qb = qbittorrent({ home: path.join(dir, 'qb-home'), torrent, saveDir: qbDir, port: await freePort(), webuiPort: await freePort() });
    started.push(qb);
    const trDir = path.join(dir, 'tr-dl');
    mkdirSync(trDir);
    const trRpc = await freePort();
    const tr = transmission({ configDir: path.join(dir, 'tr-conf'), rpcPort: trRpc, peerPort: await freePort(), downloadDir: trDir });
    started.push(tr);
    await transmissionAdd(trRpc, torrent);
    await waitFor('qBittorrent and Transmission to announce', () => {
      const names = new Set(announces.map(clientOf));
      return names.has('-qB') && names.has('-TR');
    }, 60_000);

    // The seeder gets both leechers in its first answer and dials them.
    const seeder = aria2Seeder({ torrent, dataDir: seedDir, listenPort: await freePort('127.0.0.2'), iface: '127.0.0.2' });
    started.push(seeder);

    try {
      await waitFor('both downloads to be byte-identical', async () => {
        const [a, b] = await Promise.all([sha1File(path.join(qbDir, 'payload.bin')), sha1File(path.join(trDir, 'payload.bin'))]);
        return a === expected && b === expected;
      }, 90_000, 500);
    } catch (error) {
      const info = (() => {
        try {
          return transmissionRemote(trRpc, ['-t', '1', '-i']);
        } catch (e) {
          return String(e);
        }
      })();
      throw new Error(`${String(error)}\n--- transmission\n${info}\n--- aria2\n${seeder.output}\n--- qBittorrent\n${qb.output}`);
    }

    const seederAnnounce = announces.find((e) => clientOf(e) === 'A2-');
    expect(seederAnnounce).toMatchObject({ ip: '127.0.0.2', seeder: true, event: 'started' });

    // Both leechers report completion: downloaded counts exactly 2, and they now count as seeders.
    const scrape = async (): Promise<Record<string, number>> => {
      const d = decodeDict((await rawGet(app!.port, `/tracker/scrape?info_hash=${escapeAll(Buffer.from(seederAnnounce!.infoHash, 'hex'))}`)).body);
      return Object.values(d.files as Record<string, Record<string, number>>)[0];
    };
    await waitFor('two completed events', async () => (await scrape()).downloaded === 2, 60_000);
    expect(announces.filter((e) => e.event === 'completed').map(clientOf).sort()).toEqual(['-TR', '-qB']);
    expect(await scrape()).toEqual({ complete: 3, incomplete: 0, downloaded: 2, downloaders: 0 });

    // qBittorrent announces stopped on SIGTERM: it leaves the swarm at once.
    await qb.stop('SIGTERM', 15_000);
    await waitFor('qBittorrent stopped announce', () => announces.some((e) => clientOf(e) === '-qB' && e.event === 'stopped'), 20_000);
    expect((await scrape()).complete).toBe(2);
  }, 240_000);
});
