/**
 * A scripted leecher for seeder tests: downloads every block of a torrent over a FakePeer,
 * following choke/unchoke and re-requesting what gets rejected.
 */
import { encode } from '../../../src/seeder/wire.js';
import type { FakePeer } from './fake-peer.js';
import type { TorrentFixture } from './torrent.js';

const BLOCK = 16384;

/** Downloads every block of `fx` over `peer` (8 requests in flight), re-requesting what gets rejected. */
export async function leech(peer: FakePeer, fx: TorrentFixture, timeout = 30_000): Promise<Buffer> {
  const blocks: Array<{ index: number; begin: number; length: number }> = [];
  for (let i = 0; i < fx.parsed.pieces.length; i++) {
    const size = i === fx.parsed.pieces.length - 1 ? fx.parsed.lastPieceLength : fx.parsed.pieceLength;
    for (let b = 0; b < size; b += BLOCK) blocks.push({ index: i, begin: b, length: Math.min(BLOCK, size - b) });
  }
  const out = Buffer.alloc(fx.data.length);
  const done = new Set<number>();
  const outstanding = new Set<number>();
  const keyOf = (index: number, begin: number): number => blocks.findIndex((b) => b.index === index && b.begin === begin);
  let seen = 0;
  let unchoked = false;
  peer.send(encode.interested());
  await peer.waitFor(
    () => {
      for (; seen < peer.messages.length; seen++) {
        const m = peer.messages[seen];
        if (m.type === 'unchoke') unchoked = true;
        else if (m.type === 'choke') unchoked = false;
        else if (m.type === 'piece') {
          const k = keyOf(m.index, m.begin);
          m.block.copy(out, m.index * fx.parsed.pieceLength + m.begin);
          done.add(k);
          outstanding.delete(k);
        } else if (m.type === 'reject') outstanding.delete(keyOf(m.index, m.begin));
      }
      if (unchoked) {
        for (let k = 0; k < blocks.length && outstanding.size < 8; k++) {
          if (done.has(k) || outstanding.has(k)) continue;
          outstanding.add(k);
          peer.send(encode.request(blocks[k]));
        }
      }
      return done.size === blocks.length;
    },
    timeout,
    'the whole torrent',
  );
  return out;
}

