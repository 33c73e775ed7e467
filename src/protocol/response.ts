/**
 * Bencoded answers. The announce answer has a fixed shape, so it is written directly into one buffer
 * (keys already in the sorted order bencode requires) instead of going through a generic encoder.
 * Pure.
 */
import { formatAddress } from './address.js';
import type { Peer, SwarmCounts } from '../types.js';

/** How to shape an announce answer. */
export interface AnnounceAnswerOptions {
  /** Seconds the client should wait before its next regular announce. */
  interval: number;
  /** Seconds the client must wait at least before announcing again. */
  minInterval: number;
  /** Compact peers (BEP 23) in `peers` / `peers6` (BEP 7); otherwise the dictionary model. */
  compact: boolean;
  /** Dictionary model only: leave out `peer id`. */
  noPeerId: boolean;
  /** Optional `warning message`. */
  warning?: string;
}

function intBytes(key: string, value: number): string {
  return `${key.length}:${key}i${Math.floor(value)}e`;
}

let cachedTimes = { interval: -1, minInterval: -1, text: '' };

/** `8:intervali…e12:min intervali…e`, cached: it is the same for every answer of a tracker. */
function timesPart(options: AnnounceAnswerOptions): string {
  if (cachedTimes.interval !== options.interval || cachedTimes.minInterval !== options.minInterval) {
    cachedTimes = {
      interval: options.interval,
      minInterval: options.minInterval,
      text: intBytes('interval', options.interval) + intBytes('min interval', options.minInterval),
    };
  }
  return cachedTimes.text;
}

function countsPart(counts: SwarmCounts): string {
  return `d8:completei${counts.complete}e10:downloadedi${counts.downloaded}e10:incompletei${counts.incomplete}e`;
}

/** Encode an announce answer from peer objects (compact or dictionary model per `options`). */
export function encodeAnnounce(counts: SwarmCounts, peers: Peer[], options: AnnounceAnswerOptions): Buffer {
  if (!options.compact) return encodeDictionaryAnnounce(counts, peers, options);
  let count4 = 0;
  for (let i = 0; i < peers.length; i++) if (peers[i].ip.length === 4) count4++;
  const peers4 = Buffer.allocUnsafe(count4 * 6);
  const peers6 = Buffer.allocUnsafe((peers.length - count4) * 18);
  let at4 = 0;
  let at6 = 0;
  for (const p of peers) {
    if (p.ip.length === 4) {
      peers4.set(p.ip, at4);
      peers4.writeUInt16BE(p.port, at4 + 4);
      at4 += 6;
    } else {
      peers6.set(p.ip, at6);
      peers6.writeUInt16BE(p.port, at6 + 16);
      at6 += 18;
    }
  }
  return encodeCompactAnnounce(counts, peers4, peers6, options);
}

/**
 * Encode a compact announce answer from already packed peers: `peers4` is a run of 6-byte IPv4
 * entries, `peers6` of 18-byte IPv6 entries (BEP 23, BEP 7). `peers6` is left out when empty.
 */
export function encodeCompactAnnounce(
  counts: SwarmCounts,
  peers4: Uint8Array,
  peers6: Uint8Array,
  options: AnnounceAnswerOptions,
): Buffer {
  const head = countsPart(counts) + timesPart(options) + `5:peers${peers4.length}:`;
  const peers6Header = peers6.length > 0 ? `6:peers6${peers6.length}:` : '';
  const warning = options.warning === undefined ? undefined : Buffer.from(options.warning, 'utf8');
  const tail = warning ? `15:warning message${warning.length}:` : '';
  const size =
    head.length + peers4.length + peers6Header.length + peers6.length + tail.length + (warning ? warning.length : 0) + 1;
  const out = Buffer.allocUnsafe(size);
  let at = out.write(head, 0, 'latin1');
  out.set(peers4, at);
  at += peers4.length;
  if (peers6.length > 0) {
    at += out.write(peers6Header, at, 'latin1');
    out.set(peers6, at);
    at += peers6.length;
  }
  if (warning) {
    at += out.write(tail, at, 'latin1');
    out.set(warning, at);
    at += warning.length;
  }
  out[at] = 0x65; // 'e'
  return out;
}

function encodeDictionaryAnnounce(counts: SwarmCounts, peers: Peer[], options: AnnounceAnswerOptions): Buffer {
  const warning = options.warning === undefined ? undefined : Buffer.from(options.warning, 'utf8');
  return Buffer.concat([
    Buffer.from(countsPart(counts) + timesPart(options) + '5:peersl', 'latin1'),
    ...peers.map((peer) => encodeDictionaryPeer(peer, options.noPeerId)),
    Buffer.from('e' + (warning ? `15:warning message${warning.length}:` : ''), 'latin1'),
    ...(warning ? [warning] : []),
    Buffer.from('e', 'latin1'),
  ]);
}

/** `d2:ip<text>7:peer id20:<id>4:porti<port>ee` (keys sorted). */
function encodeDictionaryPeer(peer: Peer, noPeerId: boolean): Buffer {
  const ip = formatAddress(peer.ip);
  const parts = [Buffer.from(`d2:ip${ip.length}:${ip}`, 'latin1')];
  if (!noPeerId) parts.push(Buffer.from('7:peer id20:', 'latin1'), Buffer.from(peer.peerId));
  parts.push(Buffer.from(`4:porti${peer.port}ee`, 'latin1'));
  return Buffer.concat(parts);
}

/** Encode a scrape answer: `files` keyed by raw 20-byte hashes, in sorted (bencode) order. */
export function encodeScrape(files: Array<{ infoHash: Uint8Array } & SwarmCounts>): Buffer {
  const sorted = [...files].sort((a, b) => Buffer.compare(a.infoHash, b.infoHash));
  const parts: Buffer[] = [Buffer.from('d5:filesd', 'latin1')];
  for (const f of sorted) {
    parts.push(Buffer.from('20:', 'latin1'), Buffer.from(f.infoHash));
    parts.push(
      Buffer.from(
        'd' +
          intBytes('complete', f.complete) +
          intBytes('downloaded', f.downloaded) +
          (f.downloaders === undefined ? '' : intBytes('downloaders', f.downloaders)) +
          intBytes('incomplete', f.incomplete) +
          'e',
        'latin1',
      ),
    );
  }
  parts.push(Buffer.from('ee', 'latin1'));
  return Buffer.concat(parts);
}

/** Encode `d14:failure reason<n>:<reason>e`. */
export function encodeFailure(reason: string): Buffer {
  const text = Buffer.from(reason, 'utf8');
  return Buffer.concat([Buffer.from(`d14:failure reason${text.length}:`, 'latin1'), text, Buffer.from('e', 'latin1')]);
}
