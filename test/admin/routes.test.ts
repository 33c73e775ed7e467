/**
 * Every admin route on the memory store, against a real app; every answer is checked against the
 * OpenAPI document by the client in helpers/admin.ts.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { MemorySwarmStore } from '../../src/swarm/memory/memory-store.js';
import { trackerAdmin } from '../../src/admin/router.js';
import { Tracker } from '../../src/tracker.js';
import { decodeDict, failureOf } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet } from '../helpers/http.js';
import { checked, startAdmin, type AdminApp } from '../helpers/admin.js';

const hex = (n = 20) => randomBytes(n).toString('hex');

async function announce(app: AdminApp, infoHash: string, options: { left?: number; port?: number; passkey?: string; event?: string } = {}) {
  const q = `info_hash=${escapeAll(Buffer.from(infoHash, 'hex'))}&peer_id=${escapeAll(Buffer.from('-XL0012-' + hex(6)))}&port=${options.port ?? 6881}&left=${options.left ?? 0}&uploaded=0&downloaded=0${options.event ? `&event=${options.event}` : ''}`;
  return (await rawGet(app.port, `/tracker/${options.passkey ? `${options.passkey}/` : ''}announce?${q}`)).body;
}

let app: AdminApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe('trackerAdmin: torrents', () => {
  it('registers, shows, changes and unregisters a torrent; announces follow at once', async () => {
    app = await startAdmin({ torrents: 'registry' });
    const ih = hex();
    expect(failureOf(await announce(app, ih))).toBe('unregistered torrent');
    const created = await app.api('POST', '/torrents', { body: { infoHash: ih.toUpperCase(), rules: { downloadFactor: 0 } } });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`/admin/tracker/torrents/${ih}`);
    expect(created.body).toEqual({ infoHash: ih, rules: { downloadFactor: 0 }, counts: { complete: 0, incomplete: 0, downloaded: 0 }, swarms: [{ infoHash: ih, counts: { complete: 0, incomplete: 0, downloaded: 0 } }] });
    expect(decodeDict(await announce(app, ih))).toMatchObject({ complete: 1 });
    expect((await app.api('POST', '/torrents', { body: { infoHash: ih } })).status).toBe(409);

    const shown = await app.api('GET', `/torrents/${ih}`);
    expect(shown.status).toBe(200);
    expect(shown.body.counts).toEqual({ complete: 1, incomplete: 0, downloaded: 0 });
    expect(shown.headers.get('cache-control')).toBe('no-store');

    const patched = await app.api('PATCH', `/torrents/${ih}`, { body: { rules: { uploadFactor: 2 } } });
    expect(patched.status).toBe(200);
    expect(patched.body.rules).toEqual({ uploadFactor: 2, downloadFactor: 0 });
    const reset = await app.api('PATCH', `/torrents/${ih}`, { body: { rules: { downloadFactor: null } } });
    expect(reset.body.rules).toEqual({ uploadFactor: 2 });
    expect(await app.router.tracker.swarmStore!.registry!.get(Buffer.from(ih, 'hex'))).toEqual({ uploadFactor: 2 });

    expect((await app.api('DELETE', `/torrents/${ih}`)).status).toBe(204);
    expect(failureOf(await announce(app, ih))).toBe('unregistered torrent');
    for (const [method, path] of [
      ['GET', `/torrents/${ih}`],
      ['PATCH', `/torrents/${ih}`],
      ['DELETE', `/torrents/${ih}`],
      ['GET', `/torrents/${ih}/peers`],
    ] as const) {
      const r = await app.api(method, path, method === 'PATCH' ? { body: { rules: {} } } : {});
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(r.body).toMatchObject({ type: 'tag:express-torrent-tracker,2026:problem:not-found', status: 404, instance: `/admin/tracker${path}` });
    }
  });

  it('registers a hybrid pair as one torrent with two swarms, found by either hash', async () => {
    app = await startAdmin({ torrents: 'registry' });
    const v1 = hex();
    const v2 = hex(32);
    const created = await app.api('POST', '/torrents', { body: { infoHash: v1, infoHashV2: v2 } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ infoHash: v1, infoHashV2: v2, swarms: [{ infoHash: v1, protocol: 'v1' }, { infoHash: v2.slice(0, 40), protocol: 'v2' }] });
    await announce(app, v1, { port: 1001 });
    await announce(app, v2.slice(0, 40), { port: 1002, left: 5 });
    for (const key of [v1, v2, v2.slice(0, 40)]) {
      const r = await app.api('GET', `/torrents/${key}`);
      expect(r.status, key).toBe(200);
      expect(r.body.infoHash).toBe(v1);
      expect(r.body.swarms.map((s: { counts: unknown }) => s.counts)).toEqual([
        { complete: 1, incomplete: 0, downloaded: 0 },
        { complete: 0, incomplete: 1, downloaded: 0 },
      ]);
    }
    expect((await app.api('POST', '/torrents', { body: { infoHash: hex(), infoHashV2: v2 } })).status).toBe(409);
    expect((await app.api('PATCH', `/torrents/${v2}`, { body: { rules: { downloadFactor: 0.5 } } })).body.rules).toEqual({ downloadFactor: 0.5 });
    expect((await app.api('DELETE', `/torrents/${v2.slice(0, 40)}`)).status).toBe(204);
    expect(failureOf(await announce(app, v1))).toBe('unregistered torrent');
    expect(failureOf(await announce(app, v2.slice(0, 40)))).toBe('unregistered torrent');
  });
});

describe('trackerAdmin: passkeys, stats, the document, and what is not a route', () => {
  it('revokes a passkey (in the body) so that the next announce asks the site again', async () => {
    let allowed = true;
    let asked = 0;
    app = await startAdmin({ passkey: () => (asked++, allowed ? 'alice' : null) });
    const passkey = 'k'.repeat(32);
    const ih = hex();
    expect(decodeDict(await announce(app, ih, { passkey }))).toMatchObject({ complete: 1 });
    allowed = false;
    expect(failureOf(await announce(app, ih, { passkey }))).toBeUndefined(); // the answer is cached
    const r = await app.api('POST', '/passkeys/revoke', { body: { passkey } });
    expect(r.status).toBe(204);
    expect(r.text).toBe('');
    expect(failureOf(await announce(app, ih, { passkey }))).toMatch(/passkey/);
    expect(asked).toBe(2);
  });

  it('answers 409 for a passkey on a public tracker', async () => {
    app = await startAdmin();
    const r = await app.api('POST', '/passkeys/revoke', { body: { passkey: 'abc' } });
    expect(r.status).toBe(409);
    expect(r.body.detail).toMatch(/public/);
    expect(r.text).not.toContain('abc');
  });

  it('gives the stats and its own document, with servers at its mount point', async () => {
    app = await startAdmin();
    await announce(app, hex());
    const stats = await app.api('GET', '/stats');
    expect(stats.status).toBe(200);
    expect(stats.body.announces.total).toBe(1);
    expect(stats.body.swarms).toMatchObject({ torrents: 1, peers: 1 });
    const doc = await app.api('GET', '/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body).toMatchObject({ openapi: '3.1.0', servers: [{ url: '/admin/tracker' }] });
    expect((await app.api('HEAD', '/stats')).status).toBe(200);
  });

  it('answers unknown routes with 404 and wrong methods with 405 (Allow), as problems', async () => {
    app = await startAdmin();
    const missing = await app.api('GET', '/nothing/here');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const wrong = await app.api('PUT', '/torrents', { body: {} });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, HEAD, POST');
    expect((await app.api('POST', '/stats', { body: {} })).status).toBe(405);
  });

  it('refuses bodies that are too large (413), not JSON (415) or malformed (400)', async () => {
    app = await startAdmin({ torrents: 'registry' }, { bodyLimit: 1024 });
    const big = await app.api('POST', '/torrents', { body: { infoHash: hex(), pad: 'x'.repeat(2000) } });
    expect(big.status).toBe(413);
    const text = await app.api('POST', '/torrents', { raw: `infoHash=${hex()}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(text.status).toBe(415);
    const none = await app.api('POST', '/bans');
    expect(none.status).toBe(415);
    const broken = await app.api('POST', '/torrents', { raw: '{"infoHash": ', headers: { 'content-type': 'application/json' } });
    expect(broken.status).toBe(400);
    expect(broken.body.detail).toMatch(/not valid JSON/);
  });

  it('answers 503 with a short detail when the store fails, and tells onError the cause', async () => {
    const store = new MemorySwarmStore();
    const secret = 'redis://:hunter2@db.internal:6379';
    Object.defineProperty(store, 'registry', {
      value: { get: () => Promise.reject(new Error(`connection to ${secret} refused`)), add: () => Promise.reject(new Error('down')), remove: () => Promise.reject(new Error('down')) },
    });
    const causes: unknown[] = [];
    app = await startAdmin({ store, torrents: 'registry' }, { onError: (e) => causes.push(e) });
    for (const [method, path, body] of [
      ['GET', `/torrents/${hex()}`],
      ['POST', '/torrents', { infoHash: hex() }],
      ['DELETE', `/torrents/${hex()}`],
    ] as const) {
      const r = await app.api(method, path, body ? { body } : {});
      expect(r.status, `${method} ${path}`).toBe(503);
      expect(r.body.detail).toBe('the tracker store failed; try again later');
      expect(r.text).not.toContain('hunter2');
      expect(r.text).not.toMatch(/at .*\.ts/);
    }
    expect(String(causes[0])).toContain('hunter2');
    await store.close();
  });

  it('answers 501 when the store cannot list torrents or peers', async () => {
    const store = new MemorySwarmStore();
    const registry = store.registry;
    Object.defineProperty(store, 'registry', { value: { get: registry.get.bind(registry), add: registry.add.bind(registry), remove: registry.remove.bind(registry) } });
    Object.defineProperty(store, 'peersOf', { value: undefined });
    app = await startAdmin({ store, torrents: 'registry' });
    const list = await app.api('GET', '/torrents');
    expect(list.status).toBe(501);
    expect(list.body.detail).toMatch(/cannot list its registered torrents/);
    const ih = hex();
    expect((await app.api('POST', '/torrents', { body: { infoHash: ih } })).status).toBe(201);
    expect((await app.api('GET', `/torrents/${ih}/peers`)).status).toBe(501);
    await store.close();
  });

  it('takes a Tracker, a router or a server, and nothing else', () => {
    const tracker = new Tracker({});
    expect(typeof trackerAdmin(tracker)).toBe('function');
    expect(() => trackerAdmin({} as Tracker)).toThrow(TypeError);
    expect(() => trackerAdmin(tracker, { bodyLimit: 0 })).toThrow(/bodyLimit/);
    return tracker.close();
  });

  it('checked every answer of these tests against the document', () => {
    expect(checked.answers).toBeGreaterThan(25);
  });
});
