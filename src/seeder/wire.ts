/**
 * BitTorrent peer wire protocol codec (BEP 3, with the Fast extension of BEP 6, the extension
 * protocol message of BEP 10 and the hash request / hashes / hash reject messages of BEP 52). Pure functions and an incremental framing parser: no sockets here.
 *
 * Every message after the handshake is `<length u32 BE><id u8><payload>`; a length of 0 is a
 * keep-alive. The parser refuses any frame longer than its configured maximum before buffering it,
 * so a hostile peer cannot make a connection hold more than that many bytes.
 */

/** The protocol string of the BEP 3 handshake. */
export const PROTOCOL = Buffer.from('BitTorrent protocol', 'latin1');

/** Total length of a handshake in bytes: 1 + 19 + 8 reserved + 20 info hash + 20 peer id. */
export const HANDSHAKE_LENGTH = 68;

/** Largest block a well-behaved peer requests (128 KiB); the usual size is 16 KiB. */
export const MAX_BLOCK_LENGTH = 128 * 1024;

/** The standard block size clients request (16 KiB). */
export const BLOCK_LENGTH = 16 * 1024;

/** Default maximum frame length accepted by {@link WireParser}: a 128 KiB piece message plus headers. */
export const DEFAULT_MAX_MESSAGE_LENGTH = MAX_BLOCK_LENGTH + 9 + 64;

/** Message ids of BEP 3, BEP 6, BEP 10 and BEP 52. */
export const MessageId = {
  choke: 0,
  unchoke: 1,
  interested: 2,
  notInterested: 3,
  have: 4,
  bitfield: 5,
  request: 6,
  piece: 7,
  cancel: 8,
  port: 9,
  suggest: 0x0d,
  haveAll: 0x0e,
  haveNone: 0x0f,
  reject: 0x10,
  allowedFast: 0x11,
  extended: 20,
  hashRequest: 21,
  hashes: 22,
  hashReject: 23,
} as const;

/** Reserved-bit helpers: which bits of the 8 reserved handshake bytes mean what. */
export const Reserved = {
  /** BEP 10 extension protocol: byte 5, bit 0x10. */
  extended: { byte: 5, mask: 0x10 },
  /** BEP 6 Fast extension: byte 7, bit 0x04. */
  fast: { byte: 7, mask: 0x04 },
  /** BEP 5 DHT: byte 7, bit 0x01. */
  dht: { byte: 7, mask: 0x01 },
  /** BEP 52 "BitTorrent v2 upgrade": byte 7, bit 0x10 (the 4th most significant bit of the last byte). */
  v2: { byte: 7, mask: 0x10 },
} as const;

/** A protocol violation by the remote peer; the connection should be dropped. */
export class WireProtocolError extends Error {
  /** @param message what the peer did wrong */
  constructor(message: string) {
    super(message);
    this.name = 'WireProtocolError';
  }
}

/** A decoded handshake. */
export interface Handshake {
  /** Discriminator. */
  type: 'handshake';
  /** The 8 reserved bytes (feature bits). */
  reserved: Buffer;
  /** 20-byte info hash. */
  infoHash: Buffer;
  /** 20-byte peer id. */
  peerId: Buffer;
}

/** A block address: piece index, byte offset in the piece, length. */
export interface BlockRef {
  /** Zero-based piece index. */
  index: number;
  /** Byte offset inside the piece. */
  begin: number;
  /** Block length in bytes. */
  length: number;
}

/**
 * The payload of BEP 52 `hash request` (21) and `hash reject` (23) messages, and the header of
 * `hashes` (22): which hashes of one file's merkle tree.
 */
export interface HashRequest {
  /** The file's `pieces root` (32 bytes). */
  piecesRoot: Buffer;
  /** Layer of the requested hashes, counted from the leaves (0 = 16 KiB block hashes). */
  baseLayer: number;
  /** Offset in hashes of the first requested hash in the base layer. */
  index: number;
  /** Number of base-layer hashes. */
  length: number;
  /** Number of ancestor layers whose uncle hashes prove the base hashes up to the root. */
  proofLayers: number;
}

/** Bytes of a `hash request` / `hash reject` payload: 32-byte root and four 32-bit integers. */
export const HASH_REQUEST_LENGTH = 48;

/** Any decoded message after the handshake. */
export type WireMessage =
  | { type: 'keep-alive' }
  | { type: 'choke' }
  | { type: 'unchoke' }
  | { type: 'interested' }
  | { type: 'not-interested' }
  | { type: 'have'; index: number }
  | { type: 'bitfield'; bitfield: Buffer }
  | ({ type: 'request' } & BlockRef)
  | { type: 'piece'; index: number; begin: number; block: Buffer }
  | ({ type: 'cancel' } & BlockRef)
  | { type: 'port'; port: number }
  | { type: 'suggest'; index: number }
  | { type: 'have-all' }
  | { type: 'have-none' }
  | ({ type: 'reject' } & BlockRef)
  | { type: 'allowed-fast'; index: number }
  | { type: 'extended'; extendedId: number; payload: Buffer }
  | ({ type: 'hash-request' } & HashRequest)
  | ({ type: 'hashes' } & HashRequest & { hashes: Buffer })
  | ({ type: 'hash-reject' } & HashRequest)
  | { type: 'unknown'; id: number; payload: Buffer };

/** True when the reserved bytes have the given feature bit set. */
export function hasReservedBit(reserved: Buffer, bit: { byte: number; mask: number }): boolean {
  return reserved.length === 8 && (reserved[bit.byte] & bit.mask) !== 0;
}

/** Options for {@link encodeHandshake}. */
export interface HandshakeFeatures {
  /** Advertise the BEP 10 extension protocol. */
  extended?: boolean;
  /** Advertise the BEP 6 Fast extension. */
  fast?: boolean;
  /** Advertise BitTorrent v2 (BEP 52). */
  v2?: boolean;
}

/** Encodes the 68-byte handshake. */
export function encodeHandshake(infoHash: Buffer, peerId: Buffer, features: HandshakeFeatures = {}): Buffer {
  if (infoHash.length !== 20) throw new RangeError('info hash must be 20 bytes');
  if (peerId.length !== 20) throw new RangeError('peer id must be 20 bytes');
  const out = Buffer.alloc(HANDSHAKE_LENGTH);
  out[0] = PROTOCOL.length;
  PROTOCOL.copy(out, 1);
  if (features.extended) out[20 + Reserved.extended.byte] |= Reserved.extended.mask;
  if (features.fast) out[20 + Reserved.fast.byte] |= Reserved.fast.mask;
  if (features.v2) out[20 + Reserved.v2.byte] |= Reserved.v2.mask;
  infoHash.copy(out, 28);
  peerId.copy(out, 48);
  return out;
}

/** Decodes a 68-byte handshake; throws {@link WireProtocolError} on a wrong protocol string. */
export function decodeHandshake(buf: Buffer): Handshake {
  if (buf.length < HANDSHAKE_LENGTH) throw new WireProtocolError('handshake too short');
  if (buf[0] !== PROTOCOL.length || !buf.subarray(1, 20).equals(PROTOCOL)) {
    throw new WireProtocolError('wrong protocol string in handshake');
  }
  return {
    type: 'handshake',
    reserved: Buffer.from(buf.subarray(20, 28)),
    infoHash: Buffer.from(buf.subarray(28, 48)),
    peerId: Buffer.from(buf.subarray(48, 68)),
  };
}

/** A frame of `extra` payload bytes after the id, header filled in, payload left to the caller. */
function header(id: number, extra: number): Buffer {
  const out = Buffer.allocUnsafe(5 + extra);
  out.writeUInt32BE(1 + extra, 0);
  out[4] = id;
  return out;
}

function simple(id: number): Buffer {
  return header(id, 0);
}

function withIndex(id: number, index: number): Buffer {
  const out = header(id, 4);
  out.writeUInt32BE(index, 5);
  return out;
}

function withBlock(id: number, ref: BlockRef): Buffer {
  const out = header(id, 12);
  out.writeUInt32BE(ref.index, 5);
  out.writeUInt32BE(ref.begin, 9);
  out.writeUInt32BE(ref.length, 13);
  return out;
}

/** Encoders for every message; each returns a complete frame. */
export const encode = {
  /** Zero-length keep-alive frame. */
  keepAlive: (): Buffer => Buffer.alloc(4),
  /** `choke` (0). */
  choke: (): Buffer => simple(MessageId.choke),
  /** `unchoke` (1). */
  unchoke: (): Buffer => simple(MessageId.unchoke),
  /** `interested` (2). */
  interested: (): Buffer => simple(MessageId.interested),
  /** `not interested` (3). */
  notInterested: (): Buffer => simple(MessageId.notInterested),
  /** `have` (4). */
  have: (index: number): Buffer => withIndex(MessageId.have, index),
  /** `bitfield` (5) with the given bitfield bytes. */
  bitfield: (bitfield: Buffer): Buffer => {
    const out = Buffer.allocUnsafe(5 + bitfield.length);
    out.writeUInt32BE(1 + bitfield.length, 0);
    out[4] = MessageId.bitfield;
    bitfield.copy(out, 5);
    return out;
  },
  /** `request` (6). */
  request: (ref: BlockRef): Buffer => withBlock(MessageId.request, ref),
  /**
   * The 13-byte header of a `piece` (7) message carrying `blockLength` bytes; write the block after
   * it (avoids copying the block).
   */
  pieceHeader: (index: number, begin: number, blockLength: number): Buffer => {
    const out = Buffer.allocUnsafe(13);
    out.writeUInt32BE(9 + blockLength, 0);
    out[4] = MessageId.piece;
    out.writeUInt32BE(index, 5);
    out.writeUInt32BE(begin, 9);
    return out;
  },
  /** A complete `piece` (7) message (copies the block). */
  piece: (index: number, begin: number, block: Buffer): Buffer =>
    Buffer.concat([encode.pieceHeader(index, begin, block.length), block]),
  /** `cancel` (8). */
  cancel: (ref: BlockRef): Buffer => withBlock(MessageId.cancel, ref),
  /** `port` (9), the DHT port. */
  port: (port: number): Buffer => {
    const out = header(MessageId.port, 2);
    out.writeUInt16BE(port, 5);
    return out;
  },
  /** BEP 6 `suggest piece`. */
  suggest: (index: number): Buffer => withIndex(MessageId.suggest, index),
  /** BEP 6 `have all`. */
  haveAll: (): Buffer => simple(MessageId.haveAll),
  /** BEP 6 `have none`. */
  haveNone: (): Buffer => simple(MessageId.haveNone),
  /** BEP 6 `reject request`. */
  reject: (ref: BlockRef): Buffer => withBlock(MessageId.reject, ref),
  /** BEP 6 `allowed fast`. */
  allowedFast: (index: number): Buffer => withIndex(MessageId.allowedFast, index),
  /** BEP 52 `hash request` (21). */
  hashRequest: (req: HashRequest): Buffer => hashRequestPayload(MessageId.hashRequest, req, 0),
  /** BEP 52 `hashes` (22): the request's fields, then the base-layer hashes and the uncle hashes. */
  hashes: (req: HashRequest, hashes: Buffer): Buffer => {
    const out = hashRequestPayload(MessageId.hashes, req, hashes.length);
    hashes.copy(out, 5 + HASH_REQUEST_LENGTH);
    return out;
  },
  /** BEP 52 `hash reject` (23): the request's fields. */
  hashReject: (req: HashRequest): Buffer => hashRequestPayload(MessageId.hashReject, req, 0),
  /** BEP 10 extended message: `extendedId` 0 is the extension handshake. */
  extended: (extendedId: number, payload: Uint8Array): Buffer => {
    const out = Buffer.allocUnsafe(6 + payload.length);
    out.writeUInt32BE(2 + payload.length, 0);
    out[4] = MessageId.extended;
    out[5] = extendedId;
    out.set(payload, 6);
    return out;
  },
};

/** The 48-byte payload shared by `hash request` and `hash reject`, and the header of `hashes`. */
function hashRequestPayload(id: number, req: HashRequest, extra: number): Buffer {
  if (req.piecesRoot.length !== 32) throw new RangeError('pieces root must be 32 bytes');
  const out = header(id, HASH_REQUEST_LENGTH + extra);
  req.piecesRoot.copy(out, 5);
  out.writeUInt32BE(req.baseLayer, 37);
  out.writeUInt32BE(req.index, 41);
  out.writeUInt32BE(req.length, 45);
  out.writeUInt32BE(req.proofLayers, 49);
  return out;
}

function hashRequestFields(payload: Buffer): HashRequest {
  return {
    piecesRoot: Buffer.from(payload.subarray(0, 32)),
    baseLayer: payload.readUInt32BE(32),
    index: payload.readUInt32BE(36),
    length: payload.readUInt32BE(40),
    proofLayers: payload.readUInt32BE(44),
  };
}

function expectLength(name: string, payload: Buffer, length: number): void {
  if (payload.length !== length) {
    throw new WireProtocolError(`${name} message has payload length ${payload.length}, expected ${length}`);
  }
}

function blockRef(payload: Buffer): BlockRef {
  return { index: payload.readUInt32BE(0), begin: payload.readUInt32BE(4), length: payload.readUInt32BE(8) };
}

/**
 * Decodes one message from its id and payload (the bytes after the id). Throws
 * {@link WireProtocolError} when a known message has the wrong size. Unknown ids decode to
 * `{ type: 'unknown' }` (BEP 3 says to ignore them).
 */
export function decodeMessage(id: number, payload: Buffer): WireMessage {
  switch (id) {
    case MessageId.choke:
      expectLength('choke', payload, 0);
      return { type: 'choke' };
    case MessageId.unchoke:
      expectLength('unchoke', payload, 0);
      return { type: 'unchoke' };
    case MessageId.interested:
      expectLength('interested', payload, 0);
      return { type: 'interested' };
    case MessageId.notInterested:
      expectLength('not interested', payload, 0);
      return { type: 'not-interested' };
    case MessageId.have:
      expectLength('have', payload, 4);
      return { type: 'have', index: payload.readUInt32BE(0) };
    case MessageId.bitfield:
      return { type: 'bitfield', bitfield: payload };
    case MessageId.request:
      expectLength('request', payload, 12);
      return { type: 'request', ...blockRef(payload) };
    case MessageId.piece:
      if (payload.length < 8) throw new WireProtocolError('piece message too short');
      return {
        type: 'piece',
        index: payload.readUInt32BE(0),
        begin: payload.readUInt32BE(4),
        block: payload.subarray(8),
      };
    case MessageId.cancel:
      expectLength('cancel', payload, 12);
      return { type: 'cancel', ...blockRef(payload) };
    case MessageId.port:
      expectLength('port', payload, 2);
      return { type: 'port', port: payload.readUInt16BE(0) };
    case MessageId.suggest:
      expectLength('suggest', payload, 4);
      return { type: 'suggest', index: payload.readUInt32BE(0) };
    case MessageId.haveAll:
      expectLength('have all', payload, 0);
      return { type: 'have-all' };
    case MessageId.haveNone:
      expectLength('have none', payload, 0);
      return { type: 'have-none' };
    case MessageId.reject:
      expectLength('reject', payload, 12);
      return { type: 'reject', ...blockRef(payload) };
    case MessageId.allowedFast:
      expectLength('allowed fast', payload, 4);
      return { type: 'allowed-fast', index: payload.readUInt32BE(0) };
    case MessageId.extended:
      if (payload.length < 1) throw new WireProtocolError('extended message without extended id');
      return { type: 'extended', extendedId: payload[0], payload: payload.subarray(1) };
    case MessageId.hashRequest:
      expectLength('hash request', payload, HASH_REQUEST_LENGTH);
      return { type: 'hash-request', ...hashRequestFields(payload) };
    case MessageId.hashReject:
      expectLength('hash reject', payload, HASH_REQUEST_LENGTH);
      return { type: 'hash-reject', ...hashRequestFields(payload) };
    case MessageId.hashes:
      if (payload.length < HASH_REQUEST_LENGTH || (payload.length - HASH_REQUEST_LENGTH) % 32 !== 0) {
        throw new WireProtocolError(`hashes message has payload length ${payload.length}`);
      }
      return { type: 'hashes', ...hashRequestFields(payload), hashes: payload.subarray(HASH_REQUEST_LENGTH) };
    default:
      return { type: 'unknown', id, payload };
  }
}

/** Options for {@link WireParser}. */
export interface WireParserOptions {
  /** Expect a 68-byte handshake before the first message (default true). */
  expectHandshake?: boolean;
  /** Largest frame length (after the 4-byte length prefix) accepted; default {@link DEFAULT_MAX_MESSAGE_LENGTH}. */
  maxMessageLength?: number;
  /**
   * Called with the handshake as soon as it is decoded, before any frame after it is looked at, so
   * the caller can set {@link WireParser.maxMessageLength} for this torrent (its bitfield size)
   * even when the peer's first messages arrive in the same chunk as its handshake.
   */
  onHandshake?: (handshake: Handshake) => void;
}

/**
 * Incremental framing parser. Feed it socket chunks in order; it returns the complete messages
 * they finish (the handshake first, when expected) and keeps at most one partial frame buffered.
 * Throws {@link WireProtocolError} on a wrong protocol string, an oversized frame or a malformed
 * message; after a throw the parser must not be used again.
 *
 * Work is linear in the bytes received, however the peer splits its frames: the chunks of an
 * unfinished frame are kept as they are (never re-copied on each arrival) and joined once, when
 * the frame is complete; a frame's length prefix is checked against the limit as soon as its four
 * bytes are in, before anything more is kept.
 */
export class WireParser {
  /** Maximum frame length accepted; may be changed between chunks (e.g. once the torrent is known). */
  maxMessageLength: number;
  /**
   * Bytes this parser has copied so far (joining the chunks of split frames, keeping unfinished
   * tails): a diagnostic of the work done, at most about twice the bytes received.
   */
  copiedBytes = 0;
  private awaitingHandshake: boolean;
  private readonly onHandshake: ((handshake: Handshake) => void) | undefined;
  /** Chunks of the unfinished handshake or frame, in order. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Total size of the unfinished unit (handshake or frame with its prefix), once known. */
  private pendingNeed = 0;
  private failed = false;

  /** @param options see {@link WireParserOptions} */
  constructor(options: WireParserOptions = {}) {
    this.awaitingHandshake = options.expectHandshake ?? true;
    this.maxMessageLength = options.maxMessageLength ?? DEFAULT_MAX_MESSAGE_LENGTH;
    this.onHandshake = options.onHandshake;
  }

  /** Number of bytes currently buffered (a partial frame). */
  get buffered(): number {
    return this.pendingBytes;
  }

  /** Consumes a chunk; returns the messages it completes, in order. */
  push(chunk: Buffer): Array<Handshake | WireMessage> {
    if (this.failed) throw new WireProtocolError('parser used after a protocol error');
    const out: Array<Handshake | WireMessage> = [];
    try {
      let rest = chunk;
      if (this.pendingBytes > 0) {
        this.pending.push(chunk);
        this.pendingBytes += chunk.length;
        const need = this.needed();
        if (need === 0 || this.pendingBytes < need) return out;
        // The unit is complete: join its chunks once (only its own bytes), then go on in place.
        const fromChunk = need - (this.pendingBytes - chunk.length);
        const unit = Buffer.concat(this.pending, need);
        this.copiedBytes += need;
        this.pending = [];
        this.pendingBytes = 0;
        this.pendingNeed = 0;
        this.parse(unit, out); // exactly one handshake or frame
        rest = chunk.subarray(fromChunk);
      }
      const used = this.parse(rest, out);
      if (used < rest.length) {
        // Keep only the unfinished tail, copied so the big chunk it came from can be freed.
        const tail = Buffer.from(rest.subarray(used));
        this.copiedBytes += tail.length;
        this.pending = [tail];
        this.pendingBytes = tail.length;
        this.pendingNeed = 0;
        this.needed(); // checks the handshake prefix or the frame limit of the tail at once
      }
      return out;
    } catch (err) {
      this.failed = true;
      this.pending = [];
      this.pendingBytes = 0;
      throw err;
    }
  }

  /**
   * Size of the unfinished unit (handshake, or frame with its prefix) from the pending chunks; 0
   * while the frame's length prefix is incomplete. Throws as soon as the bytes at hand show a
   * wrong protocol string or an oversized frame.
   */
  private needed(): number {
    if (this.pendingNeed > 0) return this.pendingNeed;
    if (this.awaitingHandshake) {
      this.checkProtocol(this.peek(Math.min(this.pendingBytes, 20)));
      this.pendingNeed = HANDSHAKE_LENGTH;
      return this.pendingNeed;
    }
    if (this.pendingBytes < 4) return 0;
    const length = this.peek(4).readUInt32BE(0);
    this.checkLength(length);
    this.pendingNeed = 4 + length;
    return this.pendingNeed;
  }

  /** The first `n` pending bytes (n is at most 20), joined only when they span chunks. */
  private peek(n: number): Buffer {
    const first = this.pending[0];
    if (first.length >= n) return first.subarray(0, n);
    this.copiedBytes += n;
    return Buffer.concat(this.pending, n);
  }

  private checkProtocol(prefix: Buffer): void {
    // Check the protocol string as soon as its bytes arrive, before waiting for all 68.
    if (prefix.length >= 1 && prefix[0] !== PROTOCOL.length) throw new WireProtocolError('wrong protocol string in handshake');
    if (prefix.length > 1 && !prefix.subarray(1).equals(PROTOCOL.subarray(0, prefix.length - 1))) {
      throw new WireProtocolError('wrong protocol string in handshake');
    }
  }

  private checkLength(length: number): void {
    if (length > this.maxMessageLength) {
      throw new WireProtocolError(`message of ${length} bytes exceeds the limit of ${this.maxMessageLength}`);
    }
  }

  /** Decodes every complete unit at the start of `buf` into `out`; returns the bytes consumed. */
  private parse(buf: Buffer, out: Array<Handshake | WireMessage>): number {
    let offset = 0;
    if (this.awaitingHandshake) {
      this.checkProtocol(buf.subarray(0, Math.min(buf.length, 20)));
      if (buf.length < HANDSHAKE_LENGTH) return 0;
      const handshake = decodeHandshake(buf.subarray(0, HANDSHAKE_LENGTH));
      this.awaitingHandshake = false;
      out.push(handshake);
      this.onHandshake?.(handshake);
      offset = HANDSHAKE_LENGTH;
    }
    while (buf.length - offset >= 4) {
      const length = buf.readUInt32BE(offset);
      this.checkLength(length);
      if (buf.length - offset - 4 < length) break;
      if (length === 0) {
        out.push({ type: 'keep-alive' });
      } else {
        out.push(decodeMessage(buf[offset + 4], buf.subarray(offset + 5, offset + 4 + length)));
      }
      offset += 4 + length;
    }
    return offset;
  }
}
