/**
 * The example site's /admin built on the admin API (mounted at /admin/api), in headless Chromium:
 * - the API answers the admin only: 401 problem details without the cookie or the bearer token, 415
 *   for a body that is not JSON;
 * - the admin sees the published torrent in the list with live counts, changes its upload factor
 *   (persisted: GET shows it), sees its peers (addresses on the admin page only, never on public
 *   pages);
 * - bans an address: a peer announcing from 127.0.0.5 is refused with the ban's reason while
 *   127.0.0.6 is answered; unban, and 127.0.0.5 is answered again;
 * - a page of another origin (another port of the same host: same site, so the SameSite cookie is
 *   sent) cannot drive the API: its form POST is refused, its no-cors fetch changes nothing;
 * - private mode: the torrent is in the registry (torrents: 'registry'), the admin revokes a member's
 *   passkey: the old one is refused, the member's account page says so and shows a new one that
 *   works; factors set on the page change the member's credited traffic; a torrent unregistered
 *   through the API is refused and leaves the site.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureOf } from '../helpers/bdecode.js';
import { waitFor } from '../helpers/clients.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet } from '../helpers/http.js';
import { describeWebTorrent } from '../helpers/webtorrent.js';
import { BrowserSession, startSite, type Page, type Site } from './site.js';

const TOKEN = `admin-${randomBytes(12).toString('hex')}`;
const NAME = 'readme.txt';
const bearer = { Authorization: `Bearer ${TOKEN}` };

/** The info hash the site printed when it published `name`. */
function publishedHash(site: Site, name: string): string {
  const m = new RegExp(`published ${name.replace('.', '\\.')}: ([0-9a-f]{40})`).exec(site.process.output);
  if (!m) throw new Error(`${name} not published:\n${site.process.output}`);
  return m[1]!;
}

/** An HTTP announce (a qBittorrent-like peer id) from `localAddress`; the failure reason or undefined. */
async function announce(
  site: Site,
  infoHash: string,
  options: { localAddress?: string; passkey?: string; left?: number; peerId?: Buffer; uploaded?: number; downloaded?: number; event?: string } = {},
): Promise<string | undefined> {
  const peerId = options.peerId ?? Buffer.concat([Buffer.from('-qB4650-'), randomBytes(12)]);
  const q =
    `info_hash=${escapeAll(Buffer.from(infoHash, 'hex'))}&peer_id=${escapeAll(peerId)}&port=51413` +
    `&uploaded=${options.uploaded ?? 0}&downloaded=${options.downloaded ?? 0}&left=${options.left ?? 0}&compact=1&event=${options.event ?? 'started'}`;
  const res = await rawGet(site.port, `/tracker${options.passkey ? `/${options.passkey}` : ''}/announce?${q}`, { localAddress: options.localAddress });
  expect(res.status).toBe(200);
  return failureOf(res.body);
}

/** The admin API as a script sees it (bearer token unless `headers` say otherwise). */
async function api(site: Site, method: string, route: string, body?: unknown, headers: Record<string, string> = bearer) {
  const res = await fetch(`${site.base}/admin/api${route}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', headers: res.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

async function logIn(page: Page, site: Site): Promise<void> {
  await page.goto(`${site.base}/admin`);
  await page.fill('#login input[name=token]', TOKEN);
  await page.click('#login button');
  await page.waitForSelector('#tracker-admin', { timeout: 10_000 });
}

describeWebTorrent('example site: /admin on the admin API (public mode)', true, () => {
  const session = new BrowserSession('ett-site-adminapi-');
  let site: Site | undefined;
  let attacker: Server | undefined;
  let attackerBase: string;
  let admin: Page;
  let hash: string;
  const output = () => site!.process.output.slice(-3000);

  beforeAll(async () => {
    const files = path.join(session.tmp.dir, 'files');
    mkdirSync(files);
    writeFileSync(path.join(files, NAME), 'published at start\n');
    site = await startSite({ FILES_DIR: files, UPLOADS_DIR: path.join(session.tmp.dir, 'uploads'), ADMIN_TOKEN: TOKEN }, [NAME]);
    hash = publishedHash(site, NAME);
    // Another origin (another port of the same host): a form posting a JSON-looking text/plain body,
    // and a no-cors fetch, both to the admin API.
    attacker = createServer((req, res) => {
      res.setHeader('Content-Type', 'text/html');
      const target = `${site!.base}/admin/api/bans`;
      if (req.url === '/form') {
        res.end(`<!doctype html><title>free stuff</title>
<form id="f" method="post" enctype="text/plain" action="${target}"><input name='{"address":"127.0.0.7","reason":"csrf","x":"' value='"}'></form>
<script>document.getElementById('f').submit()</script>`);
      } else {
        res.end(`<!doctype html><title>loading</title><script>
const body = JSON.stringify({ address: '127.0.0.8', reason: 'csrf' });
Promise.allSettled([
  fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'Content-Type': 'text/plain' }, body }),
  fetch(${JSON.stringify(target)}, { method: 'POST', credentials: 'include', headers: { 'Content-Type': 'application/json' }, body }),
]).then((r) => { document.title = 'sent: ' + r.map((x) => x.status).join(','); });
</script>`);
      }
    });
    await new Promise<void>((resolve) => attacker!.listen(0, '127.0.0.1', resolve));
    attackerBase = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
    await session.launch();
  }, 60_000);

  afterAll(async () => {
    await session.close();
    await new Promise((resolve) => attacker?.close(resolve));
    await site?.process.stop();
  });

  it('answers the admin only: 401 problem details without the cookie or token, 415 for a body that is not JSON', async () => {
    for (const headers of [{}, { Authorization: 'Bearer not-the-token' }] as Array<Record<string, string>>) {
      const res = await api(site!, 'GET', '/torrents', undefined, headers);
      expect(res.status).toBe(401);
      expect(res.type).toContain('application/problem+json');
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(String(res.json!.detail)).toContain('admin');
    }
    expect((await api(site!, 'POST', '/bans', { address: '127.0.0.9' }, {})).status).toBe(401);
    expect((await api(site!, 'GET', '/bans')).json).toEqual({ bans: [] });
    const text = await fetch(`${site!.base}/admin/api/bans`, { method: 'POST', headers: { ...bearer, 'Content-Type': 'text/plain' }, body: '{"address":"127.0.0.9"}' });
    expect(text.status).toBe(415);
    expect(((await text.json()) as { detail: string }).detail).toContain('application/json');
    // The OpenAPI document is served under the mount point, to the admin.
    const doc = await api(site!, 'GET', '/openapi.json');
    expect(doc.json!.openapi).toMatch(/^3\.1/);
  });

  it('lists the published torrent with live counts; the upload factor changed on the page is kept', { timeout: 60_000 }, async () => {
    admin = await session.newPage('admin');
    await session.guard(async () => {
      expect(await announce(site!, hash, { localAddress: '127.0.0.5' })).toBeUndefined();
      await logIn(admin, site!);
      const row = `#torrents tr[data-info-hash="${hash}"]`;
      await admin.waitForSelector(row, { timeout: 10_000 });
      expect(await admin.textContent(`${row} .name`)).toBe(NAME);
      // Live: the seeder that announced is counted (the list refreshes every 3 s).
      await admin.waitForFunction(`document.querySelector('${row} [data-field="seeders"]')?.textContent === '1'`, undefined, { timeout: 10_000 });
      expect(await admin.textContent(`${row} [data-field="leechers"]`)).toBe('0');

      await admin.fill(`${row} input[data-field="uploadFactor"]`, '2.5');
      await admin.click(`${row} button.save`);
      await admin.waitForSelector(`${row}[data-saved="1"]`, { timeout: 10_000 });
      expect(await admin.evaluate<string | null>("document.getElementById('api-status').dataset.error ?? null")).toBeNull();
      const saved = await api(site!, 'GET', `/torrents/${hash}`);
      expect(saved.status).toBe(200);
      expect(saved.json!.rules).toEqual({ uploadFactor: 2.5 });
      // A bad factor: the problem's detail is shown, nothing changes.
      await admin.fill(`${row} input[data-field="downloadFactor"]`, '-1');
      await admin.click(`${row} button.save`);
      await admin.waitForSelector('#api-status[data-error]', { timeout: 10_000 });
      expect(await admin.textContent('#api-status')).toMatch(/downloadFactor/);
      expect((await api(site!, 'GET', `/torrents/${hash}`)).json!.rules).toEqual({ uploadFactor: 2.5 });

      // Its peers: the address on this page.
      await admin.click(`${row} button.show-peers`);
      await admin.waitForSelector('#peers:not([hidden]) #peers-table tbody tr:not(:has(.note))', { timeout: 10_000 });
      const peers = (await admin.textContent('#peers-table tbody'))!;
      expect(peers).toContain('127.0.0.5');
      expect(peers).toContain('51413');
      expect(peers).toMatch(/qBittorrent/i);
      // …and never on the public pages.
      for (const p of ['/', `/t/${NAME}`, '/stats', '/api/torrents', '/api/stats']) {
        expect((await (await fetch(`${site!.base}${p}`)).text()).includes('127.0.0.5'), p).toBe(false);
      }
    }, output);
  });

  it('bans an address from the page: its announces are refused with the reason, another address is answered; unban', { timeout: 60_000 }, async () => {
    await session.guard(async () => {
      await admin.fill('#ban-value', '127.0.0.5');
      await admin.fill('#ban-reason', 'kept out by the test');
      await admin.click('#ban-button');
      await admin.waitForSelector('#bans tr[data-target="127.0.0.5"]', { timeout: 10_000 });
      expect(await admin.textContent('#bans tr[data-target="127.0.0.5"]')).toContain('kept out by the test');
      expect(await announce(site!, hash, { localAddress: '127.0.0.5' })).toBe('banned: kept out by the test');
      expect(await announce(site!, hash, { localAddress: '127.0.0.6' })).toBeUndefined();
      // A bad address: the problem's detail on the page, no ban.
      await admin.fill('#ban-value', '999.1.2.3/40');
      await admin.click('#ban-button');
      await admin.waitForFunction("document.getElementById('api-status').dataset.error?.includes('address')", undefined, { timeout: 10_000 });
      expect(((await api(site!, 'GET', '/bans')).json!.bans as unknown[]).length).toBe(1);

      await admin.click('#bans tr[data-target="127.0.0.5"] button.unban');
      await admin.waitForSelector('#bans tr[data-target="127.0.0.5"]', { state: 'hidden', timeout: 10_000 });
      expect((await api(site!, 'GET', '/bans')).json).toEqual({ bans: [] });
      expect(await announce(site!, hash, { localAddress: '127.0.0.5' })).toBeUndefined();
    }, output);
  });

  it('refuses a cross-site form POST and fetch to /admin/api/bans though the admin is logged in', { timeout: 60_000 }, async () => {
    await session.guard(async () => {
      await admin.goto(`${attackerBase}/form`);
      await admin.waitForFunction(`location.origin === ${JSON.stringify(site!.base)} && document.readyState === 'complete'`, undefined, { timeout: 10_000 });
      expect(await admin.textContent('body')).toContain('refused: this form was sent from another site');
      await admin.goto(`${attackerBase}/fetch`);
      await admin.waitForFunction("document.title.startsWith('sent')", undefined, { timeout: 10_000 });
      // The JSON fetch needs a CORS preflight, which the site never allows: rejected by the browser.
      expect(await admin.evaluate<string>('document.title')).toBe('sent: fulfilled,rejected');
      expect((await api(site!, 'GET', '/bans')).json).toEqual({ bans: [] });
      // Still the admin: the page works.
      await admin.goto(`${site!.base}/admin`);
      await admin.waitForSelector(`#torrents tr[data-info-hash="${hash}"]`, { timeout: 10_000 });
    }, output);
  });
});

describeWebTorrent('example site: /admin on the admin API (private mode)', true, () => {
  const session = new BrowserSession('ett-site-adminapi-private-');
  let site: Site | undefined;
  let hash: string;
  const output = () => site!.process.output.slice(-3000);

  beforeAll(async () => {
    const files = path.join(session.tmp.dir, 'files');
    mkdirSync(files);
    writeFileSync(path.join(files, NAME), 'members only\n');
    site = await startSite(
      {
        PRIVATE: '1',
        ADMIN_TOKEN: TOKEN,
        TRAFFIC_INTERVAL: '1',
        SQLITE_FILE: path.join(session.tmp.dir, 'db', 'users.sqlite'),
        FILES_DIR: files,
        UPLOADS_DIR: path.join(session.tmp.dir, 'uploads'),
      },
      [NAME],
    );
    hash = publishedHash(site, NAME);
    await session.launch();
  }, 60_000);

  afterAll(async () => {
    await session.close();
    await site?.process.stop();
  });

  describe('a member and the admin', () => {
    let bob: Page;
    let admin: Page;
    let passkey: string;

    it('lists the registered torrent with the member among its peers', { timeout: 60_000 }, async () => {
      bob = await session.newPage('bob');
      admin = await session.newPage('admin');
      await session.guard(async () => {
        await bob.goto(`${site!.base}/signup`);
        await bob.fill('#signup input[name=name]', 'bob');
        await bob.click('#signup button');
        await bob.waitForSelector('#passkey', { timeout: 10_000 });
        passkey = (await bob.textContent('#passkey'))!;
        expect(await announce(site!, hash, { passkey, left: 100 })).toBeUndefined();

        await logIn(admin, site!);
        const row = `#torrents tr[data-info-hash="${hash}"]`;
        await admin.waitForFunction(`document.querySelector('${row} [data-field="leechers"]')?.textContent === '1'`, undefined, { timeout: 10_000 });
        await admin.click(`${row} button.show-peers`);
        await admin.waitForSelector('#peers-table tbody tr:not(:has(.note))', { timeout: 10_000 });
        // The user column: bob is user 1.
        expect(await admin.textContent('#peers-table tbody tr td:last-child')).toBe('1');
        expect(await admin.textContent('#peers-table tbody')).toContain('127.0.0.1');
      }, output);
    });

    it('revokes the member’s passkey: refused at once; the account page says so and gives a new one', { timeout: 60_000 }, async () => {
      await session.guard(async () => {
        await admin.fill('#revoke-passkey', passkey);
        await admin.click('#revoke-button');
        await admin.waitForFunction("document.getElementById('api-status').textContent.startsWith('Revoked')", undefined, { timeout: 10_000 });
        expect(await announce(site!, hash, { passkey, left: 100 })).toMatch(/passkey/);

        await bob.goto(`${site!.base}/account`);
        await bob.waitForSelector('#passkey-revoked', { timeout: 10_000 });
        const renewed = (await bob.textContent('#passkey'))!;
        expect(renewed).toMatch(/^[0-9a-f]{32}$/);
        expect(renewed).not.toBe(passkey);
        passkey = renewed;
        expect(await announce(site!, hash, { passkey, left: 100 })).toBeUndefined();
        // A body the API cannot take: 400 problem details, nothing revoked.
        const bad = await api(site!, 'POST', '/passkeys/revoke', { passkey: '' });
        expect(bad.status).toBe(400);
        expect(String(bad.json!.detail)).toContain('passkey');
        expect(await announce(site!, hash, { passkey, left: 100 })).toBeUndefined();
        // A new passkey of the member's own choosing ends the notice.
        await bob.click('form[action="/account/passkey"] button');
        await bob.waitForFunction(`document.getElementById('passkey')?.textContent !== ${JSON.stringify(passkey)}`, undefined, { timeout: 10_000 });
        expect(await bob.evaluate<boolean>("document.getElementById('passkey-revoked') === null")).toBe(true);
        passkey = (await bob.textContent('#passkey'))!;
      }, output);
    });

    it('factors set on the admin page apply to the member’s credited traffic', { timeout: 60_000 }, async () => {
      await session.guard(async () => {
        const row = `#torrents tr[data-info-hash="${hash}"]`;
        await admin.fill(`${row} input[data-field="uploadFactor"]`, '2');
        await admin.fill(`${row} input[data-field="downloadFactor"]`, '0');
        await admin.click(`${row} button.save`);
        await admin.waitForSelector(`${row}[data-saved="1"]`, { timeout: 10_000 });
        expect((await api(site!, 'GET', `/torrents/${hash}`)).json!.rules).toEqual({ uploadFactor: 2, downloadFactor: 0 });
        const peerId = Buffer.concat([Buffer.from('-qB4650-'), randomBytes(12)]);
        expect(await announce(site!, hash, { passkey, peerId, left: 100 })).toBeUndefined();
        expect(await announce(site!, hash, { passkey, peerId, left: 60, uploaded: 1000, downloaded: 40, event: 'stopped' })).toBeUndefined();
        // Written to SQLite every TRAFFIC_INTERVAL (1 s here): upload doubled, download free.
        await waitFor(
          'the credited traffic on the account page',
          async () => {
            await bob.goto(`${site!.base}/account`);
            return (await bob.evaluate<string | null>("document.querySelector('#traffic-total [data-field=uploaded]')?.dataset.bytes ?? null")) === '2000';
          },
          10_000,
          300,
        );
        expect(await bob.evaluate<string>("document.querySelector('#traffic-total [data-field=downloaded]').dataset.bytes")).toBe('0');
      }, output);
    });

    it('a torrent unregistered through the API is refused and leaves the site', { timeout: 60_000 }, async () => {
      await session.guard(async () => {
        expect((await api(site!, 'DELETE', `/torrents/${hash}`)).status).toBe(204);
        expect(await announce(site!, hash, { passkey, left: 100 })).toMatch(/unregistered/);
        await waitFor('the torrent to leave the home page', async () => !(await (await fetch(`${site!.base}/`)).text()).includes(NAME), 10_000, 100);
        await admin.goto(`${site!.base}/admin`);
        await admin.waitForSelector('#torrents tbody[data-loaded]', { state: 'attached', timeout: 10_000 });
        expect(await admin.evaluate<number>("document.querySelectorAll('#torrents tbody tr').length")).toBe(0);
      }, output);
    });
  });
});
