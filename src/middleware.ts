/**
 * `trackerMiddleware()`: the Express glue. It reads the raw query string (never `req.query`, which
 * destroys binary bytes), takes the client address from `req.ip` (so the app's own `trust proxy`
 * setting decides about X-Forwarded-For) and writes the core's bencoded answer.
 */
import { Router, type Request, type Response } from 'express';
import { Tracker, type TrackerOptions } from './tracker.js';

/** The Router returned by {@link trackerMiddleware}, with a handle on the tracker behind it. */
export type TrackerRouter = Router & {
  /** The protocol core: events (`announce`, `failure`), options, the store in use. */
  tracker: Tracker;
  /** Close the store if the tracker opened it (a URI or the default memory store). */
  close(): Promise<void>;
};

/** The query string of the request as received, without the `?`. */
function rawQueryOf(req: Request): string {
  const url = req.originalUrl ?? req.url ?? '';
  const q = url.indexOf('?');
  return q === -1 ? '' : url.slice(q + 1);
}

function send(res: Response, body: Buffer): void {
  if (res.headersSent) return;
  res.writeHead(200, {
    'Content-Type': 'text/plain; charset=binary',
    'Content-Length': body.length,
    'Cache-Control': 'no-store',
  });
  res.end(body);
}

/**
 * A BitTorrent tracker as an Express Router answering `GET announce` and `GET scrape` relative to
 * where it is mounted: `app.use('/tracker', trackerMiddleware())` serves `/tracker/announce` and
 * `/tracker/scrape`. It touches no app setting and parses no bodies.
 */
export function trackerMiddleware(options: TrackerOptions = {}): TrackerRouter {
  const tracker = new Tracker(options);
  const router = Router() as TrackerRouter;
  router.get('/announce', (req, res) => {
    void tracker.announce(rawQueryOf(req), req.ip ?? req.socket.remoteAddress).then((body) => send(res, body));
  });
  router.get('/scrape', (req, res) => {
    void tracker.scrape(rawQueryOf(req)).then((body) => send(res, body));
  });
  router.tracker = tracker;
  router.close = () => tracker.close();
  return router;
}
