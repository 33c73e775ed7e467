/**
 * The example site's admin page in headless Chromium: a wrong token is refused, the right one logs
 * in (an HttpOnly cookie), a file uploaded in the browser shows its upload and hashing progress and
 * gets published: listed on the home page, served by the web seed, and downloaded from the site by
 * a real client (aria2, DHT/LSD/PEX off) byte for byte.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseTorrent } from '../../src/torrent/parse.js';
import { aria2Leecher, freePort, haveBinary, sha1File, waitFor, type ClientProcess } from '../helpers/clients.js';
import { describeWebTorrent } from '../helpers/webtorrent.js';
import { BrowserSession, startSite, type Site } from './site.js';

const TOKEN = `admin-${randomBytes(12).toString('hex')}`;
const UPLOAD = 'survey data (2024).bin';
const SIZE = 24 * 1024 * 1024 + 12_345;

describeWebTorrent('example site: admin upload in the browser', true, () => {
  const session = new BrowserSession('ett-site-admin-');
  let site: Site | undefined;
  let aria2: ClientProcess | undefined;
  let data: Buffer;

  beforeAll(async () => {
    haveBinary('aria2c');
    const files = path.join(session.tmp.dir, 'files');
    mkdirSync(files);
    writeFileSync(path.join(files, 'readme.txt'), 'published at start\n');
    data = randomBytes(SIZE);
    writeFileSync(path.join(session.tmp.dir, UPLOAD), data);
    site = await startSite(
      { FILES_DIR: files, UPLOADS_DIR: path.join(session.tmp.dir, 'uploads'), ADMIN_TOKEN: TOKEN },
      ['readme.txt'],
    );
    await session.launch();
  }, 60_000);

  afterAll(async () => {
    await aria2?.stop();
    await session.close();
    await site?.process.stop();
  });

  it('logs in with ADMIN_TOKEN, uploads a file with progress bars, and publishes it', { timeout: 60_000 }, async () => {
    const page = await session.newPage('admin');
    await session.guard(async () => {
      await page.goto(`${site!.base}/admin`);
      await page.fill('#login input[name=token]', 'not-the-token');
      await page.click('#login button');
      await page.waitForSelector('#login-error', { timeout: 10_000 });
      expect(await page.textContent('#login-error')).toContain('Wrong token');

      await page.fill('#login input[name=token]', TOKEN);
      await page.click('#login button');
      await page.waitForSelector('#upload', { timeout: 10_000 });
      // The session cookie is HttpOnly: the page's script cannot read it.
      expect(await page.evaluate<string>('document.cookie')).toBe('');

      await page.setInputFiles('#file', path.join(session.tmp.dir, UPLOAD));
      await page.click('#upload-button');
      await page.waitForSelector('#upload-box', { state: 'visible', timeout: 10_000 });
      await page.waitForSelector('#upload-status[data-published], #upload-status[data-error]', { state: 'attached', timeout: 40_000 });
      expect(await page.evaluate<string | null>("document.getElementById('upload-status').dataset.error ?? null")).toBeNull();
      expect(await page.evaluate<string>("document.getElementById('upload-status').dataset.published")).toBe(UPLOAD);
      // Both bars ran: upload progress events from XHR, hashing progress from the job (onProgress).
      expect(Number(await page.evaluate<string>("document.getElementById('upload-progress').dataset.events"))).toBeGreaterThan(0);
      expect(Number(await page.evaluate<string>("document.getElementById('hash-progress').dataset.steps"))).toBeGreaterThan(0);
      expect(await page.evaluate<number>("document.getElementById('upload-progress').value")).toBe(1);
      expect(await page.evaluate<number>("document.getElementById('hash-progress').value")).toBe(1);
      expect(await page.textContent('#hash-text')).toBe('done');

      // The home page lists it (a fresh visitor, no admin cookie) with its live counts.
      const home = await session.newPage('home');
      await home.goto(`${site!.base}/`);
      await home.waitForSelector(`tr[data-name="${UPLOAD}"]`, { timeout: 10_000 });
      expect(await home.textContent(`tr[data-name="${UPLOAD}"] td:first-child a`)).toBe(UPLOAD);
      expect(await home.textContent(`tr[data-name="${UPLOAD}"] [data-field="seeders"]`)).toMatch(/^\d+$/);
      // Its page has the details.
      await home.click(`tr[data-name="${UPLOAD}"] td:first-child a`);
      await home.waitForSelector('#file-list', { timeout: 10_000 });
      expect(await home.textContent('h1')).toBe(UPLOAD);
      expect(await home.textContent('#web-seed')).toBe(`http://localhost:${site!.port}/webseed/${encodeURIComponent(UPLOAD)}`);
    }, () => site!.process.output.slice(-3000));
  });

  it('serves the upload from the web seed; aria2 downloads it byte for byte', { timeout: 60_000 }, async () => {
    await session.guard(async () => {
      const torrentFile = Buffer.from(await (await fetch(`${site!.base}/torrents/${encodeURIComponent(UPLOAD)}.torrent`)).arrayBuffer());
      const t = parseTorrent(torrentFile);
      expect(t.name).toBe(UPLOAD);
      expect(t.length).toBe(SIZE);
      const range = await fetch(`${site!.base}/webseed/${encodeURIComponent(UPLOAD)}`, { headers: { Range: 'bytes=100-199' } });
      expect(range.status).toBe(206);
      expect(Buffer.from(await range.arrayBuffer())).toEqual(data.subarray(100, 200));
      const file = path.join(session.tmp.dir, 'upload.torrent');
      writeFileSync(file, torrentFile);
      const out = path.join(session.tmp.dir, 'aria2');
      aria2 = aria2Leecher({ torrent: file, dataDir: out, listenPort: await freePort() });
      const code = await aria2.exit;
      expect(code, aria2.output).toBe(0);
      expect(await sha1File(path.join(out, UPLOAD))).toBe(createHash('sha1').update(data).digest('hex'));
      expect(readFileSync(path.join(out, UPLOAD)).length).toBe(SIZE);
    }, () => `--- aria2\n${aria2?.output ?? ''}\n--- site\n${site!.process.output.slice(-3000)}`);
  });
});
