/**
 * Who makes room when the seeder's connection slots are full (for one torrent, or in total) and a
 * new peer arrives. A connection that only holds a slot must not keep newcomers out for ever:
 *
 * - only *evictable* connections are candidates: still handshaking, or connected for at least a
 *   grace period and either choked (never unchoked, or waiting for another turn) or unchoked but
 *   silent (no request) for the grace period. A peer downloading right now is never evicted;
 * - the victim comes from the host holding the most connections, and only from a host holding
 *   more than the newcomer's host already does (so hosts end up with equal shares, and a host can
 *   only displace its own connections once it has as many as anyone);
 * - among that host's candidates, the one idle longest goes.
 */

/** What eviction needs to know about a connection. */
export interface EvictionCandidate {
  /** The remote host (IPv4 address or IPv6 /64). */
  readonly host: string;
  /** Handshake done. */
  readonly ready: boolean;
  /** We are choking the peer. */
  readonly amChoking: boolean;
  /** When the connection was made (ms). */
  readonly connectedAt: number;
  /** Last request received or block sent (ms). */
  readonly lastActiveAt: number;
}

/** True when `peer` may be closed to make room for a newcomer. */
export function isEvictable(peer: EvictionCandidate, now: number, grace: number): boolean {
  if (!peer.ready) return true;
  if (now - peer.connectedAt < grace) return false;
  return peer.amChoking || now - peer.lastActiveAt >= grace;
}

/**
 * The connection to close so that a newcomer from `newcomerHost` can take its slot, or undefined
 * when none may go (the newcomer is then refused). O(connections).
 * @param peers the connections competing for the full slots
 * @param newcomerHost the newcomer's host
 * @param now current time (ms)
 * @param grace ms a connection keeps its slot at least, and may stay silent while unchoked
 */
export function pickVictim<P extends EvictionCandidate>(peers: Iterable<P>, newcomerHost: string, now: number, grace: number): P | undefined {
  const perHost = new Map<string, number>();
  for (const p of peers) perHost.set(p.host, (perHost.get(p.host) ?? 0) + 1);
  const newcomerHas = perHost.get(newcomerHost) ?? 0;
  let victim: P | undefined;
  let victimHostCount = 0;
  for (const p of peers) {
    const count = perHost.get(p.host)!;
    if (count <= newcomerHas || !isEvictable(p, now, grace)) continue;
    if (victim === undefined || count > victimHostCount || (count === victimHostCount && p.lastActiveAt < victim.lastActiveAt)) {
      victim = p;
      victimHostCount = count;
    }
  }
  return victim;
}
