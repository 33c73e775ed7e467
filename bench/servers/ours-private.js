// Ours: trackerMiddleware() in an Express app, public or private mode, for the `private` section.
//
//   BENCH_DIST        the library's dist/index.js to load (default ../../dist/index.js; the
//                     `--baseline REF` run points it at a build of an older commit)
//   BENCH_REDIS       Redis URI; with BENCH_NAMESPACE, the store is openRedisKeyv(uri, namespace)
//                     (the same client set-up as a redis:// store option). Unset = memory store.
//   BENCH_PASSKEYS    file of passkeys, one a line: makes the tracker private. Line i (0-based)
//                     belongs to user i + 1; the passkey function is async, like a database look-up.
//   BENCH_ENFORCE     '1' (default) or '0': enforceInterval in private mode.
//
// Private mode always has accounting: onTraffic sums the records into counters. GET /bench-stats
// (a route after the tracker, so announces never reach it) answers those counters and the failure
// answers seen, by reason.
import express from 'express';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { ready } from './common.js';

const lib = await import(process.env.BENCH_DIST || '../../dist/index.js');
const { trackerMiddleware, openRedisKeyv } = lib;

const store = process.env.BENCH_REDIS ? await openRedisKeyv(process.env.BENCH_REDIS, process.env.BENCH_NAMESPACE || 'tracker') : undefined;
const stats = { passkeyCalls: 0, trafficCalls: 0, trafficRecords: 0, uploaded: 0, downloaded: 0, seedSeconds: 0, failures: {} };
const options = { store, interval: 1800 };

if (process.env.BENCH_PASSKEYS) {
  const users = new Map(
    readFileSync(process.env.BENCH_PASSKEYS, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((passkey, i) => [passkey, i + 1]),
  );
  options.passkey = async (passkey) => {
    stats.passkeyCalls++;
    return users.get(passkey) ?? null;
  };
  options.onTraffic = (records) => {
    stats.trafficCalls++;
    stats.trafficRecords += records.length;
    for (const r of records) {
      stats.uploaded += r.uploaded;
      stats.downloaded += r.downloaded;
      stats.seedSeconds += r.seedSeconds;
    }
  };
  options.trafficInterval = 5;
  options.enforceInterval = process.env.BENCH_ENFORCE !== '0';
}

const tracker = trackerMiddleware(options);
tracker.tracker.on('failure', ({ reason }) => {
  stats.failures[reason] = (stats.failures[reason] ?? 0) + 1;
});
const app = express();
app.use('/tracker', tracker);
app.get('/bench-stats', async (req, res) => {
  // Hand over the pending traffic first, so the counters include everything announced so far.
  if (tracker.tracker.flushTraffic) await tracker.tracker.flushTraffic().catch(() => undefined);
  res.json(stats);
});
ready(http.createServer(app), 'ours-private');
