/**
 * The one error type of the protocol layer: a client mistake (or a tracker-side refusal) whose
 * message is sent back verbatim as the bencoded `failure reason`.
 */

/**
 * What kind of failure an answer is (stats and metrics count them by kind):
 * - `request`: the client sent something malformed or over a limit;
 * - `denied`: a policy said no (passkey, registered torrents, client rules);
 * - `refused`: the store refused a change to a peer (someone else's peer, too soon);
 * - `full`: the tracker is at its `maxSwarms` / `maxPeers` cap and the announce would add to it.
 */
export type FailureKind = 'request' | 'denied' | 'refused' | 'full';

/** A failure answered to the client as `d14:failure reason…e` with HTTP 200. */
export class TrackerFailure extends Error {
  override readonly name = 'TrackerFailure';

  /**
   * @param reason Human-readable, ASCII, says exactly what was wrong.
   * @param kind What kind of failure it is (default `request`).
   */
  constructor(
    reason: string,
    readonly kind: FailureKind = 'request',
  ) {
    super(reason);
  }
}
