/**
 * The one HTTP answer path of both HTTP doors (the Express middleware and the standalone server):
 * an announce or scrape through the core, written as HTTP 200 with the bencoded body. Guarded once
 * here: whatever goes wrong (a bug of ours, a throwing listener), the client gets a bencoded
 * `failure reason` and nothing escapes into the host app.
 */
import type http from 'node:http';
import type { TrackerPath } from '../protocol/path.js';
import { encodeFailure } from '../protocol/response.js';
import type { Tracker } from '../tracker.js';

/** Write a bencoded answer (HTTP 200), unless the response is already gone. Never throws. */
export function sendBencoded(res: http.ServerResponse, body: Buffer): void {
  if (res.headersSent || res.destroyed) return;
  try {
    res.writeHead(200, ['Content-Type', 'text/plain', 'Content-Length', String(body.length), 'Cache-Control', 'no-store']);
    res.end(body);
  } catch {
    res.destroy();
  }
}

/**
 * Answer one announce or scrape. `query` is the raw query string (after `?`), `address` the client's
 * address, `passkey` the path's passkey segment (private trackers). Never throws, never rejects.
 */
export function answerHttp(
  tracker: Tracker,
  endpoint: TrackerPath['endpoint'],
  query: string,
  address: string | undefined,
  passkey: string | undefined,
  res: http.ServerResponse,
): void {
  try {
    if (endpoint === 'announce') {
      const answer = tracker.answerAnnounce(query, address, passkey);
      if (Buffer.isBuffer(answer)) sendBencoded(res, answer);
      else answer.then((body) => sendBencoded(res, body), (error: unknown) => sendFailure(tracker, res, error));
    } else {
      tracker.scrape(query, passkey).then((body) => sendBencoded(res, body), (error: unknown) => sendFailure(tracker, res, error));
    }
  } catch (error) {
    sendFailure(tracker, res, error);
  }
}

/** Answer with the failure reason for `error` (counted, and reported to `failure` listeners). */
export function sendFailure(tracker: Tracker, res: http.ServerResponse, error: unknown): void {
  sendBencoded(res, encodeFailure(tracker.failureReason(error)));
}
