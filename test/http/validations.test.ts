/**
 * Misconfiguration warnings: each appears once for its misconfiguration (real proxy headers, a real
 * node:cluster worker, a tracker made inside a request handler) and never for a correct set-up.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { trackerMiddleware } from '../../src/middleware.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet, startApp } from '../helpers/http.js';
import { ensureBuilt, root } from '../helpers/instances.js';

const announce = () => `/tracker/announce?info_hash=${escapeAll(randomBytes(20))}&peer_id=${escapeAll(randomBytes(20))}&port=6881&left=0`;
const XFF = { 'X-Forwarded-For': '203.0.113.7' };

describe('misconfiguration warnings', () => {
  let warnings: string[];
  beforeEach(() => {
    warnings = [];
    vi.spyOn(console, 'warn').mockImplementation((m: unknown) => void warnings.push(String(m)));
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
  const codes = () => warnings.map((w) => /ERR_TRACKER_[A-Z_]+/.exec(w)?.[0]);

  it('X-Forwarded-For while trust proxy is off: once, with a code, a sentence and a link', async () => {
    const app = await startApp();
    try {
      for (let i = 0; i < 3; i++) await rawGet(app.port, announce(), { headers: XFF });
      expect(codes()).toEqual(['ERR_TRACKER_XFF_WITHOUT_TRUST_PROXY']);
      expect(warnings[0]).toMatch(/trust proxy.*#misconfiguration-warnings$/s);
    } finally {
      await app.close();
    }
  });

  it('trust proxy set to true: once; a number of proxies: nothing, even with X-Forwarded-For', async () => {
    const permissive = await startApp({}, (a) => a.set('trust proxy', true));
    try {
      for (let i = 0; i < 3; i++) await rawGet(permissive.port, announce(), { headers: XFF });
      expect(codes()).toEqual(['ERR_TRACKER_PERMISSIVE_TRUST_PROXY']);
    } finally {
      await permissive.close();
    }
    warnings.length = 0;
    const correct = await startApp({}, (a) => a.set('trust proxy', 1));
    try {
      for (let i = 0; i < 3; i++) await rawGet(correct.port, announce(), { headers: XFF });
      await rawGet(correct.port, announce());
      expect(warnings).toEqual([]);
    } finally {
      await correct.close();
    }
  });

  it('a tracker created inside a request handler: once; created at start-up: nothing', async () => {
    const made: Array<{ close(): Promise<void> }> = [];
    const app = await startApp({}, (a) =>
      a.get('/bad', (_req, res) => {
        made.push(trackerMiddleware());
        res.end('made');
      }),
    );
    try {
      expect(warnings).toEqual([]); // the app's own tracker, made at start-up
      await rawGet(app.port, '/bad');
      expect(codes()).toEqual(['ERR_TRACKER_CREATED_IN_REQUEST']);
    } finally {
      for (const t of made) await t.close();
      await app.close();
    }
  });

  it('validate: false (or per check) turns them off', async () => {
    const app = await startApp({ validate: { xForwardedFor: false } }, (a) => a.set('trust proxy', true));
    const quiet = await startApp({ validate: false });
    try {
      await rawGet(app.port, announce(), { headers: XFF });
      expect(codes()).toEqual(['ERR_TRACKER_PERMISSIVE_TRUST_PROXY']);
      warnings.length = 0;
      await rawGet(quiet.port, announce(), { headers: XFF });
      expect(warnings).toEqual([]);
    } finally {
      await app.close();
      await quiet.close();
    }
  });

  it('the memory store in a real node:cluster worker: once; a shared store there: nothing', async () => {
    ensureBuilt();
    const { stdout } = await promisify(execFile)(process.execPath, [join(root, 'test', 'http', 'fixtures', 'cluster-worker.mjs')], { cwd: root, timeout: 20_000 });
    const report = JSON.parse(stdout.trim().split('\n').pop()!) as { memory: string[]; shared: string[] };
    expect(report.memory.map((w) => /ERR_TRACKER_[A-Z_]+/.exec(w)?.[0])).toEqual(['ERR_TRACKER_MEMORY_STORE_IN_CLUSTER']);
    expect(report.shared).toEqual([]);
  });
});
