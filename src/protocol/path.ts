/**
 * Which tracker endpoint a path (relative to the mount point) names: `/announce`, `/scrape`, or
 * `/<passkey>/announce`, `/<passkey>/scrape` on a private tracker. Like Express routing, the
 * endpoint name is case-insensitive and a trailing slash is tolerated; the passkey is kept exactly as
 * sent (its format is checked by the passkey policy, never decoded). Pure.
 */

/** An endpoint and the passkey segment in front of it, if any. */
export interface TrackerPath {
  endpoint: 'announce' | 'scrape';
  /** The raw segment before the endpoint (undefined for the bare paths). */
  passkey: string | undefined;
}

const BARE_ANNOUNCE: TrackerPath = { endpoint: 'announce', passkey: undefined };
const BARE_SCRAPE: TrackerPath = { endpoint: 'scrape', passkey: undefined };

function endpointOf(segment: string): TrackerPath['endpoint'] | undefined {
  if (segment.length !== 8 && segment.length !== 6) return undefined;
  const lower = segment.toLowerCase();
  return lower === 'announce' ? 'announce' : lower === 'scrape' ? 'scrape' : undefined;
}

/** Parse a path without its query string; undefined when it is not a tracker endpoint. */
export function parseTrackerPath(path: string): TrackerPath | undefined {
  if (path === '/announce') return BARE_ANNOUNCE;
  if (path === '/scrape') return BARE_SCRAPE;
  if (path.length < 2 || path.charCodeAt(0) !== 47 /* / */) return undefined;
  const end = path.endsWith('/') ? path.length - 1 : path.length;
  const last = path.lastIndexOf('/', end - 1);
  const endpoint = endpointOf(path.slice(last + 1, end));
  if (!endpoint) return undefined;
  if (last === 0) return endpoint === 'announce' ? BARE_ANNOUNCE : BARE_SCRAPE;
  const passkey = path.slice(1, last);
  if (passkey.includes('/')) return undefined;
  return { endpoint, passkey };
}
