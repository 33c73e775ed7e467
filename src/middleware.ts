/**
 * `trackerMiddleware()`: the Express glue. It reads the raw query string (never `req.query`, which
 * destroys binary bytes), takes the client address as `req.ip` would (so the app's own
 * `trust proxy` setting decides about X-Forwarded-For) and writes the core's bencoded answer.
 *
 * One layer handles both paths: no route matching or method dispatch per request beyond a string
 * comparison, and with the in-memory store the answer is computed synchronously.
 */
import { Router, type NextFunction, type Request, type Response } from 'express';
import { Tracker, type TrackerOptions } from './tracker.js';

/** The Router returned by {@link trackerMiddleware}, with a handle on the tracker behind it. */
export type TrackerRouter = Router & {
  /** The protocol core: events (`announce`, `failure`), options, the store in use. */
  tracker: Tracker;
  /** Close the store if the tracker opened it (a URI or the default memory store). */
  close(): Promise<void>;
};

function send(res: Response, body: Buffer): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(200, ['Content-Type', 'text/plain', 'Content-Length', String(body.length), 'Cache-Control', 'no-store']);
  res.end(body);
}

/**
 * The client's address exactly as `req.ip` gives it, without running proxy-addr when the app
 * trusts no proxy (Express's default), where `req.ip` is the socket's address anyway.
 */
function clientAddress(req: Request): string | undefined {
  const trust: unknown = req.app?.get('trust proxy');
  if (trust === false || trust === undefined) return req.socket.remoteAddress;
  return req.ip ?? req.socket.remoteAddress;
}

/**
 * A BitTorrent tracker as an Express Router answering `GET announce` and `GET scrape` relative to
 * where it is mounted: `app.use('/tracker', trackerMiddleware())` serves `/tracker/announce` and
 * `/tracker/scrape`. It touches no app setting and parses no bodies; other paths and methods pass
 * through to the next handler.
 */
export function trackerMiddleware(options: TrackerOptions = {}): TrackerRouter {
  const tracker = new Tracker(options);
  const router = Router() as TrackerRouter;
  router.use((req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    // req.url is relative to the mount point; its query string is the raw one from the request line.
    const url = req.url;
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const query = q === -1 ? '' : url.slice(q + 1);
    const route = path === '/announce' || path === '/scrape' ? path : normalise(path);
    if (route === '/announce') {
      const address = clientAddress(req);
      const now = tracker.announceNow(query, address);
      if (now) send(res, now);
      else void tracker.announce(query, address).then((body) => send(res, body));
    } else if (route === '/scrape') {
      void tracker.scrape(query).then((body) => send(res, body));
    } else {
      next();
    }
  });
  router.tracker = tracker;
  router.close = () => tracker.close();
  return router;
}

/** Express routing is case-insensitive and tolerates a trailing slash by default: do the same. */
function normalise(path: string): string {
  const lower = path.toLowerCase();
  return lower.endsWith('/') ? lower.slice(0, -1) : lower;
}
