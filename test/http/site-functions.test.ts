/**
 * The site's functions cannot be turned against the site: a scrape calls `torrents` a bounded number
 * of times (or `torrents.many` once), an `onTraffic` that never settles holds up neither later
 * batches nor `close()`, credits stay safe integers, and `maxCreditRate` clips implausible jumps.
 * Real HTTP requests to a real Express app on an ephemeral port.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_LOOKUPS_PER_SCRAPE, type TorrentAnswer, type TorrentVerifier } from '../../src/policy/torrents.js';
import type { TrafficRecord } from '../../src/policy/traffic.js';
import { decodeDict, failureOf } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet, startApp, type RunningApp } from '../helpers/http.js';

const PASSKEY = 'memberPasskey0123456789';
const apps: RunningApp[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close().catch(() => undefined)));
});

async function start(options: Parameters<typeof startApp>[0]): Promise<RunningApp> {
  const app = await startApp(options);
  apps.push(app);
  return app;
}

function announceQuery(ih: Buffer, id: Buffer, up: number, event = '', down = 0, left = 100): string {
  return `info_hash=${escapeAll(ih)}&peer_id=${escapeAll(id)}&port=6881&uploaded=${up}&downloaded=${down}&left=${left}${event ? `&event=${event}` : ''}`;
}

describe('scrape and the torrents function', () => {
  // Failed on the old main: one scrape of 64 hashes called the site's function 64 times.
  it(`one scrape calls torrents at most ${MAX_LOOKUPS_PER_SCRAPE} times; cached answers are used; the rest counts as unregistered`, async () => {
    const registered = Array.from({ length: 64 }, () => randomBytes(20));
    const known = new Set(registered.map((h) => h.toString('hex')));
    let calls = 0;
    const app = await start({ torrents: (hex) => (calls++, known.has(hex)) });
    // Two torrents looked up (and cached) by announces first.
    for (const ih of registered.slice(0, 2)) {
      expect(failureOf((await rawGet(app.port, `/tracker/announce?${announceQuery(ih, randomBytes(20), 0)}`)).body)).toBeUndefined();
    }
    expect(calls).toBe(2);
    const res = await rawGet(app.port, `/tracker/scrape?${registered.map((h) => `info_hash=${escapeAll(h)}`).join('&')}`);
    const files = decodeDict(res.body).files as Map<string, unknown> | Record<string, unknown>;
    const count = files instanceof Map ? files.size : Object.keys(files).length;
    expect(calls).toBe(2 + MAX_LOOKUPS_PER_SCRAPE);
    expect(count).toBe(2 + MAX_LOOKUPS_PER_SCRAPE);
    // The next scrape gets the next ones: answers that were looked up are cached.
    await rawGet(app.port, `/tracker/scrape?${registered.map((h) => `info_hash=${escapeAll(h)}`).join('&')}`);
    expect(calls).toBe(2 + 2 * MAX_LOOKUPS_PER_SCRAPE);
  });

  it('torrents.many answers a whole scrape in one call', async () => {
    const hashes = Array.from({ length: 64 }, () => randomBytes(20));
    const calls: string[][] = [];
    const verify: TorrentVerifier = Object.assign((hex: string): TorrentAnswer => hex.endsWith('0') === false, {
      many: async (hexes: string[]) => {
        calls.push(hexes);
        return hexes.map((hex) => (hex.endsWith('0') ? null : { downloadFactor: 0 }));
      },
    });
    const app = await start({ torrents: verify });
    const res = await rawGet(app.port, `/tracker/scrape?${hashes.map((h) => `info_hash=${escapeAll(h)}`).join('&')}`);
    expect(failureOf(res.body)).toBeUndefined();
    expect(calls).toHaveLength(1);
    expect(calls[0]).toHaveLength(64);
    const files = decodeDict(res.body).files as Map<string, unknown>;
    const size = files instanceof Map ? files.size : Object.keys(files).length;
    expect(size).toBe(hashes.filter((h) => !h.toString('hex').endsWith('0')).length);
    // Cached: a second scrape asks nothing.
    await rawGet(app.port, `/tracker/scrape?${hashes.map((h) => `info_hash=${escapeAll(h)}`).join('&')}`);
    expect(calls).toHaveLength(1);
  });

  it('a torrents.many that answers the wrong number of entries is a failure of the torrent check, not a crash', async () => {
    const verify: TorrentVerifier = Object.assign(() => true, { many: () => [true] });
    const app = await start({ torrents: verify });
    const failures: unknown[] = [];
    app.router.tracker.on('failure', (f) => failures.push(f));
    const res = await rawGet(app.port, `/tracker/scrape?info_hash=${escapeAll(randomBytes(20))}&info_hash=${escapeAll(randomBytes(20))}`);
    expect(res.status).toBe(200);
    expect(failureOf(res.body)).toBe('the torrent check failed, try again later');
    expect(failures).toHaveLength(1);
  });
});

describe('onTraffic and credits', () => {
  // Failed on the old main: flushTraffic() and close() never settled.
  it('an onTraffic that never settles: failure after trafficTimeout, records kept for the next batch, close() settles', async () => {
    let hang = true;
    const delivered: TrafficRecord[][] = [];
    const app = await start({
      passkey: (pk) => (pk === PASSKEY ? 'member' : null),
      enforceInterval: false,
      trafficTimeout: 200,
      onTraffic: (records) => (hang ? new Promise<void>(() => undefined) : void delivered.push(records)),
    });
    const failures: Array<{ reason: string }> = [];
    app.router.tracker.on('failure', (f) => failures.push(f));
    const ih = randomBytes(20);
    const id = randomBytes(20);
    const url = (q: string) => `/tracker/${PASSKEY}/announce?${q}`;
    expect(failureOf((await rawGet(app.port, url(announceQuery(ih, id, 0, 'started')))).body)).toBeUndefined();
    expect(failureOf((await rawGet(app.port, url(announceQuery(ih, id, 1000)))).body)).toBeUndefined();
    await expect(app.router.tracker.flushTraffic()).rejects.toThrow('onTraffic did not settle within 200 ms');
    expect(failures.map((f) => f.reason)).toContain('onTraffic failed; its records are kept for the next batch');
    expect(failureOf((await rawGet(app.port, url(announceQuery(ih, id, 1500)))).body)).toBeUndefined();
    // Still hanging: the next batch is not held up behind the first call.
    await expect(app.router.tracker.flushTraffic()).rejects.toThrow('did not settle');
    hang = false;
    await app.router.tracker.flushTraffic();
    expect(delivered).toHaveLength(1);
    expect(delivered[0]).toEqual([expect.objectContaining({ user: 'member', rawUploaded: 1500, uploaded: 1500 })]);
    hang = true;
    expect(failureOf((await rawGet(app.port, url(announceQuery(ih, id, 2000)))).body)).toBeUndefined();
    const t0 = Date.now();
    await expect(app.close()).rejects.toThrow('did not settle');
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('credits are safe integers whatever the factor; the largest counter is accepted', async () => {
    const delivered: TrafficRecord[] = [];
    const app = await start({
      passkey: (pk) => (pk === PASSKEY ? 'member' : null),
      torrents: () => ({ uploadFactor: 1e300 }),
      enforceInterval: false,
      onTraffic: (records) => void delivered.push(...records),
    });
    const ih = randomBytes(20);
    const id = randomBytes(20);
    const url = (q: string) => `/tracker/${PASSKEY}/announce?${q}`;
    expect(failureOf((await rawGet(app.port, url(announceQuery(ih, id, 0, 'started')))).body)).toBeUndefined();
    expect(failureOf((await rawGet(app.port, url(announceQuery(ih, id, Number.MAX_SAFE_INTEGER)))).body)).toBeUndefined();
    expect(failureOf((await rawGet(app.port, url(announceQuery(ih, id, 0, 'started')))).body)).toBeUndefined();
    expect(failureOf((await rawGet(app.port, url(announceQuery(ih, id, 5)))).body)).toBeUndefined();
    await app.router.tracker.flushTraffic();
    expect(delivered).toHaveLength(1);
    const r = delivered[0];
    for (const v of [r.uploaded, r.downloaded, r.rawUploaded, r.rawDownloaded]) expect(Number.isSafeInteger(v)).toBe(true);
    expect(r.uploaded).toBe(Number.MAX_SAFE_INTEGER);
    expect(r.rawUploaded).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('maxCreditRate clips an implausible jump and counts what it clipped', async () => {
    const delivered: TrafficRecord[] = [];
    const app = await start({
      passkey: (pk) => (pk === PASSKEY ? 'member' : null),
      enforceInterval: false,
      maxCreditRate: 1_000_000,
      onTraffic: (records) => void delivered.push(...records),
    });
    const ih = randomBytes(20);
    const id = randomBytes(20);
    const url = (q: string) => `/tracker/${PASSKEY}/announce?${q}`;
    expect(failureOf((await rawGet(app.port, url(announceQuery(ih, id, 0, 'started')))).body)).toBeUndefined();
    // Within a second of the last announce: at most one second's worth is credited.
    expect(failureOf((await rawGet(app.port, url(announceQuery(ih, id, 5e12, '', 500_000)))).body)).toBeUndefined();
    await app.router.tracker.flushTraffic();
    expect(delivered).toEqual([expect.objectContaining({ rawUploaded: 1_000_000, uploaded: 1_000_000, rawDownloaded: 500_000 })]);
    const stats = await app.router.tracker.stats();
    expect(stats.traffic.clippedBytes).toBe(5e12 - 1_000_000);
  });
});

it('the old over-range counters are refused on HTTP with the shared wording', async () => {
  const app = await start({});
  const ih = randomBytes(20);
  const id = randomBytes(20);
  for (const [field, value] of [['uploaded', '18446744073709551615'], ['downloaded', '9007199254740992'], ['left', '1.5'], ['uploaded', '-1']] as const) {
    const q = announceQuery(ih, id, 0).replace(new RegExp(`${field}=\\d+`), `${field}=${value}`);
    expect(failureOf((await rawGet(app.port, `/tracker/announce?${q}`)).body)).toBe(`${field} must be a whole number from 0 to 9007199254740991`);
  }
});
