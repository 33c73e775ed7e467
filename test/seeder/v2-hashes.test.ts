/**
 * v2-only seeding at the wire (BEP 52), with a scripted peer: the handshake carries the truncated
 * v2 info hash and the v2 bit (incoming and outgoing), hash requests are answered with hashes that
 * prove up to the file's pieces root (piece layer from the torrent, layers above it, block hashes
 * read from disk), every kind of bad request gets a `hash reject`, requests over the size and rate
 * limits are rejected, and a flood closes the connection.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashTreeCache, HashTrees } from '../../src/seeder/hash-trees.js';
import { createSeeder, type PeerCloseEventInfo, type Seeder } from '../../src/seeder/seeder.js';
import { Reserved, decodeMessage, encode, encodeHandshake, hasReservedBit, type HashRequest, type WireMessage } from '../../src/seeder/wire.js';
import { createTorrent } from '../../src/torrent/create.js';
import { zeroHash } from '../../src/torrent/merkle.js';
import { parseTorrent } from '../../src/torrent/parse.js';
import type { ParsedTorrent } from '../../src/torrent/types.js';
import type { AnnounceEventInfo } from '../../src/tracker.js';
import { waitFor } from '../helpers/clients.js';
import { rawGet, startApp, type RunningApp } from '../helpers/http.js';
import { percentEncodeBytes } from '../../src/seeder/tracker-http.js';
import { tempDir, writeTree } from '../torrent/fixtures.js';
import { FakePeer } from './helpers/fake-peer.js';

const PIECE = 32 * 1024; // two 16 KiB blocks per piece: the piece layer is layer 1
const tmp = tempDir('ett-v2-hashes-');
const toClose: Array<{ close(): unknown }> = [];
let root: string;
let made: Awaited<ReturnType<typeof createTorrent>>;
let parsed: ParsedTorrent;
let seeder: Seeder;
const contents: Record<string, Buffer> = {
  'big.bin': randomBytes(1_300_000), // 40 pieces, 80 blocks: tree of 128 leaves, height 7
  'huge.bin': randomBytes(550 * PIECE), // 550 pieces: 1024 nodes in its piece layer
  'small.bin': randomBytes(20_000), // 2 blocks, one piece: height 1, no piece layer
  'tiny.bin': randomBytes(5_000), // 1 block: the root is the block's hash
};

beforeAll(async () => {
  root = path.join(tmp.dir, 'set');
  writeTree(root, contents);
  made = await createTorrent(root, { version: 'v2', pieceLength: PIECE });
  parsed = parseTorrent(made.torrent);
  // Each test opens its own connection from 127.0.0.1.
  seeder = await createSeeder({ port: 0, host: '127.0.0.1', announce: false, maxConnectionsPerAddress: 50 });
  toClose.push(seeder);
  await seeder.add(made.torrent, tmp.dir);
});

afterAll(async () => {
  for (const c of toClose) await c.close();
  tmp.cleanup();
});

function file(name: string): { piecesRoot: Buffer; pieceLayer?: Buffer; length: number } {
  const f = parsed.files.find((x) => x.path.at(-1) === name)!;
  return { piecesRoot: f.piecesRoot!, pieceLayer: f.pieceLayer, length: f.length };
}

function sha256(...parts: Buffer[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Block hashes (layer 0) of a file's content. */
function leaves(content: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < content.length; at += 16_384) out.push(sha256(content.subarray(at, at + 16_384)));
  return out;
}

/**
 * The root a `hashes` answer proves: fold the base-layer run (padded to a power of two) into its
 * subtree root, then climb with one uncle per layer, on the side the index says.
 */
function proveRoot(req: HashRequest, hashes: Buffer): { base: Buffer[]; root: Buffer; layer: number } {
  const span = 2 ** Math.ceil(Math.log2(Math.max(1, req.length)));
  const k = Math.log2(span);
  const uncles = Math.max(0, req.proofLayers - k + 1);
  expect(hashes.length).toBe((req.length + uncles) * 32);
  const base: Buffer[] = [];
  for (let i = 0; i < req.length; i++) base.push(hashes.subarray(i * 32, i * 32 + 32));
  let layer = base.slice();
  while (layer.length < span) layer.push(zeroHash(req.baseLayer));
  let height = req.baseLayer;
  while (layer.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < layer.length; i += 2) next.push(sha256(layer[i], layer[i + 1]));
    layer = next;
    height++;
  }
  let node = layer[0];
  let index = Math.floor(req.index / span);
  for (let u = 0; u < uncles; u++) {
    const uncle = hashes.subarray((req.length + u) * 32, (req.length + u + 1) * 32);
    node = index % 2 === 0 ? sha256(node, uncle) : sha256(uncle, node);
    index = Math.floor(index / 2);
    height++;
  }
  return { base, root: node, layer: height };
}

const reqOf = (piecesRoot: Buffer, baseLayer: number, index: number, length: number, proofLayers: number): HashRequest => ({
  piecesRoot,
  baseLayer,
  index,
  length,
  proofLayers,
});

function sameRequest(m: WireMessage, req: HashRequest): boolean {
  return (
    (m.type === 'hashes' || m.type === 'hash-reject') &&
    m.piecesRoot.equals(req.piecesRoot) &&
    m.baseLayer === req.baseLayer &&
    m.index === req.index &&
    m.length === req.length &&
    m.proofLayers === req.proofLayers
  );
}

/** A connected, handshaken peer. */
async function connect(to: Seeder = seeder, infoHash = parsed.infoHashBuffer): Promise<FakePeer> {
  const peer = await FakePeer.connect(to.port);
  toClose.push({ close: () => peer.destroy() });
  peer.handshake(infoHash, Buffer.concat([Buffer.from('-TS0001-'), randomBytes(12)]), { fast: true, extended: true });
  await peer.waitFor(() => peer.ofType('have-all').length === 1, 5000, 'have-all');
  return peer;
}

/** Sends `req` and waits for its answer. */
async function ask(peer: FakePeer, req: HashRequest): Promise<WireMessage> {
  peer.send(encode.hashRequest(req));
  await peer.waitFor(() => peer.messages.some((m) => m.type !== 'handshake' && sameRequest(m, req)), 5000, `an answer to ${JSON.stringify({ ...req, piecesRoot: undefined })}`);
  return peer.messages.find((m): m is WireMessage => m.type !== 'handshake' && sameRequest(m, req))!;
}

describe('v2-only torrents at the wire', () => {
  it('is seeded under its truncated v2 info hash, and the handshake carries the v2 bit', async () => {
    expect(parsed.version).toBe('v2');
    expect(seeder.list()).toEqual([made.infoHashV2!.slice(0, 40)]);
    const peer = await connect();
    const [hs] = peer.ofType('handshake');
    expect(hs.infoHash).toEqual(Buffer.from(made.infoHashV2!, 'hex').subarray(0, 20));
    expect(hasReservedBit(hs.reserved, Reserved.v2)).toBe(true);
    // Pieces run over the files' pieces in order: 40 + 550 + 1 + 1.
    expect(seeder.stats().torrents[0].pieceCount).toBe(592);
  });

  it('answers a whole piece layer (padded to a power of two) that hashes to the pieces root', async () => {
    const peer = await connect();
    const big = file('big.bin');
    const req = reqOf(big.piecesRoot, 1, 0, 64, 5); // height 7: proof layers up to 5 from layer 1
    const answer = await ask(peer, req);
    expect(answer.type).toBe('hashes');
    const hashes = (answer as { hashes: Buffer }).hashes;
    expect(hashes.length).toBe(64 * 32); // 5 proof layers, all inside the run: no uncles
    expect(hashes.subarray(0, 40 * 32).equals(big.pieceLayer!)).toBe(true);
    for (let i = 40; i < 64; i++) expect(hashes.subarray(i * 32, i * 32 + 32).equals(zeroHash(1))).toBe(true);
    expect(proveRoot(req, hashes)).toMatchObject({ root: big.piecesRoot, layer: 7 });
  });

  it('answers a run of the piece layer with its uncles up to the root', async () => {
    const peer = await connect();
    const big = file('big.bin');
    for (const req of [reqOf(big.piecesRoot, 1, 32, 8, 5), reqOf(big.piecesRoot, 1, 8, 8, 5), reqOf(big.piecesRoot, 2, 4, 4, 4)]) {
      const answer = await ask(peer, req);
      expect(answer.type, JSON.stringify(req.index)).toBe('hashes');
      const proof = proveRoot(req, (answer as { hashes: Buffer }).hashes);
      expect(proof).toMatchObject({ root: big.piecesRoot, layer: 7 });
      if (req.baseLayer === 1) {
        proof.base.forEach((h, i) => expect(h.equals(big.pieceLayer!.subarray((req.index + i) * 32, (req.index + i + 1) * 32))).toBe(true));
      }
    }
    // The last piece alone: a run cut short by the end of the layer.
    const last = reqOf(big.piecesRoot, 1, 39, 1, 5);
    const answer = await ask(peer, last);
    expect(answer.type).toBe('hashes');
    expect(proveRoot(last, (answer as { hashes: Buffer }).hashes)).toMatchObject({ root: big.piecesRoot, layer: 7 });
  });

  it('answers block hashes (read from disk) inside one piece, with the proof to the root', async () => {
    const peer = await connect();
    const big = file('big.bin');
    const blocks = leaves(contents['big.bin']);
    for (const index of [20, 78]) {
      const req = reqOf(big.piecesRoot, 0, index, 2, 6);
      const answer = await ask(peer, req);
      expect(answer.type).toBe('hashes');
      const proof = proveRoot(req, (answer as { hashes: Buffer }).hashes);
      expect(proof).toMatchObject({ root: big.piecesRoot, layer: 7 });
      expect(proof.base[0].equals(blocks[index])).toBe(true);
      if (index + 1 < blocks.length) expect(proof.base[1].equals(blocks[index + 1])).toBe(true);
    }
    // A file of one piece: its two block hashes are its whole tree.
    const small = file('small.bin');
    const req = reqOf(small.piecesRoot, 0, 0, 2, 0);
    const answer = await ask(peer, req);
    const hashes = (answer as { hashes: Buffer }).hashes;
    expect(Buffer.concat(leaves(contents['small.bin'])).equals(hashes)).toBe(true);
    expect(sha256(hashes).equals(small.piecesRoot)).toBe(true);
  });

  it('serves 512 hashes in one request and rejects 1024 (BEP 52: not more than 512)', async () => {
    const peer = await connect();
    const huge = file('huge.bin'); // 550 pieces; layer 1 is 1024 wide
    const ok = reqOf(huge.piecesRoot, 1, 512, 512, 9);
    const answer = await ask(peer, ok);
    expect(answer.type).toBe('hashes');
    expect(proveRoot(ok, (answer as { hashes: Buffer }).hashes)).toMatchObject({ root: huge.piecesRoot, layer: 11 });
    expect((await ask(peer, reqOf(huge.piecesRoot, 1, 0, 1024, 9))).type).toBe('hash-reject');
    expect(peer.closed).toBe(false);
  });

  it('answers every kind of bad request with a hash reject and keeps the connection', async () => {
    const peer = await connect();
    const big = file('big.bin').piecesRoot; // height 7, piece layer 1 (40 real nodes of 64)
    const tiny = file('tiny.bin').piecesRoot; // height 0
    const bad: Array<[string, HashRequest]> = [
      ['unknown pieces root', reqOf(randomBytes(32), 1, 0, 2, 0)],
      ['no hashes', reqOf(big, 1, 0, 0, 0)],
      ['length not a power of two', reqOf(big, 1, 0, 3, 0)],
      ['length of one, not at the end of the layer', reqOf(big, 1, 0, 1, 0)],
      ['index not a multiple of the length', reqOf(big, 1, 2, 4, 0)],
      ['index past the data of the layer', reqOf(big, 1, 40, 2, 0)],
      ['index past the layer', reqOf(big, 1, 64, 2, 0)],
      ['run past the end of the layer', reqOf(big, 5, 0, 8, 0)],
      ['base layer at the root', reqOf(big, 7, 0, 2, 0)],
      ['base layer above the root', reqOf(big, 40, 0, 2, 0)],
      ['proof layers past the root', reqOf(big, 1, 0, 2, 6)],
      ['huge proof layers', reqOf(big, 1, 0, 2, 0xffffffff)],
      ['block hashes across two pieces', reqOf(big, 0, 0, 4, 0)],
      ['a one-block file has no layer below its root', reqOf(tiny, 0, 0, 2, 0)],
      ['huge index', reqOf(big, 0, 0xfffffffe, 2, 0)],
    ];
    for (const [what, req] of bad) expect((await ask(peer, req)).type, what).toBe('hash-reject');
    expect(peer.closed).toBe(false);
    // The connection still serves.
    expect((await ask(peer, reqOf(big, 1, 0, 2, 5))).type).toBe('hashes');
    expect(seeder.stats().torrents[0].hashRequestsRejected).toBeGreaterThanOrEqual(bad.length);
  });

  it('limits the rate of hash requests: over the rate paced, beyond the queue rejected, a flood disconnected', { timeout: 15_000 }, async () => {
    const limited = await createSeeder({ port: 0, host: '127.0.0.1', announce: false, maxHashRequestsPerSecond: 10 });
    toClose.push(limited);
    await limited.add(made.torrent, tmp.dir);
    const closes: PeerCloseEventInfo[] = [];
    limited.on('peer-close', (info) => closes.push(info));
    const big = file('big.bin').piecesRoot;
    const burst = Array.from({ length: 30 }, (_, i) => reqOf(big, 1, (i % 20) * 2, 2, 5));

    // 30 requests at once: one second's worth (10) answered at once, 16 wait for the rate (about
    // 1.6 s at 10 a second), the last 4 are rejected.
    const peer = await connect(limited);
    const started = Date.now();
    peer.send(Buffer.concat(burst.map((r) => encode.hashRequest(r))));
    await peer.waitFor(() => peer.ofType('hashes').length >= 10 && peer.ofType('hash-reject').length >= 4, 5000, 'the first answers');
    expect(peer.ofType('hashes').length).toBeLessThan(26); // the queued ones are not all answered yet
    await peer.waitFor(() => peer.ofType('hashes').length === 26, 5000, 'the queued answers');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000); // paced, not answered at once
    expect(peer.ofType('hash-reject').length).toBe(4);
    for (const m of peer.ofType('hashes')) expect(proveRoot(m, m.hashes).root.equals(big)).toBe(true);
    expect(peer.closed).toBe(false);

    // More than 4 times the rate within one second: the connection is closed.
    const flooder = await connect(limited);
    flooder.send(Buffer.concat(Array.from({ length: 50 }, () => encode.hashRequest(burst[0]))));
    await flooder.waitClosed();
    await waitFor('the close event', () => closes.length === 1, 5000, 20);
    expect(closes[0].reason).toBe('protocol error');
    expect(closes[0].error?.message).toMatch(/more than 40 hash requests in one second/);
    expect(peer.closed).toBe(false); // the other connection is untouched
  });
});

describe('v2-only torrents and the tracker', () => {
  let tracker: RunningApp;
  let listener: net.Server;
  beforeAll(async () => {
    tracker = await startApp({ interval: 5, minInterval: 1 });
    listener = net.createServer();
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    listener?.close();
    await tracker?.close();
  });

  it('announces the truncated v2 hash, dials the leecher, and answers its hash requests', { timeout: 30_000 }, async () => {
    const announces: AnnounceEventInfo[] = [];
    tracker.router.tracker.on('announce', (a: AnnounceEventInfo) => announces.push(a));
    const accepted = new Promise<FakePeer>((resolve) => listener.once('connection', (s) => resolve(FakePeer.wrap(s))));
    const truncated = Buffer.from(made.infoHashV2!, 'hex').subarray(0, 20);
    const leecherId = Buffer.concat([Buffer.from('-TS0001-'), randomBytes(12)]);
    const port = (listener.address() as net.AddressInfo).port;
    const q = `info_hash=${percentEncodeBytes(truncated)}&peer_id=${percentEncodeBytes(leecherId)}&port=${port}&uploaded=0&downloaded=0&left=1000&compact=1&event=started`;
    expect((await rawGet(tracker.port, `/tracker/announce?${q}`)).status).toBe(200);

    const dialler = await createSeeder({ port: 0, host: '127.0.0.2' });
    toClose.push(dialler);
    await dialler.add(made.torrent, tmp.dir, { announce: [[`http://127.0.0.1:${tracker.port}/tracker/announce`]], verify: false });
    const peer = await accepted;
    toClose.push({ close: () => peer.destroy() });
    await peer.waitFor(() => peer.ofType('handshake').length === 1, 5000, 'the seeder handshake');
    const [hs] = peer.ofType('handshake');
    expect(hs.infoHash).toEqual(truncated);
    expect(hasReservedBit(hs.reserved, Reserved.v2)).toBe(true);
    expect(announces.some((a) => a.infoHash === truncated.toString('hex') && a.ip === '127.0.0.2' && a.seeder)).toBe(true);

    peer.handshake(truncated, leecherId, { fast: true });
    await peer.waitFor(() => peer.ofType('have-all').length === 1);
    const big = file('big.bin');
    const req = reqOf(big.piecesRoot, 1, 0, 64, 5);
    const answer = await ask(peer, req);
    expect((answer as { hashes: Buffer }).hashes.subarray(0, 40 * 32).equals(big.pieceLayer!)).toBe(true);
    // The piece data matches the file (the last piece of big.bin ends in zeros: implied padding).
    peer.send(encode.interested());
    await peer.waitFor(() => peer.ofType('unchoke').length === 1);
    peer.send(encode.request({ index: 39, begin: 0, length: 32_768 }));
    await peer.waitFor(() => peer.ofType('piece').length === 1);
    const tail = contents['big.bin'].subarray(39 * PIECE);
    const block = peer.ofType('piece')[0].block;
    expect(block.subarray(0, tail.length).equals(tail)).toBe(true);
    expect(block.subarray(tail.length).equals(Buffer.alloc(PIECE - tail.length))).toBe(true);
    expect(readFileSync(path.join(root, 'big.bin')).length).toBe(1_300_000);
  });
});

describe('the merkle tree cache', () => {
  it('keeps at most hashTreeCacheBytes of tree layers and still answers when a tree is dropped', async () => {
    const cache = new HashTreeCache(2_000); // the layers above big.bin's piece layer: 20+10+5+3+2+1 nodes = 1 312 bytes
    const files = parsed.files
      .filter((f) => f.length > 0)
      .map((f) => ({ piecesRoot: f.piecesRoot!, length: f.length, pieceLayer: f.pieceLayer, firstPiece: f.offset / PIECE }));
    const unused = (): Promise<Buffer> => Promise.reject(new Error('no reads expected'));
    const trees = new HashTrees(files, PIECE, unused, cache);
    const big = file('big.bin');
    const huge = file('huge.bin');
    const answerBig = async (): Promise<void> => {
      const req = reqOf(big.piecesRoot, 1, 8, 8, 5);
      expect(trees.check(req, 512)).toBeUndefined();
      expect(proveRoot(req, await trees.hashes(req)).root.equals(big.piecesRoot)).toBe(true);
    };
    await answerBig();
    expect(cache.bytes).toBe(1_312);
    // huge.bin's layers (275+138+...+1 nodes, over 17 KiB) are larger than the whole cache: built, used, not kept.
    const req = reqOf(huge.piecesRoot, 1, 0, 512, 9);
    expect(proveRoot(req, await trees.hashes(req)).root.equals(huge.piecesRoot)).toBe(true);
    expect(cache.bytes).toBe(1_312);
    // A second torrent's tree that does not fit beside the first drops it (least recently used).
    const other = new HashTrees(files, PIECE, unused, cache);
    await other.hashes(reqOf(big.piecesRoot, 1, 0, 2, 5));
    expect(cache.bytes).toBe(1_312);
    await answerBig(); // rebuilt from the piece layer
    other.forget();
    expect(cache.bytes).toBe(1_312);
    trees.forget();
    expect(cache.bytes).toBe(0);
  });
});

describe('the BEP 52 messages', () => {
  it('encode and decode hash request, hashes and hash reject; the handshake carries the v2 bit', () => {
    const req = reqOf(randomBytes(32), 3, 512, 256, 7);
    const frame = encode.hashRequest(req);
    expect(frame.length).toBe(4 + 1 + 48);
    expect(frame[4]).toBe(21);
    expect(decodeMessage(21, frame.subarray(5))).toEqual({ type: 'hash-request', ...req });
    expect(decodeMessage(23, encode.hashReject(req).subarray(5))).toEqual({ type: 'hash-reject', ...req });
    const hashes = randomBytes(3 * 32);
    const answer = encode.hashes(req, hashes);
    expect(answer[4]).toBe(22);
    expect(decodeMessage(22, answer.subarray(5))).toEqual({ type: 'hashes', ...req, hashes });
    expect(() => decodeMessage(21, frame.subarray(5, 52))).toThrow(/hash request message has payload length 47/);
    expect(() => decodeMessage(22, Buffer.concat([frame.subarray(5), Buffer.alloc(5)]))).toThrow(/hashes message/);
    const hs = encodeHandshake(randomBytes(20), randomBytes(20), { v2: true });
    expect(hs[27]).toBe(0x10);
    expect(encodeHandshake(randomBytes(20), randomBytes(20), { fast: true })[27] & 0x10).toBe(0);
  });
});
