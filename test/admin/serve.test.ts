/**
 * `serve --admin-token-file` (the admin API under /admin behind a bearer token) and
 * `serve --registered-only`, on the built CLI. Every admin answer is checked against the document
 * as served there (with its bearer security scheme).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeDict, failureOf } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet } from '../helpers/http.js';
import { adminRequest } from '../helpers/admin.js';

const TOKEN = `t0k-${randomBytes(16).toString('hex')}`;
let dir: string;
let child: ChildProcess | undefined;
let output = '';

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ett-admin-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));
afterEach(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  child = undefined;
  expect(output).not.toContain(TOKEN);
  output = '';
});

/** Start serve with `args`; resolves with the HTTP port once it listens. */
function serve(args: string[]): Promise<number> {
  child = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', '0', '--host', '127.0.0.1', '--no-web-socket', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise<number>((resolve, reject) => {
    const onData = (c: Buffer) => {
      output += c.toString();
      const m = /port (\d+): announce URL/.exec(output);
      if (m && (/admin API/.test(output) || !args.includes('--admin-token-file'))) resolve(Number(m[1]));
    };
    child!.stdout!.on('data', onData);
    child!.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    child!.on('exit', (code) => reject(new Error(`exited ${code}: ${output}`)));
  });
}

const announce = async (port: number, infoHash: Buffer) =>
  (await rawGet(port, `/announce?info_hash=${escapeAll(infoHash)}&peer_id=${escapeAll(randomBytes(20))}&port=6881&left=0`)).body;

describe('serve --admin-token-file', () => {
  it('answers the admin API under /admin with the token only (a trailing newline is not part of it)', async () => {
    const file = path.join(dir, 'token');
    await writeFile(file, `${TOKEN}\n`);
    const port = await serve(['--admin-token-file', file]);
    expect(output).toContain(`admin API: http://127.0.0.1:${port}/admin/`);
    const base = `http://127.0.0.1:${port}`;
    const api = (method: string, p: string, options: { body?: unknown; headers?: Record<string, string> } = {}) => adminRequest(base, method, `/admin${p}`, options, '/admin');
    const auth = { authorization: `Bearer ${TOKEN}` };

    const none = await api('GET', '/stats');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(none.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    for (const wrong of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, `Basic ${TOKEN}`, TOKEN, `Bearer ${TOKEN}\n`.trim() + ' extra', 'Bearer ']) {
      const r = await api('GET', '/stats', { headers: { authorization: wrong } });
      expect(r.status, wrong).toBe(401);
      expect(r.text).not.toContain(TOKEN);
    }
    expect((await api('GET', '/openapi.json')).status).toBe(401);
    expect((await api('POST', '/bans', { body: { address: '10.0.0.1' } })).status).toBe(401);

    const stats = await api('GET', '/stats', { headers: auth });
    expect(stats.status).toBe(200);
    expect(stats.body.announces.total).toBe(0);
    const doc = await api('GET', '/openapi.json', { headers: auth });
    expect(doc.status).toBe(200);
    expect(doc.body).toMatchObject({ servers: [{ url: '/admin' }], security: [{ bearer: [] }], components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } });
    const ih = randomBytes(20).toString('hex');
    expect((await api('POST', '/torrents', { body: { infoHash: ih }, headers: auth })).status).toBe(201);
    expect((await api('GET', `/torrents/${ih}`, { headers: auth })).body.infoHash).toBe(ih);
    expect((await api('GET', '/nothing', { headers: auth })).status).toBe(404);
    // The tracker itself is unchanged (public: any torrent), and /admin is no tracker path.
    expect(decodeDict(await announce(port, randomBytes(20)))).toMatchObject({ complete: 1 });
  });

  it('refuses to start with an empty, spaced or missing token file (exit 1, no token, nothing listening)', async () => {
    for (const text of ['', '\n', '\r\n\n']) {
      const file = path.join(dir, 'empty');
      await writeFile(file, text);
      const r = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', '0', '--admin-token-file', file], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      r.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      r.stderr!.on('data', (c: Buffer) => (out += c.toString()));
      const code = await new Promise<number | null>((resolve) => r.on('exit', resolve));
      expect(code).toBe(1);
      expect(out).toMatch(/admin token file .* is empty/);
      expect(out).not.toContain('listening');
    }
    const spaced = path.join(dir, 'spaced');
    await writeFile(spaced, `${TOKEN} ${TOKEN}\n`);
    const s = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', '0', '--admin-token-file', spaced], { stdio: ['ignore', 'pipe', 'pipe'] });
    let said = '';
    s.stderr!.on('data', (c: Buffer) => (said += c.toString()));
    expect(await new Promise((resolve) => s.on('exit', resolve))).toBe(1);
    expect(said).toMatch(/printable ASCII without spaces/);
    expect(said).not.toContain(TOKEN);
    const r = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', '0', '--admin-token-file', path.join(dir, 'missing')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    r.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    expect(await new Promise((resolve) => r.on('exit', resolve))).toBe(1);
    expect(err).toMatch(/cannot read the admin token file .*ENOENT/);
  });

  it('has no admin API without the flag', async () => {
    const port = await serve([]);
    const r = await rawGet(port, '/admin/stats', { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(r.status).toBe(404);
  });
});

describe('serve --registered-only', () => {
  it('answers only torrents registered through the admin API', async () => {
    const file = path.join(dir, 'token2');
    await writeFile(file, TOKEN);
    const port = await serve(['--registered-only', '--admin-token-file', file]);
    expect(output).toContain('answering registered torrents only');
    const base = `http://127.0.0.1:${port}`;
    const auth = { authorization: `Bearer ${TOKEN}` };
    const ih = randomBytes(20);
    expect(failureOf(await announce(port, ih))).toBe('unregistered torrent');
    const created = await adminRequest(base, 'POST', '/admin/torrents', { body: { infoHash: ih.toString('hex'), rules: { downloadFactor: 0 } }, headers: auth }, '/admin');
    expect(created.status).toBe(201);
    expect(decodeDict(await announce(port, ih))).toMatchObject({ complete: 1 });
    expect((await adminRequest(base, 'DELETE', `/admin/torrents/${ih.toString('hex')}`, { headers: auth }, '/admin')).status).toBe(204);
    expect(failureOf(await announce(port, ih))).toBe('unregistered torrent');
  });

  it('keeps the registry in the store: registered torrents survive a restart (SQLite)', async () => {
    const file = path.join(dir, 'token3');
    await writeFile(file, TOKEN);
    const store = `sqlite://${path.join(dir, 'registry.sqlite')}`;
    const ih = randomBytes(20);
    let port = await serve(['--registered-only', '--store', store, '--admin-token-file', file]);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const created = await adminRequest(`http://127.0.0.1:${port}`, 'POST', '/admin/torrents', { body: { infoHash: ih.toString('hex') }, headers: auth }, '/admin');
    expect(created.status).toBe(201);
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child!.kill('SIGTERM');
    await exited;
    output = '';
    port = await serve(['--registered-only', '--store', store]);
    expect(decodeDict(await announce(port, ih))).toMatchObject({ complete: 1 });
    expect(failureOf(await announce(port, randomBytes(20)))).toBe('unregistered torrent');
  });
});
