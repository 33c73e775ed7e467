/**
 * `trackerAdmin()`: the admin API as an Express router (JSON in, JSON out). It has NO
 * authentication of its own: mount it behind the site's. Every route checks its whole input before
 * it changes anything; every error is a problem details document (problem.ts); the OpenAPI
 * document (openapi.ts) describes every route and is served at `openapi.json`.
 */
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { Tracker, type TorrentInput } from '../tracker.js';
import type { TrackerRouter } from '../middleware.js';
import type { TrackerServer } from '../server.js';
import type { TorrentRules } from '../types.js';
import type { SwarmStore } from '../swarm/types.js';
import { withDeadline } from '../util/deadline.js';
import { banBody, banId, noQuery, pageQuery, pathHash, registerBody, revokeBody, updateBody } from './input.js';
import { adminOpenApiDocument } from './openapi.js';
import { AdminProblemError, invalid, PROBLEMS, sendProblem, storeCall, StoreProblem, toProblem } from './problem.js';
import { banOut, countsOut, peerOut, rulesOut } from './output.js';
import type { AdminTorrent, AdminTorrentDetail, TrackerAdminOptions } from './types.js';

/** Default and largest request body, in bytes. */
const DEFAULT_BODY_LIMIT = 16_384;
const MAX_BODY_LIMIT = 1_048_576;

/** The tracker behind what the site passes. */
function trackerOf(target: unknown): Tracker {
  if (target instanceof Tracker) return target;
  const inner = (target as { tracker?: unknown } | null)?.tracker;
  if (inner instanceof Tracker) return inner;
  throw new TypeError('trackerAdmin: pass a Tracker, the router from trackerMiddleware() or the server from createTrackerServer()');
}

/**
 * **No authentication of its own: mount it behind the site's auth**
 * (`app.use('/admin/tracker', requireAdmin, trackerAdmin(router))`).
 *
 * The admin API of a tracker, as an Express router speaking JSON. `target` is a {@link Tracker},
 * the router from `trackerMiddleware()` or the server from `createTrackerServer()`. Routes (relative to the mount point): `GET|POST /torrents`,
 * `GET|PATCH|DELETE /torrents/{infoHash}`, `GET /torrents/{infoHash}/peers`,
 * `POST /passkeys/revoke`, `GET|POST /bans`, `DELETE /bans/{id}`, `GET /stats`, and
 * `GET /openapi.json` (the OpenAPI 3.1 document describing them all).
 */
export function trackerAdmin(target: Tracker | TrackerRouter | TrackerServer, options: TrackerAdminOptions = {}): Router {
  const tracker = trackerOf(target);
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  if (!Number.isInteger(bodyLimit) || bodyLimit < 1 || bodyLimit > MAX_BODY_LIMIT) throw new TypeError(`trackerAdmin: options.bodyLimit must be an integer from 1 to ${MAX_BODY_LIMIT}`);
  for (const name of ['onError', 'openapi'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') throw new TypeError(`trackerAdmin: options.${name} must be a function`);
  }
  const amend = options.openapi ?? ((document: Record<string, unknown>) => document);
  /** The open store, which must be able to do `what` (else 501). */
  const storeThat = async (can: (store: SwarmStore) => boolean, what: string): Promise<SwarmStore> => {
    await tracker.whenReady();
    const store = tracker.swarmStore;
    if (store === undefined) throw new StoreProblem(new Error('the store could not be opened'));
    if (!can(store)) throw new AdminProblemError('not-implemented', `this tracker’s store cannot ${what}`);
    return store;
  };

  /** The registry's rules for a swarm (undefined: not registered), bounded by `storeTimeout`. */
  const registered = async (swarm: string): Promise<TorrentRules | undefined> => {
    const { registry } = await storeThat((store) => store.registry !== undefined, 'keep a torrent registry');
    const timeout = tracker.options.storeTimeout;
    return storeCall(withDeadline(registry!.get(Buffer.from(swarm, 'hex')), timeout, () => Object.assign(new Error(`no answer within ${timeout} ms`), { timedOut: true })));
  };

  /** A registered torrent: its canonical hashes, rules, and what the tracker's methods take. */
  const torrentAt = async (raw: string) => {
    const { swarm } = pathHash(raw);
    const rules = await registered(swarm);
    if (rules === undefined) throw new AdminProblemError('not-found', `no torrent ${swarm} is registered`);
    const hybrid = rules.infoHash !== undefined && rules.infoHashV2 !== undefined;
    const infoHash = hybrid ? rules.infoHash! : swarm;
    const input: TorrentInput = hybrid ? { infoHash, infoHashV2: rules.infoHashV2! } : infoHash;
    return { infoHash, infoHashV2: hybrid ? rules.infoHashV2 : undefined, rules, input };
  };

  const detail = async (t: Awaited<ReturnType<typeof torrentAt>>): Promise<AdminTorrentDetail> => {
    const out: AdminTorrent = { infoHash: t.infoHash, rules: rulesOut(t.rules), counts: { complete: 0, incomplete: 0, downloaded: 0 } };
    if (t.infoHashV2 === undefined) {
      const [counts] = await storeCall(tracker.counts([t.infoHash]));
      return { ...out, counts: countsOut(counts!), swarms: [{ infoHash: t.infoHash, counts: countsOut(counts!) }] };
    }
    const v2 = t.infoHashV2.slice(0, 40);
    const [torrent, first, second] = await storeCall(tracker.counts([t.input, t.infoHash, v2]));
    return {
      infoHash: t.infoHash,
      infoHashV2: t.infoHashV2,
      rules: out.rules,
      counts: countsOut(torrent!),
      swarms: [
        { infoHash: t.infoHash, protocol: 'v1', counts: countsOut(first!) },
        { infoHash: v2, protocol: 'v2', counts: countsOut(second!) },
      ],
    };
  };

  const json = (req: Request): unknown => {
    if (!req.is('application/json')) throw new AdminProblemError('unsupported-media-type', 'send a JSON body with Content-Type: application/json');
    return req.body;
  };

  type Handler = (req: Request, res: Response) => Promise<void>;
  const h = (fn: Handler) => (req: Request, res: Response, next: NextFunction) => void fn(req, res).catch(next);
  const send = (res: Response, status: number, body?: unknown, headers: Record<string, string> = {}): void => {
    res.status(status).set({ ...headers, 'Cache-Control': 'no-store' });
    if (body === undefined) res.end();
    else res.json(body);
  };
  const param = (req: Request, name: string): string => String((req.params as Record<string, string>)[name]);

  const router = Router();
  router.use(express.json({ limit: bodyLimit, strict: true }));

  const routes: Array<[string, Partial<Record<'get' | 'post' | 'patch' | 'delete', Handler>>]> = [
    [
      '/torrents',
      {
        get: async (req, res) => {
          const page = pageQuery(req.query as Record<string, unknown>, true);
          await storeThat((store) => typeof store.registry?.list === 'function', 'list its registered torrents');
          const list = await storeCall(
            tracker.listTorrents(page).catch((error: unknown) => {
              // Sorting by peers counts every registered torrent: refused past a bound, not a store failure.
              if (page.sort === 'peers' && error instanceof Error && error.name === 'Error' && /sort 'peers'/.test(error.message)) {
                throw new AdminProblemError('conflict', 'too many registered torrents to sort by peers; sort by infoHash');
              }
              throw error;
            }),
          );
          const torrents = list.torrents.map((t): AdminTorrent => {
            const out: AdminTorrent = { infoHash: t.infoHash, rules: rulesOut(t.rules), counts: countsOut(t.counts) };
            if (t.infoHashV2 !== undefined) out.infoHashV2 = t.infoHashV2;
            return out;
          });
          send(res, 200, { total: list.total, offset: page.offset, limit: page.limit, torrents });
        },
        post: async (req, res) => {
          noQuery(req.query as Record<string, unknown>);
          const b = registerBody(json(req));
          for (const swarm of [b.infoHash, b.infoHashV2?.slice(0, 40)]) {
            if (swarm !== undefined && (await registered(swarm)) !== undefined) {
              throw new AdminProblemError('conflict', `torrent ${swarm} is already registered; PATCH it to change its rules`);
            }
          }
          await storeCall(tracker.addTorrent(b.infoHashV2 === undefined ? b.infoHash : { infoHash: b.infoHash, infoHashV2: b.infoHashV2 }, b.rules));
          send(res, 201, await detail(await torrentAt(b.infoHash)), { Location: `${req.baseUrl}/torrents/${b.infoHash}` });
        },
      },
    ],
    [
      '/torrents/:infoHash',
      {
        get: async (req, res) => {
          noQuery(req.query as Record<string, unknown>);
          send(res, 200, await detail(await torrentAt(param(req, 'infoHash'))));
        },
        patch: async (req, res) => {
          pathHash(param(req, 'infoHash'));
          noQuery(req.query as Record<string, unknown>);
          const change = updateBody(json(req)).rules;
          const t = await torrentAt(param(req, 'infoHash'));
          const rules = rulesOut(t.rules);
          for (const key of ['uploadFactor', 'downloadFactor'] as const) {
            if (change[key] === null) delete rules[key];
            else if (change[key] !== undefined) rules[key] = change[key];
          }
          await storeCall(tracker.addTorrent(t.input, rules));
          send(res, 200, await detail(await torrentAt(t.infoHash)));
        },
        delete: async (req, res) => {
          noQuery(req.query as Record<string, unknown>);
          const t = await torrentAt(param(req, 'infoHash'));
          await storeCall(tracker.removeTorrent(t.input));
          // removeTorrent forgets already; said again so no cached answer can outlive this call.
          await storeCall(tracker.forgetTorrent(t.input));
          send(res, 204);
        },
      },
    ],
    [
      '/torrents/:infoHash/peers',
      {
        get: async (req, res) => {
          pathHash(param(req, 'infoHash'));
          const page = pageQuery(req.query as Record<string, unknown>, false);
          const t = await torrentAt(param(req, 'infoHash'));
          await storeThat((store) => typeof store.peersOf === 'function', 'list the peers of a swarm');
          const list = await storeCall(tracker.peers(t.input, page));
          send(res, 200, { total: list.total, offset: page.offset, limit: page.limit, peers: list.peers.map(peerOut) });
        },
      },
    ],
    [
      '/passkeys/revoke',
      {
        post: async (req, res) => {
          noQuery(req.query as Record<string, unknown>);
          const passkey = revokeBody(json(req));
          if (!tracker.isPrivate) throw new AdminProblemError('conflict', 'this tracker is public (no passkey option): it has no passkeys to revoke');
          await storeCall(tracker.forgetPasskey(passkey));
          send(res, 204);
        },
      },
    ],
    [
      '/bans',
      {
        get: async (req, res) => {
          noQuery(req.query as Record<string, unknown>);
          send(res, 200, { bans: (await storeCall(tracker.bans())).map(banOut) });
        },
        post: async (req, res) => {
          noQuery(req.query as Record<string, unknown>);
          const { expires, expiresAt: _text, ...b } = banBody(json(req));
          const made = await storeCall(
            (async () => tracker.ban(expires === undefined ? b : { ...b, expiresAt: expires }))().catch((error: unknown) => {
              // The tracker's own checks: bad input, nothing stored.
              throw error instanceof TypeError ? invalid(error.message.slice(0, 300)) : error;
            }),
          );
          send(res, 201, banOut(made), { Location: `${req.baseUrl}/bans/${encodeURIComponent(made.id)}` });
        },
      },
    ],
    [
      '/bans/:id',
      {
        delete: async (req, res) => {
          const id = banId(param(req, 'id'));
          noQuery(req.query as Record<string, unknown>);
          if (!(await storeCall(tracker.unban(id)))) throw new AdminProblemError('not-found', `no ban ${id}`);
          send(res, 204);
        },
      },
    ],
    [
      '/stats',
      {
        get: async (req, res) => {
          noQuery(req.query as Record<string, unknown>);
          send(res, 200, await storeCall(tracker.stats()));
        },
      },
    ],
    [
      '/openapi.json',
      {
        get: async (req, res) => {
          noQuery(req.query as Record<string, unknown>);
          send(res, 200, amend(adminOpenApiDocument(req.baseUrl === '' ? '/' : req.baseUrl)));
        },
      },
    ],
  ];

  for (const [p, methods] of routes) {
    const route = router.route(p);
    const allowed: string[] = [];
    for (const [method, fn] of Object.entries(methods)) {
      route[method as 'get'](h(fn));
      allowed.push(method.toUpperCase(), ...(method === 'get' ? ['HEAD'] : []));
    }
    route.all((req: Request, res: Response) =>
      sendProblem(res, new AdminProblemError('method-not-allowed', `${req.method} is not allowed here; allowed: ${allowed.join(', ')}`), req.baseUrl + req.path, { Allow: allowed.join(', ') }),
    );
  }
  router.use((req: Request, res: Response) => {
    sendProblem(res, new AdminProblemError('not-found', 'no such route (the routes are listed in openapi.json)'), req.baseUrl + req.path);
  });
  router.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    const problem = toProblem(error);
    if (PROBLEMS[problem.kind].status >= 500) {
      try {
        options.onError?.(problem instanceof StoreProblem ? problem.storeCause : error);
      } catch {
        // the site's logger failing must not stop the answer
      }
    }
    sendProblem(res, problem, req.baseUrl + req.path);
  });
  return router;
}
