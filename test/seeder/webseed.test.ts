import express from 'express';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webSeedHandler } from '../../src/seeder/webseed.js';
import { makeTorrent, type TorrentFixture } from './helpers/torrent.js';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

let server: http.Server;
let port: number;
let fx: TorrentFixture;

function get(urlPath: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  fx = await makeTorrent({ name: 'site', files: [{ path: ['a.bin'], length: 70_000 }, { path: ['sub', 'page.html'], length: 1000 }] });
  await writeFile(path.join(fx.dir, 'site', '.secret'), 'hidden');
  await mkdir(path.join(fx.dir, 'site', 'emptydir'));
  const app = express();
  app.use('/seed', webSeedHandler(fx.dir));
  app.get('/after', (_req, res) => {
    res.send('later route');
  });
  server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

describe('webSeedHandler', () => {
  it('answers a Range request with 206 and exactly those bytes', async () => {
    const res = await get('/seed/site/a.bin', { range: 'bytes=16384-32767' });
    expect(res.status).toBe(206);
    expect(res.headers['content-range']).toBe('bytes 16384-32767/70000');
    expect(res.body).toEqual(fx.data.subarray(16384, 32768));
  });

  it('serves the whole file, HEAD, and an open-ended range', async () => {
    const whole = await get('/seed/site/a.bin');
    expect(whole.status).toBe(200);
    expect(whole.headers['accept-ranges']).toBe('bytes');
    expect(whole.body).toEqual(fx.data.subarray(0, 70_000));
    const head = await get('/seed/site/a.bin', {}, 'HEAD');
    expect(head.headers['content-length']).toBe('70000');
    expect(head.body.length).toBe(0);
    const tail = await get('/seed/site/a.bin', { range: 'bytes=69990-' });
    expect(tail.body).toEqual(fx.data.subarray(69990, 70_000));
  });

  it('answers 416 to an unsatisfiable range', async () => {
    expect((await get('/seed/site/a.bin', { range: 'bytes=80000-90000' })).status).toBe(416);
  });

  it('serves everything as inert bytes: octet-stream, nosniff, sandbox CSP', async () => {
    const res = await get('/seed/site/sub/page.html');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toMatch(/sandbox/);
  });

  it('never leaves the directory and lists nothing', async () => {
    for (const p of ['/seed/../package.json', '/seed/%2e%2e/%2e%2e/etc/passwd', '/seed/site/..%2f..%2f..%2fetc%2fpasswd', '/seed/site/%00']) {
      const res = await get(p);
      expect([400, 403, 404], p).toContain(res.status);
      expect(res.body.toString()).not.toMatch(/root:|"name"/);
    }
    expect((await get('/seed/site/')).status).toBe(404);
    expect((await get('/seed/site/emptydir')).status).toBe(404);
    expect((await get('/seed/site/.secret')).status).toBe(404);
    expect((await get('/seed/site/missing.bin')).status).toBe(404);
  });

  it('refuses other methods', async () => {
    const res = await get('/seed/site/a.bin', {}, 'POST');
    expect(res.status).toBe(405);
  });
});
