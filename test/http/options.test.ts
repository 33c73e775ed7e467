/**
 * One options pipeline: every entry point checks its options at startup with the same wording (the
 * entry point, the option, the rule, and what was received), and warns once about unknown keys with
 * the option they most resemble.
 */
import express from 'express';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { trackerMiddleware } from '../../src/middleware.js';
import { suggestOption } from '../../src/option-checks.js';
import { createTrackerServer } from '../../src/server.js';
import { createUdpTracker } from '../../src/transport/udp.js';
import { rawGet } from '../helpers/http.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('option errors name the entry point, the rule and the value received', () => {
  it.each([
    [{ interval: '1800' }, 'trackerMiddleware: options.interval must be a whole number, 1 or more (got the string "1800")'],
    [{ interval: 0 }, 'trackerMiddleware: options.interval must be a whole number, 1 or more (got 0)'],
    [{ numwant: 1.5 }, 'trackerMiddleware: options.numwant must be a whole number, 0 or more (got 1.5)'],
    [{ storeTimeout: 0 }, 'trackerMiddleware: options.storeTimeout must be a whole number, 1 or more (got 0)'],
    [{ fullScrape: 'yes' }, 'trackerMiddleware: options.fullScrape must be true or false (got the string "yes")'],
    [{ passkey: 'secret' }, 'trackerMiddleware: options.passkey must be a function (passkey) => user id | null (got the string "secret")'],
    [{ clients: { allow: '-qB' } }, "trackerMiddleware: options.clients.allow must be an array of peer_id prefixes, e.g. ['-qB'] (got the string \"-qB\")"],
    [{ clients: ['-qB'] }, 'trackerMiddleware: options.clients must be an object { allow?: string[], deny?: string[] } (got an array of 1)'],
  ])('%j', (options, message) => {
    expect(() => trackerMiddleware(options as never)).toThrow(new TypeError(message));
  });

  it('the standalone server and the UDP door use the same checks under their own names', async () => {
    expect(() => createTrackerServer({ interval: -1 } as never)).toThrow('createTrackerServer: options.interval must be a whole number, 1 or more (got -1)');
    expect(() => createUdpTracker({ maxPending: 0 })).toThrow('createUdpTracker: options.maxPending must be a whole number, 1 or more (got 0)');
    expect(() => createUdpTracker({ tracker: {} as never })).toThrow('createUdpTracker: options.tracker must be a Tracker');
  });
});

describe('unknown keys', () => {
  it('are warned about once, with the option they resemble', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const a = trackerMiddleware({ intervall: 900, fullscrape: true } as never);
    const b = trackerMiddleware({ intervall: 900 } as never);
    const messages = warn.mock.calls.map((c) => String(c[0]));
    expect(messages).toEqual([
      'express-torrent-tracker: trackerMiddleware: unknown option "intervall" is ignored (did you mean "interval"?).',
      'express-torrent-tracker: trackerMiddleware: unknown option "fullscrape" is ignored (did you mean "fullScrape"?).',
    ]);
    await Promise.all([a.close(), b.close()]);
  });

  it('suggests only close names', () => {
    expect(suggestOption('maxpeers', ['maxPeers', 'maxSwarms'])).toBe('maxPeers');
    expect(suggestOption('storTimeout', ['storeTimeout'])).toBe('storeTimeout');
    expect(suggestOption('colour', ['interval', 'store'])).toBeUndefined();
  });
});

// Failed on the old main: every request through the app hung (Express called trackerMiddleware(req, res, next)).
it('trackerMiddleware mounted without () answers with a clear error instead of hanging', async () => {
  const app = express();
  app.use('/tracker', trackerMiddleware as never);
  let seen: unknown;
  app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    seen = error;
    res.status(500).end('misconfigured');
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const res = await rawGet((server.address() as { port: number }).port, '/tracker/announce?x=1');
    expect(res.status).toBe(500);
    expect(String(seen)).toContain("use app.use('/tracker', trackerMiddleware())");
  } finally {
    server.close();
  }
});
