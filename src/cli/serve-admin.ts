/**
 * `serve --admin-token-file FILE`: the admin API (trackerAdmin) under `/admin` on the standalone
 * server's port, behind a bearer token read from FILE. The token is compared in constant time
 * (SHA-256 digests of both, then timingSafeEqual) and never logged or echoed. Express is loaded only
 * when the flag is given.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import type { Tracker } from '../tracker.js';

/** Where the admin API is mounted. */
export const ADMIN_PREFIX = '/admin';

/**
 * The token in `file`: its text without trailing line breaks. Rejects (without the token in the
 * message) when the file cannot be read or holds no token.
 */
export async function readAdminToken(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read the admin token file ${file}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  const token = text.replace(/(\r?\n)+$/, '');
  if (token.trim() === '') throw new Error(`the admin token file ${file} is empty`);
  if (/[\r\n]/.test(token)) throw new Error(`the admin token file ${file} holds more than one line`);
  // What an Authorization header can carry: printable ASCII without spaces.
  if (!/^[\x21-\x7e]+$/.test(token)) throw new Error(`the admin token in ${file} must be printable ASCII without spaces`);
  return token;
}

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** True when the request's `Authorization: Bearer <token>` is the token (constant time). */
export function bearerMatches(header: string | undefined, expected: Buffer): boolean {
  const m = /^Bearer +(\S+) *$/i.exec(header ?? '');
  // Compared even when absent, so that the time taken tells nothing.
  const given = digest(m ? m[1]! : '');
  return timingSafeEqual(given, expected) && m !== null;
}

/**
 * Answer `/admin` and `/admin/...` with the admin API behind the bearer token, before the
 * tracker's own request handler; every other request goes to the tracker as before.
 */
export async function mountAdmin(server: http.Server, tracker: Tracker, token: string): Promise<void> {
  const { default: express } = await import('express');
  const { trackerAdmin } = await import('../admin/router.js');
  const { withBearerAuth } = await import('../admin/openapi.js');
  const { AdminProblemError, sendProblem } = await import('../admin/problem.js');
  const expected = digest(token);
  const app = express();
  app.disable('x-powered-by');
  app.use(ADMIN_PREFIX, (req, res, next) => {
    if (bearerMatches(req.headers.authorization, expected)) return next();
    sendProblem(res, new AdminProblemError('unauthorized', 'send Authorization: Bearer <the token of --admin-token-file>'), req.originalUrl.split('?')[0], {
      'WWW-Authenticate': 'Bearer realm="tracker admin"',
    });
  });
  app.use(ADMIN_PREFIX, trackerAdmin(tracker, { openapi: withBearerAuth }));
  const handlers = server.listeners('request') as Array<(req: http.IncomingMessage, res: http.ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = req.url ?? '/';
    if (url === ADMIN_PREFIX || url.startsWith(`${ADMIN_PREFIX}/`) || url.startsWith(`${ADMIN_PREFIX}?`)) {
      app(req, res);
      return;
    }
    for (const handler of handlers) handler.call(server, req, res);
  });
}
