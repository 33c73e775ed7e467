/**
 * The bans and listing routes on the memory store (tracker.ban/unban/bans, listTorrents, peers):
 * bans refuse announces with their reason and are lifted again; torrents and peers are listed in
 * pages. Every answer is checked against the document.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Tracker } from '../../src/tracker.js';
import { decodeDict, failureOf } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet } from '../helpers/http.js';
import { startAdmin, type AdminApp } from '../helpers/admin.js';

const hex = (n = 20) => randomBytes(n).toString('hex');
const has = (name: string) => typeof (Tracker.prototype as unknown as Record<string, unknown>)[name] === 'function';

async function announce(app: AdminApp, infoHash: string, options: { peerId?: Buffer; port?: number; left?: number; passkey?: string; host?: string } = {}) {
  const peerId = options.peerId ?? Buffer.from(`-XL0012-${hex(6)}`);
  const q = `info_hash=${escapeAll(Buffer.from(infoHash, 'hex'))}&peer_id=${escapeAll(peerId)}&port=${options.port ?? 6881}&left=${options.left ?? 0}`;
  return (await rawGet(app.port, `/tracker/${options.passkey ? `${options.passkey}/` : ''}announce?${q}`, { host: options.host })).body;
}

let app: AdminApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe.skipIf(!has('ban'))('trackerAdmin: bans', () => {
  it('bans an address with a reason, lists it, and lifts it', async () => {
    app = await startAdmin();
    const ih = hex();
    const made = await app.api('POST', '/bans', { body: { address: '127.0.0.0/8', reason: 'abuse' } });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ address: '127.0.0.0/8', reason: 'abuse', id: expect.any(String), createdAt: expect.any(String) });
    expect(made.headers.get('location')).toBe(`/admin/tracker/bans/${encodeURIComponent(made.body.id)}`);
    expect(failureOf(await announce(app, ih))).toBe('banned: abuse');
    const list = await app.api('GET', '/bans');
    expect(list.body.bans).toEqual([made.body]);
    expect((await app.api('DELETE', `/bans/${made.body.id}`)).status).toBe(204);
    expect((await app.api('GET', '/bans')).body.bans).toEqual([]);
    expect(failureOf(await announce(app, ih))).toBeUndefined();
    expect((await app.api('DELETE', `/bans/${made.body.id}`)).status).toBe(404);
  });

  it('bans a client by peer id prefix until a date, and an IPv6 block', async () => {
    app = await startAdmin();
    const until = new Date(Date.now() + 3_600_000).toISOString();
    const made = await app.api('POST', '/bans', { body: { client: '-XL0012-', expiresAt: until } });
    expect(made.status).toBe(201);
    expect(made.body.expiresAt).toBe(until);
    expect(failureOf(await announce(app, hex()))).toBe('banned');
    expect(failureOf(await announce(app, hex(), { peerId: Buffer.from(`-qB4650-${hex(6)}`) }))).toBeUndefined();
    const v6 = await app.api('POST', '/bans', { body: { address: '2001:db8::/32' } });
    expect(v6.status).toBe(201);
    expect((await app.api('GET', '/bans')).body.bans).toHaveLength(2);
  });

  it('bans a user in private mode', async () => {
    app = await startAdmin({ passkey: (key) => (key === 'k'.repeat(32) ? 'alice' : null) });
    expect(failureOf(await announce(app, hex(), { passkey: 'k'.repeat(32) }))).toBeUndefined();
    expect((await app.api('POST', '/bans', { body: { user: 'alice', reason: 'ratio' } })).status).toBe(201);
    expect(failureOf(await announce(app, hex(), { passkey: 'k'.repeat(32) }))).toBe('banned: ratio');
  });

  it("refuses what the tracker's own checks refuse (400, nothing stored)", async () => {
    app = await startAdmin();
    const r = await app.api('POST', '/bans', { body: { address: '10.0.0.1/8' } });
    expect(r.status).toBe(400);
    expect(r.body.detail).toMatch(/10\.0\.0\.1\/8/);
    expect((await app.api('GET', '/bans')).body.bans).toEqual([]);
  });
});

describe.skipIf(!has('listTorrents'))('trackerAdmin: listing torrents and peers', () => {
  it('lists registered torrents in pages, sorted by hash or by peers', async () => {
    app = await startAdmin({ torrents: 'registry' });
    const hashes = [hex(), hex(), hex()];
    for (const h of hashes) expect((await app.api('POST', '/torrents', { body: { infoHash: h, rules: { uploadFactor: 2 } } })).status).toBe(201);
    await announce(app, hashes[2]!, { port: 1 });
    await announce(app, hashes[2]!, { port: 2, left: 9 });
    await announce(app, hashes[1]!, { port: 3 });
    const sorted = [...hashes].sort();
    const first = await app.api('GET', '/torrents?limit=2');
    expect(first.body).toMatchObject({ total: 3, offset: 0, limit: 2 });
    expect(first.body.torrents.map((t: { infoHash: string }) => t.infoHash)).toEqual(sorted.slice(0, 2));
    const second = await app.api('GET', '/torrents?limit=2&offset=2');
    expect(second.body.torrents.map((t: { infoHash: string }) => t.infoHash)).toEqual(sorted.slice(2));
    const byPeers = await app.api('GET', '/torrents?sort=peers');
    expect(byPeers.body.torrents.map((t: { infoHash: string }) => t.infoHash).slice(0, 2)).toEqual([hashes[2], hashes[1]]);
    expect(byPeers.body.torrents[0]).toEqual({ infoHash: hashes[2], rules: { uploadFactor: 2 }, counts: { complete: 1, incomplete: 1, downloaded: 0 } });
  });

  it("lists a torrent's peers with their client, in pages", async () => {
    app = await startAdmin({ torrents: 'registry' });
    const ih = hex();
    await app.api('POST', '/torrents', { body: { infoHash: ih } });
    for (let port = 1; port <= 3; port++) expect(decodeDict(await announce(app, ih, { port, left: port === 1 ? 0 : 5 }))).toHaveProperty('interval');
    const page = await app.api('GET', `/torrents/${ih}/peers?limit=2`);
    expect(page.status).toBe(200);
    expect(page.body).toMatchObject({ total: 3, offset: 0, limit: 2 });
    expect(page.body.peers).toHaveLength(2);
    const rest = await app.api('GET', `/torrents/${ih}/peers?offset=2`);
    expect(rest.body.peers).toHaveLength(1);
    const all = [...page.body.peers, ...rest.body.peers];
    expect(all.map((p: { port: number }) => p.port).sort()).toEqual([1, 2, 3]);
    expect(all.filter((p: { seeder: boolean }) => p.seeder)).toHaveLength(1);
    for (const p of all) expect(p).toMatchObject({ infoHash: ih, ip: '127.0.0.1', peerId: expect.stringMatching(/^2d584c303031322d/) });
  });
});
