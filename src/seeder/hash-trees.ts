/**
 * Answers to BEP 52 `hash request` messages for a v2 torrent: the requested hashes of one file's
 * merkle tree (a run of one layer) followed by the uncle hashes that prove them up to the file's
 * `pieces root`.
 *
 * Layers are counted from the leaves (layer 0: SHA-256 of each 16 KiB block); the tree of a file of
 * `b` blocks has `2^height` leaves, height = log2(nextPowerOfTwo(b)), and its root at layer
 * `height`. Nodes past the end of the file are padding: the root of all-zero leaves of their height.
 *
 * What is kept, and where the hashes come from:
 * - Layers at and above the piece layer (files longer than one piece): the piece layer is the
 *   torrent's own (`piece layers`, already in memory, not copied); the layers above it are built
 *   from it on the first request for that file and kept in a {@link HashTreeCache} shared by the
 *   seeder's torrents, bounded in bytes (least recently used trees are dropped and rebuilt when
 *   asked for again). Only real nodes are stored: about 32 bytes per piece in all.
 * - Layers below the piece layer (block hashes, asked for when a client finds a bad piece): never
 *   kept; the piece is read from disk and hashed for the request, and its subtree is checked
 *   against the torrent's piece node before anything is sent. A request below the piece layer must
 *   therefore fall inside one piece.
 *
 * The uncle hashes follow libtorrent 2.0 and BEP 52: for a request of `length` hashes (a power of
 * two, or a run truncated by the end of the layer, rounded up to one), `2^k` ≥ length, the range
 * is a subtree whose root is at layer `base + k`; proof layer `j` (1-based) stands for layer
 * `base + j`, and the hash included for it is the sibling of the range's ancestor at that layer.
 * The layers below `base + k` are inside the range and omitted, so a `hashes` message holds
 * `length + max(0, proofLayers - k + 1)` hashes, lowest layer first.
 */
import { hash } from 'node:crypto';
import { BLOCK_SIZE, HASH_SIZE, log2, nextPowerOfTwo, zeroHash } from '../torrent/merkle.js';
import type { HashRequest } from './wire.js';

/** One file of a v2 torrent as the hash server sees it. */
export interface HashTreeFile {
  /** The file's `pieces root`. */
  piecesRoot: Buffer;
  /** Bytes in the file (more than 0). */
  length: number;
  /** The torrent's piece layer of the file (files longer than one piece). */
  pieceLayer?: Buffer;
  /** Torrent-wide index of the file's first piece. */
  firstPiece: number;
}

/** A seeder-wide, byte-bounded cache of the layers above each file's piece layer. */
export class HashTreeCache {
  /** Bytes held now. */
  bytes = 0;
  private readonly trees = new Map<object, Buffer[]>();

  /** @param maxBytes bytes of tree layers kept at most (trees larger than this are never kept) */
  constructor(readonly maxBytes: number) {}

  /** The layers of `owner`, built by `build` unless cached; the most recently used are kept. */
  get(owner: object, build: () => Buffer[]): Buffer[] {
    const hit = this.trees.get(owner);
    if (hit !== undefined) {
      this.trees.delete(owner);
      this.trees.set(owner, hit);
      return hit;
    }
    const layers = build();
    const size = layers.reduce((sum, layer) => sum + layer.length, 0);
    if (size > this.maxBytes) return layers;
    while (this.bytes + size > this.maxBytes) {
      const [oldest, dropped] = this.trees.entries().next().value!;
      this.trees.delete(oldest);
      this.bytes -= dropped.reduce((sum, layer) => sum + layer.length, 0);
    }
    this.trees.set(owner, layers);
    this.bytes += size;
    return layers;
  }

  /** Forgets the trees of `owners` (a removed torrent). */
  forget(owners: Iterable<object>): void {
    for (const owner of owners) {
      const layers = this.trees.get(owner);
      if (layers === undefined) continue;
      this.trees.delete(owner);
      this.bytes -= layers.reduce((sum, layer) => sum + layer.length, 0);
    }
  }
}

/** Per file: its geometry, computed once. */
interface FileTree {
  file: HashTreeFile;
  /** Layer of the root. */
  height: number;
  /** Layer whose nodes cover one piece each (for a file of one piece: the root's layer). */
  pieceHeight: number;
  /** Pieces of the file. */
  pieces: number;
  /** Blocks of the file. */
  blocks: number;
}

/** The SHA-256 of a 64-byte pair of nodes. */
function pair(nodes: Buffer): Buffer {
  return hash('sha256', nodes, 'buffer');
}

/** The layer above `layer` (real nodes only), whose padding nodes are zeroHash(height). */
function parentLayer(layer: Buffer, height: number): Buffer {
  const count = layer.length / HASH_SIZE;
  const out = Buffer.allocUnsafe(Math.ceil(count / 2) * HASH_SIZE);
  for (let i = 0; i < count; i += 2) {
    const node =
      i + 1 < count
        ? pair(layer.subarray(i * HASH_SIZE, (i + 2) * HASH_SIZE))
        : pair(Buffer.concat([layer.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE), zeroHash(height)]));
    node.copy(out, (i / 2) * HASH_SIZE);
  }
  return out;
}

/** Serves the hash requests of one v2 torrent. */
export class HashTrees {
  /** Files by `pieces root` (hex). Files that share a root (identical content) share an entry. */
  private readonly byRoot = new Map<string, FileTree>();

  /**
   * @param files the torrent's non-empty files
   * @param pieceLength bytes per piece
   * @param readPiece reads `length` bytes of piece `index` (torrent-wide index)
   * @param cache where the layers above the piece layers are kept
   */
  constructor(
    files: readonly HashTreeFile[],
    private readonly pieceLength: number,
    private readonly readPiece: (index: number, length: number) => Promise<Buffer>,
    private readonly cache: HashTreeCache,
  ) {
    const perPiece = pieceLength / BLOCK_SIZE;
    for (const file of files) {
      const blocks = Math.ceil(file.length / BLOCK_SIZE);
      const height = log2(nextPowerOfTwo(blocks));
      const pieces = Math.ceil(file.length / pieceLength);
      this.byRoot.set(file.piecesRoot.toString('hex'), { file, blocks, height, pieces, pieceHeight: Math.min(height, log2(perPiece)) });
    }
  }

  /** Drops this torrent's cached trees. */
  forget(): void {
    this.cache.forget(this.byRoot.values());
  }

  /**
   * Why `req` cannot be served, or undefined when it can. Follows BEP 52: a known root; a base layer
   * below the root; `index` a multiple of `length`; `length` a power of two of at least 2 (or a run
   * cut short by the end of the layer), at most `maxHashes`, inside the layer; proof layers that
   * stay below the root; below the piece layer, a run inside one piece.
   */
  check(req: HashRequest, maxHashes: number): string | undefined {
    const tree = this.byRoot.get(req.piecesRoot.toString('hex'));
    if (tree === undefined) return 'unknown pieces root';
    const { baseLayer: base, index, length, proofLayers } = req;
    if (length === 0) return 'no hashes requested';
    if (length > maxHashes) return `more than ${maxHashes} hashes requested`;
    if (base >= tree.height) return `base layer ${base} is not below the root (layer ${tree.height})`;
    const span = nextPowerOfTwo(length);
    const real = Math.ceil(tree.blocks / 2 ** base); // nodes of the base layer that cover data
    if (index >= real) return `index ${index} is past the ${real} hashes of layer ${base}`;
    if (index % span !== 0) return `index ${index} is not a multiple of the length ${length}`;
    if (span !== length || length < 2) {
      // Only a run cut short by the end of the layer may be shorter or uneven.
      if (index + length < real) return `length ${length} is not a power of two of at least 2`;
    }
    if (index + span > 2 ** (tree.height - base)) return `hashes ${index}+${length} run past the end of layer ${base}`;
    if (proofLayers >= tree.height - base) return `${proofLayers} proof layers reach past the root`;
    if (base < tree.pieceHeight && span * 2 ** base > 2 ** tree.pieceHeight) return 'hashes below the piece layer must fall inside one piece';
    return undefined;
  }

  /** True when answering `req` (already checked) reads a piece from disk. */
  needsRead(req: HashRequest): boolean {
    const tree = this.byRoot.get(req.piecesRoot.toString('hex'));
    return tree !== undefined && req.baseLayer < tree.pieceHeight;
  }

  /**
   * The hashes answering a checked request: the base-layer run, then one uncle per included proof
   * layer. Rejects when a piece cannot be read or no longer matches the torrent.
   */
  async hashes(req: HashRequest): Promise<Buffer> {
    const tree = this.byRoot.get(req.piecesRoot.toString('hex'))!;
    const { baseLayer: base, index, length, proofLayers } = req;
    const k = log2(nextPowerOfTwo(length));
    const uncles = Math.max(0, proofLayers - k + 1);
    const out = Buffer.allocUnsafe((length + uncles) * HASH_SIZE);
    let below: Buffer[] | undefined; // layers base..pieceHeight of the piece holding the run
    let pieceOffset = 0; // index of the piece's first node in layer `base`
    if (base < tree.pieceHeight) {
      const piece = Math.floor((index * 2 ** base) / 2 ** tree.pieceHeight);
      below = await this.pieceSubtree(tree, piece, base);
      pieceOffset = piece * 2 ** (tree.pieceHeight - base);
    }
    const node = (layer: number, at: number): Buffer => {
      if (layer < tree.pieceHeight) {
        const nodes = below![layer - base];
        const i = at - Math.floor(pieceOffset / 2 ** (layer - base));
        return i * HASH_SIZE < nodes.length ? nodes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE) : zeroHash(layer);
      }
      const nodes = this.layer(tree, layer);
      return at * HASH_SIZE < nodes.length ? nodes.subarray(at * HASH_SIZE, (at + 1) * HASH_SIZE) : zeroHash(layer);
    };
    for (let n = 0; n < length; n++) node(base, index + n).copy(out, n * HASH_SIZE);
    for (let u = 0; u < uncles; u++) {
      const layer = base + k + u;
      const ancestor = Math.floor(index / 2 ** (k + u));
      node(layer, ancestor % 2 === 0 ? ancestor + 1 : ancestor - 1).copy(out, (length + u) * HASH_SIZE);
    }
    return out;
  }

  /** The real nodes of `layer` (at or above the piece layer). */
  private layer(tree: FileTree, layer: number): Buffer {
    if (layer === tree.height) return tree.file.piecesRoot;
    if (layer === tree.pieceHeight) return tree.file.pieceLayer!;
    return this.cache.get(tree, () => this.buildUpper(tree))[layer - tree.pieceHeight - 1];
  }

  /** The layers strictly above the piece layer, up to and including the root. */
  private buildUpper(tree: FileTree): Buffer[] {
    const layers: Buffer[] = [];
    let current: Buffer = tree.file.pieceLayer!;
    for (let height = tree.pieceHeight; height < tree.height; height++) {
      current = parentLayer(current, height);
      layers.push(current);
    }
    if (!layers[layers.length - 1].equals(tree.file.piecesRoot)) throw new Error('piece layer does not match the pieces root');
    return layers;
  }

  /**
   * Reads piece `piece` of the file and returns its layers from `base` up to the piece node (real
   * nodes only), after checking that node against the torrent.
   */
  private async pieceSubtree(tree: FileTree, piece: number, base: number): Promise<Buffer[]> {
    const start = piece * this.pieceLength;
    const size = Math.min(this.pieceLength, tree.file.length - start);
    const data = await this.readPiece(tree.file.firstPiece + piece, size);
    if (data.length !== size) throw new Error('short read');
    const blocks = Math.ceil(size / BLOCK_SIZE);
    let current: Buffer = Buffer.allocUnsafe(blocks * HASH_SIZE);
    for (let b = 0; b < blocks; b++) {
      hash('sha256', data.subarray(b * BLOCK_SIZE, Math.min(size, (b + 1) * BLOCK_SIZE)), 'buffer').copy(current, b * HASH_SIZE);
    }
    const layers: Buffer[] = [];
    for (let height = 0; height < tree.pieceHeight; height++) {
      if (height >= base) layers.push(current);
      current = parentLayer(current, height);
    }
    const expected = tree.pieceHeight === tree.height ? tree.file.piecesRoot : tree.file.pieceLayer!.subarray(piece * HASH_SIZE, (piece + 1) * HASH_SIZE);
    if (!current.equals(expected)) throw new Error(`piece ${tree.file.firstPiece + piece} no longer matches the torrent`);
    return layers;
  }
}
