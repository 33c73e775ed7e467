// Ours: createTrackerServer(), plain node:http on the same core, memory store.
import { createTrackerServer } from '../../dist/index.js';
import { ready } from './common.js';

ready(createTrackerServer({ store: process.env.BENCH_STORE || undefined, interval: 1800 }), 'ours-standalone');
