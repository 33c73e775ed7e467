/**
 * HTTP tracker client pieces: building the announce URL (binary info_hash and peer_id
 * percent-encoded byte by byte), one GET with node:http/https, and reading the bencoded answer
 * (compact `peers`/`peers6` of BEP 23/BEP 7, or the original list of dictionaries).
 */
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { asBytes, asDict, asInt, asText, bdecode } from './bencode.js';

/** Parameters of one announce. */
export interface AnnounceParams {
  /** 20-byte info hash. */
  infoHash: Buffer;
  /** 20-byte peer id. */
  peerId: Buffer;
  /** Our listening port. */
  port: number;
  /** Payload bytes uploaded so far. */
  uploaded: number;
  /** Payload bytes downloaded so far. */
  downloaded: number;
  /** Bytes still missing (0 for a seed). */
  left: number;
  /** Event, or undefined for a regular re-announce. */
  event?: 'started' | 'completed' | 'stopped';
  /** Peers wanted. */
  numwant?: number;
  /** Random key identifying us across IP changes. */
  key?: string;
  /** `tracker id` from a previous answer. */
  trackerId?: string;
}

/** A peer address from a tracker answer. */
export interface PeerAddress {
  /** IPv4 or IPv6 address text. */
  host: string;
  /** TCP port. */
  port: number;
}

/** A parsed tracker answer. */
export interface AnnounceResponse {
  /** Seconds until the next regular announce. */
  interval: number;
  /** Minimum seconds between announces, if given. */
  minInterval?: number;
  /** Seeders, if given. */
  complete?: number;
  /** Leechers, if given. */
  incomplete?: number;
  /** `tracker id`, if given. */
  trackerId?: string;
  /** `warning message`, if given. */
  warning?: string;
  /** Peers (IPv4 and IPv6). */
  peers: PeerAddress[];
}

/** The tracker answered with `failure reason`, or not with a usable answer. */
export class TrackerError extends Error {
  /** @param message the failure reason or what was wrong */
  constructor(message: string) {
    super(message);
    this.name = 'TrackerError';
  }
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** Percent-encodes raw bytes for a query string: unreserved ASCII as-is, every other byte as %XX. */
export function percentEncodeBytes(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) {
    const ch = String.fromCharCode(byte);
    out += UNRESERVED.test(ch) ? ch : '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Builds the announce URL for `announceUrl` (keeps any query the URL already has). */
export function buildAnnounceUrl(announceUrl: string, p: AnnounceParams): string {
  const parts = [
    `info_hash=${percentEncodeBytes(p.infoHash)}`,
    `peer_id=${percentEncodeBytes(p.peerId)}`,
    `port=${p.port}`,
    `uploaded=${p.uploaded}`,
    `downloaded=${p.downloaded}`,
    `left=${p.left}`,
    'compact=1',
  ];
  if (p.event) parts.push(`event=${p.event}`);
  if (p.numwant !== undefined) parts.push(`numwant=${p.numwant}`);
  if (p.key) parts.push(`key=${encodeURIComponent(p.key)}`);
  if (p.trackerId) parts.push(`trackerid=${encodeURIComponent(p.trackerId)}`);
  const hashAt = announceUrl.indexOf('#');
  const base = hashAt >= 0 ? announceUrl.slice(0, hashAt) : announceUrl;
  return base + (base.includes('?') ? '&' : '?') + parts.join('&');
}

/** Parses compact IPv4 peers (6 bytes each). */
export function parseCompactPeers(bytes: Buffer): PeerAddress[] {
  const out: PeerAddress[] = [];
  for (let i = 0; i + 6 <= bytes.length; i += 6) {
    out.push({ host: `${bytes[i]}.${bytes[i + 1]}.${bytes[i + 2]}.${bytes[i + 3]}`, port: bytes.readUInt16BE(i + 4) });
  }
  return out;
}

/** Parses compact IPv6 peers (18 bytes each). */
export function parseCompactPeers6(bytes: Buffer): PeerAddress[] {
  const out: PeerAddress[] = [];
  for (let i = 0; i + 18 <= bytes.length; i += 18) {
    const groups: string[] = [];
    for (let g = 0; g < 8; g++) groups.push(bytes.readUInt16BE(i + g * 2).toString(16));
    out.push({ host: groups.join(':'), port: bytes.readUInt16BE(i + 16) });
  }
  return out;
}

/** Parses a bencoded tracker answer; throws {@link TrackerError} on `failure reason` or garbage. */
export function parseAnnounceResponse(body: Buffer): AnnounceResponse {
  let decoded: unknown;
  try {
    decoded = bdecode(body);
  } catch {
    throw new TrackerError('tracker answer is not bencoded');
  }
  const dict = asDict(decoded);
  if (!dict) throw new TrackerError('tracker answer is not a dictionary');
  const failure = asText(dict['failure reason']);
  if (failure !== undefined) throw new TrackerError(failure);
  const interval = asInt(dict.interval);
  if (interval === undefined || interval < 0) throw new TrackerError('tracker answer has no interval');
  const peers: PeerAddress[] = [];
  const raw = dict.peers;
  const compact = asBytes(raw);
  if (compact) peers.push(...parseCompactPeers(compact));
  else if (Array.isArray(raw)) {
    for (const item of raw) {
      const d = asDict(item);
      const host = d ? asText(d.ip) : undefined;
      const port = d ? asInt(d.port) : undefined;
      if (host && isIP(host) && port && port > 0 && port < 65536) peers.push({ host, port });
    }
  }
  const six = asBytes(dict.peers6);
  if (six) peers.push(...parseCompactPeers6(six));
  return {
    interval,
    minInterval: asInt(dict['min interval']),
    complete: asInt(dict.complete),
    incomplete: asInt(dict.incomplete),
    trackerId: asText(dict['tracker id']),
    warning: asText(dict['warning message']),
    peers: peers.filter((p) => p.port > 0),
  };
}

/** Options for {@link httpGet}. */
export interface HttpGetOptions {
  /** Local address to send from. */
  localAddress?: string;
  /** Milliseconds before giving up; default 15 000. */
  timeout?: number;
  /** Largest body accepted in bytes; default 2 MiB. */
  maxBytes?: number;
  /** User-Agent header. */
  userAgent?: string;
}

/** One GET; resolves with the body of a 200 answer, rejects otherwise. */
export function httpGet(url: string, options: HttpGetOptions = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : undefined;
    if (!mod) {
      reject(new TrackerError(`unsupported tracker protocol ${u.protocol}`));
      return;
    }
    const maxBytes = options.maxBytes ?? 2 * 1024 * 1024;
    const req = mod.get(
      url,
      {
        localAddress: options.localAddress,
        timeout: options.timeout ?? 15_000,
        headers: { 'user-agent': options.userAgent ?? 'express-torrent-tracker', 'accept-encoding': 'identity' },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            req.destroy(new TrackerError('tracker answer too large'));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new TrackerError(`tracker answered HTTP ${res.statusCode}`));
          else resolve(Buffer.concat(chunks));
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new TrackerError('tracker did not answer in time')));
    req.on('error', reject);
  });
}
