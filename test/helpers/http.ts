/** A real Express app with the tracker on an ephemeral dual-stack port, and a raw HTTP client. */
import express from 'express';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { trackerMiddleware, type TrackerRouter } from '../../src/middleware.js';
import type { TrackerOptions } from '../../src/tracker.js';

export interface RunningApp {
  app: express.Express;
  server: http.Server;
  router: TrackerRouter;
  port: number;
  /** http://127.0.0.1:port */
  base: string;
  close(): Promise<void>;
}

/** Start `app.use('/tracker', trackerMiddleware(options))` on `::`, port 0. */
export async function startApp(
  options: TrackerOptions = {},
  configure?: (app: express.Express) => void,
): Promise<RunningApp> {
  const app = express();
  configure?.(app);
  const router = trackerMiddleware(options);
  app.use('/tracker', router);
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '::', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    app,
    server,
    router,
    port,
    base: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await router.close();
    },
  };
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * GET a path exactly as given (no re-escaping) from `host` (127.0.0.1 or ::1), optionally from a
 * given local address.
 */
export function rawGet(
  port: number,
  path: string,
  options: { host?: string; localAddress?: string; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: options.host ?? '127.0.0.1',
        port,
        path,
        method: 'GET',
        localAddress: options.localAddress,
        headers: options.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}
