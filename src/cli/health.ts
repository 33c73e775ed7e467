/**
 * Health endpoints of `express-torrent-tracker serve --health`, kept in this one file so that a
 * general health router can replace it:
 * - `GET /livez`: 200 `{"status":"ok"}` while the process answers at all;
 * - `GET /readyz`: 200 when the store answers one real call within `storeTimeout`, else 503 with a
 *   JSON body naming the failed check: `{"status":"fail","checks":{"store":{"status":"fail","error":"..."}}}`.
 */
import type { Tracker } from '../tracker.js';

/** One check's result. */
export interface CheckResult {
  status: 'ok' | 'fail';
  error?: string;
}

/** The answer of `/readyz`. */
export interface ReadinessReport {
  status: 'ok' | 'fail';
  checks: Record<string, CheckResult>;
}

/** Ask the store one real question (the counts of an all-zero info hash); bounded by `storeTimeout`. */
export async function storeCheck(tracker: Tracker): Promise<CheckResult> {
  try {
    await tracker.counts([Buffer.alloc(20)]);
    return { status: 'ok' };
  } catch (error) {
    return { status: 'fail', error: error instanceof Error ? error.message : String(error) };
  }
}

/** Run every readiness check. */
export async function readiness(tracker: Tracker): Promise<ReadinessReport> {
  const checks = { store: await storeCheck(tracker) };
  const ok = Object.values(checks).every((check) => check.status === 'ok');
  return { status: ok ? 'ok' : 'fail', checks };
}

/** The `/livez` and `/readyz` routes: path → handler answering with a status code and a JSON body. */
export function healthRoutes(tracker: Tracker): Record<string, () => Promise<{ status: number; body: unknown }>> {
  return {
    '/livez': async () => ({ status: 200, body: { status: 'ok' } }),
    '/readyz': async () => {
      const report = await readiness(tracker);
      return { status: report.status === 'ok' ? 200 : 503, body: report };
    },
  };
}
