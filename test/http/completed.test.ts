/**
 * `event=completed` counts once per peer, end to end over real HTTP, on the memory and Redis stores:
 * a peer that sends `completed` 500 times raises the scrape's `downloaded` by exactly 1, and in
 * private mode the member's `completed` credit in `onTraffic` is exactly 1. Compact and dictionary
 * answers both (the memory store answers them on two paths). A repeat that does not count is a
 * regular announce: with an enforced min interval it waits like one.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { TrafficRecord } from '../../src/policy/traffic.js';
import { openStore } from '../../src/swarm/open.js';
import type { SwarmStore } from '../../src/swarm/types.js';
import type { TrackerOptions } from '../../src/tracker.js';
import { decodeDict, failureOf } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet, startApp, type RunningApp } from '../helpers/http.js';
import { reachable, REDIS_URL, uniqueName } from '../helpers/store-services.js';

const PASSKEY = 'memberPasskey0123456789';
const REPEATS = 500;
/** Announces in flight at once. */
const IN_FLIGHT = 10;

const redisUp = await reachable(REDIS_URL);
if (!redisUp && process.env.CI === 'true') throw new Error('Redis is not reachable; required under CI=true');
const kinds = redisUp ? (['memory', 'redis'] as const) : (['memory'] as const);

const query = (ih: Buffer, id: Buffer, rest: string): string =>
  `info_hash=${escapeAll(ih)}&peer_id=${escapeAll(id)}&port=6881&uploaded=0&downloaded=0&${rest}`;

describe.each(kinds)('event=completed counts once per peer over HTTP (%s store)', (kind) => {
  const stores: SwarmStore[] = [];
  const apps: RunningApp[] = [];

  async function start(options: TrackerOptions = {}): Promise<RunningApp> {
    let store: SwarmStore | undefined;
    if (kind === 'redis') {
      store = (await openStore(REDIS_URL, { namespace: uniqueName('done') })).store;
      stores.push(store);
    }
    const app = await startApp({ interval: 60, minInterval: 30, store, ...options });
    apps.push(app);
    return app;
  }

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close?.()));
  });

  const announce = async (app: RunningApp, path: string, q: string) => {
    const res = await rawGet(app.port, `${path}/announce?${q}`);
    expect(res.status).toBe(200);
    return { failure: failureOf(res.body), dict: decodeDict(res.body) };
  };
  const scrape = async (app: RunningApp, path: string, ih: Buffer) => {
    const d = decodeDict((await rawGet(app.port, `${path}/scrape?info_hash=${escapeAll(ih)}`)).body);
    return Object.values(d.files as Record<string, Record<string, number>>)[0];
  };

  /** `REPEATS` completed announces of one peer, compact and dictionary answers alternating; every answer's counters. */
  async function repeatCompleted(app: RunningApp, path: string, ih: Buffer, id: Buffer): Promise<void> {
    for (let sent = 0; sent < REPEATS; sent += IN_FLIGHT) {
      const answers = await Promise.all(
        Array.from({ length: IN_FLIGHT }, (_, i) =>
          announce(app, path, query(ih, id, `left=0&event=completed&compact=${(sent + i) % 2}`)),
        ),
      );
      for (const a of answers) {
        expect(a.failure).toBeUndefined();
        expect(a.dict).toMatchObject({ complete: 1, downloaded: 1 });
      }
    }
  }

  it(`public: ${REPEATS} completed announces of one peer raise downloaded by exactly 1; another peer adds 1`, async () => {
    const app = await start();
    const ih = randomBytes(20);
    const id = randomBytes(20);
    expect((await announce(app, '/tracker', query(ih, id, 'left=100&event=started'))).failure).toBeUndefined();
    await repeatCompleted(app, '/tracker', ih, id);
    expect(await scrape(app, '/tracker', ih)).toEqual({ complete: 1, incomplete: 0, downloaded: 1, downloaders: 0 });
    // another peer's first completion counts; after stopped, the first peer may count again
    expect((await announce(app, '/tracker', query(ih, randomBytes(20), 'left=0&event=completed'))).dict).toMatchObject({ downloaded: 2 });
    expect((await announce(app, '/tracker', query(ih, id, 'left=0&event=stopped'))).failure).toBeUndefined();
    expect((await announce(app, '/tracker', query(ih, id, 'left=100&event=started'))).failure).toBeUndefined();
    expect((await announce(app, '/tracker', query(ih, id, 'left=0&event=completed&compact=0'))).dict).toMatchObject({ downloaded: 3 });
    expect(await scrape(app, '/tracker', ih)).toEqual({ complete: 2, incomplete: 0, downloaded: 3, downloaders: 0 });
  });

  it(`private: ${REPEATS} completed announces of one peer credit the member exactly 1 completion`, async () => {
    const records: TrafficRecord[] = [];
    const app = await start({
      passkey: (pk) => (pk === PASSKEY ? 'member' : null),
      onTraffic: (batch) => void records.push(...batch),
      enforceInterval: false, // every repeat is accepted: it must still not count
    });
    const path = `/tracker/${PASSKEY}`;
    const ih = randomBytes(20);
    const id = randomBytes(20);
    expect((await announce(app, path, query(ih, id, 'left=100&event=started'))).failure).toBeUndefined();
    await repeatCompleted(app, path, ih, id);
    expect(await scrape(app, path, ih)).toEqual({ complete: 1, incomplete: 0, downloaded: 1, downloaders: 0 });
    await app.router.flushTraffic();
    const completed = records.filter((r) => r.user === 'member' && r.infoHash === ih.toString('hex')).reduce((n, r) => n + r.completed, 0);
    expect(completed).toBe(1);
  });

  it('with an enforced min interval a counted completion passes at once, a repeat is refused like an update', async () => {
    for (const options of [{ enforceInterval: true }, { passkey: (pk: string) => (pk === PASSKEY ? 'member' : null) }]) {
      const app = await start(options);
      const path = 'passkey' in options ? `/tracker/${PASSKEY}` : '/tracker';
      const ih = randomBytes(20);
      const id = randomBytes(20);
      expect((await announce(app, path, query(ih, id, 'left=100&event=started'))).failure).toBeUndefined();
      expect((await announce(app, path, query(ih, id, 'left=0&event=completed'))).dict).toMatchObject({ downloaded: 1 });
      for (const compact of [1, 0]) {
        const repeat = await announce(app, path, query(ih, id, `left=0&event=completed&compact=${compact}`));
        expect(repeat.failure).toMatch(/^announced too soon: wait \d+ more seconds \(min interval 30 s\)$/);
      }
      expect(await scrape(app, path, ih)).toEqual({ complete: 1, incomplete: 0, downloaded: 1, downloaders: 0 });
    }
  });
});
