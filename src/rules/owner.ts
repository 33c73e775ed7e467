/**
 * Peer ownership in private swarms: a peer belongs to the user whose passkey first announced it.
 * Another user can neither update, stop nor be credited for it (no peer hijacking). Pure; the
 * Redis store mirrors this rule in its Lua script.
 */
import type { PeerRefusal, PeerState } from '../types.js';

/** The failure reason for an ownership refusal (names nobody). */
export const OWNER_REASON = 'this peer_id is in use by another user of this torrent';

/** The refusal when `owner` announces a peer held by someone else, or undefined. */
export function ownerRefusal(previous: PeerState | undefined, owner: string): PeerRefusal | undefined {
  return previous && previous.owner !== owner ? { kind: 'owner' } : undefined;
}
