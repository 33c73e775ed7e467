/**
 * BEP 15 (UDP tracker protocol) and BEP 41 (URL data) packets: datagram bytes → typed requests, and
 * answers → datagram bytes. Pure: no sockets, no clock, no keys (connection ids are checked by the
 * UDP transport). Every length is checked before it is read; a malformed datagram gives a
 * {@link UdpPacketError} saying what is wrong, never an exception of another kind.
 */
import type { AnnounceEvent, SwarmCounts } from '../types.js';
import type { AnnounceRequest } from './announce.js';
import { counterReason } from './counter.js';

/** The magic `protocol_id` of a connect request. */
export const UDP_PROTOCOL_ID = 0x41727101980n;

/** Actions of BEP 15. */
export const ACTION_CONNECT = 0;
export const ACTION_ANNOUNCE = 1;
export const ACTION_SCRAPE = 2;
export const ACTION_ERROR = 3;

/** Size of an announce request without BEP 41 options. */
export const ANNOUNCE_SIZE = 98;
/**
 * Most info hashes in one scrape: 74 fit a 1500-byte datagram (16 + 74 × 20 = 1496 bytes); the
 * answer is then 8 + 74 × 12 = 896 bytes.
 */
export const MAX_UDP_SCRAPE_HASHES = 74;

/** A datagram that is not a valid request. `answerable`: its header is intact (an error may be sent). */
export class UdpPacketError extends Error {
  override name = 'UdpPacketError';
  constructor(
    message: string,
    readonly answerable: boolean,
  ) {
    super(message);
  }
}

/** The common header: connection id (8 bytes), action, transaction id. */
export interface UdpHeader {
  /** The 8 connection id bytes as sent (a view into the datagram). */
  connectionId: Buffer;
  action: number;
  transactionId: number;
}

/** A validated announce (BEP 15 fields, BEP 41 URL data). */
export interface UdpAnnounce extends UdpHeader {
  infoHash: Buffer;
  peerId: Buffer;
  downloaded: number;
  left: number;
  uploaded: number;
  event: AnnounceEvent;
  /** BEP 21: event 4 (`paused`), a partial seed's update. */
  paused: boolean;
  /** The IP field (4 bytes) when non-zero, else undefined. */
  ip: Buffer | undefined;
  key: number;
  /** `num_want`; undefined for -1 (the tracker's default) and for any negative value. */
  numwant: number | undefined;
  port: number;
  /** BEP 41 URL data (path and query), concatenated; '' when none. latin1. */
  urlData: string;
}

/** A validated scrape: 1 to {@link MAX_UDP_SCRAPE_HASHES} info hashes. */
export interface UdpScrape extends UdpHeader {
  infoHashes: Buffer[];
}

/** BEP 15 events by number; 4 is `paused` (BEP 21, as libtorrent sends it): an update from a partial seed. */
const EVENTS: Array<AnnounceEvent | undefined> = ['update', 'completed', 'started', 'stopped', 'update'];
/** The event number of BEP 21 `paused`. */
const PAUSED = 4;

/** The header of any datagram of at least 16 bytes; undefined for shorter ones (drop them). */
export function readHeader(datagram: Buffer): UdpHeader | undefined {
  if (datagram.length < 16) return undefined;
  return {
    connectionId: datagram.subarray(0, 8),
    action: datagram.readUInt32BE(8),
    transactionId: datagram.readUInt32BE(12),
  };
}

/** True when the datagram is a connect request (exactly the magic protocol id and action 0). */
export function isConnect(datagram: Buffer): boolean {
  return datagram.length >= 16 && datagram.readBigUInt64BE(0) === UDP_PROTOCOL_ID && datagram.readUInt32BE(8) === ACTION_CONNECT;
}

/**
 * A u64 counter as a JS number: 0 to 2^53−1 (counter.ts, the rule of every door). Anything above
 * (2^53, or u64 −1 = 0xFFFFFFFFFFFFFFFF that some clients send for "unknown") is refused with
 * {@link counterReason}, never capped or wrapped.
 */
function counter(datagram: Buffer, at: number, field: 'uploaded' | 'downloaded' | 'left'): number {
  const high = datagram.readUInt32BE(at);
  if (high >= 0x200000) throw new UdpPacketError(counterReason(field), true);
  return high * 0x100000000 + datagram.readUInt32BE(at + 4);
}

/** BEP 41 options after the 98 announce bytes: URLData (2) is collected, NOP (1) skipped, End (0) stops. */
function readUrlData(datagram: Buffer, at: number): string {
  let url = '';
  while (at < datagram.length) {
    const type = datagram[at];
    if (type === 0x0) break;
    if (type === 0x1) {
      at++;
      continue;
    }
    if (type !== 0x2) throw new UdpPacketError(`unknown BEP 41 option ${type}`, true);
    if (at + 1 >= datagram.length) throw new UdpPacketError('truncated BEP 41 URL data', true);
    const length = datagram[at + 1];
    if (at + 2 + length > datagram.length) throw new UdpPacketError('truncated BEP 41 URL data', true);
    url += datagram.toString('latin1', at + 2, at + 2 + length);
    at += 2 + length;
  }
  return url;
}

/** The checks of an announce datagram's fixed part; its event. */
function announceEvent(datagram: Buffer): AnnounceEvent {
  if (datagram.length < ANNOUNCE_SIZE) throw new UdpPacketError(`announce too short (${datagram.length} of ${ANNOUNCE_SIZE} bytes)`, true);
  const event = EVENTS[datagram.readUInt32BE(80)];
  if (!event) throw new UdpPacketError('event must be 0 (none), 1 (completed), 2 (started), 3 (stopped) or 4 (paused)', true);
  if (datagram.readUInt16BE(96) === 0) throw new UdpPacketError('port must be an integer from 1 to 65535', true);
  return event;
}

/** Parse an announce datagram (action 1). */
export function parseUdpAnnounce(datagram: Buffer, header: UdpHeader): UdpAnnounce {
  const event = announceEvent(datagram);
  const ipField = datagram.readUInt32BE(84);
  const numwant = datagram.readInt32BE(92);
  return {
    connectionId: header.connectionId,
    action: header.action,
    transactionId: header.transactionId,
    infoHash: datagram.subarray(16, 36),
    peerId: datagram.subarray(36, 56),
    downloaded: counter(datagram, 56, 'downloaded'),
    left: counter(datagram, 64, 'left'),
    uploaded: counter(datagram, 72, 'uploaded'),
    event,
    paused: datagram.readUInt32BE(80) === PAUSED,
    ip: ipField === 0 ? undefined : datagram.subarray(84, 88),
    key: datagram.readUInt32BE(88),
    numwant: numwant < 0 ? undefined : numwant,
    port: datagram.readUInt16BE(96),
    urlData: readUrlData(datagram, ANNOUNCE_SIZE),
  };
}

/** An announce datagram as the tracker core takes it, with its BEP 41 URL data. */
export interface UdpAnnounceRequest extends AnnounceRequest {
  /** BEP 41 URL data (path and query), concatenated; '' when none. latin1. */
  urlData: string;
}

/**
 * Parse an announce datagram (action 1) straight into the tracker core's request (compact, no peer
 * ids, as UDP answers are): the same checks as {@link parseUdpAnnounce}, one object. `infoHash` and
 * `peerId` are views into the datagram; the IP field is copied.
 */
export function parseUdpAnnounceRequest(datagram: Buffer): UdpAnnounceRequest {
  const event = announceEvent(datagram);
  const numwant = datagram.readInt32BE(92);
  const request: UdpAnnounceRequest = {
    infoHash: datagram.subarray(16, 36),
    peerId: datagram.subarray(36, 56),
    port: datagram.readUInt16BE(96),
    uploaded: counter(datagram, 72, 'uploaded'),
    downloaded: counter(datagram, 56, 'downloaded'),
    left: counter(datagram, 64, 'left'),
    event,
    numwant: numwant < 0 ? undefined : numwant,
    compact: true,
    noPeerId: true,
    ipParameter: datagram.readUInt32BE(84) === 0 ? undefined : Buffer.from(datagram.subarray(84, 88)),
    key: datagram.readUInt32BE(88),
    transport: 'udp',
    urlData: datagram.length === ANNOUNCE_SIZE ? '' : readUrlData(datagram, ANNOUNCE_SIZE),
  };
  if (datagram.readUInt32BE(80) === PAUSED) request.paused = true;
  return request;
}

/** Parse a scrape datagram (action 2): whole hashes only. */
export function parseUdpScrape(datagram: Buffer, header: UdpHeader): UdpScrape {
  const body = datagram.length - 16;
  if (body < 20) throw new UdpPacketError('scrape needs at least one info_hash', true);
  if (body % 20 !== 0) throw new UdpPacketError('scrape: info hashes must be 20 bytes each', true);
  const n = body / 20;
  if (n > MAX_UDP_SCRAPE_HASHES) throw new UdpPacketError(`too many info hashes in one scrape (limit ${MAX_UDP_SCRAPE_HASHES})`, true);
  const infoHashes: Buffer[] = [];
  for (let i = 0; i < n; i++) infoHashes.push(datagram.subarray(16 + i * 20, 36 + i * 20));
  return { ...header, infoHashes };
}

/** Connect answer: 16 bytes. */
export function encodeConnect(transactionId: number, connectionId: Buffer): Buffer {
  const out = Buffer.allocUnsafe(16);
  out.writeUInt32BE(ACTION_CONNECT, 0);
  out.writeUInt32BE(transactionId, 4);
  connectionId.copy(out, 8, 0, 8);
  return out;
}

/**
 * Announce answer: interval, leechers, seeders, then compact peers of one family (`peers` holds
 * whole 6-byte or 18-byte entries, already in wire form).
 */
export function encodeUdpAnnounce(transactionId: number, interval: number, counts: SwarmCounts, peers: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(20 + peers.length);
  out.writeUInt32BE(ACTION_ANNOUNCE, 0);
  out.writeUInt32BE(transactionId, 4);
  out.writeUInt32BE(Math.min(0xffffffff, interval), 8);
  out.writeUInt32BE(Math.min(0xffffffff, counts.incomplete), 12);
  out.writeUInt32BE(Math.min(0xffffffff, counts.complete), 16);
  out.set(peers, 20);
  return out;
}

/** Scrape answer: seeders, completed, leechers per hash, in the order asked. */
export function encodeUdpScrape(transactionId: number, files: SwarmCounts[]): Buffer {
  const out = Buffer.allocUnsafe(8 + files.length * 12);
  out.writeUInt32BE(ACTION_SCRAPE, 0);
  out.writeUInt32BE(transactionId, 4);
  files.forEach((f, i) => {
    out.writeUInt32BE(Math.min(0xffffffff, f.complete), 8 + i * 12);
    out.writeUInt32BE(Math.min(0xffffffff, f.downloaded), 12 + i * 12);
    out.writeUInt32BE(Math.min(0xffffffff, f.incomplete), 16 + i * 12);
  });
  return out;
}

/**
 * Error answer, at most `maxLength` bytes long (the transport passes the request's size, so an error
 * is never larger than what caused it: no amplification).
 */
export function encodeUdpError(transactionId: number, message: string, maxLength = 8 + 255): Buffer {
  const text = Buffer.from(message, 'utf8').subarray(0, Math.max(0, maxLength - 8));
  const out = Buffer.allocUnsafe(8 + text.length);
  out.writeUInt32BE(ACTION_ERROR, 0);
  out.writeUInt32BE(transactionId, 4);
  text.copy(out, 8);
  return out;
}
