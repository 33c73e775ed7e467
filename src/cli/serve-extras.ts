/**
 * What `express-torrent-tracker serve` adds around the standalone server: the store named without
 * secrets, the optional `/stats`, `/metrics` and health routes on the tracker's HTTP port, and the
 * summary line logged once a minute for process managers.
 */
import type http from 'node:http';
import { createRequire } from 'node:module';
import type { TrackerStats } from '../stats/counters.js';
import type { Tracker } from '../tracker.js';

/** Query parameters whose values are hidden when a store URI is printed. */
const SECRET_PARAMETER = /pass|secret|token|key|auth|credential/i;

/**
 * The store for people and logs: `memory`, or the URI with its password (or a lone user name,
 * which Redis takes as the password) and secret-looking query parameters replaced by `***`:
 * `redis://:***@host:6379/0`.
 */
export function describeStore(store: string | undefined): string {
  if (store === undefined) return 'memory';
  let url: URL;
  try {
    url = new URL(store);
  } catch {
    // Not a URL at all: show only the part before any "@", which could hold a password.
    const at = store.lastIndexOf('@');
    return at === -1 ? store : `***${store.slice(at)}`;
  }
  let text = store;
  if (url.password !== '' || url.username !== '') {
    const userinfo = url.password !== '' ? `${url.username}:***` : '***';
    text = text.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, `$1${userinfo}@`);
  }
  for (const [name] of url.searchParams) {
    if (!SECRET_PARAMETER.test(name)) continue;
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    text = text.replace(new RegExp(`([?&]${escaped}=)[^&#]*`, 'g'), '$1***');
  }
  return text;
}

/** One extra route: answers with a status, a content type and a body. */
export type Route = () => Promise<{ status: number; body: unknown; contentType?: string }>;

/**
 * Answer `GET`/`HEAD` of the given paths before the tracker's own request handler; every other
 * request goes to the tracker as before. JSON bodies unless a route names its content type.
 */
export function addRoutes(server: http.Server, routes: Record<string, Route>): void {
  const handlers = server.listeners('request') as Array<(req: http.IncomingMessage, res: http.ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const route = Object.hasOwn(routes, q === -1 ? url : url.slice(0, q)) ? routes[q === -1 ? url : url.slice(0, q)] : undefined;
    if (route === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) {
      for (const handler of handlers) handler.call(server, req, res);
      return;
    }
    route().then(
      ({ status, body, contentType }) => {
        const text = contentType === undefined ? `${JSON.stringify(body)}\n` : String(body);
        res
          .writeHead(status, { 'Content-Type': contentType ?? 'application/json; charset=utf-8', 'Cache-Control': 'no-store' })
          .end(req.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        res.writeHead(500, { 'Content-Type': 'application/json; charset=utf-8' }).end(`${JSON.stringify({ error: String((error as Error)?.message ?? error) })}\n`);
      },
    );
  });
}

/** `GET /stats`: `tracker.stats()` as JSON. */
export function statsRoute(tracker: Tracker): Route {
  return async () => ({ status: 200, body: await tracker.stats() });
}

/**
 * `GET /metrics`: the tracker's metrics in Prometheus text format, in a registry of their own.
 * Throws when prom-client (an optional peer dependency) cannot be loaded.
 */
export async function metricsRoute(tracker: Tracker): Promise<Route> {
  let client: typeof import('prom-client');
  try {
    client = createRequire(import.meta.url)('prom-client') as typeof import('prom-client');
  } catch {
    throw new Error(
      '--metrics needs prom-client (an optional peer dependency): npm install prom-client, ' +
        'or npx -p express-torrent-tracker -p prom-client express-torrent-tracker serve --metrics',
    );
  }
  const { trackerMetrics } = await import('../stats/metrics.js');
  const register = new client.Registry();
  client.collectDefaultMetrics({ register });
  trackerMetrics(tracker, { register });
  return async () => ({ status: 200, body: await register.metrics(), contentType: register.contentType });
}

/** The counters a summary line reports the change of. */
interface Totals {
  announces: number;
  scrapes: number;
  failures: number;
  storageFailures: number;
}

function totalsOf(stats: Pick<TrackerStats, 'announces' | 'scrapes' | 'failures'>): Totals {
  return {
    announces: stats.announces.total,
    scrapes: stats.scrapes.requests,
    failures: stats.failures.total,
    storageFailures: stats.failures.byKind.storage,
  };
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * One summary line: what happened since `previous` and the swarms now.
 * `2026-12-07T05:00:00.000Z last 60 s: 12 announces, 3 scrapes, 0 failures; now 2 torrents, 5 peers (3 seeders, 2 leechers)`
 */
export function summaryLine(stats: TrackerStats, previous: Totals, seconds: number, now = new Date()): string {
  const t = totalsOf(stats);
  const failures = t.failures - previous.failures;
  const storage = t.storageFailures - previous.storageFailures;
  const swarms = (s: TrackerStats['swarms']): string =>
    s === undefined ? 'swarm totals unavailable' : `${plural(s.torrents, 'torrent')}, ${plural(s.peers, 'peer')} (${plural(s.seeders, 'seeder')}, ${plural(s.leechers, 'leecher')})`;
  return (
    `${now.toISOString()} last ${seconds} s: ${plural(t.announces - previous.announces, 'announce')}, ${plural(t.scrapes - previous.scrapes, 'scrape')}, ` +
    `${plural(failures, 'failure')}${storage > 0 ? ` (${storage} storage)` : ''}; now ${swarms(stats.swarms)}` +
    (stats.webrtcSwarms === undefined ? '' : `; WebTorrent ${swarms(stats.webrtcSwarms)}`)
  );
}

/**
 * Write a summary line every `seconds` through `write`; returns the function that stops it. The
 * timer does not keep the process alive.
 */
export function startSummary(tracker: Tracker, seconds: number, write: (line: string) => void): () => void {
  let previous = totalsOf(tracker.statsCounters.snapshot());
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return; // a slow store: skip a beat rather than pile up
    busy = true;
    tracker
      .stats()
      .then((stats) => {
        write(`${summaryLine(stats, previous, seconds)}\n`);
        previous = totalsOf(stats);
      })
      .catch(() => undefined)
      .finally(() => (busy = false));
  }, seconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
