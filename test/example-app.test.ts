import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeDict } from './helpers/bdecode.js';
import { escapeAll } from './helpers/escape.js';
import { rawGet } from './helpers/http.js';
import { waitFor } from './helpers/clients.js';
import { announcePacket, decodeAnnounce, UdpTestClient } from './helpers/udp.js';
import { parseTorrent } from '../src/torrent/parse.js';

/** Start example-app/server.js (built dist/ is made by `pretest`) and read its port from stdout. */
async function startExample(env: Record<string, string>): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  const child = spawn(process.execPath, ['example-app/server.js'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`example app did not start: ${out}`)), 15_000);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /demo on http:\/\/(?:\[[^\]]+\]|[^:/\s]+):(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (code) => reject(new Error(`example app exited with ${code}: ${out}`)));
  });
  return { child, port, output: () => out };
}

describe('example app', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    child?.kill('SIGTERM');
    child = undefined;
  });

  it('serves a home page with the announce URL and the tracker at /tracker', async () => {
    const started = await startExample({ PORT: '0' });
    child = started.child;
    const home = await rawGet(started.port, '/', { headers: { Host: 'files.example.org' } });
    expect(home.body.toString()).toContain('http://files.example.org/tracker/announce');
    expect(home.body.toString()).toContain('ws://files.example.org/tracker/announce');
    const ih = randomBytes(20);
    const q = `info_hash=${escapeAll(ih)}&peer_id=${escapeAll(randomBytes(20))}&port=6881&left=0`;
    const d = decodeDict((await rawGet(started.port, `/tracker/announce?${q}`)).body);
    expect(d).toMatchObject({ complete: 1, incomplete: 0 });
    const again = await rawGet(started.port, '/');
    expect(again.body.toString()).toContain(ih.toString('hex'));
    // Recent announces never show a peer's address to other visitors.
    const announces = again.body.toString().split('<h2>Recent announces</h2>')[1];
    expect(announces).toContain(ih.toString('hex'));
    expect(announces).not.toMatch(/127\.0\.0\.1|::1|::ffff:|6881/);
  });

  it('publishes its files as torrents with this tracker and itself as a web seed', async () => {
    const started = await startExample({ PORT: '0', PUBLIC_URL: 'http://127.0.0.1:1234' });
    child = started.child;
    const home = await waitFor('the demo files to be hashed', async () => {
      const page = (await rawGet(started.port, '/')).body.toString();
      return page.includes('welcome.txt.torrent') ? page : undefined;
    }, 15_000);
    expect(home).toContain('magnet:?xt=urn:btih:');
    const file = await rawGet(started.port, '/torrents/welcome.txt.torrent');
    expect(file.headers['content-type']).toBe('application/x-bittorrent');
    const t = parseTorrent(file.body);
    // HTTP first, then the WebTorrent (WebSocket) tracker as a tier of its own.
    expect(t.announce).toEqual([['http://127.0.0.1:1234/tracker/announce'], ['ws://127.0.0.1:1234/tracker/announce']]);
    // A single file's web seed is the file's own URL (BEP 19; WebTorrent appends nothing to it).
    expect(t.urlList).toEqual(['http://127.0.0.1:1234/webseed/welcome.txt']);
    expect(home).toContain(`tr=${encodeURIComponent('ws://127.0.0.1:1234/tracker/announce')}`);
    // The web seed answers Range requests with the exact bytes.
    const range = await rawGet(started.port, '/webseed/welcome.txt', { headers: { Range: 'bytes=0-6' } });
    expect(range.status).toBe(206);
    expect(range.body.toString()).toBe('Welcome');
    expect([403, 404]).toContain((await rawGet(started.port, '/webseed/../server.js')).status);
  });

  it('UDP_PORT opens a UDP tracker on the same swarms and puts it first in published torrents', async () => {
    const started = await startExample({ PORT: '0', PUBLIC_URL: 'http://127.0.0.1:1234', UDP_PORT: '0' });
    child = started.child;
    await waitFor('the demo files to be hashed', async () => (await rawGet(started.port, '/')).body.toString().includes('welcome.txt.torrent'), 15_000);
    const t = parseTorrent((await rawGet(started.port, '/torrents/welcome.txt.torrent')).body);
    const udpUrl = /^udp:\/\/127\.0\.0\.1:(\d+)\/announce$/.exec(t.announce[0][0]);
    expect(udpUrl).not.toBeNull();
    expect(t.announce[1]).toEqual(['http://127.0.0.1:1234/tracker/announce']);
    expect(t.announce[2]).toEqual(['ws://127.0.0.1:1234/tracker/announce']);
    const udpPort = Number(udpUrl![1]);
    const ih = randomBytes(20);
    await rawGet(started.port, `/tracker/announce?info_hash=${escapeAll(ih)}&peer_id=${escapeAll(randomBytes(20))}&port=6881&left=0`);
    const c = new UdpTestClient(4, '127.0.0.1', udpPort);
    await c.bind();
    try {
      const id = await c.connect();
      const answer = decodeAnnounce(await c.request(announcePacket({ connectionId: id, tx: 9, infoHash: ih, peerId: randomBytes(20), port: 6882 })), 4);
      expect(answer.peers).toEqual(['127.0.0.1:6881']);
    } finally {
      await c.close();
    }
  });
  it('answers WebTorrent announces over WebSocket at /tracker/announce (and wss:// in torrents behind https)', async () => {
    const started = await startExample({ PORT: '0', PUBLIC_URL: 'https://files.example.org' });
    child = started.child;
    const ws = new WebSocket(`ws://127.0.0.1:${started.port}/tracker/announce`);
    try {
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      const id = (): string => randomBytes(20).toString('latin1');
      const infoHash = id();
      const answer = new Promise<Record<string, unknown>>((resolve) => ws.once('message', (data) => resolve(JSON.parse(String(data)))));
      ws.send(JSON.stringify({ action: 'announce', info_hash: infoHash, peer_id: id(), numwant: 0, uploaded: 0, downloaded: 0, left: 0, event: 'started' }));
      expect(await answer).toMatchObject({ action: 'announce', complete: 1, incomplete: 0, info_hash: infoHash });
    } finally {
      ws.close();
    }
    await waitFor('the demo files to be hashed', async () => (await rawGet(started.port, '/')).body.toString().includes('welcome.txt'), 15_000);
    const t = parseTorrent((await rawGet(started.port, '/torrents/welcome.txt.torrent')).body);
    expect(t.announce).toEqual([['https://files.example.org/tracker/announce'], ['wss://files.example.org/tracker/announce']]);
  });

  it('serves a page per torrent with an in-browser download, and the WebTorrent bundle from WEBTORRENT_JS', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ett-example-'));
    try {
      const bundle = path.join(dir, 'webtorrent.min.js');
      writeFileSync(bundle, 'export default class WebTorrent {}\n');
      const started = await startExample({ PORT: '0', WEBTORRENT_JS: bundle });
      child = started.child;
      await waitFor('the demo files to be hashed', async () => (await rawGet(started.port, '/')).body.toString().includes('welcome.txt'), 15_000);
      expect((await rawGet(started.port, '/')).body.toString()).toContain('href="/t/welcome.txt"');
      const page = await rawGet(started.port, '/t/welcome.txt');
      expect(page.status).toBe(200);
      const html = page.body.toString();
      expect(html).toContain('id="start"');
      expect(html).toContain('/vendor/webtorrent.min.js');
      expect(html).toContain('/torrents/welcome.txt.torrent');
      const js = await rawGet(started.port, '/vendor/webtorrent.min.js');
      expect(js.status).toBe(200);
      expect(String(js.headers['content-type'])).toMatch(/^text\/javascript/);
      expect(js.body.toString()).toContain('class WebTorrent');
      expect((await rawGet(started.port, '/t/nope')).status).toBe(404);
      expect((await rawGet(started.port, '/t/%3Cscript%3E')).body.toString()).not.toContain('<script>');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('explains on the torrent page when the WebTorrent bundle is missing', async () => {
    const started = await startExample({ PORT: '0', WEBTORRENT_JS: path.join(tmpdir(), 'no-such-dir-ett', 'webtorrent.min.js') });
    child = started.child;
    await waitFor('the demo files to be hashed', async () => (await rawGet(started.port, '/')).body.toString().includes('welcome.txt'), 15_000);
    const html = (await rawGet(started.port, '/t/welcome.txt')).body.toString();
    expect(html).toContain('not available on this server');
    expect(html).toContain('WEBTORRENT_JS');
    expect(html).not.toContain('id="start"');
    expect((await rawGet(started.port, '/vendor/webtorrent.min.js')).status).toBe(404);
  });

  it('says the admin is disabled without ADMIN_TOKEN, and refuses uploads then', async () => {
    const started = await startExample({ PORT: '0' });
    child = started.child;
    const page = (await rawGet(started.port, '/admin')).body.toString();
    expect(page).toContain('id="admin-disabled"');
    expect(page).toContain('ADMIN_TOKEN');
    const form = new FormData();
    form.append('file', new Blob(['x']), 'x.txt');
    const res = await fetch(`http://127.0.0.1:${started.port}/admin/upload`, { method: 'POST', body: form });
    expect(res.status).toBe(404);
    // No admin API either, whatever the credentials.
    for (const route of ['/admin/api/torrents', '/admin/api/openapi.json']) {
      const api = await fetch(`http://127.0.0.1:${started.port}${route}`, { headers: { Authorization: 'Bearer anything' } });
      expect(api.status).toBe(404);
      expect(api.headers.get('content-type')).toContain('application/problem+json');
    }
  });

  it('publishes uploads of the admin only, with safe names, within MAX_UPLOAD_BYTES', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ett-example-'));
    try {
      const files = path.join(dir, 'files');
      const uploads = path.join(dir, 'uploads');
      mkdirSync(files);
      // A published name with markup in it is shown as text.
      writeFileSync(path.join(files, `<img src=x onerror=alert(1)> & "q".txt`), 'hi');
      const token = randomBytes(16).toString('hex');
      const started = await startExample({ PORT: '0', FILES_DIR: files, UPLOADS_DIR: uploads, ADMIN_TOKEN: token, MAX_UPLOAD_BYTES: '1000' });
      child = started.child;
      const base = `http://127.0.0.1:${started.port}`;
      const upload = (name: string, bytes: number, headers: Record<string, string> = { Authorization: `Bearer ${token}` }) => {
        const form = new FormData();
        form.append('file', new Blob([randomBytes(bytes)]), name);
        return fetch(`${base}/admin/upload`, { method: 'POST', body: form, headers });
      };
      // Not the admin: refused before the body is read.
      expect((await upload('a.bin', 10, {})).status).toBe(403);
      expect((await upload('a.bin', 10, { Authorization: 'Bearer wrong' })).status).toBe(403);
      const login = await fetch(`${base}/admin/login`, { method: 'POST', body: new URLSearchParams({ token: 'wrong' }), redirect: 'manual' });
      expect(login.status).toBe(401);
      expect(login.headers.get('set-cookie')).toBeNull();
      const ok = await fetch(`${base}/admin/login`, { method: 'POST', body: new URLSearchParams({ token }), redirect: 'manual' });
      expect(ok.status).toBe(303);
      expect(ok.headers.get('set-cookie')).toMatch(/^ett_admin=[^;]+; Path=\/admin; HttpOnly; SameSite=Strict/);
      // Over the limit: 413, and nothing is left behind.
      const big = await upload('big.bin', 1001);
      expect(big.status).toBe(413);
      expect(((await big.json()) as { error: string }).error).toContain('MAX_UPLOAD_BYTES');
      // A name that tries to leave the folder keeps only its base name, its odd characters replaced.
      const evil = await upload('../../ev<il>.sh', 100);
      expect(evil.status).toBe(202);
      const { job, name } = (await evil.json()) as { job: string; name: string };
      expect(name).toBe('ev_il_.sh');
      const done = await waitFor('the upload to be published', async () => {
        const j = (await (await fetch(`${base}/admin/jobs/${job}`, { headers: { Authorization: `Bearer ${token}` } })).json()) as { state: string };
        return j.state === 'published' ? j : undefined;
      }, 15_000);
      expect(done).toMatchObject({ name, hashed: 100, total: 100 });
      expect(readdirSync(uploads)).toEqual([name]);
      expect(existsSync(path.join(dir, 'ev_il_.sh'))).toBe(false);
      // Taken: 409. Hidden or empty names: refused.
      expect((await upload('ev<il>.sh', 5)).status).toBe(409);
      expect((await upload('...', 5)).status).toBe(400);
      const api = (await (await fetch(`${base}/api/torrents`)).json()) as Array<{ name: string; seeders: number }>;
      expect(api.map((t) => t.name).sort()).toEqual([`<img src=x onerror=alert(1)> & "q".txt`, name].sort());
      const home = (await rawGet(started.port, '/')).body.toString();
      expect(home).toContain('&#60;img src=x onerror=alert(1)&#62; &#38; &#34;q&#34;.txt');
      expect(home).not.toContain('<img');
      expect((await rawGet(started.port, `/webseed/${encodeURIComponent(name)}`)).status).toBe(200);
      expect((await rawGet(started.port, `/webseed/${encodeURIComponent(name)}`)).body.length).toBe(100);
    } finally {
      child?.kill('SIGTERM');
      child = undefined;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves /metrics and the stats page', async () => {
    const started = await startExample({ PORT: '0' });
    child = started.child;
    const ih = randomBytes(20);
    await rawGet(started.port, `/tracker/announce?info_hash=${escapeAll(ih)}&peer_id=${escapeAll(randomBytes(20))}&port=6881&left=0&event=started`);
    const metrics = await rawGet(started.port, '/metrics');
    expect(String(metrics.headers['content-type'])).toMatch(/^text\/plain/);
    expect(metrics.body.toString()).toContain('bittorrent_tracker_announces_total{transport="http",event="started",family="ipv4"} 1');
    const stats = await waitFor('a stats sample', async () => {
      const s = JSON.parse((await rawGet(started.port, '/api/stats')).body.toString()) as { totals: { announces: { total: number } } | null };
      return s.totals?.announces.total === 1 ? s : undefined;
    }, 5_000);
    expect(stats!.totals!.announces.total).toBe(1);
    const page = (await rawGet(started.port, '/stats')).body.toString();
    expect(page).toContain('/vendor/uplot/uPlot.iife.min.js');
    expect((await rawGet(started.port, '/vendor/uplot/uPlot.iife.min.js')).status).toBe(200);
  });

  it('answers /livez and /readyz at its root and drains on SIGTERM (WebSocket 1001, exit 0)', async () => {
    const started = await startExample({ PORT: '0' });
    child = started.child;
    const live = await fetch(`http://127.0.0.1:${started.port}/livez`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`http://127.0.0.1:${started.port}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ok', checks: { store: { ok: true }, draining: { ok: true } } });
    const ws = new WebSocket(`ws://127.0.0.1:${started.port}/tracker/announce`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    const exited = new Promise<number | null>((resolve) => started.child.once('exit', (code) => resolve(code)));
    started.child.kill('SIGTERM');
    expect(await closed).toBe(1001);
    expect(await exited).toBe(0);
  });

  it('listens on HOST, 127.0.0.1 unless set, and says where', async () => {
    const started = await startExample({ PORT: '0' });
    child = started.child;
    await waitFor('the listening line', () => started.output().includes(`listening on 127.0.0.1:${started.port};`), 5_000);
    expect((await rawGet(started.port, '/')).status).toBe(200);
    child.kill('SIGTERM');
    // Another loopback address: answered there, not on 127.0.0.1.
    const other = await startExample({ PORT: '0', HOST: '127.0.0.2' });
    child = other.child;
    await waitFor('the listening line', () => other.output().includes(`listening on 127.0.0.2:${other.port};`), 5_000);
    expect((await fetch(`http://127.0.0.2:${other.port}/`)).status).toBe(200);
    await expect(fetch(`http://127.0.0.1:${other.port}/`)).rejects.toThrow();
  });

  it('PRIVATE=1 gives personal .torrent files to signed-up users only (SQLite)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ett-example-'));
    try {
      const started = await startExample({ PORT: '0', PRIVATE: '1', SQLITE_FILE: path.join(dir, 'users.sqlite'), PUBLIC_URL: 'http://127.0.0.1:1234', UPLOADS_DIR: path.join(dir, 'up') });
      child = started.child;
      const base = `http://127.0.0.1:${started.port}`;
      await waitFor('the demo files to be hashed', async () => (await rawGet(started.port, '/api/torrents')).body.toString().includes('welcome.txt'), 15_000);
      expect((await fetch(`${base}/torrents/welcome.txt.torrent`)).status).toBe(403);
      // Every form carries a CSRF token bound to the browser's ett_csrf cookie (given with the page).
      const form = await fetch(`${base}/signup`);
      const csrf = /ett_csrf=[^;]+/.exec(form.headers.get('set-cookie') ?? '')![0];
      const _csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1];
      expect((await fetch(`${base}/signup`, { method: 'POST', body: new URLSearchParams({ name: 'dana' }), redirect: 'manual' })).status).toBe(403);
      const bad = await fetch(`${base}/signup`, { method: 'POST', headers: { Cookie: csrf }, body: new URLSearchParams({ name: '<script>', _csrf }), redirect: 'manual' });
      expect(bad.status).toBe(400);
      expect(await bad.text()).toContain('&#60;script&#62;');
      const signup = await fetch(`${base}/signup`, { method: 'POST', headers: { Cookie: csrf }, body: new URLSearchParams({ name: 'dana', _csrf }), redirect: 'manual' });
      expect(signup.status).toBe(303);
      const cookie = signup.headers.get('set-cookie')!;
      expect(cookie).toMatch(/^ett_session=[^;]+; Path=\/; HttpOnly; SameSite=Lax/);
      const session = `${cookie.split(';')[0]}; ${csrf}`;
      const account = await (await fetch(`${base}/account`, { headers: { Cookie: session } })).text();
      const passkey = /<code id="passkey">([0-9a-f]{32})<\/code>/.exec(account)![1];
      const personal = Buffer.from(await (await fetch(`${base}/torrents/welcome.txt.torrent`, { headers: { Cookie: session } })).arrayBuffer());
      const t = parseTorrent(personal);
      const listed = JSON.parse((await rawGet(started.port, '/api/torrents')).body.toString()) as Array<{ name: string; infoHash: string }>;
      expect(t.infoHash).toBe(listed.find((e) => e.name === 'welcome.txt')!.infoHash);
      expect(readFileSync(path.join(dir, 'users.sqlite')).subarray(0, 15).toString()).toBe('SQLite format 3');
      expect(t.private).toBe(true);
      expect(t.announce).toEqual([[`http://127.0.0.1:1234/tracker/${passkey}/announce`], [`ws://127.0.0.1:1234/tracker/${passkey}/announce`]]);
      // The announce with the passkey works; an unknown passkey does not.
      const q = `info_hash=${escapeAll(t.infoHashBuffer)}&peer_id=${escapeAll(randomBytes(20))}&port=6881&uploaded=0&downloaded=0&left=0`;
      expect(decodeDict((await rawGet(started.port, `/tracker/${passkey}/announce?${q}`)).body)).toMatchObject({ complete: 1 });
      expect(String(decodeDict((await rawGet(started.port, `/tracker/${'0'.repeat(32)}/announce?${q}`)).body)['failure reason'])).toContain('passkey');
      // A new passkey: the old one is refused at once (forgotten by the tracker), the new one works.
      const renew = await fetch(`${base}/account/passkey`, { method: 'POST', headers: { Cookie: session }, body: new URLSearchParams({ _csrf }), redirect: 'manual' });
      expect(renew.status).toBe(303);
      const renewed = /<code id="passkey">([0-9a-f]{32})<\/code>/.exec(await (await fetch(`${base}/account`, { headers: { Cookie: session } })).text())![1];
      expect(renewed).not.toBe(passkey);
      expect(String(decodeDict((await rawGet(started.port, `/tracker/${passkey}/announce?${q}`)).body)['failure reason'])).toContain('passkey');
      // (a `started` announce: a regular one this soon after the last would be "announced too soon")
      expect(decodeDict((await rawGet(started.port, `/tracker/${renewed}/announce?${q}&event=started`)).body)).toMatchObject({ complete: 1 });
      // Signed out: the session cookie no longer works.
      await fetch(`${base}/account/logout`, { method: 'POST', headers: { Cookie: session }, body: new URLSearchParams({ _csrf }), redirect: 'manual' });
      expect((await fetch(`${base}/account`, { headers: { Cookie: session }, redirect: 'manual' })).status).toBe(303);
    } finally {
      child?.kill('SIGTERM');
      child = undefined;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
