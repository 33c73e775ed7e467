/**
 * Bencoded answers. The announce answer has a fixed shape, so it is written directly into one buffer
 * (keys already in the sorted order bencode requires) instead of going through a generic encoder.
 * Pure.
 */
import { formatAddress } from './address.js';
import type { Peer, SwarmCounts } from '../swarm/types.js';

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

/** Encode an announce answer. */
export function encodeAnnounce(counts: SwarmCounts, peers: Peer[], options: AnnounceAnswerOptions): Buffer {
  const head =
    'd' +
    intBytes('complete', counts.complete) +
    intBytes('downloaded', counts.downloaded) +
    intBytes('incomplete', counts.incomplete) +
    intBytes('interval', options.interval) +
    intBytes('min interval', options.minInterval);
  const warning = options.warning === undefined ? undefined : Buffer.from(options.warning, 'utf8');
  const tail = warning ? `15:warning message${warning.length}:` : '';
  if (!options.compact) {
    return Buffer.concat([
      Buffer.from(head, 'latin1'),
      Buffer.from('5:peersl', 'latin1'),
      ...peers.map((peer) => encodeDictionaryPeer(peer, options.noPeerId)),
      Buffer.from('e' + tail, 'latin1'),
      ...(warning ? [warning] : []),
      Buffer.from('e', 'latin1'),
    ]);
  }
  let count4 = 0;
  for (let i = 0; i < peers.length; i++) if (peers[i].ip.length === 4) count4++;
  const count6 = peers.length - count4;
  const peersHeader = `5:peers${count4 * 6}:`;
  const peers6Header = count6 > 0 ? `6:peers6${count6 * 18}:` : '';
  const size =
    head.length +
    peersHeader.length +
    count4 * 6 +
    peers6Header.length +
    count6 * 18 +
    tail.length +
    (warning ? warning.length : 0) +
    1;
  const out = Buffer.allocUnsafe(size);
  let at = out.write(head, 0, 'latin1');
  at += out.write(peersHeader, at, 'latin1');
  for (let i = 0; i < peers.length; i++) {
    const p = peers[i];
    if (p.ip.length !== 4) continue;
    out.set(p.ip, at);
    out[at + 4] = p.port >>> 8;
    out[at + 5] = p.port & 0xff;
    at += 6;
  }
  if (count6 > 0) {
    at += out.write(peers6Header, at, 'latin1');
    for (let i = 0; i < peers.length; i++) {
      const p = peers[i];
      if (p.ip.length !== 16) continue;
      out.set(p.ip, at);
      out[at + 16] = p.port >>> 8;
      out[at + 17] = p.port & 0xff;
      at += 18;
    }
  }
  if (warning) {
    at += out.write(tail, at, 'latin1');
    out.set(warning, at);
    at += warning.length;
  }
  out[at] = 0x65; // 'e'
  return out;
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
