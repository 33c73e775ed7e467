/**
 * Caps against info-hash and peer floods: past `maxSwarms` / `maxPeers` new swarms and peers get
 * `tracker is full, try again later` while existing swarms keep working, stats count the refusals,
 * and with Redis the caps hold globally for a flood through three instances at once.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/swarm/open.js';
import { Tracker } from '../../src/tracker.js';
import { failureOf } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet, startApp } from '../helpers/http.js';
import { describeService, reachable, REDIS_URL, uniqueName } from '../helpers/store-services.js';

const q = (ih: Buffer, id: Buffer = randomBytes(20), rest = 'left=1') =>
  `info_hash=${escapeAll(ih)}&peer_id=${escapeAll(id)}&port=6881&uploaded=0&downloaded=0&${rest}`;

describe('caps on the memory store', () => {
  it('an info-hash flood fills maxSwarms and no more; existing swarms keep working; refusals are counted', async () => {
    const app = await startApp({ maxSwarms: 5, maxPeers: 1000 });
    try {
      const first = randomBytes(20);
      const id = randomBytes(20);
      expect(failureOf((await rawGet(app.port, `/tracker/announce?${q(first, id)}`)).body)).toBeUndefined();
      const answers = await Promise.all(Array.from({ length: 50 }, () => rawGet(app.port, `/tracker/announce?${q(randomBytes(20))}`)));
      const reasons = answers.map((a) => failureOf(a.body));
      expect(reasons.filter((r) => r === undefined)).toHaveLength(4);
      expect(reasons.filter((r) => r === 'tracker is full, try again later')).toHaveLength(46);
      // the existing swarm: its peer re-announces, a new peer joins it, it completes
      expect(failureOf((await rawGet(app.port, `/tracker/announce?${q(first, id)}`)).body)).toBeUndefined();
      expect(failureOf((await rawGet(app.port, `/tracker/announce?${q(first)}`)).body)).toBeUndefined();
      expect(failureOf((await rawGet(app.port, `/tracker/announce?${q(first, id, 'left=0&event=completed')}`)).body)).toBeUndefined();
      const stats = await app.router.tracker.stats();
      expect(stats.swarms).toMatchObject({ torrents: 5, peers: 6 });
      expect(stats.failures.byKind.full).toBe(46);
    } finally {
      await app.close();
    }
  });
});

const redisUp = await reachable(REDIS_URL);
describeService('Redis', redisUp, 'caps on Redis', () => {
  const namespace = uniqueName('caps');
  const trackers: Tracker[] = [];
  afterAll(async () => {
    for (const t of trackers) {
      await t.close();
      await t.swarmStore?.close?.();
    }
  });

  it('a flood through three instances at once stops at maxPeers globally, exactly', async () => {
    for (let i = 0; i < 3; i++) {
      const { store } = await openStore(REDIS_URL, { namespace });
      trackers.push(new Tracker({ store, maxPeers: 40, maxSwarms: 0 }));
    }
    const hashes = Array.from({ length: 10 }, () => randomBytes(20));
    const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => trackers[i % 3].announce(q(hashes[i % 10]), '127.0.0.1')));
    const reasons = answers.map((a) => failureOf(a));
    expect(reasons.filter((r) => r === undefined)).toHaveLength(40);
    expect(reasons.filter((r) => r === 'tracker is full, try again later')).toHaveLength(260);
    for (const t of trackers) expect((await t.stats()).swarms).toMatchObject({ peers: 40 });
    const refused = (await Promise.all(trackers.map((t) => t.stats()))).reduce((n, s) => n + s.failures.byKind.full, 0);
    expect(refused).toBe(260);
  });
});
