/**
 * The admin API's OpenAPI 3.1 document, built as a plain object: every route, parameter, request
 * body and response (problem details included) with its JSON Schema (2020-12). The router serves
 * it at `openapi.json` with `servers` set to where it is mounted; the build also writes it to
 * `dist/admin/openapi.json`. The limits are input.ts's own, so the document and the checks agree.
 */
import { FAILURES, LATENCY_BUCKETS, TRANSPORTS } from '../stats/counters.js';
import { BAN_ID, DEFAULT_PAGE, HEX40, HEX64, MAX_CLIENT, MAX_OFFSET, MAX_PAGE, MAX_PASSKEY_LENGTH, MAX_REASON, MAX_USER, PATH_HASH } from './input.js';
import { PROBLEMS, problemType, type ProblemKind } from './problem.js';

type Json = Record<string, unknown>;

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const integer = (minimum = 0): Json => ({ type: 'integer', minimum });
const obj = (properties: Json, required: string[] = Object.keys(properties), extra: Json = {}): Json => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
  ...extra,
});
const counts = (keys: readonly string[]): Json => obj(Object.fromEntries(keys.map((k) => [k, integer()])));
const DATE_TIME = { type: 'string', format: 'date-time' };

const TORRENT: Json = {
  infoHash: { type: 'string', pattern: '^[0-9a-f]{40}$', description: 'The v1 info hash (a v2-only torrent: its v2 hash cut to 20 bytes).' },
  infoHashV2: { type: 'string', pattern: '^[0-9a-f]{64}$', description: "A hybrid torrent's v2 info hash." },
  rules: ref('Rules'),
  counts: ref('Counts'),
};

const schemas: Record<string, Json> = {
  Problem: obj(
    {
      type: { type: 'string', format: 'uri', description: 'Names the kind of problem (a tag URI, not a link).' },
      title: { type: 'string' },
      status: { type: 'integer', minimum: 400, maximum: 599 },
      detail: { type: 'string', description: 'What went wrong with this request, for people.' },
      instance: { type: 'string', description: 'The request path.' },
      errors: {
        type: 'array',
        description: 'The invalid parts of a 400 request.',
        items: obj({ pointer: { type: 'string', description: 'JSON Pointer into the body.' }, parameter: { type: 'string' }, detail: { type: 'string' } }, ['detail']),
      },
    },
    ['type', 'title', 'status', 'detail'],
    { description: 'RFC 9457 problem details, served as application/problem+json.' },
  ),
  Rules: obj(
    {
      uploadFactor: { type: 'number', minimum: 0, description: 'Multiplies credited upload (absent: 1).' },
      downloadFactor: { type: 'number', minimum: 0, description: 'Multiplies credited download (absent: 1; 0 is freeleech).' },
    },
    [],
  ),
  Counts: obj({ complete: integer(), incomplete: integer(), downloaded: integer() }, undefined, { description: 'Seeders, leechers, completed downloads.' }),
  Torrent: obj(TORRENT, ['infoHash', 'rules', 'counts']),
  Swarm: obj(
    {
      infoHash: { type: 'string', pattern: '^[0-9a-f]{40}$', description: 'The hash peers announce with.' },
      protocol: { enum: ['v1', 'v2'], description: "A hybrid torrent's swarms only; v2: the v2 info hash cut to 20 bytes." },
      counts: ref('Counts'),
    },
    ['infoHash', 'counts'],
  ),
  TorrentDetail: obj({ ...TORRENT, swarms: { type: 'array', items: ref('Swarm'), minItems: 1, maxItems: 2 } }, ['infoHash', 'rules', 'counts', 'swarms']),
  TorrentPage: obj({ total: integer(), offset: integer(), limit: integer(1), torrents: { type: 'array', items: ref('Torrent'), maxItems: MAX_PAGE } }),
  RegisterTorrent: obj(
    {
      infoHash: { type: 'string', pattern: HEX40, description: 'A v1 info hash, or a v2-only torrent’s v2 hash cut to 20 bytes.' },
      infoHashV2: { type: 'string', pattern: HEX64, description: 'A hybrid torrent’s v2 info hash: both swarms are registered as one torrent.' },
      rules: ref('Rules'),
    },
    ['infoHash'],
  ),
  UpdateTorrent: obj({
    rules: obj(
      {
        uploadFactor: { type: ['number', 'null'], minimum: 0, description: 'null: back to the default (1).' },
        downloadFactor: { type: ['number', 'null'], minimum: 0, description: 'null: back to the default (1).' },
      },
      [],
    ),
  }),
  Peer: obj(
    {
      infoHash: { type: 'string', pattern: '^[0-9a-f]{40}$', description: 'The swarm it announced in.' },
      peerId: { type: 'string', description: 'Its peer id (hex).' },
      client: { type: 'string', description: 'The client its peer id names.' },
      ip: { type: 'string', description: 'Empty for a WebTorrent peer.' },
      port: { type: 'integer', minimum: 0, maximum: 65535 },
      seeder: { type: 'boolean' },
      lastAnnounce: DATE_TIME,
      user: { type: ['string', 'integer'], description: 'Its user (private mode).' },
      webrtc: { type: 'boolean', description: 'A WebTorrent (browser) peer: ip is empty, port 0.' },
    },
    ['infoHash', 'peerId', 'ip', 'port', 'seeder'],
  ),
  PeerPage: obj({ total: integer(), offset: integer(), limit: integer(1), peers: { type: 'array', items: ref('Peer'), maxItems: MAX_PAGE } }),
  RevokePasskey: obj({ passkey: { type: 'string', minLength: 1, maxLength: MAX_PASSKEY_LENGTH } }),
  BanRequest: obj(
    {
      address: { type: 'string', maxLength: 64, pattern: '^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$', description: 'An IPv4 or IPv6 address or CIDR block (203.0.113.0/24, 2001:db8::/32).' },
      user: { oneOf: [{ type: 'string', minLength: 1, maxLength: MAX_USER }, { type: 'integer' }], description: 'A user id (private mode).' },
      client: { type: 'string', minLength: 1, maxLength: MAX_CLIENT, pattern: '^[\\x20-\\x7e]+$', description: 'A peer id prefix (-XL0012-).' },
      expiresAt: { ...DATE_TIME, description: 'When the ban ends, in the future (absent: never).' },
      reason: { type: 'string', minLength: 1, maxLength: MAX_REASON, pattern: '^[^\\x00-\\x1f\\x7f]+$', description: 'Told to the banned peer.' },
    },
    [],
    { oneOf: [{ required: ['address'] }, { required: ['user'] }, { required: ['client'] }], description: 'Exactly one of address, user or client.' },
  ),
  Ban: obj(
    {
      id: { type: 'string' },
      address: { type: 'string' },
      user: { type: ['string', 'integer'] },
      client: { type: 'string' },
      expiresAt: DATE_TIME,
      reason: { type: 'string' },
      createdAt: DATE_TIME,
    },
    ['id', 'createdAt'],
  ),
  BanList: obj({ bans: { type: 'array', items: ref('Ban') } }),
  SwarmTotals: obj({ torrents: integer(), seeders: integer(), leechers: integer(), peers: integer(), ipv4: integer(), ipv6: integer() }),
  Stats: obj(
    {
      swarms: { ...ref('SwarmTotals'), description: 'Live TCP/UDP swarms (absent when the store cannot count them).' },
      webrtcSwarms: { ...ref('SwarmTotals'), description: 'Live WebTorrent swarms (absent until the first WebSocket announce).' },
      announces: obj({
        total: integer(),
        byEvent: counts(['started', 'completed', 'stopped', 'update']),
        byTransport: counts(TRANSPORTS),
        byFamily: counts(['ipv4', 'ipv6']),
      }),
      scrapes: counts(['requests', 'hashes']),
      failures: obj({ total: integer(), byKind: counts(FAILURES) }),
      udp: counts(['dropped']),
      storage: obj({
        calls: integer(),
        errors: integer(),
        timeouts: integer(),
        latency: obj({
          buckets: { type: 'array', items: obj({ le: { type: 'number' }, count: integer() }), minItems: LATENCY_BUCKETS.length, maxItems: LATENCY_BUCKETS.length },
          count: integer(),
          sum: { type: 'number', minimum: 0 },
        }),
      }),
      traffic: counts(['clippedBytes']),
      uptime: { type: 'number', minimum: 0, description: 'Seconds since the tracker was created.' },
    },
    ['announces', 'scrapes', 'failures', 'udp', 'storage', 'traffic', 'uptime'],
    { description: "tracker.stats(): this process's counters and the store's live totals." },
  ),
};

/** Responses by status for problems: the response component named after each kind. */
const PROBLEM_RESPONSES: Record<ProblemKind, string> = {
  'invalid-request': 'BadRequest',
  unauthorized: 'Unauthorized',
  'not-found': 'NotFound',
  'method-not-allowed': 'MethodNotAllowed',
  conflict: 'Conflict',
  'payload-too-large': 'PayloadTooLarge',
  'unsupported-media-type': 'UnsupportedMediaType',
  'internal-error': 'InternalError',
  'not-implemented': 'NotImplemented',
  'store-unavailable': 'StoreUnavailable',
};

const problemResponses = Object.fromEntries(
  (Object.keys(PROBLEMS) as ProblemKind[]).map((kind) => [
    PROBLEM_RESPONSES[kind],
    {
      description: `${PROBLEMS[kind].title} (type ${problemType(kind)}).`,
      content: { 'application/problem+json': { schema: ref('Problem') } },
    },
  ]),
);

const problems = (...kinds: ProblemKind[]): Json =>
  Object.fromEntries([...kinds, 'invalid-request', 'internal-error'].map((k) => [String(PROBLEMS[k as ProblemKind].status), { $ref: `#/components/responses/${PROBLEM_RESPONSES[k as ProblemKind]}` }]));
const json = (schema: string, description: string): Json => ({ description, content: { 'application/json': { schema: ref(schema) } } });
const body = (schema: string): Json => ({ required: true, content: { 'application/json': { schema: ref(schema) } } });
const noContent = (description: string): Json => ({ description });
const WITH_BODY: ProblemKind[] = ['payload-too-large', 'unsupported-media-type'];

const param = (name: string, where: 'path' | 'query', schema: Json, description: string): Json => ({ name, in: where, required: where === 'path', description, schema });
const offset = param('offset', 'query', { type: 'integer', minimum: 0, maximum: MAX_OFFSET, default: 0 }, 'Items to skip.');
const limit = param('limit', 'query', { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE }, 'Items on the page.');
const infoHash = param('infoHash', 'path', { type: 'string', pattern: PATH_HASH }, 'The info hash (40 hex digits), or a hybrid or v2 torrent’s v2 info hash (64).');
const banIdParam = param('id', 'path', { type: 'string', pattern: BAN_ID }, 'The ban’s id.');

const paths: Json = {
  '/torrents': {
    get: {
      operationId: 'listTorrents',
      summary: 'Registered torrents with their rules and live counts, one page at a time',
      parameters: [offset, limit, param('sort', 'query', { enum: ['infoHash', 'peers'], default: 'infoHash' }, 'infoHash: by hash; peers: most peers first (409 past 10 000 registered torrents).')],
      responses: { '200': json('TorrentPage', 'One page of torrents.'), ...problems('conflict', 'not-implemented', 'store-unavailable') },
    },
    post: {
      operationId: 'registerTorrent',
      summary: 'Register a torrent (an info hash, or a hybrid pair) with its rules',
      requestBody: body('RegisterTorrent'),
      responses: {
        '201': { ...json('TorrentDetail', 'Registered.'), headers: { Location: { description: 'The torrent’s URL.', schema: { type: 'string' } } } },
        ...problems('conflict', 'not-implemented', 'store-unavailable', ...WITH_BODY),
      },
    },
  },
  '/torrents/{infoHash}': {
    parameters: [infoHash],
    get: {
      operationId: 'getTorrent',
      summary: 'A registered torrent: rules, counts, and its swarms',
      responses: { '200': json('TorrentDetail', 'The torrent.'), ...problems('not-found', 'not-implemented', 'store-unavailable') },
    },
    patch: {
      operationId: 'updateTorrent',
      summary: 'Change a torrent’s rules (a factor set to null goes back to 1)',
      requestBody: body('UpdateTorrent'),
      responses: { '200': json('TorrentDetail', 'The torrent with its new rules.'), ...problems('not-found', 'not-implemented', 'store-unavailable', ...WITH_BODY) },
    },
    delete: {
      operationId: 'unregisterTorrent',
      summary: 'Unregister a torrent: its swarms stop being served at once, on every instance',
      responses: { '204': noContent('Unregistered.'), ...problems('not-found', 'not-implemented', 'store-unavailable') },
    },
  },
  '/torrents/{infoHash}/peers': {
    parameters: [infoHash],
    get: {
      operationId: 'listPeers',
      summary: 'A registered torrent’s peers (every swarm), one page at a time',
      parameters: [offset, limit],
      responses: { '200': json('PeerPage', 'One page of peers.'), ...problems('not-found', 'not-implemented', 'store-unavailable') },
    },
  },
  '/passkeys/revoke': {
    post: {
      operationId: 'revokePasskey',
      summary: 'Drop a passkey’s cached answer on every instance and close its WebSocket connections (the passkey is in the body, never in a URL)',
      requestBody: body('RevokePasskey'),
      responses: { '204': noContent('Revoked: its next announce asks the site’s passkey function again.'), ...problems('conflict', 'store-unavailable', ...WITH_BODY) },
    },
  },
  '/bans': {
    get: {
      operationId: 'listBans',
      summary: 'Every ban in force',
      responses: { '200': json('BanList', 'The bans.'), ...problems('store-unavailable') },
    },
    post: {
      operationId: 'createBan',
      summary: 'Ban an address or CIDR block, a user, or a client (peer id prefix), optionally until a date: its announces are refused with the reason on every door',
      requestBody: body('BanRequest'),
      responses: {
        '201': { ...json('Ban', 'The ban.'), headers: { Location: { description: 'The ban’s URL.', schema: { type: 'string' } } } },
        ...problems('store-unavailable', ...WITH_BODY),
      },
    },
  },
  '/bans/{id}': {
    parameters: [banIdParam],
    delete: {
      operationId: 'deleteBan',
      summary: 'Lift a ban',
      responses: { '204': noContent('Lifted.'), ...problems('not-found', 'store-unavailable') },
    },
  },
  '/stats': {
    get: { operationId: 'getStats', summary: 'The tracker at work: what tracker.stats() gives', responses: { '200': json('Stats', 'The stats.'), ...problems() } },
  },
  '/openapi.json': {
    get: {
      operationId: 'getOpenApiDocument',
      summary: 'This document',
      responses: { '200': { description: 'The OpenAPI 3.1 document.', content: { 'application/json': { schema: { type: 'object' } } } }, ...problems() },
    },
  },
};

/**
 * The admin API's OpenAPI 3.1 document, a fresh object each call. `serverUrl`: where the router is
 * mounted (`/admin/tracker`); default `/`.
 */
export function adminOpenApiDocument(serverUrl = '/'): Record<string, unknown> {
  const document = {
    openapi: '3.1.0',
    info: {
      title: 'express-torrent-tracker admin API',
      version: '1',
      summary: 'Torrents, peers, passkeys, bans and stats of a BitTorrent tracker.',
      description:
        'No authentication of its own: mount it behind your site’s authentication. Every error is an RFC 9457 problem details document (application/problem+json); bad input gets 400 and changes nothing.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: serverUrl, description: 'Where the admin router is mounted.' }],
    paths,
    components: { schemas, responses: problemResponses } as Json,
  };
  return JSON.parse(JSON.stringify(document)) as Record<string, unknown>;
}

/**
 * The document amended for bearer-token authentication in front of the router (as
 * `express-torrent-tracker serve --admin-token-file` mounts it): a `bearer` security scheme
 * required by every operation, each of which may then answer 401.
 */
export function withBearerAuth(document: Record<string, unknown>): Record<string, unknown> {
  const doc = JSON.parse(JSON.stringify(document)) as { components: Json; security?: unknown; paths: Record<string, Record<string, Json>> };
  doc.components.securitySchemes = { bearer: { type: 'http', scheme: 'bearer', description: 'The token of the --admin-token-file.' } };
  doc.security = [{ bearer: [] }];
  for (const item of Object.values(doc.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (method !== 'parameters') (operation.responses as Json)['401'] = { $ref: '#/components/responses/Unauthorized' };
    }
  }
  return doc;
}
