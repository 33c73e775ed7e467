/**
 * Web seeds (BEP 19, "GetRight style"): serve the directory holding a torrent's content over HTTP
 * so that clients can fetch pieces with Range requests from the site itself. A torrent created
 * with `webSeeds: ['https://example.org/seed/']` makes clients GET `/seed/<name>` (single file)
 * or `/seed/<name>/<path...>` (multi-file) with `Range: bytes=a-b`.
 *
 * This is a thin wrapper around `express.static` (which already implements single Range requests,
 * `If-Range`, `HEAD`, conditional GETs and refuses `..` traversal) with safer defaults for serving
 * arbitrary torrent content from a site's own origin: no directory indexes or redirects,
 * every file served as `application/octet-stream` with `X-Content-Type-Options: nosniff` and a
 * sandboxing `Content-Security-Policy` (so an HTML file inside a torrent cannot run script on the
 * site's origin), dotfiles hidden, and a plain 404 instead of falling through to later routes.
 *
 * Errors are answered here, never handed to Express's error handler (which, outside
 * `NODE_ENV=production`, prints the error's stack and message, including the absolute path of the
 * file asked for): a 404, 403, 400 or 500 gets its status and a short plain-text body naming only
 * the status. Symbolic links inside the directory are served only when their target is inside it
 * too (`symlinks: 'follow'` restores `express.static`'s behaviour of following any link).
 */
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { realpath } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';

/** Options of {@link webSeedHandler}. */
export interface WebSeedOptions {
  /**
   * `'octet-stream'` (default) serves every file as `application/octet-stream`; `'auto'` lets
   * Express pick a type from the file extension (only for content you trust).
   */
  contentType?: 'octet-stream' | 'auto';
  /** How to treat files and directories starting with a dot: `'ignore'` (404, default), `'deny'` (403) or `'allow'`. */
  dotfiles?: 'ignore' | 'deny' | 'allow';
  /** `Cache-Control: max-age` in milliseconds or an ms-style string; default 0. */
  maxAge?: number | string;
  /** Add `immutable` to `Cache-Control` (torrent content never changes in place); default false. */
  immutable?: boolean;
  /** Pass missing files to the next route instead of answering 404; default false. */
  fallthrough?: boolean;
  /**
   * Symbolic links under `dir`: `'inside'` (default) serves a link only when the file it leads to
   * is inside `dir` too (a link out of it answers 404, as if missing); `'follow'` serves whatever a
   * link leads to (for a data directory assembled from links to elsewhere; anyone who can create a
   * link under `dir` can then publish any file the server can read).
   */
  symlinks?: 'inside' | 'follow';
}

/**
 * An Express handler serving `dir` for BEP 19 web seeds. Mount it where the torrent's `url-list`
 * points: `app.use('/seed', webSeedHandler('/srv/torrent-data'))` with
 * `url-list: https://example.org/seed/`.
 */
export function webSeedHandler(dir: string, options: WebSeedOptions = {}): RequestHandler {
  const root = path.resolve(dir);
  const forceBinary = (options.contentType ?? 'octet-stream') === 'octet-stream';
  const fallthrough = options.fallthrough ?? false;
  const serve = express.static(root, {
    index: false,
    redirect: false,
    dotfiles: options.dotfiles ?? 'ignore',
    fallthrough: false, // every error comes back to `answerError` below, which never shows a path
    acceptRanges: true,
    etag: true,
    lastModified: true,
    maxAge: options.maxAge ?? 0,
    immutable: options.immutable ?? false,
    setHeaders(res) {
      if (forceBinary) res.setHeader('Content-Type', 'application/octet-stream');
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
    },
  });

  const answerError = (status: number, req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) {
      res.destroy(); // a read failed mid-body: the client sees a short response
      return;
    }
    if (status === 404 && fallthrough) {
      next();
      return;
    }
    const body = `${status} ${http.STATUS_CODES[status] ?? 'Error'}\n`;
    res.status(status);
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  return (req, res, next) => {
    if (fallthrough && req.method !== 'GET' && req.method !== 'HEAD') {
      next();
      return;
    }
    const served = (): void =>
      serve(req, res, (error?: unknown) => answerError(error === undefined ? 404 : statusOf(error), req, res, next));
    if (options.symlinks === 'follow' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      served();
      return;
    }
    staysInside(root, req.path).then(
      (inside) => (inside ? served() : answerError(404, req, res, next)),
      () => answerError(500, req, res, next),
    );
  };
}

/**
 * False when the file a request path names under `root` is reached through a symbolic link that
 * leads out of `root` (compared after resolving links on both sides). Paths `express.static`
 * itself refuses (undecodable, NUL, `..`) or that do not exist are left to it (true).
 */
async function staysInside(root: string, urlPath: string): Promise<boolean> {
  let relative: string;
  try {
    relative = decodeURIComponent(urlPath);
  } catch {
    return true;
  }
  if (relative.includes('\0')) return true;
  const full = path.join(root, relative);
  if (full !== root && !full.startsWith(root + path.sep)) return true;
  let real: string;
  try {
    real = await realpath(full);
  } catch {
    return true; // missing: express.static answers 404
  }
  const rel = path.relative(await realpath(root), real);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/** The HTTP status an error from `express.static` carries (500 when it carries none). */
function statusOf(error: unknown): number {
  const { status, statusCode } = (error ?? {}) as { status?: unknown; statusCode?: unknown };
  const code = typeof status === 'number' ? status : typeof statusCode === 'number' ? statusCode : 500;
  return Number.isInteger(code) && code >= 400 && code < 600 ? code : 500;
}
