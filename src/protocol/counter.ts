/**
 * The one rule for the byte counters a client reports (`uploaded`, `downloaded`, `left`, `corrupt`)
 * on every door (HTTP, UDP, WebSocket): a whole number from 0 to 2^53−1 (the largest integer a
 * JavaScript number holds exactly, 8 PiB). Anything else is refused with the same wording, so a site's
 * accounting only ever sees safe integers. Pure.
 */

/** The largest counter accepted: 2^53−1. */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

/** The failure reason for a counter that breaks the rule (the same on every door). */
export function counterReason(field: string): string {
  return `${field} must be a whole number from 0 to ${MAX_COUNTER}`;
}

/** True when `value` is a counter the tracker accepts. */
export function isCounter(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
