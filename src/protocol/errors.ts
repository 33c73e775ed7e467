/**
 * The one error type of the protocol layer: a client mistake (or a tracker-side refusal) whose
 * message is sent back verbatim as the bencoded `failure reason`.
 */

/** A failure answered to the client as `d14:failure reason…e` with HTTP 200. */
export class TrackerFailure extends Error {
  override readonly name = 'TrackerFailure';

  /** @param reason Human-readable, ASCII, says exactly what was wrong. */
  constructor(reason: string) {
    super(reason);
  }
}
