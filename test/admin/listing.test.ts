/**
 * The listing routes on the memory store (tracker.listTorrents, tracker.peers): torrents and peers
 * in pages, both sorts. Every answer is checked against the document.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeDict } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet } from '../helpers/http.js';
import { startAdmin, type AdminApp } from '../helpers/admin.js';

const hex = (n = 20) => randomBytes(n).toString('hex');

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

describe('trackerAdmin: listing torrents and peers', () => {
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

  it('refuses to sort by peers past 10 000 registered torrents (409), and still lists by hash', async () => {
    app = await startAdmin({ torrents: 'registry' });
    const tracker = app.router.tracker;
    for (let i = 0; i <= 10_000; i += 500) await Promise.all(Array.from({ length: 500 }, () => tracker.addTorrent(hex())));
    const r = await app.api('GET', '/torrents?sort=peers');
    expect(r.status).toBe(409);
    expect(r.body.detail).toMatch(/sort by infoHash/);
    const page = await app.api('GET', '/torrents?limit=500&offset=10000');
    expect(page.status).toBe(200);
    expect(page.body.total).toBe(10_500);
  });
});
