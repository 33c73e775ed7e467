/**
 * The example site's home page in headless Chromium keeps its counts live: real clients (aria2,
 * announcing to the site's HTTP tracker, DHT/LSD/PEX off) join and leave a published torrent's
 * swarm, and the page's seeders, leechers and downloads change without a reload.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { aria2Leecher, aria2Seeder, freePort, haveBinary, sha1File, type ClientProcess } from '../helpers/clients.js';
import { describeWebTorrent } from '../helpers/webtorrent.js';
import { BrowserSession, startSite, type Site, type Page } from './site.js';

const NAME = 'dataset.bin';
const SIZE = 5 * 1024 * 1024 + 777;

const cell = (field: string) => `tr[data-name="${NAME}"] [data-field="${field}"]`;

/** Wait until the page shows `value` in the row's `field` cell. */
async function waitForCell(page: Page, field: string, value: string, timeout = 20_000): Promise<void> {
  await page.waitForFunction(`document.querySelector('${cell(field)}')?.textContent === '${value}'`, undefined, { timeout, polling: 100 });
}

describeWebTorrent('example site: live counts on the home page', true, () => {
  const session = new BrowserSession('ett-site-live-');
  let site: Site | undefined;
  const clients: ClientProcess[] = [];

  beforeAll(async () => {
    haveBinary('aria2c');
    const files = path.join(session.tmp.dir, 'files');
    const seed = path.join(session.tmp.dir, 'seed');
    mkdirSync(files);
    mkdirSync(seed);
    const data = randomBytes(SIZE);
    writeFileSync(path.join(files, NAME), data);
    writeFileSync(path.join(seed, NAME), data);
    site = await startSite({ FILES_DIR: files, UPLOADS_DIR: path.join(session.tmp.dir, 'uploads') }, [NAME]);
    writeFileSync(path.join(session.tmp.dir, 'site.torrent'), Buffer.from(await (await fetch(`${site.base}/torrents/${NAME}.torrent`)).arrayBuffer()));
    await session.launch();
  }, 60_000);

  afterAll(async () => {
    for (const client of clients) await client.stop();
    await session.close();
    await site?.process.stop();
  });

  it('shows seeders, leechers and downloads change as aria2 joins and leaves, without a reload', { timeout: 60_000 }, async () => {
    const page = await session.newPage('home');
    await session.guard(
      async () => {
        await page.goto(`${site!.base}/`);
        await page.waitForSelector(cell('seeders'), { timeout: 10_000 });
        await page.evaluate('window.__sameDocument = true');
        await waitForCell(page, 'seeders', '0');
        await waitForCell(page, 'leechers', '0');
        await waitForCell(page, 'downloads', '0');

        // aria2 checks its copy and seeds it: one seeder.
        const ports = [await freePort(), await freePort()];
        const seeder = aria2Seeder({ torrent: path.join(session.tmp.dir, 'site.torrent'), dataDir: path.join(session.tmp.dir, 'seed'), listenPort: ports[0] });
        clients.push(seeder);
        await waitForCell(page, 'seeders', '1');

        // Another aria2 downloads it (from the seeder and the site's web seed) at 1 MiB/s: a leecher for a
        // few seconds, then one download, and it leaves. (No integrity check before it starts: with
        // one, aria2 fetches from the web seed while it checks and announces only when it is done.)
        const out = path.join(session.tmp.dir, 'leecher');
        const leecher = aria2Leecher({
          torrent: path.join(session.tmp.dir, 'site.torrent'),
          dataDir: out,
          listenPort: ports[1],
          extraArgs: ['--check-integrity=false', '--max-download-limit=1M'],
        });
        clients.push(leecher);
        await waitForCell(page, 'leechers', '1');
        expect(await leecher.exit, leecher.output).toBe(0);
        expect(await sha1File(path.join(out, NAME))).toBe(await sha1File(path.join(session.tmp.dir, 'seed', NAME)));
        await waitForCell(page, 'downloads', '1');
        await waitForCell(page, 'leechers', '0');

        // The seeder quits (SIGINT: aria2's graceful shutdown announces `stopped`; SIGTERM would not): no
        // seeder left.
        await seeder.stop('SIGINT');
        await waitForCell(page, 'seeders', '0');
        expect(await page.evaluate<boolean>('window.__sameDocument === true')).toBe(true);
        expect(Number(await page.evaluate<string>("document.getElementById('live').dataset.updates"))).toBeGreaterThan(3);
        // No page shows a peer's address: the reloaded page lists the announces, without addresses or ports.
        await page.reload();
        await page.waitForSelector(cell('seeders'), { timeout: 10_000 });
        const html = await page.content();
        const announces = html.split('<h2>Recent announces</h2>')[1];
        expect(announces).toContain('stopped');
        expect(announces).not.toMatch(/127\.0\.0\.1|::ffff:|::1/);
        for (const port of ports) expect(html).not.toContain(String(port));
      },
      () => `${clients.map((c) => `--- ${c.name}\n${c.output.slice(-1500)}`).join('\n')}\n--- site\n${site!.process.output.slice(-2000)}`,
    );
  });
});
