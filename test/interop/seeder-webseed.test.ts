/**
 * Web seed interop: aria2 downloads torrents whose only source is `url-list` pointing at
 * webSeedHandler() in an Express app: no tracker, no peers.
 */
import express from 'express';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webSeedHandler } from '../../src/seeder/webseed.js';
import { aria2Leecher, fileSha1, missingClients, removeDir, tempDir } from '../seeder/helpers/clients.js';
import { makeTorrent } from '../seeder/helpers/torrent.js';

const skipReason = missingClients('aria2c');

describe.skipIf(skipReason !== undefined)('web seed interop (aria2)', () => {
  let server: http.Server;
  let port: number;
  let root: string;
  let requests = 0;
  let rangeRequests = 0;

  beforeAll(async () => {
    root = await tempDir('webseed');
    const app = express();
    app.use('/seed', (req, _res, next) => {
      requests++;
      if (req.headers.range) rangeRequests++;
      next();
    });
    app.use('/seed', webSeedHandler(path.join(root, 'content')));
    server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await removeDir(root);
  });

  it('single-file torrent, url-list ending in / (client appends the name)', { timeout: 90_000 }, async () => {
    const fx = await makeTorrent({
      dir: path.join(root, 'content'),
      name: 'single.bin',
      size: 3 * 1024 * 1024 + 777,
      pieceLength: 256 * 1024,
      urlList: [`http://127.0.0.1:${port}/seed/`],
    });
    const dl = path.join(root, 'dl-single', 'files');
    const before = rangeRequests;
    const aria2 = await aria2Leecher(fx.torrentPath, dl);
    const code = await Promise.race([aria2.exited, new Promise((r) => setTimeout(() => r('timeout'), 60_000))]);
    await aria2.kill();
    expect(code, await aria2.log()).toBe(0);
    expect(await fileSha1(path.join(dl, 'single.bin'))).toBe(await fileSha1(path.join(fx.dir, 'single.bin')));
    expect(rangeRequests).toBeGreaterThan(before);
  });

  it('multi-file torrent (client requests <name>/<path>)', { timeout: 90_000 }, async () => {
    const fx = await makeTorrent({
      dir: path.join(root, 'content'),
      name: 'bundle',
      files: [
        { path: ['a.bin'], length: 1_500_000 },
        { path: ['docs', 'b.txt'], length: 40_000 },
        { path: ['docs', 'c.bin'], length: 2_000_001 },
      ],
      pieceLength: 256 * 1024,
      urlList: [`http://127.0.0.1:${port}/seed/`],
    });
    const dl = path.join(root, 'dl-multi', 'files');
    const aria2 = await aria2Leecher(fx.torrentPath, dl);
    const code = await Promise.race([aria2.exited, new Promise((r) => setTimeout(() => r('timeout'), 60_000))]);
    await aria2.kill();
    expect(code, await aria2.log()).toBe(0);
    for (const f of ['a.bin', 'docs/b.txt', 'docs/c.bin']) {
      expect(await fileSha1(path.join(dl, 'bundle', f)), f).toBe(await fileSha1(path.join(fx.dir, 'bundle', f)));
    }
    expect(requests).toBeGreaterThan(0);
  });
});
