import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { adminOpenApiDocument, withBearerAuth } from '../../src/admin/openapi.js';
import type {
  AdminBan,
  AdminBanBody,
  AdminBanList,
  AdminPeerPage,
  AdminProblem,
  AdminRegisterTorrentBody,
  AdminRevokePasskeyBody,
  AdminTorrentDetail,
  AdminTorrentPage,
  AdminUpdateTorrentBody,
} from '../../src/admin/types.js';
import { schemaValidator } from '../helpers/admin.js';

describe('the admin OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(adminOpenApiDocument('/admin/tracker'));
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(adminOpenApiDocument()).toMatchObject({ openapi: '3.1.0', servers: [{ url: '/' }] });
    // as `serve --admin-token-file` serves it
    const bearer = await new Validator().validate(withBearerAuth(adminOpenApiDocument('/admin')));
    expect(bearer.errors).toBeUndefined();
  });

  it('describes every route, each with problem responses and an operation id', () => {
    const doc = adminOpenApiDocument() as { paths: Record<string, Record<string, { operationId?: string; responses?: Record<string, unknown> }>> };
    const ops = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([m]) => m !== 'parameters')
        .map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, op })),
    );
    expect(ops.map((o) => o.route).sort()).toEqual(
      [
        'GET /torrents',
        'POST /torrents',
        'GET /torrents/{infoHash}',
        'PATCH /torrents/{infoHash}',
        'DELETE /torrents/{infoHash}',
        'GET /torrents/{infoHash}/peers',
        'POST /passkeys/revoke',
        'GET /bans',
        'POST /bans',
        'DELETE /bans/{id}',
        'GET /stats',
        'GET /openapi.json',
      ].sort(),
    );
    for (const { route, op } of ops) {
      expect(op.operationId, route).toBeTypeOf('string');
      expect(Object.keys(op.responses ?? {}), route).toEqual(expect.arrayContaining(['400', '500']));
    }
  });

  it('takes a sample of every exported body type', () => {
    const samples: Array<[string, unknown]> = [
      ['RegisterTorrent', { infoHash: 'a'.repeat(40), infoHashV2: 'b'.repeat(64), rules: { downloadFactor: 0 } } satisfies AdminRegisterTorrentBody],
      ['UpdateTorrent', { rules: { uploadFactor: 2, downloadFactor: null } } satisfies AdminUpdateTorrentBody],
      ['RevokePasskey', { passkey: 'k'.repeat(32) } satisfies AdminRevokePasskeyBody],
      ['BanRequest', { address: '2001:db8::/32', expiresAt: '2030-01-31T12:00:00Z', reason: 'abuse' } satisfies AdminBanBody],
      ['BanRequest', { user: 42 } satisfies AdminBanBody],
      ['Ban', { id: 'b1', client: '-XL0012-', createdAt: '2026-12-07T05:00:00.000Z' } satisfies AdminBan],
      ['BanList', { bans: [{ id: 'b2', user: 'alice', createdAt: '2026-12-07T05:00:00.000Z', expiresAt: '2027-01-01T00:00:00.000Z' }] } satisfies AdminBanList],
      [
        'TorrentPage',
        { total: 1, offset: 0, limit: 50, torrents: [{ infoHash: 'a'.repeat(40), infoHashV2: 'b'.repeat(64), rules: {}, counts: { complete: 1, incomplete: 0, downloaded: 3 } }] } satisfies AdminTorrentPage,
      ],
      [
        'TorrentDetail',
        {
          infoHash: 'a'.repeat(40),
          rules: { uploadFactor: 1.5 },
          counts: { complete: 0, incomplete: 1, downloaded: 0 },
          swarms: [{ infoHash: 'a'.repeat(40), counts: { complete: 0, incomplete: 1, downloaded: 0 } }],
        } satisfies AdminTorrentDetail,
      ],
      [
        'PeerPage',
        {
          total: 1,
          offset: 0,
          limit: 50,
          peers: [{ infoHash: 'a'.repeat(40), peerId: '2d7142343630322d' + '0'.repeat(24), client: 'qBittorrent 4.6.2', ip: '::1', port: 6881, seeder: false, lastAnnounce: '2026-12-07T05:00:00.000Z', user: 7 }],
        } satisfies AdminPeerPage,
      ],
      ['Problem', { type: 'tag:express-torrent-tracker,2026:problem:not-found', title: 'No such resource', status: 404, detail: 'no torrent' } satisfies AdminProblem],
    ];
    for (const [name, sample] of samples) {
      const validate = schemaValidator(name);
      expect(validate(sample), `${name}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
    // and refuses what the API refuses
    expect(schemaValidator('BanRequest')({ reason: 'no target' })).toBe(false);
    expect(schemaValidator('BanRequest')({ user: 1, client: '-XL' })).toBe(false);
    expect(schemaValidator('RegisterTorrent')({ infoHash: 'xyz' })).toBe(false);
    expect(schemaValidator('UpdateTorrent')({ rules: { uploadFactor: '2' } })).toBe(false);
    expect(schemaValidator('TorrentDetail')({ infoHash: 'a'.repeat(40), rules: {}, counts: { complete: 0, incomplete: 0, downloaded: 0 }, swarms: [], extra: 1 })).toBe(false);
  });
});
