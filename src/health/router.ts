/**
 * `trackerHealth()`: `GET /livez` and `GET /readyz` as an Express router, for load balancers and
 * orchestrators. No auth and nothing secret: the store is named without credentials.
 */
import { Router, type Request, type Response } from 'express';
import { Tracker } from '../tracker.js';

/** A tracker, or anything that carries one (the middleware's router, the standalone server). */
export type HealthTarget = Tracker | { tracker: Tracker };

/** The tracker behind `target`. */
export function trackerOf(target: HealthTarget): Tracker {
  const tracker = target instanceof Tracker ? target : (target as { tracker?: unknown } | undefined)?.tracker;
  if (!(tracker instanceof Tracker)) throw new TypeError('trackerHealth: pass a Tracker, a trackerMiddleware() router or a createTrackerServer() server');
  return tracker;
}

/** The answer of a health path: a status code and a JSON body. */
export interface HealthAnswer {
  status: number;
  body: unknown;
}

/** `/livez`: the process answers. */
export function liveness(): HealthAnswer {
  return { status: 200, body: { status: 'ok' } };
}

/** `/readyz`: 200 `{"status":"ok","checks":…}` when ready, else 503 with `failed` naming the failed checks. */
export async function readiness(tracker: Tracker): Promise<HealthAnswer> {
  const report = await tracker.health();
  const failed = Object.keys(report.checks).filter((name) => !report.checks[name].ok);
  return report.ready ? { status: 200, body: { status: 'ok', checks: report.checks } } : { status: 503, body: { status: 'fail', failed, checks: report.checks } };
}

/**
 * An Express router answering `GET /livez` (200 while the process answers) and `GET /readyz` (200
 * when {@link Tracker.health} says ready, else 503 with a JSON body naming the failed checks):
 * `app.use(trackerHealth(router))`.
 */
export function trackerHealth(target: HealthTarget): Router {
  const tracker = trackerOf(target);
  const router = Router();
  const send = (res: Response, answer: HealthAnswer) => res.status(answer.status).set('Cache-Control', 'no-store').json(answer.body);
  router.get('/livez', (_req: Request, res: Response) => {
    send(res, liveness());
  });
  router.get('/readyz', (_req: Request, res: Response) => {
    readiness(tracker).then(
      (answer) => send(res, answer),
      (error: unknown) => send(res, { status: 503, body: { status: 'fail', failed: ['health'], error: String((error as Error)?.message ?? error) } }),
    );
  });
  return router;
}
