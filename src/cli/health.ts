/**
 * `GET /livez` and `GET /readyz` of `express-torrent-tracker serve`, always answered at its root:
 * the same answers as the `trackerHealth()` router (src/health/router.ts), on plain node:http.
 */
import { liveness, readiness } from '../health/router.js';
import type { Tracker } from '../tracker.js';
import type { Route } from './serve-extras.js';

/** The `/livez` and `/readyz` routes. */
export function healthRoutes(tracker: Tracker): Record<string, Route> {
  return {
    '/livez': async () => liveness(),
    '/readyz': () => readiness(tracker),
  };
}
