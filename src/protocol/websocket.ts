/**
 * The WebTorrent tracker protocol (JSON text frames over a WebSocket), as browsers and
 * `bittorrent-tracker` clients speak it: frame text → a validated message, and the tracker's answers
 * → frame text. Pure: no I/O, no clock.
 *
 * Ids (`info_hash`, `peer_id`, `to_peer_id`, `offer_id`) are 20-character strings, one character per
 * byte (latin1); they become 20-byte Buffers here and go back to latin1 strings only in answers.
 */
import { counterReason, isCounter } from './counter.js';
import { TrackerFailure } from './errors.js';
import type { AnnounceEvent, SwarmCounts } from '../types.js';

/** An offer a peer hands the tracker for one other peer: an id and the WebRTC offer. */
export interface WsOffer {
  /** 20 bytes. */
  offerId: Buffer;
  /**
   * The offer (`{ type: 'offer', sdp }`) as JSON text, checked and serialised once when the frame
   * was parsed (see {@link parseSignal}): relaying it only splices strings.
   */
  json: string;
}

/** A validated `announce` frame. */
export interface WsAnnounce {
  action: 'announce';
  /** 20 bytes. */
  infoHash: Buffer;
  /** 20 bytes. */
  peerId: Buffer;
  event: AnnounceEvent;
  /** BEP 21: `event: 'paused'` (a partial seed's update). */
  paused?: boolean;
  uploaded: number;
  downloaded: number;
  /** Bytes still needed; undefined when not sent (counted as a leecher). */
  left: number | undefined;
  /** Peers wanted: the number of offers (at most `maxOffers`); 0 without offers. */
  numwant: number;
  /** Offers to relay, at most `maxOffers`. */
  offers: WsOffer[];
  /** Present when the frame answers an offer: the answer and whom it goes to. */
  answer?: WsAnswer;
}

/** The answer part of an announce frame. */
export interface WsAnswer {
  /** The offering peer, 20 bytes. */
  toPeerId: Buffer;
  /** The offer answered, 20 bytes. */
  offerId: Buffer;
  /** The WebRTC answer (`{ type: 'answer', sdp }`) as JSON text, checked like an offer's. */
  json: string;
}

/** A validated `scrape` frame: up to `maxScrapeHashes` hashes, none = a full scrape. */
export interface WsScrape {
  action: 'scrape';
  infoHashes: Buffer[];
}

/** A frame that could not be accepted. `infoHash` (latin1) lets the answer reach the right torrent of a shared socket. */
export class WsProtocolError extends TrackerFailure {
  constructor(
    reason: string,
    /** The action the frame named, when it named a known one. */
    readonly action: 'announce' | 'scrape' | undefined,
    /** The frame's `info_hash` when it was a usable string. */
    readonly infoHash: string | undefined,
  ) {
    super(reason);
  }
}

/** Limits the parser applies. */
export interface WsLimits {
  /** Most offers taken from one announce (the rest are ignored). */
  maxOffers: number;
  /** Most hashes in one scrape. */
  maxScrapeHashes: number;
}

/** The failure reason for an offer or answer that breaks {@link parseSignal}'s rule. */
export const SIGNAL_REASON = (what: 'offer' | 'answer'): string =>
  `${what} must be an object of strings, numbers, booleans or null (one level of nesting, at most ${MAX_SIGNAL_FIELDS} fields, ${MAX_SIGNAL_BYTES / 1024} KiB)`;

const EVENTS: Record<string, AnnounceEvent> = {
  started: 'started',
  completed: 'completed',
  stopped: 'stopped',
  update: 'update',
  paused: 'update',
};

/** A 20-character latin1 id as 20 bytes, or undefined when it is anything else. */
export function idBytes(value: unknown): Buffer | undefined {
  if (typeof value !== 'string' || value.length !== 20) return undefined;
  for (let i = 0; i < 20; i++) if (value.charCodeAt(i) > 0xff) return undefined;
  return Buffer.from(value, 'latin1');
}

/** 20 bytes as the protocol's 20-character string. */
export function idString(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/**
 * A byte counter (`uploaded`, `downloaded`, `left`, `corrupt`): the rule of every door
 * (protocol/counter.ts), a number or a string of up to 16 digits. Absent (or null) is 0.
 */
function counter(value: unknown, field: string, fail: (reason: string) => never): number {
  if (value === undefined || value === null) return 0;
  const n = typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : value;
  if (!isCounter(n)) fail(counterReason(field));
  return n as number;
}

/** Largest JSON text of one offer or answer (WebRTC SDP is a few KiB; frames are bounded by `maxPayload` too). */
export const MAX_SIGNAL_BYTES = 32 * 1024;
/** Most fields of one offer or answer object (and of a nested object or array in it). */
export const MAX_SIGNAL_FIELDS = 32;

/**
 * An offer or answer: a JSON object whose fields are strings, finite numbers, booleans or null, or
 * one level of nesting (an object or array of such values), at most {@link MAX_SIGNAL_FIELDS} fields
 * each and {@link MAX_SIGNAL_BYTES} of JSON text. WebTorrent sends `{ type, sdp }`. Returns the JSON
 * text (serialised here, once, from a value known to be shallow), or undefined when it breaks the rule.
 */
export function parseSignal(value: unknown): string | undefined {
  if (!isShallow(value, 1)) return undefined;
  const json = JSON.stringify(value);
  // Lone surrogates come out as \udXXX escapes (well-formed JSON). A UTF-16 unit is at most 3 UTF-8 bytes.
  return json.length * 3 <= MAX_SIGNAL_BYTES || Buffer.byteLength(json) <= MAX_SIGNAL_BYTES ? json : undefined;
}

function isShallow(value: unknown, depth: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) {
    if (depth === 1 || value.length > MAX_SIGNAL_FIELDS) return false;
    for (const v of value) if (!isScalar(v)) return false;
    return true;
  }
  let n = 0;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (++n > MAX_SIGNAL_FIELDS) return false;
    const v = (value as Record<string, unknown>)[key];
    if (isScalar(v)) continue;
    if (depth === 0 || !isShallow(v, 0)) return false;
  }
  return true;
}

function isScalar(v: unknown): boolean {
  return typeof v === 'string' || typeof v === 'boolean' || v === null || (typeof v === 'number' && Number.isFinite(v));
}

/**
 * Parse one frame. `data` is the frame's text (text frames only: the caller refuses binary ones).
 * Throws {@link WsProtocolError} naming what is wrong.
 */
export function parseWsFrame(data: string, limits: WsLimits): WsAnnounce | WsScrape {
  let message: unknown;
  try {
    message = JSON.parse(data);
  } catch {
    throw new WsProtocolError('frame is not JSON', undefined, undefined);
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    throw new WsProtocolError('frame must be a JSON object', undefined, undefined);
  }
  const m = message as Record<string, unknown>;
  const action = m.action === 'announce' || m.action === 'scrape' ? m.action : undefined;
  const hashText = typeof m.info_hash === 'string' && m.info_hash.length === 20 ? m.info_hash : undefined;
  const fail = (reason: string): never => {
    throw new WsProtocolError(reason, action, hashText !== undefined && idBytes(hashText) ? hashText : undefined);
  };
  if (action === 'scrape') return parseScrapeFrame(m, limits, fail);
  if (action !== 'announce') fail(m.action === undefined ? 'action is missing' : 'unknown action');

  const infoHash = idBytes(m.info_hash) ?? fail('info_hash must be 20 characters, each below U+0100');
  const peerId = idBytes(m.peer_id) ?? fail('peer_id must be 20 characters, each below U+0100');
  let event: AnnounceEvent = 'update';
  if (m.event !== undefined && m.event !== null && m.event !== '') {
    event = (typeof m.event === 'string' && Object.hasOwn(EVENTS, m.event) ? EVENTS[m.event] : undefined) ?? fail('event is not one of started, completed, stopped');
  }
  const uploaded = counter(m.uploaded, 'uploaded', fail);
  const downloaded = counter(m.downloaded, 'downloaded', fail);
  const left = m.left === undefined || m.left === null ? undefined : counter(m.left, 'left', fail);
  if (m.corrupt !== undefined) counter(m.corrupt, 'corrupt', fail); // not used, held to the same rule

  const request: WsAnnounce = { action: 'announce', infoHash, peerId, event, uploaded, downloaded, left, numwant: 0, offers: [] };
  if (m.event === 'paused') request.paused = true;
  if (m.answer !== undefined) {
    const json = parseSignal(m.answer) ?? fail(SIGNAL_REASON('answer'));
    const toPeerId = idBytes(m.to_peer_id) ?? fail('to_peer_id must be 20 characters, each below U+0100');
    const offerId = idBytes(m.offer_id) ?? fail('offer_id must be 20 characters, each below U+0100');
    request.answer = { toPeerId, offerId, json };
    return request;
  }
  if (m.offers !== undefined && event !== 'stopped') {
    if (!Array.isArray(m.offers)) fail('offers must be an array');
    const offers = m.offers as unknown[];
    for (let i = 0; i < offers.length && request.offers.length < limits.maxOffers; i++) {
      const o = offers[i] as Record<string, unknown> | null;
      if (typeof o !== 'object' || o === null) fail('each offer must be an object');
      const offerId = idBytes(o!.offer_id) ?? fail('offer_id must be 20 characters, each below U+0100');
      const json = parseSignal(o!.offer) ?? fail(SIGNAL_REASON('offer'));
      request.offers.push({ offerId, json });
    }
    // numwant may ask for fewer peers than there are offers, never for more.
    const wanted = typeof m.numwant === 'number' && Number.isFinite(m.numwant) && m.numwant >= 0 ? Math.floor(m.numwant) : request.offers.length;
    request.numwant = Math.min(wanted, request.offers.length);
    request.offers.length = request.numwant;
  }
  return request;
}

function parseScrapeFrame(m: Record<string, unknown>, limits: WsLimits, fail: (reason: string) => never): WsScrape {
  const raw = m.info_hash;
  if (raw === undefined || raw === null) return { action: 'scrape', infoHashes: [] };
  const list = Array.isArray(raw) ? (raw as unknown[]) : [raw];
  if (list.length > limits.maxScrapeHashes) fail(`too many info hashes (limit ${limits.maxScrapeHashes})`);
  const infoHashes = list.map((h) => idBytes(h) ?? fail('info_hash must be 20 characters, each below U+0100'));
  return { action: 'scrape', infoHashes };
}

// ---- answers -----------------------------------------------------------------------------------

/** The answer to an announce: counters and the interval. */
export function encodeWsAnnounce(infoHash: Uint8Array, counts: { complete: number; incomplete: number }, interval: number): string {
  return JSON.stringify({
    action: 'announce',
    interval,
    info_hash: idString(infoHash),
    complete: counts.complete,
    incomplete: counts.incomplete,
  });
}

/**
 * An offer relayed to one peer of the swarm (ids as bytes or as the protocol's latin1 strings). The
 * offer is the JSON text the parser kept: only strings are spliced here.
 */
export function encodeWsOffer(infoHash: Uint8Array | string, fromPeerId: Uint8Array | string, offer: WsOffer): string {
  return encodeWsOfferAfter(
    wsOfferPrefix(typeof infoHash === 'string' ? infoHash : idString(infoHash), typeof fromPeerId === 'string' ? fromPeerId : idString(fromPeerId)),
    idString(offer.offerId),
    offer,
  );
}

/** What every offer of one announce starts with (the swarm and the offering peer), built once per announce. */
export function wsOfferPrefix(infoHash: string, fromPeerId: string): string {
  return '{"action":"announce","info_hash":' + JSON.stringify(infoHash) + ',"peer_id":' + JSON.stringify(fromPeerId) + ',"offer_id":';
}

/** One offer after its {@link wsOfferPrefix}; `offerId` is the offer's latin1 id. */
export function encodeWsOfferAfter(prefix: string, offerId: string, offer: WsOffer): string {
  return prefix + JSON.stringify(offerId) + ',"offer":' + offer.json + '}';
}

/** An answer relayed to the peer that made the offer (the answer's JSON text spliced in as kept). */
export function encodeWsAnswer(infoHash: Uint8Array, fromPeerId: Uint8Array, answer: WsAnswer): string {
  return (
    '{"action":"announce","info_hash":' +
    JSON.stringify(idString(infoHash)) +
    ',"peer_id":' +
    JSON.stringify(idString(fromPeerId)) +
    ',"offer_id":' +
    JSON.stringify(idString(answer.offerId)) +
    ',"answer":' +
    answer.json +
    '}'
  );
}

/** The answer to a scrape: counters keyed by the latin1 info hash. */
export function encodeWsScrape(files: Array<{ infoHash: Uint8Array } & SwarmCounts>): string {
  const out: Record<string, SwarmCounts> = {};
  for (const f of files) {
    const counts: SwarmCounts = { complete: f.complete, incomplete: f.incomplete, downloaded: f.downloaded };
    if (f.downloaders !== undefined) counts.downloaders = f.downloaders;
    out[idString(f.infoHash)] = counts;
  }
  return JSON.stringify({ action: 'scrape', files: out });
}

/** A failure; `infoHash` (latin1, as the client sent it) routes it to the right torrent of a shared socket. */
export function encodeWsFailure(reason: string, action: 'announce' | 'scrape' | undefined, infoHash: string | undefined): string {
  // Clients drop frames without a known action: a failure is an announce answer unless it answers a scrape.
  const out: Record<string, string> = { action: action ?? 'announce', 'failure reason': reason };
  if (infoHash !== undefined) out.info_hash = infoHash;
  return JSON.stringify(out);
}
