/**
 * The example site's private mode (PRIVATE=1) is safe to copy, in headless Chromium:
 * - login CSRF: a page of another origin (a second local server, another port of the same host, so
 *   the same *site* and SameSite cookies are sent) auto-submits a form POST to /signup while a member
 *   is signed in: refused, and the member's session is unchanged;
 * - a member signs out and signs in again with name and passkey;
 * - the web seed serves members only: no or a wrong passkey in the URL is refused, the member's own
 *   URL (in their .torrent) gets the bytes, and the in-browser download works through it and stays
 *   "Done";
 * - every page carrying the passkey is `Cache-Control: private, no-store`;
 * - /signup refuses a signed-in visitor (409) and is throttled per client address (429).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseTorrent } from '../../src/torrent/parse.js';
import { freePort } from '../helpers/clients.js';
import { describeWebTorrent } from '../helpers/webtorrent.js';
import { BrowserSession, startSite, type Page, type Site } from './site.js';

const NAME = 'members-only.bin';
const SIZE = 600 * 1024 + 77;
/** SIGNUP_LIMIT of the site: accounts made per address per hour. */
const LIMIT = 4;

describeWebTorrent('example site: the private mode is safe to copy', true, () => {
  const session = new BrowserSession('ett-site-safety-');
  let site: Site | undefined;
  let attacker: Server | undefined;
  let attackerBase: string;
  let data: Buffer;
  let alice: Page;
  let passkey: string;
  /** Accounts made from 127.0.0.1 so far (the throttle counts them). */
  let signups = 0;

  beforeAll(async () => {
    const files = path.join(session.tmp.dir, 'files');
    mkdirSync(files);
    data = randomBytes(SIZE);
    writeFileSync(path.join(files, NAME), data);
    // The page's origin and the torrents' URLs must match (the web seed is fetched by the page): a
    // fixed port, PUBLIC_URL on 127.0.0.1.
    const port = await freePort();
    site = await startSite(
      {
        PORT: String(port),
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        PRIVATE: '1',
        SIGNUP_LIMIT: String(LIMIT),
        SQLITE_FILE: path.join(session.tmp.dir, 'db', 'users.sqlite'),
        FILES_DIR: files,
        UPLOADS_DIR: path.join(session.tmp.dir, 'uploads'),
        ICE_SERVERS: '[]',
      },
      [NAME],
    );
    // The attacker's page: another origin (another port on the same host), a form that posts itself.
    attacker = createServer((req, res) => {
      res.setHeader('Content-Type', 'text/html');
      res.end(`<!doctype html><title>free stuff</title>
<form id="f" method="post" action="${site!.base}/signup"><input name="name" value="mallory"></form>
<script>document.getElementById('f').submit()</script>`);
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

  const output = () => site!.process.output.slice(-3000);

  /** A header and the status of a GET from inside the page (its cookies). */
  const inPage = (page: Page, url: string) =>
    page.evaluate<{ status: number; cacheControl: string | null; body: string }>(
      `fetch(${JSON.stringify(url)}).then(async (r) => ({ status: r.status, cacheControl: r.headers.get('cache-control'), body: new TextDecoder('latin1').decode(await r.arrayBuffer()) }))`,
    );

  it('signs a member up; a cross-origin form POST to /signup is refused and leaves the session as it was', { timeout: 60_000 }, async () => {
    alice = await session.newPage('alice');
    await session.guard(async () => {
      await alice.goto(`${site!.base}/signup`);
      await alice.fill('#signup input[name=name]', 'alice');
      await alice.click('#signup button');
      await alice.waitForSelector('#passkey', { timeout: 10_000 });
      signups++;
      passkey = (await alice.textContent('#passkey'))!;
      expect(passkey).toMatch(/^[0-9a-f]{32}$/);

      // The attack: alice visits the other origin, whose page posts the sign-up form to the site.
      await alice.goto(`${attackerBase}/`);
      await alice.waitForFunction(`location.origin === ${JSON.stringify(site!.base)} && document.readyState === 'complete'`, undefined, { timeout: 10_000 });
      expect(alice.url()).toBe(`${site!.base}/signup`);
      expect(await alice.textContent('body')).toContain('refused: this form was sent from another site');
      // Still alice, with her passkey: no session was swapped in, no account "mallory" was made.
      await alice.goto(`${site!.base}/account`);
      await alice.waitForSelector('#passkey', { timeout: 10_000 });
      expect(await alice.textContent('h1')).toBe('alice');
      expect(await alice.textContent('#passkey')).toBe(passkey);
      const sent = await (await fetch(`${site!.base}/signin`)).text();
      expect(sent).toContain('name="_csrf"');
      // A POST without a Origin header (an old browser, a script) still needs the form's CSRF token.
      const noToken = await fetch(`${site!.base}/signup`, { method: 'POST', body: new URLSearchParams({ name: 'mallory' }) });
      expect(noToken.status).toBe(403);
      expect(await noToken.text()).toContain('CSRF');
    }, output);
  });

  it('signs out, then signs in again with name and passkey', { timeout: 60_000 }, async () => {
    expect(passkey, 'needs the sign-up of the previous test').toBeDefined();
    await session.guard(async () => {
      await alice.goto(`${site!.base}/account`);
      await alice.click('#logout button');
      await alice.waitForSelector('nav a[href="/signin"]', { timeout: 10_000 });
      expect((await inPage(alice, '/account')).body).not.toContain(passkey);
      await alice.click('nav a[href="/signin"]');
      // A wrong passkey first: refused, still signed out.
      await alice.fill('#signin input[name=name]', 'alice');
      await alice.fill('#signin input[name=passkey]', '0'.repeat(32));
      await alice.click('#signin button');
      await alice.waitForSelector('#signin-error', { timeout: 10_000 });
      expect(await alice.textContent('#signin-error')).toContain('do not match');
      await alice.fill('#signin input[name=name]', 'alice');
      await alice.fill('#signin input[name=passkey]', passkey);
      await alice.click('#signin button');
      await alice.waitForSelector('#passkey', { timeout: 10_000 });
      expect(await alice.textContent('#passkey')).toBe(passkey);
      expect(await alice.evaluate<string>('document.cookie')).toBe(''); // session and CSRF cookies are HttpOnly
    }, output);
  });

  it('sends Cache-Control: private, no-store with every page that carries the passkey', { timeout: 30_000 }, async () => {
    expect(passkey, 'needs the sign-up').toBeDefined();
    await session.guard(async () => {
      for (const url of ['/', `/t/${NAME}`, '/account', `/torrents/${NAME}.torrent`]) {
        const answer = await inPage(alice, url);
        expect(answer.status, url).toBe(200);
        expect(answer.body, `${url} carries the passkey`).toContain(passkey);
        expect(answer.cacheControl, url).toBe('private, no-store');
      }
    }, output);
  });

  it('serves the web seed to members only: their own URL (in their .torrent) gets the bytes, others 403', { timeout: 30_000 }, async () => {
    expect(passkey, 'needs the sign-up').toBeDefined();
    await session.guard(async () => {
      const torrent = parseTorrent(Buffer.from((await inPage(alice, `/torrents/${NAME}.torrent`)).body, 'latin1'));
      const own = `${site!.base}/webseed/${passkey}/${NAME}`;
      expect(torrent.urlList).toEqual([own]);
      const range = { headers: { Range: 'bytes=100-199' } };
      expect((await fetch(`${site!.base}/webseed/${NAME}`, range)).status).toBe(403); // the public URL
      expect((await fetch(`${site!.base}/webseed/${'0'.repeat(32)}/${NAME}`, range)).status).toBe(403); // nobody's passkey
      expect((await fetch(`${site!.base}/webseed/not-a-passkey/${NAME}`, range)).status).toBe(403);
      const member = await fetch(`${site!.base}/webseed/${passkey}/${NAME}`, range);
      expect(member.status).toBe(206);
      expect(Buffer.from(await member.arrayBuffer())).toEqual(data.subarray(100, 200));
      // An anonymous visitor's pages show no web seed URL with a passkey in it.
      expect(await (await fetch(`${site!.base}/t/${NAME}`)).text()).not.toMatch(/webseed\/[0-9a-f]{32}/);
    }, output);
  });

  it('downloads in the browser through the member’s web seed; the status stays "Done" and names the web seed', { timeout: 60_000 }, async () => {
    expect(passkey, 'needs the sign-up').toBeDefined();
    await session.guard(async () => {
      await alice.goto(`${site!.base}/t/${NAME}?sources=webseed`);
      await alice.click('#start');
      await alice.waitForSelector('#result[data-done], #result[data-error]', { state: 'attached', timeout: 30_000 });
      expect(await alice.evaluate<string | null>("document.getElementById('result').dataset.error ?? null")).toBeNull();
      const result = JSON.parse(await alice.evaluate<string>("document.getElementById('result').value")) as {
        files: Array<{ path: string; length: number; sha256: string }>;
        bySource: Record<string, number>;
      };
      expect(result.files).toEqual([{ path: NAME, length: SIZE, sha256: createHash('sha256').update(data).digest('hex') }]);
      expect(result.bySource).toEqual({ webSeed: SIZE });
      // After done: a late progress event (as one arriving after the last piece) and two more ticks of
      // the status timer leave "Done" in place.
      const ticks = Number(await alice.evaluate<string>("document.getElementById('status').dataset.ticks"));
      await alice.evaluate("window.webTorrentClient.torrents[0].emit('download', 16384)");
      await alice.waitForFunction(`Number(document.getElementById('status').dataset.ticks) >= ${ticks + 3}`, undefined, { timeout: 10_000 });
      const status = (await alice.textContent('#status'))!;
      expect(status).toMatch(/^Done: every piece checked/);
      expect(status).toContain('from web seed');
    }, output);
  });

  it('refuses /signup to a signed-in visitor (409) and throttles sign-ups per address (429)', { timeout: 30_000 }, async () => {
    expect(passkey, 'needs the sign-up').toBeDefined();
    await session.guard(async () => {
      // Signed in: a sign-up from the site's own page (with a valid token) is refused.
      await alice.goto(`${site!.base}/account`);
      const status = await alice.evaluate<number>(
        "fetch('/signup', { method: 'POST', body: new URLSearchParams({ name: 'alice2', _csrf: document.querySelector('input[name=_csrf]').value }) }).then((r) => r.status)",
      );
      expect(status).toBe(409);
      // A visitor without a session, from the same address: LIMIT accounts an hour, then 429.
      const signUp = async (name: string): Promise<number> => {
        const form = await fetch(`${site!.base}/signup`);
        const csrfCookie = /ett_csrf=([^;]+)/.exec(form.headers.get('set-cookie') ?? '')![1];
        const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1];
        const res = await fetch(`${site!.base}/signup`, {
          method: 'POST',
          redirect: 'manual',
          headers: { Cookie: `ett_csrf=${csrfCookie}` },
          body: new URLSearchParams({ name, _csrf: token }),
        });
        return res.status;
      };
      // A refused name does not count.
      expect(await signUp('alice')).toBe(409);
      while (signups < LIMIT) {
        expect(await signUp(`user${signups}`)).toBe(303);
        signups++;
      }
      expect(await signUp('one-too-many')).toBe(429);
    }, output);
  });
});
