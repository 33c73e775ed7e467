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
 */
import express, { type RequestHandler } from 'express';
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
}

/**
 * An Express handler serving `dir` for BEP 19 web seeds. Mount it where the torrent's `url-list`
 * points: `app.use('/seed', webSeedHandler('/srv/torrent-data'))` with
 * `url-list: https://example.org/seed/`.
 */
export function webSeedHandler(dir: string, options: WebSeedOptions = {}): RequestHandler {
  const forceBinary = (options.contentType ?? 'octet-stream') === 'octet-stream';
  return express.static(path.resolve(dir), {
    index: false,
    redirect: false,
    dotfiles: options.dotfiles ?? 'ignore',
    fallthrough: options.fallthrough ?? false,
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
}
