/**
 * The example site publishing hybrid torrents (PRIVATE=1, TORRENT_VERSION=hybrid): a member's
 * qBittorrent announces both swarms of the torrent (v1 hash and v2 hash) with the same totals, and
 * the member's page shows the download credited once, on one row; the home page's counts show the
 * torrent as one row with the client once.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseTorrent } from '../../src/torrent/parse.js';
import { freePort, haveBinary, qbittorrent, sha1File, waitFor, type ClientProcess } from '../helpers/clients.js';
import { describeWebTorrent } from '../helpers/webtorrent.js';
import { BrowserSession, startSite, type Site } from './site.js';

const NAME = 'hybrid-members.bin';
const SIZE = 3 * 1024 * 1024 + 4321;

describeWebTorrent('example site: hybrid torrents credited and counted once', true, () => {
  const session = new BrowserSession('ett-site-hybrid-');
  let site: Site | undefined;
  let qb: ClientProcess | undefined;
  let data: Buffer;

  beforeAll(async () => {
    haveBinary('qbittorrent-nox');
    const files = path.join(session.tmp.dir, 'files');
    mkdirSync(files);
    data = randomBytes(SIZE);
    writeFileSync(path.join(files, NAME), data);
    site = await startSite(
      {
        PRIVATE: '1',
        TORRENT_VERSION: 'hybrid',
        SQLITE_FILE: path.join(session.tmp.dir, 'db', 'users.sqlite'),
        TRAFFIC_INTERVAL: '1',
        SEED_PORT: String(await freePort()),
        FILES_DIR: files,
        UPLOADS_DIR: path.join(session.tmp.dir, 'uploads'),
      },
      [NAME],
    );
    await session.launch();
  }, 60_000);

  afterAll(async () => {
    await qb?.stop();
    await session.close();
    await site?.process.stop();
  });

  it('qBittorrent downloads a hybrid torrent; the member is credited the data once, on one row', { timeout: 120_000 }, async () => {
    const page = await session.newPage('member');
    await session.guard(
      async () => {
        await page.goto(`${site!.base}/signup`);
        await page.fill('#signup input[name=name]', 'hybrid-member');
        await page.click('#signup button');
        await page.waitForSelector('#passkey', { timeout: 10_000 });
        const [download] = await Promise.all([page.waitForEvent('download', { timeout: 10_000 }), page.click(`#personal-torrents a[data-name="${NAME}"]`)]);
        const file = path.join(session.tmp.dir, 'member.torrent');
        await download.saveAs(file);
        const torrent = parseTorrent((await import('node:fs')).readFileSync(file));
        expect(torrent.version).toBe('hybrid');

        const saveDir = path.join(session.tmp.dir, 'qb-dl');
        qb = qbittorrent({ home: path.join(session.tmp.dir, 'qb-home'), torrent: file, saveDir, port: await freePort(), webuiPort: await freePort() });
        const expected = createHash('sha1').update(data).digest('hex');
        await waitFor('the download to complete', async () => (await sha1File(path.join(saveDir, NAME))) === expected, 90_000, 500);

        // One row on the member's page, credited the data once (not once per swarm).
        const credited = await waitFor(
          'the credited download on the member page',
          async () => {
            await page.goto(`${site!.base}/account`);
            const bytes = Number(await page.evaluate<string>("document.querySelector('#traffic-total [data-field=downloaded]')?.dataset.bytes ?? '0'"));
            return bytes >= SIZE ? bytes : undefined;
          },
          30_000,
          500,
        );
        expect(credited).toBeLessThan(SIZE * 1.1);
        expect(await page.evaluate<number>("document.querySelectorAll('#traffic tbody tr').length")).toBe(1);
        expect(await page.textContent('#traffic tbody tr td:first-child')).toBe(NAME);

        // The home page's counts: one torrent, qBittorrent once among its seeders (with the site's seeder).
        const rows = (await (await fetch(`${site!.base}/api/torrents`)).json()) as Array<{ name: string; seeders: number; leechers: number }>;
        const row = rows.filter((r) => r.name === NAME);
        expect(row).toHaveLength(1);
        expect(row[0]!.seeders).toBe(2);
      },
      () => `--- qBittorrent\n${qb?.output.slice(-2000) ?? ''}\n--- site\n${site!.process.output.slice(-3000)}`,
    );
  });
});
