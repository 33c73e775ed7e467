/**
 * One peer connection of the seeder: handshake, bitfield (or BEP 6 have-all), BEP 10 extension
 * handshake with ut_metadata (BEP 9), interest, choking (decided by the {@link Choker}),
 * request/piece/cancel with a bounded request queue, BEP 52 hash requests (v2 torrents; rate-limited,
 * answered with `hashes` or `hash reject`), keep-alives and timeouts.
 *
 * We only upload: requests are answered, unsolicited data is ignored. Anything a peer does wrong
 * (bad handshake, oversized or malformed message, request outside the piece or over 128 KiB,
 * request flood, hash request flood) closes this connection only.
 */
import { parseAddress } from '../protocol/address.js';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { allowedFastSet } from './allowed-fast.js';
import { hostKey } from './host-key.js';
import { asDict, asInt, asText, bdecode, bencode } from './bencode.js';
import {
  MAX_BLOCK_LENGTH,
  Reserved,
  WireParser,
  WireProtocolError,
  encode,
  encodeHandshake,
  hasReservedBit,
  type BlockRef,
  type Handshake,
  type HashRequest,
  type WireMessage,
} from './wire.js';

/** Size of one ut_metadata piece (BEP 9). */
const METADATA_PIECE = 16 * 1024;
/** Our local extended-message id for ut_metadata. */
const UT_METADATA_ID = 1;
/**
 * Largest frame we take from a peer (after the length prefix), unless the torrent's bitfield is
 * larger. We only upload, so no message we accept is big: requests, cancels, haves, interest, the
 * extension handshake and ut_metadata requests (clients send a few hundred bytes). Unsolicited
 * `piece` messages and anything bigger close the connection at the length prefix.
 */
export const MAX_INCOMING_MESSAGE = 16 * 1024;

/** BEP 52: default most hash requests answered per second per peer (and the burst allowed). */
export const DEFAULT_HASH_REQUESTS_PER_SECOND = 100;
/** BEP 52: default most hashes in one request ("SHOULD NOT be greater than 512"). */
export const DEFAULT_MAX_HASHES_PER_REQUEST = 512;
/** Hash requests below the piece layer being answered at once per peer (each reads a piece). */
const MAX_HASH_READS = 2;
/** Good hash requests over the rate that wait for a token per peer; more are rejected. */
const MAX_QUEUED_HASH_REQUESTS = 16;
/** A peer sending more than this many times its hash-request rate within one second is dropped. */
const HASH_FLOOD_FACTOR = 4;

/** Serves BEP 52 hash requests for a v2 torrent (see hash-trees.ts). */
export interface HashServer {
  /** Why `req` cannot be served (it then gets a `hash reject`), or undefined. */
  check(req: HashRequest, maxHashes: number): string | undefined;
  /** True when answering a checked request reads from disk. */
  needsRead(req: HashRequest): boolean;
  /** The base-layer hashes then the uncle hashes of a checked request. */
  hashes(req: HashRequest): Promise<Buffer>;
}

/** What a connection needs from the torrent it serves. */
export interface SeedTorrent {
  /** 20-byte info hash. */
  readonly infoHash: Buffer;
  /** Number of pieces. */
  readonly pieceCount: number;
  /** Size of piece `index` in bytes. */
  pieceSize(index: number): number;
  /** Reads one block. */
  readBlock(index: number, begin: number, length: number): Promise<Buffer>;
  /** The bencoded info dictionary, served over ut_metadata when present. */
  readonly metadata?: Buffer;
  /**
   * v2-only torrents: answers BEP 52 hash requests. Its presence also sets the v2 bit of our
   * handshake. Without it every hash request gets a `hash reject`.
   */
  readonly hashServer?: HashServer;
}

/** Options for {@link PeerConnection}. */
export interface PeerConnectionOptions {
  /** Connected socket. */
  socket: Socket;
  /** Who opened the connection. */
  direction: 'incoming' | 'outgoing';
  /** Our 20-byte peer id. */
  peerId: Buffer;
  /** Outgoing connections: the torrent we dialled for. */
  torrent?: SeedTorrent;
  /**
   * Incoming connections: finds the torrent named by the peer's handshake. Returns the torrent,
   * a string giving the reason to refuse the connection (e.g. a connection limit), or undefined
   * for an unknown info hash.
   */
  lookup?: (infoHash: Buffer) => SeedTorrent | string | undefined;
  /** Our listening port, sent as `p` in the extension handshake. */
  listenPort?: number;
  /** Client name sent as `v` in the extension handshake. */
  clientName?: string;
  /** Most queued requests per peer (advertised as `reqq`); default 250. */
  maxRequests?: number;
  /** Milliseconds to complete the handshake; default 10 000. */
  handshakeTimeout?: number;
  /** Milliseconds without any message before the connection is dropped; default 180 000 (peers send keep-alives every 2 min). */
  idleTimeout?: number;
  /** Milliseconds without sending before we send a keep-alive; default 60 000. */
  keepAliveInterval?: number;
  /**
   * Milliseconds a peer may stay connected without being interested before we drop it (a seeder
   * has nothing else to offer, and the connection slot can serve someone else); default 300 000.
   */
  uninterestedTimeout?: number;
  /** Bytes buffered in the socket above which we stop reading blocks; default 1 MiB. */
  writeHighWater?: number;
  /**
   * BEP 52 hash requests answered per second (a token bucket that holds one second's worth);
   * default 100. Requests over the rate wait (up to 16 of them) and are answered as the rate
   * allows; more get a `hash reject`; a peer that sends more than 4 times the rate within one
   * second is disconnected.
   */
  maxHashRequestsPerSecond?: number;
  /** Most hashes one hash request may ask for (larger requests get a `hash reject`); default 512. */
  maxHashesPerRequest?: number;
  /** Size of the BEP 6 allowed-fast set offered to Fast-capable peers; default 4 (0 disables). */
  allowedFast?: number;
  /**
   * Bytes of each allowed-fast piece already served to this peer's host while it was choked, kept
   * by the caller across connections (called once the torrent is known). Each allowed-fast piece
   * is served at most once while choked; without this option the count is per connection.
   */
  allowedFastServed?: (infoHash: Buffer) => Map<number, number>;
}

/** Why a connection ended. */
export interface PeerCloseInfo {
  /** Human-readable reason. */
  reason: string;
  /** The error that caused it, if any. */
  error?: Error;
}

/**
 * One connection to a remote peer. Emits `ready`, `interest`, `upload` (bytes), `hash-request`
 * (true when answered with `hashes`, false for a `hash reject`), `close` (PeerCloseInfo).
 */
export class PeerConnection extends EventEmitter {
  /** The socket. */
  readonly socket: Socket;
  /** Who opened the connection. */
  readonly direction: 'incoming' | 'outgoing';
  /** Remote address (IPv4-mapped addresses normalised). */
  readonly address: string;
  /** Remote port. */
  readonly port: number;
  /** The remote host, for per-host limits and fair slots: its IPv4 address or IPv6 /64 ({@link hostKey}). */
  readonly host: string;
  /** When the connection was made (ms since the epoch). */
  readonly connectedAt = Date.now();
  /** Last time the peer asked for a block or we sent it one (ms since the epoch). */
  lastActiveAt = Date.now();
  /** Block requests received while we were not choking the peer (a counter, for the choker). */
  requested = 0;
  /** Our address on this connection (IPv4-mapped addresses normalised). */
  readonly localAddress: string;
  /** The torrent, once known (after the handshake for incoming connections). */
  torrent: SeedTorrent | undefined;
  /** Remote peer id, after the handshake. */
  remotePeerId: Buffer | undefined;
  /** Remote client name from the extension handshake (`v`). */
  clientName: string | undefined;
  /** True once both handshakes are done. */
  ready = false;
  /** True once closed. */
  closed = false;
  /** Whether we choke the peer. */
  amChoking = true;
  /** Whether the peer is interested in our pieces. */
  peerInterested = false;
  /** Both sides support BEP 6. */
  fast = false;
  /** Both sides support BEP 10. */
  extended = false;
  /** Payload bytes uploaded on this connection. */
  uploaded = 0;
  /** Number of pieces the peer says it has. */
  peerPieces = 0;
  /** BEP 52 hash requests answered with `hashes`. */
  hashRequestsServed = 0;
  /** BEP 52 hash requests answered with `hash reject` (bad, unknown, over the rate, or unreadable). */
  hashRequestsRejected = 0;

  private readonly options: Required<
    Omit<PeerConnectionOptions, 'torrent' | 'lookup' | 'socket' | 'direction' | 'listenPort' | 'allowedFastServed'>
  > &
    Pick<PeerConnectionOptions, 'lookup' | 'listenPort' | 'allowedFastServed'>;
  private readonly parser: WireParser;
  /** The incoming handshake's lookup result, found as soon as the handshake is parsed. */
  private lookedUp: SeedTorrent | string | undefined;
  private lastReceived = Date.now();
  private lastSent = Date.now();
  private lastInterested = Date.now();
  private sentHandshake = false;
  private queue: BlockRef[] = [];
  private reading = 0;
  private readingBytes = 0;
  private peerHave: Buffer | undefined;
  private allowed = new Set<number>();
  /** Bytes of each allowed-fast piece served while choked (shared by the host's connections when the seeder keeps it). */
  private fastServed = new Map<number, number>();
  private remoteMetadataId = 0;
  /** Hash-request tokens left (refilled at maxHashRequestsPerSecond, at most one second's worth). */
  private hashTokens: number;
  private hashTokensAt = Date.now();
  /** Start of the current one-second window of hash requests and their count in it. */
  private hashWindowStart = 0;
  private hashWindowCount = 0;
  /** Hash requests being answered from disk. */
  private hashReads = 0;
  /** Good hash requests waiting for a token (or a disk read slot), oldest first. */
  private hashQueue: Array<{ req: HashRequest; read: boolean }> = [];
  private hashTimer: NodeJS.Timeout | undefined;

  /** @param options see {@link PeerConnectionOptions} */
  constructor(options: PeerConnectionOptions) {
    super();
    this.socket = options.socket;
    this.direction = options.direction;
    this.torrent = options.torrent;
    const addr = options.socket.remoteAddress ?? '';
    this.address = addr.startsWith('::ffff:') ? addr.slice(7) : addr;
    this.port = options.socket.remotePort ?? 0;
    this.host = hostKey(this.address);
    const local = options.socket.localAddress ?? '';
    this.localAddress = local.startsWith('::ffff:') ? local.slice(7) : local;
    this.options = {
      peerId: options.peerId,
      lookup: options.lookup,
      listenPort: options.listenPort,
      clientName: options.clientName ?? 'express-torrent-tracker',
      maxRequests: options.maxRequests ?? 250,
      handshakeTimeout: options.handshakeTimeout ?? 10_000,
      idleTimeout: options.idleTimeout ?? 180_000,
      keepAliveInterval: options.keepAliveInterval ?? 60_000,
      uninterestedTimeout: options.uninterestedTimeout ?? 300_000,
      writeHighWater: options.writeHighWater ?? 1024 * 1024,
      allowedFast: options.allowedFast ?? 4,
      allowedFastServed: options.allowedFastServed,
      maxHashRequestsPerSecond: options.maxHashRequestsPerSecond ?? DEFAULT_HASH_REQUESTS_PER_SECOND,
      maxHashesPerRequest: options.maxHashesPerRequest ?? DEFAULT_MAX_HASHES_PER_REQUEST,
    };
    this.hashTokens = this.options.maxHashRequestsPerSecond;
    this.parser = new WireParser({ maxMessageLength: MAX_INCOMING_MESSAGE, onHandshake: (hs) => this.frameLimitFor(hs) });
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('drain', () => this.pump());
    this.socket.on('error', (err) => this.close('socket error', err));
    this.socket.on('end', () => this.close('peer ended the connection'));
    this.socket.on('close', () => this.close('socket closed'));
    if (this.direction === 'outgoing') {
      if (!this.torrent) throw new Error('outgoing connection needs a torrent');
      this.sendHandshake();
    }
  }

  /** Remote peer id as hex (for logs and events). */
  get peerIdHex(): string | undefined {
    return this.remotePeerId?.toString('hex');
  }

  /** Number of requests waiting to be served. */
  get queuedRequests(): number {
    return this.queue.length;
  }

  /** Unchokes the peer (called by the choker). */
  unchoke(): void {
    if (this.closed || !this.amChoking) return;
    this.amChoking = false;
    this.send(encode.unchoke());
  }

  /** Chokes the peer, rejecting (Fast) or dropping its queued requests. */
  choke(): void {
    if (this.closed || this.amChoking) return;
    this.amChoking = true;
    this.send(encode.choke());
    const keep: BlockRef[] = [];
    for (const req of this.queue) {
      if (this.fast && this.allowed.has(req.index)) keep.push(req);
      else if (this.fast) this.send(encode.reject(req));
    }
    this.queue = keep;
  }

  /** Timer work: handshake and idle timeouts, keep-alives. Called about once a second. */
  tick(now = Date.now()): void {
    if (this.closed) return;
    if (!this.ready && now - this.connectedAt > this.options.handshakeTimeout) {
      this.close('handshake timeout');
      return;
    }
    if (now - this.lastReceived > this.options.idleTimeout) {
      this.close('idle timeout');
      return;
    }
    if (this.peerInterested) this.lastInterested = now;
    else if (this.ready && now - this.lastInterested > this.options.uninterestedTimeout) {
      this.close('not interested');
      return;
    }
    if (this.ready && now - this.lastSent > this.options.keepAliveInterval) this.send(encode.keepAlive());
  }

  /** Closes the connection (idempotent). */
  close(reason: string, error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.hashQueue = [];
    clearTimeout(this.hashTimer);
    this.socket.destroy();
    this.emit('close', { reason, error } satisfies PeerCloseInfo);
  }

  private send(buf: Buffer): void {
    if (this.closed || this.socket.destroyed) return;
    // Blocks are only read while the socket has room, but small answers (rejects, metadata) are
    // written regardless: a peer that keeps asking and never reads would make this grow forever.
    if (this.socket.writableLength > this.options.writeHighWater * 4) {
      this.close('peer is not reading');
      return;
    }
    this.socket.write(buf);
    this.lastSent = Date.now();
  }

  private sendHandshake(): void {
    if (this.sentHandshake || !this.torrent) return;
    this.sentHandshake = true;
    const v2 = this.torrent.hashServer !== undefined;
    this.send(encodeHandshake(this.torrent.infoHash, this.options.peerId, { extended: true, fast: true, v2 }));
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.lastReceived = Date.now();
    let messages: Array<Handshake | WireMessage>;
    try {
      messages = this.parser.push(chunk);
    } catch (err) {
      this.close('protocol error', err as Error);
      return;
    }
    try {
      for (const msg of messages) {
        if (this.closed) return;
        this.handle(msg);
      }
    } catch (err) {
      this.close(err instanceof WireProtocolError ? 'protocol error' : 'internal error', err as Error);
    }
  }

  private handle(msg: Handshake | WireMessage): void {
    if (msg.type === 'handshake') return this.onHandshake(msg);
    const torrent = this.torrent!;
    switch (msg.type) {
      case 'keep-alive':
      case 'choke':
      case 'unchoke':
      case 'port':
      case 'piece': // we never request; unsolicited data is ignored
      case 'unknown':
        return;
      case 'interested':
      case 'not-interested': {
        const interested = msg.type === 'interested';
        if (interested !== this.peerInterested) {
          this.peerInterested = interested;
          this.lastInterested = Date.now();
          this.emit('interest', interested);
        }
        return;
      }
      case 'have':
        if (msg.index >= torrent.pieceCount) throw new WireProtocolError(`have for piece ${msg.index} of ${torrent.pieceCount}`);
        this.markHave(msg.index);
        return;
      case 'bitfield':
        return this.onBitfield(msg.bitfield);
      case 'request':
        return this.onRequest(msg);
      case 'cancel':
        return this.onCancel(msg);
      case 'have-all':
      case 'have-none':
      case 'reject':
      case 'allowed-fast':
      case 'suggest':
        if (!this.fast) throw new WireProtocolError(`${msg.type} without the Fast extension`);
        if (msg.type === 'have-all') this.close('peer is a seed');
        return;
      case 'extended':
        return this.onExtended(msg.extendedId, msg.payload);
      case 'hash-request':
        return this.onHashRequest(msg);
      case 'hashes': // we never ask for hashes
      case 'hash-reject':
        return;
    }
  }

  /**
   * Called by the parser as soon as the handshake is decoded, before the frames after it: finds
   * the torrent (incoming connections) and allows frames as large as its bitfield.
   */
  private frameLimitFor(hs: Handshake): void {
    if (this.direction === 'incoming') this.lookedUp = this.options.lookup?.(hs.infoHash);
    const torrent = this.direction === 'incoming' ? this.lookedUp : this.torrent;
    if (typeof torrent === 'object') this.parser.maxMessageLength = Math.max(MAX_INCOMING_MESSAGE, Math.ceil(torrent.pieceCount / 8) + 1);
  }

  private onHandshake(hs: Handshake): void {
    if (this.direction === 'incoming') {
      const found = this.lookedUp;
      if (found === undefined || typeof found === 'string') {
        this.close(found ?? 'unknown info hash');
        return;
      }
      this.torrent = found;
    } else if (!hs.infoHash.equals(this.torrent!.infoHash)) {
      this.close('info hash mismatch');
      return;
    }
    if (hs.peerId.equals(this.options.peerId)) {
      this.close('connected to ourselves');
      return;
    }
    const torrent = this.torrent!;
    this.remotePeerId = hs.peerId;
    this.fast = hasReservedBit(hs.reserved, Reserved.fast);
    this.extended = hasReservedBit(hs.reserved, Reserved.extended);
    this.peerHave = Buffer.alloc(Math.ceil(torrent.pieceCount / 8));
    this.sendHandshake();
    if (this.extended) this.sendExtendedHandshake();
    if (this.fast) {
      this.fastServed = this.options.allowedFastServed?.(torrent.infoHash) ?? this.fastServed;
      this.send(encode.haveAll());
      for (const index of allowedFastSet(this.address, torrent.infoHash, torrent.pieceCount, this.options.allowedFast)) {
        this.allowed.add(index);
        this.send(encode.allowedFast(index));
      }
    } else {
      this.send(encode.bitfield(fullBitfield(torrent.pieceCount)));
    }
    this.ready = true;
    this.lastInterested = Date.now();
    this.emit('ready');
  }

  private sendExtendedHandshake(): void {
    const torrent = this.torrent!;
    const dict: Record<string, unknown> = {
      m: torrent.metadata ? { ut_metadata: UT_METADATA_ID } : {},
      v: this.options.clientName,
      reqq: this.options.maxRequests,
    };
    if (this.options.listenPort) dict.p = this.options.listenPort;
    const yourIp = parseAddress(this.address); // BEP 10 `yourip`: 4 or 16 raw bytes
    if (yourIp) dict.yourip = yourIp;
    if (torrent.metadata) dict.metadata_size = torrent.metadata.length;
    this.send(encode.extended(0, bencode(dict)));
  }

  private onBitfield(bitfield: Buffer): void {
    const torrent = this.torrent!;
    if (bitfield.length !== Math.ceil(torrent.pieceCount / 8)) {
      throw new WireProtocolError(`bitfield of ${bitfield.length} bytes for ${torrent.pieceCount} pieces`);
    }
    const spare = torrent.pieceCount % 8;
    if (spare !== 0 && (bitfield[bitfield.length - 1] & (0xff >> spare)) !== 0) {
      throw new WireProtocolError('bitfield has spare bits set');
    }
    bitfield.copy(this.peerHave!);
    let count = 0;
    for (const byte of bitfield) count += popcount(byte);
    this.peerPieces = count;
    if (count === torrent.pieceCount) this.close('peer is a seed');
  }

  private markHave(index: number): void {
    const have = this.peerHave!;
    const mask = 0x80 >> (index % 8);
    if ((have[index >> 3] & mask) === 0) {
      have[index >> 3] |= mask;
      this.peerPieces += 1;
      if (this.peerPieces === this.torrent!.pieceCount) this.close('peer completed the torrent');
    }
  }

  private onRequest(req: BlockRef): void {
    const torrent = this.torrent!;
    if (req.index >= torrent.pieceCount) throw new WireProtocolError(`request for piece ${req.index} of ${torrent.pieceCount}`);
    if (req.length === 0 || req.length > MAX_BLOCK_LENGTH) throw new WireProtocolError(`request of ${req.length} bytes`);
    if (req.begin + req.length > torrent.pieceSize(req.index)) {
      throw new WireProtocolError(`request outside piece ${req.index}: ${req.begin}+${req.length}`);
    }
    const ref = { index: req.index, begin: req.begin, length: req.length };
    this.lastActiveAt = Date.now();
    if (!this.amChoking) this.requested += 1;
    if (this.amChoking && !this.fastBudgetLeft(ref)) {
      if (this.fast) this.send(encode.reject(ref));
      return; // BEP 3: requests while choked are discarded; BEP 6: allowed-fast pieces, once each
    }
    if (this.queue.length >= this.options.maxRequests) {
      if (!this.fast) throw new WireProtocolError(`more than ${this.options.maxRequests} outstanding requests`);
      this.send(encode.reject(ref));
      return;
    }
    this.queue.push(ref);
    this.pump();
  }

  /**
   * BEP 52: every hash request gets `hashes` or `hash reject`. A bad request is rejected at once.
   * Good ones are answered at most `maxHashRequestsPerSecond` a second (a token bucket holding one
   * second's worth), whatever the choke state: over the rate they wait in a short queue (so a
   * client that keeps a request or two outstanding, as libtorrent does, is paced rather than
   * refused) and beyond it are rejected; at most MAX_HASH_READS read from disk at once. A peer
   * that sends more than HASH_FLOOD_FACTOR times the rate within one second is disconnected.
   */
  private onHashRequest(msg: HashRequest): void {
    const req: HashRequest = { piecesRoot: msg.piecesRoot, baseLayer: msg.baseLayer, index: msg.index, length: msg.length, proofLayers: msg.proofLayers };
    const rate = this.options.maxHashRequestsPerSecond;
    const now = Date.now();
    if (now - this.hashWindowStart >= 1000) {
      this.hashWindowStart = now;
      this.hashWindowCount = 0;
    }
    if (++this.hashWindowCount > rate * HASH_FLOOD_FACTOR) {
      throw new WireProtocolError(`more than ${rate * HASH_FLOOD_FACTOR} hash requests in one second`);
    }
    const server = this.torrent!.hashServer;
    if (server === undefined || server.check(req, this.options.maxHashesPerRequest) !== undefined) return this.rejectHashes(req);
    if (this.hashQueue.length >= MAX_QUEUED_HASH_REQUESTS) return this.rejectHashes(req);
    this.hashQueue.push({ req, read: server.needsRead(req) });
    this.pumpHashes();
  }

  /** Answers queued hash requests while tokens (and disk reads) allow; waits for the next token otherwise. */
  private pumpHashes(): void {
    const server = this.torrent?.hashServer;
    if (server === undefined || this.closed) return;
    const rate = this.options.maxHashRequestsPerSecond;
    const now = Date.now();
    this.hashTokens = Math.min(rate, this.hashTokens + ((now - this.hashTokensAt) * rate) / 1000);
    this.hashTokensAt = now;
    while (this.hashQueue.length > 0 && this.hashTokens >= 1) {
      const { req, read } = this.hashQueue[0];
      if (read && this.hashReads >= MAX_HASH_READS) return; // a read finishing pumps again
      this.hashQueue.shift();
      this.hashTokens -= 1;
      if (read) this.hashReads += 1;
      server.hashes(req).then(
        (hashes) => {
          if (read) this.hashReads -= 1;
          if (this.closed) return;
          this.hashRequestsServed += 1;
          this.send(encode.hashes(req, hashes));
          this.emit('hash-request', true);
          if (read) this.pumpHashes();
        },
        () => {
          if (read) this.hashReads -= 1;
          if (this.closed) return;
          this.rejectHashes(req);
          if (read) this.pumpHashes();
        },
      );
    }
    if (this.hashQueue.length > 0 && this.hashTokens < 1 && this.hashTimer === undefined) {
      this.hashTimer = setTimeout(() => {
        this.hashTimer = undefined;
        this.pumpHashes();
      }, Math.ceil(((1 - this.hashTokens) * 1000) / rate));
      this.hashTimer.unref();
    }
  }

  private rejectHashes(req: HashRequest): void {
    this.hashRequestsRejected += 1;
    this.send(encode.hashReject(req));
    this.emit('hash-request', false);
  }

  private onCancel(req: BlockRef): void {
    const i = this.queue.findIndex((q) => q.index === req.index && q.begin === req.begin && q.length === req.length);
    if (i < 0) return;
    const [ref] = this.queue.splice(i, 1);
    if (this.fast) this.send(encode.reject(ref));
  }

  /** True when serving `req` while choked stays within its allowed-fast piece's budget (one piece). */
  private fastBudgetLeft(req: BlockRef): boolean {
    if (!this.allowed.has(req.index)) return false;
    return (this.fastServed.get(req.index) ?? 0) + req.length <= this.torrent!.pieceSize(req.index);
  }

  /**
   * Serves queued requests while the socket has room. While we choke the peer only allowed-fast
   * requests within budget are served (the budget is charged here); a block read for an unchoked
   * peer that got choked meanwhile is not sent.
   */
  private pump(): void {
    const torrent = this.torrent;
    if (!torrent) return;
    while (
      !this.closed &&
      this.queue.length > 0 &&
      this.reading < 4 &&
      this.socket.writableLength + this.readingBytes < this.options.writeHighWater
    ) {
      const req = this.queue.shift()!;
      const whileChoked = this.amChoking;
      if (whileChoked) {
        if (!this.fastBudgetLeft(req)) {
          if (this.fast) this.send(encode.reject(req));
          continue;
        }
        this.fastServed.set(req.index, (this.fastServed.get(req.index) ?? 0) + req.length);
      }
      this.reading += 1;
      this.readingBytes += req.length;
      torrent.readBlock(req.index, req.begin, req.length).then(
        (block) => {
          this.reading -= 1;
          this.readingBytes -= req.length;
          if (this.closed) return;
          if (this.amChoking && !whileChoked) {
            // Choked while the block was read: choking allows no more.
            if (this.fast) this.send(encode.reject(req));
            this.pump();
            return;
          }
          this.socket.cork();
          this.send(encode.pieceHeader(req.index, req.begin, block.length));
          this.send(block);
          this.socket.uncork();
          this.uploaded += block.length;
          this.lastActiveAt = Date.now();
          this.emit('upload', block.length);
          this.pump();
        },
        (err: Error) => {
          this.reading -= 1;
          this.readingBytes -= req.length;
          this.close('read error', err);
        },
      );
    }
  }

  private onExtended(id: number, payload: Buffer): void {
    if (id === 0) {
      const dict = asDict(bdecodeOrThrow(payload));
      if (!dict) throw new WireProtocolError('extension handshake is not a dictionary');
      const m = asDict(dict.m);
      const metaId = m ? asInt(m.ut_metadata) : undefined;
      if (metaId !== undefined) this.remoteMetadataId = metaId > 0 && metaId < 256 ? metaId : 0;
      const v = asText(dict.v);
      if (v !== undefined) this.clientName = v.slice(0, 64);
      return;
    }
    if (id === UT_METADATA_ID) this.onMetadataMessage(payload);
  }

  private onMetadataMessage(payload: Buffer): void {
    const metadata = this.torrent?.metadata;
    let dict: Record<string, unknown> | undefined;
    try {
      // A request is a bare dictionary; data messages carry bytes after it, which we never expect.
      dict = asDict(bdecode(payload));
    } catch {
      return;
    }
    if (!dict || asInt(dict.msg_type) !== 0 || this.remoteMetadataId === 0) return;
    const piece = asInt(dict.piece);
    if (piece === undefined) return;
    const pieces = metadata ? Math.ceil(metadata.length / METADATA_PIECE) : 0;
    const tooBusy = this.socket.writableLength > this.options.writeHighWater * 2;
    if (!metadata || piece < 0 || piece >= pieces || tooBusy) {
      this.send(encode.extended(this.remoteMetadataId, bencode({ msg_type: 2, piece })));
      return;
    }
    const chunk = metadata.subarray(piece * METADATA_PIECE, (piece + 1) * METADATA_PIECE);
    const head = bencode({ msg_type: 1, piece, total_size: metadata.length });
    this.send(encode.extended(this.remoteMetadataId, Buffer.concat([head, chunk])));
  }
}

function bdecodeOrThrow(payload: Buffer): unknown {
  try {
    return bdecode(payload);
  } catch (err) {
    throw new WireProtocolError(`malformed extension message: ${(err as Error).message}`);
  }
}

function popcount(byte: number): number {
  let n = 0;
  for (let b = byte; b; b &= b - 1) n++;
  return n;
}

/** A bitfield with the first `pieceCount` bits set and the spare bits clear. */
export function fullBitfield(pieceCount: number): Buffer {
  const out = Buffer.alloc(Math.ceil(pieceCount / 8), 0xff);
  const spare = pieceCount % 8;
  if (spare !== 0) out[out.length - 1] = (0xff << (8 - spare)) & 0xff;
  return out;
}
