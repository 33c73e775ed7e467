/**
 * Web seed interop: aria2 downloads torrents whose only source is `url-list` pointing at
 * webSeedHandler() in an Express app: no tracker, no peers. The torrents are made with the
 * project's createTorrent({ webSeeds }), so this checks both ends of BEP 19.
 */
import express from 'express';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webSeedHandler } from '../../src/seeder/webseed.js';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createTorrent } from '../../src/torrent/create.js';
import { aria2Leecher, freePort, haveBinary, sha1File } from '../helpers/clients.js';
import { tempDir } from '../torrent/fixtures.js';

/** Writes random files under `dir` (relative paths) and returns nothing. */
async function writeFiles(dir: string, files: Array<[string, number]>): Promise<void> {
  for (const [rel, size] of files) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), randomBytes(size));
  }
}

const available = haveBinary('aria2c');

describe.skipIf(!available)('web seed interop (aria2)', () => {
  let server: http.Server;
  let port: number;
  let tmp: ReturnType<typeof tempDir> | undefined;
  let root: string;
  let requests = 0;
  let rangeRequests = 0;

  beforeAll(async () => {
    tmp = tempDir('ett-webseed-');
    root = tmp.dir;
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
    tmp?.cleanup();
  });

  it('single-file torrent, url-list ending in / (client appends the name)', { timeout: 90_000 }, async () => {
    const content = path.join(root, 'content');
    await writeFiles(content, [['single.bin', 3 * 1024 * 1024 + 777]]);
    const made = await createTorrent(path.join(content, 'single.bin'), { pieceLength: 256 * 1024, webSeeds: `http://127.0.0.1:${port}/seed/` });
    const torrentPath = path.join(root, 'single.torrent');
    await writeFile(torrentPath, made.torrent);
    const dl = path.join(root, 'dl-single', 'files');
    const before = rangeRequests;
    const aria2 = aria2Leecher({ torrent: torrentPath, dataDir: dl, listenPort: await freePort(), logFile: path.join(dl, '..', 'aria2.log') });
    const code = await Promise.race([aria2.exit, new Promise((r) => setTimeout(() => r('timeout'), 60_000))]);
    await aria2.stop('SIGTERM', 3000);
    expect(code, aria2.output).toBe(0);
    expect(await sha1File(path.join(dl, 'single.bin'))).toBe(await sha1File(path.join(content, 'single.bin')));
    expect(rangeRequests).toBeGreaterThan(before);
  });

  it('multi-file torrent (client requests <name>/<path>)', { timeout: 90_000 }, async () => {
    const content = path.join(root, 'content');
    const files: Array<[string, number]> = [
      ['bundle/a.bin', 1_500_000],
      ['bundle/docs/b.txt', 40_000],
      ['bundle/docs/c.bin', 2_000_001],
    ];
    await writeFiles(content, files);
    const made = await createTorrent(path.join(content, 'bundle'), { pieceLength: 256 * 1024, webSeeds: [`http://127.0.0.1:${port}/seed/`] });
    expect(made.multiFile).toBe(true);
    const torrentPath = path.join(root, 'bundle.torrent');
    await writeFile(torrentPath, made.torrent);
    const dl = path.join(root, 'dl-multi', 'files');
    const aria2 = aria2Leecher({ torrent: torrentPath, dataDir: dl, listenPort: await freePort(), logFile: path.join(dl, '..', 'aria2.log') });
    const code = await Promise.race([aria2.exit, new Promise((r) => setTimeout(() => r('timeout'), 60_000))]);
    await aria2.stop('SIGTERM', 3000);
    expect(code, aria2.output).toBe(0);
    for (const [rel] of files) {
      expect(await sha1File(path.join(dl, rel)), rel).toBe(await sha1File(path.join(content, rel)));
    }
    expect(requests).toBeGreaterThan(0);
  });
});
