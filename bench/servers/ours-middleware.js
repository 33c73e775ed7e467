// Ours: trackerMiddleware() in an Express app, store from BENCH_STORE (unset = memory).
// BENCH_METRICS=1 also registers trackerMetrics (prom-client) and serves GET /metrics, scraped every
// second during the run, as Prometheus would (more often than its usual 15 s).
import express from 'express';
import http from 'node:http';
import { trackerMiddleware, trackerMetrics } from '../../dist/index.js';
import { ready } from './common.js';

const app = express();
const router = trackerMiddleware({ store: process.env.BENCH_STORE || undefined, interval: 1800 });
app.use('/tracker', router);
const server = http.createServer(app);
if (process.env.BENCH_METRICS === '1') {
  const { Registry } = await import('prom-client');
  const register = new Registry();
  trackerMetrics(router, { register });
  app.get('/metrics', async (_req, res) => {
    res.type(register.contentType).send(await register.metrics());
  });
  server.once('listening', () => {
    const { port } = server.address();
    setInterval(() => http.get({ host: '127.0.0.1', port, path: '/metrics' }, (r) => r.resume()).on('error', () => undefined), 1000).unref();
  });
}
ready(server, 'ours-middleware');
