/**
 * Bad input on every admin route: 400 problem details naming what is wrong, and nothing changed
 * (the registry and the bans are as before). Every answer is checked against the document.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type AdminApp } from '../helpers/admin.js';

const hex = (n = 20) => randomBytes(n).toString('hex');

let app: AdminApp;
const known = hex();
const fresh = hex();

async function snapshot() {
  const registry = app.router.tracker.swarmStore!.registry!;
  const tracker = app.router.tracker as unknown as { bans?: () => Promise<unknown[]> };
  return {
    known: await registry.get(Buffer.from(known, 'hex')),
    fresh: await registry.get(Buffer.from(fresh, 'hex')),
    bans: typeof tracker.bans === 'function' ? await tracker.bans() : undefined,
  };
}

beforeAll(async () => {
  app = await startAdmin({ torrents: 'registry', passkey: () => 'alice' });
  await app.router.tracker.addTorrent(known, { uploadFactor: 3 });
});
afterAll(() => app.close());

type Case = [method: string, path: string, body?: unknown];

const cases: Case[] = [
  ['GET', '/torrents?limit=0'],
  ['GET', '/torrents?limit=501'],
  ['GET', '/torrents?limit=ten'],
  ['GET', '/torrents?offset=-1'],
  ['GET', '/torrents?sort=size'],
  ['GET', '/torrents?limit=1&limit=2'],
  ['GET', '/torrents?page=2'],
  ['POST', '/torrents', []],
  ['POST', '/torrents', {}],
  ['POST', '/torrents', { infoHash: 'xyz' }],
  ['POST', '/torrents', { infoHash: fresh.slice(1) }],
  ['POST', '/torrents', { infoHash: fresh, rules: { uploadFactor: '2' } }],
  ['POST', '/torrents', { infoHash: fresh, rules: { downloadFactor: -1 } }],
  ['POST', '/torrents', { infoHash: fresh, rules: { freeleech: true } }],
  ['POST', '/torrents', { infoHash: fresh, rules: [] }],
  ['POST', '/torrents', { infoHash: fresh, name: 'x' }],
  ['POST', '/torrents', { infoHash: fresh, infoHashV2: 'abc' }],
  ['POST', '/torrents', { infoHash: fresh, infoHashV2: fresh + 'a'.repeat(24) }],
  ['POST', '/torrents?dryRun=1', { infoHash: fresh }],
  ['GET', '/torrents/xyz'],
  ['GET', `/torrents/${known.slice(1)}`],
  ['GET', `/torrents/${known}?verbose=1`],
  ['PATCH', `/torrents/${known}`, {}],
  ['PATCH', `/torrents/${known}`, { rules: { uploadFactor: 'NaN' } }],
  ['PATCH', `/torrents/${known}`, { rules: { uploadFactor: -3 } }],
  ['PATCH', `/torrents/${known}`, { rules: 5 }],
  ['PATCH', `/torrents/${known}`, { rules: {}, infoHash: fresh }],
  ['PATCH', `/torrents/${known}`, { rules: { uploadFactor: 1, seedTime: 3 } }],
  ['PATCH', `/torrents/not-a-hash`, { rules: { uploadFactor: 1 } }],
  ['DELETE', '/torrents/zz'],
  ['DELETE', `/torrents/${known}?force=1`],
  ['GET', `/torrents/${known}/peers?limit=1000`],
  ['GET', `/torrents/${known}/peers?sort=peers`],
  ['GET', '/torrents/123/peers'],
  ['POST', '/passkeys/revoke', {}],
  ['POST', '/passkeys/revoke', { passkey: '' }],
  ['POST', '/passkeys/revoke', { passkey: 'k'.repeat(129) }],
  ['POST', '/passkeys/revoke', { passkey: 5 }],
  ['POST', '/passkeys/revoke', { passkey: 'abc', user: 1 }],
  ['POST', '/passkeys/revoke', ['abc']],
  ['GET', '/bans?active=1'],
  ['POST', '/bans', {}],
  ['POST', '/bans', { reason: 'no target' }],
  ['POST', '/bans', { address: '10.0.0.1', user: 7 }],
  ['POST', '/bans', { address: '10.0.0.0/33' }],
  ['POST', '/bans', { address: '2001:db8::/129' }],
  ['POST', '/bans', { address: 'example.com' }],
  ['POST', '/bans', { address: '10.0.0.256' }],
  ['POST', '/bans', { address: 'fe80::1%eth0' }],
  ['POST', '/bans', { address: '10.0.0.1', expiresAt: 'tomorrow' }],
  ['POST', '/bans', { address: '10.0.0.1', expiresAt: '2000-01-01T00:00:00Z' }],
  ['POST', '/bans', { address: '10.0.0.1', expiresAt: 1_900_000_000_000 }],
  ['POST', '/bans', { user: 1.5 }],
  ['POST', '/bans', { user: '' }],
  ['POST', '/bans', { user: true }],
  ['POST', '/bans', { client: '' }],
  ['POST', '/bans', { client: 'x'.repeat(21) }],
  ['POST', '/bans', { client: '-XL\u0000' }],
  ['POST', '/bans', { address: '::1', reason: 'x'.repeat(201) }],
  ['POST', '/bans', { address: '::1', reason: 'line\nbreak' }],
  ['POST', '/bans', { address: '::1', scope: 'all' }],
  ['DELETE', `/bans/${'a'.repeat(129)}`],
  ['DELETE', '/bans/has%20space'],
  ['GET', '/stats?x=1'],
  ['GET', '/openapi.json?format=yaml'],
];

describe('trackerAdmin: bad input', () => {
  it.each(cases)('%s %s %j: 400 with a problem, nothing changed', async (method, path, body) => {
    const before = await snapshot();
    const r = await app.api(method, path, body === undefined ? {} : { body });
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(r.body).toMatchObject({ type: 'tag:express-torrent-tracker,2026:problem:invalid-request', title: expect.any(String), status: 400 });
    expect(r.body.detail.length).toBeGreaterThan(5);
    expect(r.body.errors[0].detail).toBe(r.body.detail);
    expect(await snapshot()).toEqual(before);
  });

  it('did not change the registered torrent', async () => {
    expect(await app.router.tracker.swarmStore!.registry!.get(Buffer.from(known, 'hex'))).toEqual({ uploadFactor: 3 });
  });
});
