/**
 * The `interval` told to clients, spread by `intervalJitter` (±10 % by default) so that clients
 * that started together (after a restart, a deploy) do not keep coming back in the same second.
 * Never below `minInterval`, never below 1 s.
 */
import type { ResolvedTrackerOptions } from '../options.js';

/** The interval to tell one client, in whole seconds. */
export function toldInterval(options: Pick<ResolvedTrackerOptions, 'interval' | 'minInterval' | 'intervalJitter'>): number {
  const { interval, minInterval, intervalJitter } = options;
  if (intervalJitter <= 0) return interval;
  const spread = interval * intervalJitter;
  const told = Math.round(interval - spread + Math.random() * 2 * spread);
  return Math.max(told, minInterval, 1);
}
