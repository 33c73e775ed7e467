// Ours: trackerMiddleware() in an Express app, store from BENCH_STORE (unset = memory).
import express from 'express';
import http from 'node:http';
import { trackerMiddleware } from '../../dist/index.js';
import { ready } from './common.js';

const app = express();
app.use('/tracker', trackerMiddleware({ store: process.env.BENCH_STORE || undefined, interval: 1800 }));
ready(http.createServer(app), 'ours-middleware');
