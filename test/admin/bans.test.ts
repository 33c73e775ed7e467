/**
 * The bans routes on the memory store (tracker.ban/unban/bans): bans refuse announces with their
 * reason and are lifted again. Every answer is checked against the document.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { failureOf } from '../helpers/bdecode.js';
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

describe('trackerAdmin: bans', () => {
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
