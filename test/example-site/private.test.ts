/**
 * The example site as a private tracker (PRIVATE=1) in headless Chromium: visitors sign up and get a
 * passkey, download their personal .torrent (their passkey in the announce URL, the same info hash),
 * a real client (aria2, DHT/LSD/PEX off) downloads with it from the site's seeder and web seed, and
 * the credited download (onTraffic, written to SQLite) appears on that user's page only. A restart
 * on the same SQLite file keeps the account, the session and the traffic.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseTorrent } from '../../src/torrent/parse.js';
import { decodeDict } from '../helpers/bdecode.js';
import { aria2Leecher, freePort, haveBinary, sha1File, waitFor, type ClientProcess } from '../helpers/clients.js';
import { escapeAll } from '../helpers/escape.js';
import { describeWebTorrent } from '../helpers/webtorrent.js';
import { BrowserSession, startSite, type Page, type Site } from './site.js';

const NAME = 'members-only.bin';
const SIZE = 4 * 1024 * 1024 + 999;

describeWebTorrent('example site: private tracker with sign-up, passkeys and per-user traffic', true, () => {
  const session = new BrowserSession('ett-site-private-');
  let site: Site | undefined;
  let aria2: ClientProcess | undefined;
  let env: Record<string, string>;
  let data: Buffer;
  let infoHash: string;
  let alice: Page;
  let bob: Page;
  const passkeys: Record<string, string> = {};

  beforeAll(async () => {
    haveBinary('aria2c');
    const files = path.join(session.tmp.dir, 'files');
    mkdirSync(files);
    data = randomBytes(SIZE);
    writeFileSync(path.join(files, NAME), data);
    env = {
      PRIVATE: '1',
      SQLITE_FILE: path.join(session.tmp.dir, 'db', 'users.sqlite'),
      TRAFFIC_INTERVAL: '1',
      SEED_PORT: String(await freePort()),
      FILES_DIR: files,
      UPLOADS_DIR: path.join(session.tmp.dir, 'uploads'),
    };
    site = await startSite(env, [NAME]);
    infoHash = /published members-only\.bin: ([0-9a-f]{40})/.exec(site.process.output)![1];
    await session.launch();
  }, 60_000);

  afterAll(async () => {
    await aria2?.stop('SIGINT');
    await session.close();
    await site?.process.stop();
  });

  async function signUp(page: Page, name: string): Promise<string> {
    await page.goto(`${site!.base}/`);
    await page.click('nav a[href="/signup"]');
    await page.fill('#signup input[name=name]', name);
    await page.click('#signup button');
    await page.waitForSelector('#passkey', { timeout: 10_000 });
    const passkey = (await page.textContent('#passkey'))!;
    expect(passkey).toMatch(/^[0-9a-f]{32}$/); // 128 random bits
    expect(await page.evaluate<string>('document.cookie')).toBe(''); // the session cookie is HttpOnly
    return passkey;
  }

  it('signs users up with a passkey each; a page shows only its own user’s passkey', { timeout: 60_000 }, async () => {
    alice = await session.newPage('alice');
    bob = await session.newPage('bob');
    await session.guard(async () => {
      passkeys.alice = await signUp(alice, 'alice');
      passkeys.bob = await signUp(bob, 'bob');
      expect(passkeys.alice).not.toBe(passkeys.bob);
      expect(await alice.content()).not.toContain(passkeys.bob);
      expect(await bob.content()).not.toContain(passkeys.alice);
      expect(await alice.textContent('#personal-announce')).toBe(`http://localhost:${site!.port}/tracker/${passkeys.alice}/announce`);
      // A taken name is refused; an anonymous visitor sees no passkey and gets no .torrent.
      const carol = await session.newPage('anonymous');
      await carol.goto(`${site!.base}/signup`);
      await carol.fill('#signup input[name=name]', 'alice');
      await carol.click('#signup button');
      await carol.waitForSelector('#signup-error', { timeout: 10_000 });
      expect(await carol.textContent('#signup-error')).toContain('taken');
      await carol.goto(`${site!.base}/`);
      const home = await carol.content();
      expect(home).toContain(NAME);
      for (const key of Object.values(passkeys)) expect(home).not.toContain(key);
      expect((await fetch(`${site!.base}/torrents/${NAME}.torrent`)).status).toBe(403);
      // The bare announce URL is refused: the tracker is private.
      const q = `info_hash=${escapeAll(Buffer.from(infoHash, 'hex'))}&peer_id=${escapeAll(randomBytes(20))}&port=6881&uploaded=0&downloaded=0&left=0`;
      const bare = decodeDict(Buffer.from(await (await fetch(`${site!.base}/tracker/announce?${q}`)).arrayBuffer()));
      expect(String(bare['failure reason'])).toContain('private');
    }, () => site!.process.output.slice(-3000));
  });

  it('downloads the personal .torrent; aria2 downloads with it; the credited download shows on the user’s page', { timeout: 60_000 }, async () => {
    expect(alice, 'needs the sign-up of the previous test').toBeDefined();
    await session.guard(async () => {
      const [download] = await Promise.all([alice.waitForEvent('download', { timeout: 10_000 }), alice.click(`#personal-torrents a[data-name="${NAME}"]`)]);
      const file = path.join(session.tmp.dir, 'alice.torrent');
      await download.saveAs(file);
      expect(download.suggestedFilename()).toBe(`${NAME}.torrent`);
      const t = parseTorrent(readFileSync(file));
      expect(t.infoHash).toBe(infoHash); // the same swarm as everyone's
      expect(t.private).toBe(true);
      expect(t.announce.flat()).toContain(`http://localhost:${site!.port}/tracker/${passkeys.alice}/announce`);
      expect(t.announce.flat().join(' ')).not.toContain(passkeys.bob);

      // aria2 with alice's .torrent, at 2 MiB/s so that it announces `started` before it is done (the
      // web seed on loopback is faster than its first announce otherwise, and a first announce credits
      // nothing: it is the baseline).
      const out = path.join(session.tmp.dir, 'aria2');
      aria2 = aria2Leecher({ torrent: file, dataDir: out, listenPort: await freePort(), extraArgs: ['--check-integrity=false', '--max-download-limit=2M'] });
      expect(await aria2.exit, aria2.output).toBe(0);
      expect(await sha1File(path.join(out, NAME))).toBe(createHash('sha1').update(data).digest('hex'));

      // onTraffic every second (TRAFFIC_INTERVAL=1) into SQLite; the page reads it.
      await waitFor(
        "alice's credited download on her page",
        async () => {
          await alice.goto(`${site!.base}/account`);
          return Number(await alice.evaluate<string>("document.querySelector('#traffic-total [data-field=downloaded]').dataset.bytes")) >= SIZE;
        },
        20_000,
        500,
      );
      expect(await alice.textContent('#traffic tbody tr td:first-child')).toBe(NAME);
      expect(Number(await alice.evaluate<string>("document.querySelector('#traffic tbody [data-field=downloaded]').dataset.bytes"))).toBe(SIZE);
      // bob did nothing: nothing credited to him, and his page shows nothing of alice's.
      await bob.reload();
      await bob.waitForSelector('#no-traffic', { timeout: 10_000 });
      expect(await bob.content()).not.toContain(passkeys.alice);
      expect(existsSync(env.SQLITE_FILE)).toBe(true);
    }, () => `--- aria2\n${aria2?.output.slice(-2000) ?? ''}\n--- site\n${site!.process.output.slice(-3000)}`);
  });

  it('keeps accounts, sessions and traffic in the SQLite file across a restart', { timeout: 60_000 }, async () => {
    expect(alice, 'needs the previous tests').toBeDefined();
    await session.guard(async () => {
      await site!.process.stop();
      site = await startSite(env, [NAME]);
      // Cookies belong to the host, not the port: alice's browser is still signed in.
      await alice.goto(`${site.base}/account`);
      await alice.waitForSelector('#passkey', { timeout: 10_000 });
      expect(await alice.textContent('#passkey')).toBe(passkeys.alice);
      expect(Number(await alice.evaluate<string>("document.querySelector('#traffic-total [data-field=downloaded]').dataset.bytes"))).toBe(SIZE);
    }, () => site!.process.output.slice(-3000));
  });
});
