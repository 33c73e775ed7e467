import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
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
    const ih = randomBytes(20);
    const q = `info_hash=${escapeAll(ih)}&peer_id=${escapeAll(randomBytes(20))}&port=6881&left=0`;
    const d = decodeDict((await rawGet(started.port, `/tracker/announce?${q}`)).body);
    expect(d).toMatchObject({ complete: 1, incomplete: 0 });
    const again = await rawGet(started.port, '/');
    expect(again.body.toString()).toContain(ih.toString('hex'));
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
    expect(t.announce).toEqual([['http://127.0.0.1:1234/tracker/announce']]);
    expect(t.urlList).toEqual(['http://127.0.0.1:1234/webseed/']);
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
});
