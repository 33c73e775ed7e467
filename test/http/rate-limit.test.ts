/**
 * Per-IP rate limiting in front of the tracker, exactly as the README shows it: express-rate-limit
 * mounted before the tracker (`app.use('/tracker', limiter, trackerMiddleware())`) with a handler
 * that answers HTTP 200 and a bencoded `failure reason` (clients only read bodies of 200 answers).
 */
import express from 'express';
import { rateLimit } from 'express-rate-limit';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { trackerMiddleware, type TrackerRouter } from '../../src/middleware.js';
import type { AnnounceEventInfo } from '../../src/tracker.js';
import { decodeDict, failureOf } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet } from '../helpers/http.js';

/** The limiter's answer, byte for byte as documented: d14:failure reason<len>:<text>e */
const RATE_LIMITED = Buffer.from('d14:failure reason52:too many requests from your address, try again latere');
const LIMIT = 5;

/** The documented limiter (with a small limit so the test reaches it). */
function trackerLimiter() {
  return rateLimit({
    windowMs: 60_000,
    limit: LIMIT,
    legacyHeaders: false,
    handler: (_req, res) => {
      res.status(200).set({ 'Content-Type': 'text/plain', 'Cache-Control': 'no-store' }).send(RATE_LIMITED);
    },
  });
}

interface Running {
  port: number;
  router: TrackerRouter;
  close(): Promise<void>;
}

/** A real Express app on an ephemeral dual-stack port: `app.use('/tracker', limiter, tracker)`. */
async function start(configure?: (app: express.Express) => void): Promise<Running> {
  const app = express();
  configure?.(app);
  const router = trackerMiddleware({ interval: 120, intervalJitter: 0 });
  app.use('/tracker', trackerLimiter(), router);
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '::', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    router,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await router.close();
    },
  };
}

function announcePath(infoHash: Buffer, peerId: Buffer, port = 6881): string {
  return `/tracker/announce?info_hash=${escapeAll(infoHash)}&peer_id=${escapeAll(peerId)}&port=${port}&uploaded=0&downloaded=0&left=10`;
}

/** express-rate-limit reports misconfigurations (e.g. about `trust proxy`) on the console. */
let consoleError: MockInstance;
let consoleWarn: MockInstance;
beforeEach(() => {
  consoleError = vi.spyOn(console, 'error');
  consoleWarn = vi.spyOn(console, 'warn');
});
afterEach(() => {
  expect(consoleError).not.toHaveBeenCalled();
  expect(consoleWarn).not.toHaveBeenCalled();
  vi.restoreAllMocks();
});

describe('express-rate-limit in front of the tracker', () => {
  let app: Running;
  beforeAll(async () => {
    app = await start();
  });
  afterAll(() => app.close());

  it('the documented answer is a well-formed bencoded failure reason', () => {
    expect(RATE_LIMITED.length).toBe(74);
    expect(failureOf(RATE_LIMITED)).toBe('too many requests from your address, try again later');
    expect(Object.keys(decodeDict(RATE_LIMITED))).toEqual(['failure reason']);
  });

  it(`passes ${LIMIT} announces from one address, then answers HTTP 200 with a failure reason; other addresses still pass`, async () => {
    const ih = randomBytes(20);
    const seen: AnnounceEventInfo[] = [];
    app.router.tracker.on('announce', (e: AnnounceEventInfo) => seen.push(e));

    // LIMIT announces from 127.0.0.1 (arriving as ::ffff:127.0.0.1 on the dual-stack socket) reach the tracker.
    for (let i = 0; i < LIMIT; i++) {
      const res = await rawGet(app.port, announcePath(ih, randomBytes(20), 7000 + i), { localAddress: '127.0.0.1' });
      expect(res.status).toBe(200);
      expect(failureOf(res.body)).toBeUndefined();
      expect(decodeDict(res.body)).toMatchObject({ interval: 120, incomplete: i + 1 });
    }
    expect(seen).toHaveLength(LIMIT);

    // The next one gets the limiter's answer: HTTP 200, the exact bencoded failure, nothing stored.
    const limited = await rawGet(app.port, announcePath(ih, randomBytes(20), 7100), { localAddress: '127.0.0.1' });
    expect(limited.status).toBe(200);
    expect(limited.headers['content-type']).toMatch(/^text\/plain/);
    expect(limited.body.equals(RATE_LIMITED)).toBe(true);
    expect(failureOf(limited.body)).toBe('too many requests from your address, try again later');
    expect(seen).toHaveLength(LIMIT);

    // Scrapes under the mount point count against the same address too.
    const scrape = await rawGet(app.port, `/tracker/scrape?info_hash=${escapeAll(ih)}`, { localAddress: '127.0.0.1' });
    expect(scrape.body.equals(RATE_LIMITED)).toBe(true);

    // Another address has its own budget, and the limited peer never entered the swarm.
    for (let i = 0; i < LIMIT; i++) {
      const res = await rawGet(app.port, announcePath(ih, randomBytes(20), 7200 + i), { localAddress: '127.0.0.2' });
      expect(res.status).toBe(200);
      expect(failureOf(res.body)).toBeUndefined();
      expect(decodeDict(res.body)).toMatchObject({ incomplete: LIMIT + i + 1 });
    }
    expect(seen.slice(LIMIT).every((e) => e.ip === '127.0.0.2')).toBe(true);
    const next = await rawGet(app.port, announcePath(ih, randomBytes(20), 7300), { localAddress: '127.0.0.2' });
    expect(next.body.equals(RATE_LIMITED)).toBe(true);

    // IPv6 clients are keyed apart from IPv4 ones.
    const v6 = await rawGet(app.port, announcePath(ih, randomBytes(20), 7400), { host: '::1' });
    expect(failureOf(v6.body)).toBeUndefined();
    expect(decodeDict(v6.body)).toMatchObject({ incomplete: 2 * LIMIT + 1 });
  });
});

describe('express-rate-limit behind a reverse proxy (trust proxy)', () => {
  let app: Running;
  beforeAll(async () => {
    app = await start((a) => a.set('trust proxy', 'loopback'));
  });
  afterAll(() => app.close());

  it('keys on the client address from X-Forwarded-For, the same address the tracker records', async () => {
    const ih = randomBytes(20);
    const seen: AnnounceEventInfo[] = [];
    app.router.tracker.on('announce', (e: AnnounceEventInfo) => seen.push(e));
    const from = (client: string) => ({ localAddress: '127.0.0.1', headers: { 'X-Forwarded-For': client } });

    for (let i = 0; i < LIMIT; i++) {
      const res = await rawGet(app.port, announcePath(ih, randomBytes(20)), from('203.0.113.7'));
      expect(failureOf(res.body)).toBeUndefined();
    }
    expect((await rawGet(app.port, announcePath(ih, randomBytes(20)), from('203.0.113.7'))).body.equals(RATE_LIMITED)).toBe(true);

    // Same proxy, another client: its own budget.
    const other = await rawGet(app.port, announcePath(ih, randomBytes(20)), from('198.51.100.9'));
    expect(failureOf(other.body)).toBeUndefined();
    expect(decodeDict(other.body)).toMatchObject({ incomplete: LIMIT + 1 });
    expect(seen.map((e) => e.ip)).toEqual([...Array<string>(LIMIT).fill('203.0.113.7'), '198.51.100.9']);
  });
});
