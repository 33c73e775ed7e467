/**
 * The example site's torrent page in headless Chromium shows the torrent's history: announces made
 * to the site's tracker appear in GET /api/torrents/<name>/history (the last day per minute, and the
 * downloads of the week), the chart of the last day is drawn (uPlot on a canvas: non-empty pixels),
 * and "downloads this week" counts the completion.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { escapeAll } from '../helpers/escape.js';
import { describeWebTorrent } from '../helpers/webtorrent.js';
import { BrowserSession, startSite, type Site } from './site.js';

const NAME = 'history.bin';

const CANVAS_PIXELS = `(() => {
  const canvas = document.querySelector('#history-chart canvas');
  if (!canvas || !canvas.width || !canvas.height) return 0;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
  return painted;
})()`;

async function announce(site: Site, infoHash: Buffer, peerId: Buffer, left: number, event: string): Promise<void> {
  const q = `info_hash=${escapeAll(infoHash)}&peer_id=${escapeAll(peerId)}&port=6881&uploaded=0&downloaded=0&left=${left}&event=${event}`;
  const res = await fetch(`${site.base}/tracker/announce?${q}`);
  expect(Buffer.from(await res.arrayBuffer()).toString('latin1')).not.toContain('failure reason');
}

describeWebTorrent('example site: torrent history', true, () => {
  const session = new BrowserSession('ett-site-history-');
  let site: Site | undefined;

  beforeAll(async () => {
    const files = path.join(session.tmp.dir, 'files');
    mkdirSync(files);
    writeFileSync(path.join(files, NAME), randomBytes(100_000));
    site = await startSite({ FILES_DIR: files, UPLOADS_DIR: path.join(session.tmp.dir, 'uploads') }, [NAME]);
    await session.launch();
  }, 60_000);

  afterAll(async () => {
    await session.close();
    await site?.process.stop();
  });

  it('charts the last day and counts the downloads of the week', { timeout: 60_000 }, async () => {
    const pageHtml = await (await fetch(`${site!.base}/t/${NAME}`)).text();
    const infoHash = Buffer.from(/<code id="info-hash">([0-9a-f]{40})<\/code>/.exec(pageHtml)![1]!, 'hex');
    const a = randomBytes(20);
    await announce(site!, infoHash, a, 1000, 'started');
    await announce(site!, infoHash, randomBytes(20), 1000, 'started');
    await announce(site!, infoHash, a, 0, 'completed');
    await announce(site!, infoHash, a, 0, 'completed'); // a repeat: not a second download

    const history = (await (await fetch(`${site!.base}/api/torrents/${NAME}/history`)).json()) as { day: number[][]; downloadsThisWeek: number; completedToday: number };
    expect(history.day).toHaveLength(4);
    expect(history.day[0]).toHaveLength(1440);
    expect(history.day[1]!.reduce((s, n) => s + n, 0)).toBeGreaterThanOrEqual(4);
    expect(Math.max(...history.day[2]!)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...history.day[3]!)).toBeGreaterThanOrEqual(2);
    expect(history.downloadsThisWeek).toBe(1);
    expect(history.completedToday).toBe(1);
    expect((await fetch(`${site!.base}/api/torrents/nope/history`)).status).toBe(404);

    const page = await session.newPage('torrent-history');
    await session.guard(async () => {
      await page.goto(`${site!.base}/t/${NAME}`);
      await page.waitForSelector('#history-chart canvas', { timeout: 10_000 });
      await page.waitForFunction(`document.querySelector('#history-week [data-field="downloadsThisWeek"]')?.textContent === '1'`, undefined, { timeout: 10_000 });
      await page.waitForFunction(`${CANVAS_PIXELS} > 0`, undefined, { timeout: 10_000 });
      expect(await page.evaluate(`document.querySelector('#history-chart').dataset.points`)).toBe('1440');
    });
  });
});
