/**
 * How a transport turns the core's result into its own answer (bencoded bytes, a UDP datagram, a
 * JSON frame), and the HTTP transports' writer.
 */
import type { AnnounceRequest } from '../protocol/announce.js';
import { encodeAnnounce, encodeCompactAnnounce, encodeFailure, type AnnounceAnswerOptions } from '../protocol/response.js';
import type { Peer, SwarmCounts } from '../types.js';
import type { ResolvedTrackerOptions } from '../options.js';
import { toldInterval } from '../policy/interval.js';

/** The core calls exactly one method per announce. */
export interface AnswerWriter<T> {
  /**
   * A success with peers in compact form: whole 6-byte IPv4 and 18-byte IPv6 entries (views into
   * scratch memory: copy them before returning). Optional: without it, {@link peers} is used.
   */
  compact?(counts: SwarmCounts, peers4: Buffer, peers6: Buffer, request: AnnounceRequest): T;
  /** Use {@link compact} even when the request did not ask for compact answers (UDP). */
  alwaysCompact?: boolean;
  /** A success with peers as objects. */
  peers(counts: SwarmCounts, peers: Peer[], request: AnnounceRequest): T;
  /** A failure, with the reason to tell the client. */
  failure(reason: string): T;
}

/** The HTTP (bencoded) writer for a tracker's answer settings. */
export function httpWriter(settings: Pick<ResolvedTrackerOptions, 'interval' | 'minInterval' | 'intervalJitter' | 'warning'>): AnswerWriter<Buffer> {
  const { interval, minInterval, warning } = settings;
  // One answer shape per (compact, no_peer_id), built once; with jitter, a copy per answer.
  const shapes: AnnounceAnswerOptions[] = [false, true].flatMap((compact) => [false, true].map((noPeerId) => ({ interval, minInterval, compact, noPeerId, warning })));
  const jitter = settings.intervalJitter > 0;
  const shape = (request: AnnounceRequest) => {
    const fixed = shapes[(request.compact ? 2 : 0) + (request.noPeerId ? 1 : 0)];
    return jitter ? { ...fixed, interval: toldInterval(settings) } : fixed;
  };
  return {
    compact: (counts, peers4, peers6, request) => encodeCompactAnnounce(counts, peers4, peers6, shape(request)),
    peers: (counts, peers, request) => encodeAnnounce(counts, peers, shape(request)),
    failure: (reason) => encodeFailure(reason),
  };
}
