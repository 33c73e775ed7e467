/**
 * Announce request validation: raw query → {@link AnnounceRequest}, or a {@link TrackerFailure}
 * naming exactly what is wrong. Pure: no I/O, no clock.
 */
import { parseAddress } from './address.js';
import { counterReason, isCounter } from './counter.js';
import { TrackerFailure } from './errors.js';
import { decodeBytes, decodeFixed, decodeText, splitQuery, type QueryLimits } from './query.js';
import type { AnnounceEvent } from '../types.js';

/** A validated announce. */
export interface AnnounceRequest {
  /** 20 bytes. */
  infoHash: Buffer;
  /** 20 bytes. */
  peerId: Buffer;
  /** 1..65535. */
  port: number;
  uploaded: number;
  downloaded: number;
  /** Bytes the client still needs; `undefined` when the client did not say (counted as a leecher). */
  left: number | undefined;
  /** `update` when the client sent no event (or an empty one). BEP 21 `paused` is an update too (see {@link paused}). */
  event: AnnounceEvent;
  /**
   * BEP 21: the client sent `event=paused` (UDP: event 4), saying it is a partial seed (it wants
   * nothing more of the torrent though `left` is not 0). Such a peer counts among the leechers but
   * not among a scrape's `downloaders`.
   */
  paused?: boolean;
  /** The client's `numwant`, if it sent one. */
  numwant: number | undefined;
  /** False only for `compact=0`. */
  compact: boolean;
  /** `no_peer_id=1`. */
  noPeerId: boolean;
  /** Address bytes from the `ip` parameter, when present and a valid IP literal. */
  ipParameter: Buffer | undefined;
  /** The `key` parameter reduced to 32 bits (FNV-1a of its bytes), when sent. */
  key?: number;
  /**
   * The requester's own address, when the peer is listed under something else (WebSocket peers are
   * listed under their connection's route): reported in events instead.
   */
  remote?: Buffer;
  /** The door the announce came through (stats); default `http`. */
  transport?: 'http' | 'udp' | 'websocket';
}

/** FNV-1a over the bytes of a `key` value: any length in, 32 bits out. */
export function keyHash(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

/** Digits only: a sign, a fraction or an exponent is refused before the number is read. */
const COUNTER = /^\d{1,16}$/;

/** A byte counter (see counter.ts: 0 to 2^53−1, the same rule on every door). */
function counter(raw: string, field: string): number {
  const text = decodeText(raw, field);
  const n = COUNTER.test(text) ? Number(text) : NaN;
  if (!isCounter(n)) throw new TrackerFailure(counterReason(field));
  return n;
}

/** Parameters that may appear only once, each with its bit. */
const SINGLE = new Map(
  ['info_hash', 'peer_id', 'port', 'uploaded', 'downloaded', 'left', 'event', 'numwant', 'key'].map((name, i) => [name, 1 << i]),
);

const EVENTS: Record<string, AnnounceEvent> = {
  '': 'update',
  started: 'started',
  completed: 'completed',
  stopped: 'stopped',
  paused: 'update',
};

/** Validate the raw query string of an announce (the part after `?`). */
export function parseAnnounce(rawQuery: string, limits: QueryLimits): AnnounceRequest {
  const { names, values } = splitQuery(rawQuery, limits);
  let infoHash: Buffer | undefined;
  let peerId: Buffer | undefined;
  let port: number | undefined;
  let uploaded = 0;
  let downloaded = 0;
  let left: number | undefined;
  let event: AnnounceEvent = 'update';
  let numwant: number | undefined;
  let compact = true;
  let noPeerId = false;
  let ipParameter: Buffer | undefined;
  let key: number | undefined;
  let paused = false;
  let seen = 0;
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    const raw = values[i];
    const bit = SINGLE.get(name);
    if (bit !== undefined) {
      if (seen & bit) throw new TrackerFailure(`${name} is given more than once`);
      seen |= bit;
    }
    switch (name) {
      case 'info_hash':
        infoHash = decodeFixed(raw, 'info_hash', 20);
        break;
      case 'peer_id':
        peerId = decodeFixed(raw, 'peer_id', 20);
        break;
      case 'port': {
        const text = decodeText(raw, 'port');
        const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
        if (!(n >= 1 && n <= 65535)) throw new TrackerFailure('port must be an integer from 1 to 65535');
        port = n;
        break;
      }
      case 'uploaded':
        uploaded = counter(raw, 'uploaded');
        break;
      case 'downloaded':
        downloaded = counter(raw, 'downloaded');
        break;
      case 'left':
        left = counter(raw, 'left');
        break;
      case 'numwant': {
        const text = decodeText(raw, 'numwant');
        // Only a request size: any whole number is taken (the core caps it at maxNumwant).
        if (!/^\d{1,20}$/.test(text)) throw new TrackerFailure('numwant must be a non-negative integer');
        numwant = Math.min(Number(text), 0x7fffffff);
        break;
      }
      case 'corrupt':
        // Not used, but held to the same rule as the other counters.
        counter(raw, 'corrupt');
        break;
      case 'event': {
        const text = decodeText(raw, 'event');
        const e = Object.prototype.hasOwnProperty.call(EVENTS, text) ? EVENTS[text] : undefined;
        if (!e) throw new TrackerFailure('event must be started, completed, stopped, paused or empty');
        event = e;
        paused = text === 'paused';
        break;
      }
      case 'compact':
        compact = raw !== '0';
        break;
      case 'no_peer_id':
        noPeerId = raw === '1';
        break;
      case 'ip':
        ipParameter = parseAddress(decodeText(raw, 'ip'));
        break;
      case 'key':
        if (raw.length > 256) throw new TrackerFailure('key is too long (limit 256 characters)');
        key = keyHash(decodeBytes(raw, 'key'));
        break;
      default:
      // Unknown parameters (trackerid, supportcrypto, redundant, passkeys…) are ignored.
    }
  }
  if (!infoHash) throw new TrackerFailure('info_hash is missing');
  if (!peerId) throw new TrackerFailure('peer_id is missing');
  if (port === undefined) throw new TrackerFailure('port is missing');
  const request: AnnounceRequest = { infoHash, peerId, port, uploaded, downloaded, left, event, numwant, compact, noPeerId, ipParameter, key };
  if (paused) request.paused = true;
  return request;
}
