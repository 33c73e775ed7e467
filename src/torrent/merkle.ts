/**
 * BitTorrent v2 merkle trees (BEP 52): SHA-256 over 16 KiB blocks, one tree per file.
 *
 * The leaves are the SHA-256 of each 16 KiB block of a file (the last block may be shorter and is
 * hashed as it is). A tree has a power-of-two number of leaves; the leaves past the end of the file
 * are 32 zero bytes, so a padding node of height h (the root of 2^h padding leaves) is
 * {@link zeroHash}(h). The *piece layer* is the layer whose nodes cover one piece each; the
 * `pieces root` is the root of the whole tree. A file of at most one piece has no piece layer in
 * the torrent and its tree has just enough leaves for its blocks.
 */
import { createHash } from 'node:crypto';

/** Bytes covered by one leaf of a v2 merkle tree: 16 KiB. */
export const BLOCK_SIZE = 16 * 1024;
/** Bytes of one SHA-256 node. */
export const HASH_SIZE = 32;

const zeroHashes: Buffer[] = [Buffer.alloc(HASH_SIZE)];

/** The root of a tree of 2^height padding (all-zero) leaves. */
export function zeroHash(height: number): Buffer {
  while (zeroHashes.length <= height) {
    const below = zeroHashes[zeroHashes.length - 1];
    zeroHashes.push(sha256Pair(below, below));
  }
  return zeroHashes[height];
}

/** SHA-256 of the concatenation of two nodes. */
export function sha256Pair(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(left).update(right).digest();
}

/** The smallest power of two not below `n` (1 for n ≤ 1). */
export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** log2 of a power of two. */
export function log2(powerOfTwo: number): number {
  return Math.round(Math.log2(powerOfTwo));
}

/**
 * The root of a merkle tree whose bottom layer is `nodes` (concatenated 32-byte hashes), widened to
 * `width` nodes (a power of two, at least the node count) with padding nodes of height
 * `nodeHeight` (0 when `nodes` are leaves).
 */
export function merkleRoot(nodes: Uint8Array, width: number, nodeHeight = 0): Buffer {
  const count = nodes.length / HASH_SIZE;
  if (count === 0) return zeroHash(nodeHeight + log2(width));
  let layer: Buffer[] = [];
  for (let i = 0; i < count; i++) layer.push(Buffer.from(nodes.buffer, nodes.byteOffset + i * HASH_SIZE, HASH_SIZE));
  let height = nodeHeight;
  let size = width;
  while (size > 1) {
    const next: Buffer[] = [];
    const pad = zeroHash(height);
    for (let i = 0; i < layer.length; i += 2) next.push(sha256Pair(layer[i], layer[i + 1] ?? pad));
    layer = next;
    size /= 2;
    height++;
  }
  return Buffer.from(layer[0]);
}

/** Number of 16 KiB blocks of a file of `length` bytes. */
export function blockCount(length: number): number {
  return Math.ceil(length / BLOCK_SIZE);
}

/**
 * The `pieces root` of a file from its piece layer (one node per piece, as hashed with
 * {@link pieceNodeWidth} leaves each).
 * @param layer concatenated piece-layer nodes of the file
 * @param pieceLength bytes per piece (a power of two, at least 16 KiB)
 */
export function rootFromPieceLayer(layer: Uint8Array, pieceLength: number): Buffer {
  const pieces = layer.length / HASH_SIZE;
  if (pieces === 1) return Buffer.from(layer);
  return merkleRoot(layer, nextPowerOfTwo(pieces), log2(pieceLength / BLOCK_SIZE));
}

/**
 * How many leaves the subtree of one piece of a file has: a whole piece's worth of blocks when the
 * file spans several pieces; for a file of one piece (or less), the power of two just above its
 * block count (its tree is then the piece's subtree).
 */
export function pieceNodeWidth(fileLength: number, pieceLength: number): number {
  return fileLength > pieceLength ? pieceLength / BLOCK_SIZE : nextPowerOfTwo(blockCount(fileLength));
}
