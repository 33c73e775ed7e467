/**
 * webSeedHandler answers its own errors without showing a path (Express's default error handler
 * prints the error, absolute path included, outside NODE_ENV=production), and serves a symbolic
 * link only when it stays inside its directory unless told to follow links.
 */
import express from 'express';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webSeedHandler } from '../../src/seeder/webseed.js';

let base: string;
let server: http.Server;
let port: number;
const savedEnv = process.env.NODE_ENV;

function get(urlPath: string, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  delete process.env.NODE_ENV; // Express's development mode: its error handler would print paths
  base = await mkdtemp(path.join(os.tmpdir(), 'ett-webseed-safety-'));
  const root = path.join(base, 'root');
  await mkdir(path.join(root, 'sub'), { recursive: true });
  await writeFile(path.join(root, 'ok.bin'), 'fine');
  await writeFile(path.join(root, '..dots.bin'), 'two dots, still inside');
  await writeFile(path.join(root, '.secret'), 'dot file');
  await writeFile(path.join(base, 'outside.txt'), 'SECRET outside the root');
  await mkdir(path.join(base, 'outside-dir'));
  await writeFile(path.join(base, 'outside-dir', 'x.bin'), 'SECRET in a directory outside');
  await symlink(path.join(base, 'outside.txt'), path.join(root, 'out-link.bin'));
  await symlink(path.join(base, 'outside-dir'), path.join(root, 'out-dir'));
  await symlink(path.join(root, 'ok.bin'), path.join(root, 'sub', 'in-link.bin'));
  const app = express();
  app.use('/seed', webSeedHandler(root));
  app.use('/deny', webSeedHandler(root, { dotfiles: 'deny' }));
  app.use('/follow', webSeedHandler(root, { symlinks: 'follow' }));
  app.use('/allow', webSeedHandler(root, { dotfiles: 'allow' }));
  app.use('/through', webSeedHandler(root, { fallthrough: true }));
  app.use('/through', (_req, res) => {
    res.status(404).send('the site decides');
  });
  server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  if (savedEnv === undefined) delete process.env.NODE_ENV;
  else process.env.NODE_ENV = savedEnv;
  await new Promise((r) => server?.close(r));
  if (base) await rm(base, { recursive: true, force: true });
});

describe('webSeedHandler errors', () => {
  it('answers 404 itself, with no path, no error name and no stack in the body', async () => {
    for (const p of ['/seed/missing.bin', '/seed/sub/', '/seed/sub', '/seed/.secret', '/seed/a%00b', '/seed/%E0%A4%A']) {
      const res = await get(p);
      expect([400, 404], p).toContain(res.status);
      expect(res.body, p).toBe(res.status === 404 ? '404 Not Found\n' : '400 Bad Request\n');
      expect(res.body).not.toContain(base);
      expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    }
    const head = await get('/seed/missing.bin', 'HEAD');
    expect(head.status).toBe(404);
    expect(head.body).toBe('');
  });

  it('answers 403 for dot files with dotfiles: deny, again without a path', async () => {
    const res = await get('/deny/.secret');
    expect(res.status).toBe(403);
    expect(res.body).toBe('403 Forbidden\n');
  });

  it('still falls through to the next route when asked to', async () => {
    const res = await get('/through/missing.bin');
    expect(res.status).toBe(404);
    expect(res.body).toBe('the site decides');
    expect((await get('/through/ok.bin')).body).toBe('fine');
  });
});

describe('webSeedHandler and symbolic links', () => {
  it('does not follow a link out of its directory (404, as if missing)', async () => {
    for (const p of ['/seed/out-link.bin', '/seed/out-dir/x.bin']) {
      const res = await get(p);
      expect(res.status, p).toBe(404);
      expect(res.body).not.toMatch(/SECRET/);
    }
  });

  it('serves links that stay inside, and names that merely start with two dots', async () => {
    expect((await get('/seed/sub/in-link.bin')).body).toBe('fine');
    expect((await get('/allow/..dots.bin')).body).toBe('two dots, still inside'); // not "..": inside
    expect((await get('/seed/ok.bin')).body).toBe('fine');
  });

  it("follows any link with symlinks: 'follow'", async () => {
    expect((await get('/follow/out-link.bin')).body).toBe('SECRET outside the root');
    expect((await get('/follow/out-dir/x.bin')).body).toBe('SECRET in a directory outside');
  });
});
