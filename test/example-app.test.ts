import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
async function startExample(env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['example-app/server.js'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`example app did not start: ${out}`)), 15_000);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /localhost:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (code) => reject(new Error(`example app exited with ${code}: ${out}`)));
  });
  return { child, port };
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
});
