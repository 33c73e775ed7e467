/**
 * `trackerMetrics()` with prom-client: names by Prometheus conventions, small fixed label sets,
 * values that match tracker.stats(), `promtool check metrics` on the exposition text, and a real
 * Prometheus server scraping an app and answering a query for the announce counter.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { trackerMetrics } from '../../src/stats/metrics.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet, startApp } from '../helpers/http.js';
import { freePort } from '../helpers/store-services.js';

const run = promisify(execFile);
const q = (ih: Buffer, rest: string) => `info_hash=${escapeAll(ih)}&peer_id=${escapeAll(randomBytes(20))}&port=6881&uploaded=0&downloaded=0&${rest}`;
const which = async (cmd: string) => run('sh', ['-c', `command -v ${cmd}`]).then(() => true, () => false);

async function appWithMetrics() {
  const register = new Registry();
  const app = await startApp({}, (a) => {
    a.get('/metrics', async (_req, res) => {
      res.type(register.contentType).send(await register.metrics());
    });
  });
  const metrics = trackerMetrics(app.router, { register });
  return { app, register, metrics };
}

describe('trackerMetrics', () => {
  it('reports what the tracker counted, with conventional names and small label sets', async () => {
    const { app, register, metrics } = await appWithMetrics();
    try {
      const ih = randomBytes(20);
      for (let i = 0; i < 12; i++) await rawGet(app.port, `/tracker/announce?${q(ih, `left=${i < 3 ? 0 : 1}&event=started`)}`);
      await rawGet(app.port, `/tracker/announce?${q(ih, 'left=0&event=completed')}`, { host: '::1' });
      await rawGet(app.port, '/tracker/announce?info_hash=bad');
      await rawGet(app.port, `/tracker/scrape?info_hash=${escapeAll(ih)}`);
      const text = (await rawGet(app.port, '/metrics')).body.toString();
      expect(text).toContain('bittorrent_tracker_announces_total{transport="http",event="started",family="ipv4"} 12');
      expect(text).toContain('bittorrent_tracker_announces_total{transport="http",event="completed",family="ipv6"} 1');
      expect(text).toContain('bittorrent_tracker_announces_total{transport="udp",event="update",family="ipv6"} 0');
      expect(text).toContain('bittorrent_tracker_failures_total{kind="request"} 1');
      expect(text).toContain('bittorrent_tracker_scrapes_total 1');
      expect(text).toContain('bittorrent_tracker_torrents{swarms="bittorrent"} 1');
      expect(text).toContain('bittorrent_tracker_seeders{swarms="bittorrent"} 4');
      expect(text).toContain('bittorrent_tracker_leechers{swarms="bittorrent"} 9');
      expect(text).toContain('bittorrent_tracker_peers{swarms="bittorrent",family="ipv4"} 12');
      // never an info hash, address or passkey in a label
      expect(text).not.toContain(ih.toString('hex'));
      expect(text).not.toMatch(/127\.0\.0\.1|::1/);
      // counters end in _total, the histogram is in seconds
      for (const line of text.split('\n').filter((l) => l.startsWith('# TYPE'))) {
        const [, , name, type] = line.split(' ');
        if (type === 'counter') expect(name).toMatch(/_total$/);
        if (type === 'histogram') expect(name).toMatch(/_seconds$/);
      }
      metrics.remove();
      expect((await register.metrics()).trim()).toBe('');
    } finally {
      await app.close();
    }
  });

  it('passes promtool check metrics, and a real Prometheus server scrapes it and answers a query', async () => {
    const haveTools = (await which('promtool')) && (await which('prometheus'));
    if (!haveTools) {
      if (process.env.CI === 'true') throw new Error('promtool / prometheus (Debian package prometheus) are required under CI=true');
      console.warn('SKIPPED: promtool / prometheus not installed (apt-get install prometheus)');
      return;
    }
    const { app } = await appWithMetrics();
    const dir = mkdtempSync(join(tmpdir(), 'ett-prom-'));
    let prometheus: ReturnType<typeof spawn> | undefined;
    try {
      const ih = randomBytes(20);
      for (let i = 0; i < 7; i++) await rawGet(app.port, `/tracker/announce?${q(ih, 'left=1&event=started')}`);
      const text = (await rawGet(app.port, '/metrics')).body.toString();
      writeFileSync(join(dir, 'metrics.txt'), text);
      const lint = await run('sh', ['-c', `promtool check metrics < ${join(dir, 'metrics.txt')}`]).then(
        (r) => r.stdout + r.stderr,
        (e: { stdout: string; stderr: string }) => `FAILED ${e.stdout}${e.stderr}`,
      );
      expect(lint.trim()).toBe('');
      const port = await freePort();
      writeFileSync(
        join(dir, 'prometheus.yml'),
        `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: tracker\n    static_configs:\n      - targets: ['127.0.0.1:${app.port}']\n`,
      );
      prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
      const query = encodeURIComponent('sum(bittorrent_tracker_announces_total{event="started"})');
      await expect
        .poll(
          async () => {
            const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${query}`).catch(() => undefined);
            if (!res?.ok) return undefined;
            const body = (await res.json()) as { data: { result: Array<{ value: [number, string] }> } };
            return body.data.result[0]?.value[1];
          },
          { timeout: 30_000, interval: 250 },
        )
        .toBe('7');
    } finally {
      if (prometheus?.pid) {
        const exited = new Promise((r) => prometheus!.once('exit', r));
        process.kill(prometheus.pid, 'SIGKILL');
        await exited;
      }
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
