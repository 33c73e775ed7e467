/**
 * The example site's stats page in headless Chromium: announces made over a few seconds show up in
 * the announces-per-second chart (uPlot, drawn on a canvas: non-empty pixels) and in the totals
 * (announces by event, failures by kind), updated without a reload; and a real Prometheus server
 * scrapes the site's GET /metrics and answers a query for the announce counter.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ClientProcess, freePort, haveBinaries, waitFor } from '../helpers/clients.js';
import { escapeAll } from '../helpers/escape.js';
import { describeWebTorrent } from '../helpers/webtorrent.js';
import { BrowserSession, startSite, type Site } from './site.js';

/** Announces of `count` new leechers of one torrent (`event=started`). */
async function announce(site: Site, infoHash: Buffer, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const q = `info_hash=${escapeAll(infoHash)}&peer_id=${escapeAll(randomBytes(20))}&port=${6881 + i}&uploaded=0&downloaded=0&left=1000&event=started`;
    const res = await fetch(`${site.base}/tracker/announce?${q}`);
    await res.arrayBuffer();
  }
}

const CANVAS_PIXELS = `(() => {
  const canvas = document.querySelector('#chart canvas');
  if (!canvas || !canvas.width || !canvas.height) return 0;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
  return painted;
})()`;

describeWebTorrent('example site: stats page and Prometheus metrics', true, () => {
  const session = new BrowserSession('ett-site-stats-');
  let site: Site | undefined;
  let prometheus: ClientProcess | undefined;
  const total = 5 + 12 + 8;

  beforeAll(async () => {
    site = await startSite({ FILES_DIR: path.join(session.tmp.dir, 'none'), UPLOADS_DIR: path.join(session.tmp.dir, 'uploads') });
    await session.launch();
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop('SIGKILL');
    await session.close();
    await site?.process.stop();
  });

  it('draws announces per second and shows the totals, live', { timeout: 60_000 }, async () => {
    const page = await session.newPage('stats');
    await session.guard(async () => {
      await page.goto(`${site!.base}/stats`);
      await page.waitForSelector('#chart canvas', { timeout: 10_000 });
      await page.evaluate('window.__sameDocument = true');
      const ih = randomBytes(20);
      // Three bursts a second or more apart: three non-zero samples.
      await announce(site!, ih, 5);
      await new Promise((r) => setTimeout(r, 1200));
      await announce(site!, ih, 12);
      await new Promise((r) => setTimeout(r, 1200));
      await announce(site!, ih, 8);
      await fetch(`${site!.base}/tracker/announce?info_hash=short`).then((r) => r.arrayBuffer()); // one failure (request)
      await page.waitForFunction(
        `document.querySelector('[data-total="announces.total"]').textContent === '${total}' && document.querySelector('[data-total="failures.byKind.request"]').textContent === '1'`,
        undefined,
        { timeout: 10_000 },
      );
      expect(await page.textContent('[data-total="announces.byEvent.started"]')).toBe(String(total));
      expect(await page.textContent('[data-total="announces.byTransport.http"]')).toBe(String(total));
      expect(await page.textContent('[data-total="swarms.torrents"]')).toBe('1');
      expect(await page.textContent('[data-total="swarms.leechers"]')).toBe(String(total));
      expect(await page.textContent('[data-total="failures.total"]')).toBe('1');
      // The chart's data has the bursts (what the page got from /api/stats), and the canvas is painted.
      const stats = (await (await fetch(`${site!.base}/api/stats`)).json()) as { series: [number[], number[]] };
      expect(stats.series[1].reduce((a, b) => a + b, 0)).toBe(total);
      expect(stats.series[1].filter((v) => v > 0).length).toBeGreaterThanOrEqual(2);
      await waitFor('the chart to be painted', async () => (await page.evaluate<number>(CANVAS_PIXELS)) > 500, 10_000, 200);
      expect(Number(await page.evaluate<string>("document.getElementById('chart').dataset.points"))).toBeGreaterThan(2);
      expect(await page.evaluate<boolean>('window.__sameDocument === true')).toBe(true); // no reload
      // uPlot's legend names the series.
      expect(await page.content()).toContain('Announces per second');
      if (process.env.EXAMPLE_STATS_SCREENSHOT) await page.screenshot({ path: process.env.EXAMPLE_STATS_SCREENSHOT, fullPage: true });
    }, () => site!.process.output.slice(-3000));
  });

  it('serves /metrics, scraped by a real Prometheus server', { timeout: 60_000 }, async () => {
    if (!haveBinaries('prometheus')) return;
    await session.guard(async () => {
      const text = await (await fetch(`${site!.base}/metrics`)).text();
      expect(text).toContain(`bittorrent_tracker_announces_total{transport="http",event="started",family="ipv4"} ${total}`);
      expect(text).toContain('bittorrent_tracker_failures_total{kind="request"} 1');
      expect(text).not.toMatch(/127\.0\.0\.1/);
      const port = await freePort();
      const config = path.join(session.tmp.dir, 'prometheus.yml');
      writeFileSync(config, `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: example-site\n    static_configs:\n      - targets: ['127.0.0.1:${site!.port}']\n`);
      prometheus = new ClientProcess('prometheus', 'prometheus', [
        `--config.file=${config}`,
        `--storage.tsdb.path=${path.join(session.tmp.dir, 'prometheus-data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ]);
      const query = encodeURIComponent('sum(bittorrent_tracker_announces_total{job="example-site"})');
      const value = await waitFor(
        'Prometheus to scrape the example site',
        async () => {
          if (prometheus!.exited) throw new Error(`prometheus exited:\n${prometheus!.output}`);
          const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${query}`).catch(() => undefined);
          if (!res?.ok) return undefined;
          const body = (await res.json()) as { data: { result: Array<{ value: [number, string] }> } };
          return body.data.result[0]?.value[1];
        },
        30_000,
        250,
      );
      expect(value).toBe(String(total));
    }, () => `--- prometheus\n${prometheus?.output.slice(-2000) ?? ''}`);
  });
});
