/**
 * Interval enforcement: a regular announce (no event) sooner than `min interval` after the peer's
 * previous accepted announce is refused and changes nothing. `started`, `stopped` and a `completed`
 * that counts always pass; a `completed` that does not count (the peer has completed already, see
 * `SwarmAnnounceResult.counted`) is a regular announce: the stores pass it here as `update`. Pure;
 * the stores apply it where the peer's last announce time lives (the Redis store mirrors this rule in
 * its Lua script).
 */
import type { AnnounceEvent, PeerRefusal, PeerState } from '../types.js';

/**
 * The refusal for an announce of `event` at `now` (ms) by a peer whose previous accepted announce is
 * `previous`, or undefined when it may pass. `minInterval` is in milliseconds (0 = off).
 */
export function intervalRefusal(
  previous: PeerState | undefined,
  event: AnnounceEvent,
  minInterval: number,
  now: number,
): PeerRefusal | undefined {
  if (!previous || event !== 'update' || minInterval <= 0) return undefined;
  const retryIn = previous.at + minInterval - now;
  return retryIn > 0 ? { kind: 'interval', retryIn } : undefined;
}

/** The failure reason for an interval refusal: how long to wait, in whole seconds (at least 1). */
export function intervalReason(retryIn: number, minInterval: number): string {
  const wait = Math.max(1, Math.ceil(retryIn / 1000));
  return `announced too soon: wait ${wait} more second${wait === 1 ? '' : 's'} (min interval ${Math.ceil(minInterval / 1000)} s)`;
}
