/**
 * Headless Chromium (Debian's chromium driven by playwright-core) opens a torrent's page of the
 * example site (example-app/server.js, as `npm start` runs it) and downloads the published file with
 * WebTorrent inside the page:
 * - from a `webtorrent` seeder in Node, found through the site's WebSocket tracker, web seed off;
 * - from another browser tab that downloaded it before (browser to browser), the Node seeder gone;
 * - from the site's web seed alone, no tracker.
 * The page computes the SHA-256 of what it assembled and which source each byte came from; the test
 * compares both with the file on disk. On failure a screenshot of the page is kept in the test's
 * temporary folder (kept then, and named in the error); on success the folder is removed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it, onTestFailed } from 'vitest';
import { createTorrent } from '../../src/torrent/create.js';
import { ClientProcess, freePort, waitFor } from '../helpers/clients.js';
import { root } from '../helpers/instances.js';
import { CHROMIUM, CHROMIUM_ARGS, describeWebTorrent, importClientPackage, WebTorrentPeer } from '../helpers/webtorrent.js';
import { tempDir } from '../torrent/fixtures.js';

const NAME = 'clip.bin';
const SIZE = 1024 * 1024 + 4321;

/** The parts of playwright-core used here. */
interface Page {
  goto(url: string): Promise<unknown>;
  click(selector: string): Promise<void>;
  waitForSelector(selector: string, options: { state: 'attached'; timeout: number }): Promise<unknown>;
  $eval<T>(selector: string, fn: (element: { value: string; dataset: Record<string, string | undefined> }) => T): Promise<T>;
  waitForFunction(expression: string, arg?: unknown, options?: { timeout?: number }): Promise<unknown>;
  textContent(selector: string): Promise<string | null>;
  screenshot(options: { path: string; fullPage?: boolean }): Promise<unknown>;
  on(event: 'console', listener: (message: { text(): string }) => void): void;
  on(event: 'pageerror', listener: (error: Error) => void): void;
}
interface BrowserContext {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}
interface Browser {
  newContext(): Promise<BrowserContext>;
  close(): Promise<void>;
}
interface PlaywrightCore {
  chromium: { launch(options: { executablePath: string; args: string[]; headless: boolean }): Promise<Browser> };
}

/** What the page writes into `#result` once the download is done. */
interface PageResult {
  files: Array<{ path: string; length: number; sha256: string }>;
  bySource: Record<string, number>;
  /** The page's status line once done (added by downloadInPage). */
  status?: string;
}

describeWebTorrent('WebTorrent in headless Chromium on the example site', true, () => {
  let tmp: { dir: string; cleanup: () => void };
  let keep = false;
  let site: ClientProcess;
  let base: string;
  let browser: Browser | undefined;
  let expected: string;
  let seedTorrent: string;
  const contexts: BrowserContext[] = [];
  let seedingPage: Page | undefined;

  beforeAll(async () => {
    tmp = tempDir('ett-browser-');
    const files = path.join(tmp.dir, 'files');
    mkdirSync(files);
    const data = randomBytes(SIZE);
    writeFileSync(path.join(files, NAME), data);
    expected = createHash('sha256').update(data).digest('hex');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    site = new ClientProcess('example app', process.execPath, [path.join(root, 'example-app', 'server.js')], {
      ...process.env,
      PORT: String(port),
      PUBLIC_URL: base,
      FILES_DIR: files,
      ICE_SERVERS: '[]', // loopback only: no STUN server to wait for
    });
    await waitFor('the example app to publish the file', () => site.output.includes(`published ${NAME}`) || site.exited, 20_000, 100);
    if (site.exited) throw new Error(`example app exited:\n${site.output}`);
    // The Node seeder's own copy of the torrent: the same info (so the same swarm), announcing only to
    // the site's WebSocket tracker (not over HTTP, where only TCP peers would be found).
    const made = await createTorrent(path.join(files, NAME));
    const published = Buffer.from(await (await fetch(`${base}/torrents/${NAME}.torrent`)).arrayBuffer());
    expect(published.includes(Buffer.from(`${base.replace('http', 'ws')}/tracker/announce`))).toBe(true);
    expect(site.output).toContain(`published ${NAME}: ${made.infoHash}`);
    seedTorrent = path.join(tmp.dir, 'seed.torrent');
    writeFileSync(seedTorrent, made.torrent);

    const { chromium } = await importClientPackage<PlaywrightCore>('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS.filter((a) => a !== '--headless'), headless: true });
  }, 60_000);

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await site?.stop();
    if (keep) console.warn(`[kept] ${tmp.dir} (screenshots of the failed tests)`);
    else tmp?.cleanup();
  });

  /**
   * Open the torrent's page in a fresh browser profile (`?sources=…`), press the download button and
   * return what the page reports; on failure save a screenshot and say where.
   */
  async function downloadInPage(label: string, sources: 'peers' | 'webseed', timeoutMs = 45_000): Promise<{ page: Page; result: PageResult }> {
    onTestFailed(() => {
      keep = true; // the screenshots stay for a look
    });
    const context = await browser!.newContext();
    contexts.push(context);
    const page = await context.newPage();
    const log: string[] = [];
    page.on('console', (m) => log.push(m.text()));
    page.on('pageerror', (e) => log.push(`page error: ${e.message}`));
    try {
      await page.goto(`${base}/t/${NAME}?sources=${sources}`);
      await page.click('#start');
      await page.waitForSelector('#result[data-done], #result[data-error]', { state: 'attached', timeout: timeoutMs });
      const error = await page.$eval('#result', (e) => e.dataset.error ?? null);
      if (error) throw new Error(`the page reports: ${error}`);
      // The status says "Done" and still does two ticks of its timer later (no late progress event
      // overwrites it).
      const ticks = Number(await page.$eval('#status', (e) => e.dataset.ticks ?? '0'));
      await page.waitForFunction(`Number(document.getElementById('status').dataset.ticks) >= ${ticks + 2}`, undefined, { timeout: 10_000 });
      const status = (await page.textContent('#status')) ?? '';
      if (!status.startsWith('Done: every piece checked')) throw new Error(`the status is not "Done" after the download: ${status}`);
      return { page, result: { ...(JSON.parse(await page.$eval('#result', (e) => e.value)) as PageResult), status } };
    } catch (error) {
      const shot = path.join(tmp.dir, `${label}.png`);
      await page.screenshot({ path: shot, fullPage: true }).catch(() => undefined);
      const status = await page.textContent('#status').catch(() => '?');
      throw new Error(`${(error as Error).message}\nstatus: ${status}\nscreenshot: ${shot}\nconsole:\n${log.slice(-30).join('\n')}`);
    }
  }

  it('downloads from a Node webtorrent seeder over WebRTC, found through the site’s WebSocket tracker', { timeout: 120_000 }, async () => {
    const seeder = new WebTorrentPeer('webtorrent seeder', { torrent: seedTorrent, dir: path.join(tmp.dir, 'files'), announce: [`${base.replace('http', 'ws')}/tracker/announce`] });
    try {
      await seeder.next('done'); // verified
      await seeder.next('announced', 20_000, (e) => (e.count ?? 0) >= 2); // its offers are out (see webtorrent-transfer.test.ts)
      // node-datachannel (the seeder's WebRTC) now and then fails a negotiation on loopback, and the
      // page would only retry at the next interval (30 min): one more try in a fresh tab.
      const { page, result } = await downloadInPage('from-node-seeder', 'peers', 35_000).catch((error: Error) => {
        console.warn(`[retry] ${error.message.split('\n')[0]}`);
        return downloadInPage('from-node-seeder-again', 'peers', 35_000);
      });
      seedingPage = page; // stays open, seeding to the next tab
      expect(result.files).toEqual([{ path: NAME, length: SIZE, sha256: expected }]);
      expect(result.bySource).toEqual({ webrtc: SIZE });
      expect(result.status).toContain('from 1 peer');
      expect(seeder.events.filter((e) => e.event === 'wire').map((e) => e.type)).toContain('webrtc');
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- seeder\n${seeder.output}\n--- site\n${site.output.slice(-3000)}`);
    } finally {
      await seeder.stop(); // its socket closes: the tracker removes it from the swarm
    }
  });

  it('downloads from another browser tab (browser to browser), the Node seeder gone', { timeout: 60_000 }, async () => {
    expect(seedingPage, 'needs the tab of the previous test').toBeDefined();
    const { result } = await downloadInPage('from-another-tab', 'peers');
    expect(result.files).toEqual([{ path: NAME, length: SIZE, sha256: expected }]);
    expect(result.bySource).toEqual({ webrtc: SIZE });
  });

  it('downloads from the site’s web seed alone', { timeout: 60_000 }, async () => {
    const { result } = await downloadInPage('from-web-seed', 'webseed');
    expect(result.files).toEqual([{ path: NAME, length: SIZE, sha256: expected }]);
    expect(result.bySource).toEqual({ webSeed: SIZE });
    expect(result.status).toContain('from web seed');
    // Any page of the site never shows a peer's address.
    const home = await (await fetch(`${base}/`)).text();
    expect(home).not.toMatch(/127\.0\.0\.1:\d+<\/td>|192\.0\.2\.\d+/);
    expect(readFileSync(path.join(tmp.dir, 'files', NAME)).length).toBe(SIZE);
  });
});
