/**
 * `createSeeder()`: a BitTorrent peer that only uploads. One TCP server and one process serve many
 * torrents to many peers: it accepts incoming connections, announces each torrent to its HTTP
 * trackers and dials the peers they return (many clients never dial loopback or same-host peers,
 * and NATed clients cannot be dialled at all). Upload slots are shared by all torrents through one
 * {@link Choker}. Info hashes are raw bytes inside and lowercase hex in events and stats.
 */
import { booleanOption, optionsObject, warnUnknownKeys, wholeNumber, type NumberRange } from '../option-checks.js';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { parseTorrent } from '../torrent/parse.js';
import type { ParsedTorrent } from '../torrent/types.js';
import { Announcer, type AnnounceFailure, type AnnounceResult } from './announcer.js';
import { Choker } from './choker.js';
import { FilePool } from './file-pool.js';
import { HashTreeCache, HashTrees } from './hash-trees.js';
import { pickVictim } from './eviction.js';
import { hostKey } from './host-key.js';
import { resolveLocalFiles } from './paths.js';
import {
  DEFAULT_HASH_REQUESTS_PER_SECOND,
  DEFAULT_MAX_HASHES_PER_REQUEST,
  PeerConnection,
  type PeerCloseInfo,
  type SeedTorrent,
} from './peer.js';
import { TorrentDataError, TorrentStorage } from './storage.js';
import type { PeerAddress } from './tracker-http.js';

/** Options of {@link createSeeder}. */
export interface SeederOptions {
  /** TCP port to listen on; default 6881, 0 picks a free one. */
  port?: number;
  /**
   * Address to bind: used for listening, as the local address when dialling peers and when
   * announcing to trackers. Default: all interfaces.
   */
  host?: string;
  /** Our 20-byte peer id; default `-ET0100-` plus 12 random bytes. */
  peerId?: Buffer;
  /** Regular upload slots shared by all torrents; default 8 (plus one optimistic slot). */
  uploadSlots?: number;
  /** Milliseconds between upload-slot rotations; default 10 000. */
  rotateInterval?: number;
  /**
   * Most open peer connections in total; default 500. When they are all taken, a new incoming
   * connection closes one that is only holding a slot (see eviction.ts) or is refused.
   */
  maxConnections?: number;
  /** Most open peer connections per torrent; default 100. When full, eviction as for `maxConnections`. */
  maxConnectionsPerTorrent?: number;
  /**
   * Most connections one host (an IPv4 address, or an IPv6 /64) may hold to one torrent; default
   * 4 (clients open one; a few share an address behind NAT). More are refused after the handshake.
   */
  maxConnectionsPerAddress?: number;
  /** Most queued block requests per peer (advertised as `reqq`); default 250. */
  maxRequests?: number;
  /**
   * v2-only torrents: BEP 52 hash requests answered per second per peer, whatever its choke state
   * (a token bucket holding one second's worth); default 100. Requests over the rate wait, up to
   * 16 per peer, and are answered as the rate allows (libtorrent keeps two outstanding: it is
   * paced, never refused); more get a `hash reject`; a peer that sends more than 4 times the rate
   * within one second is disconnected.
   */
  maxHashRequestsPerSecond?: number;
  /**
   * v2-only torrents: most hashes one hash request may ask for; default 512 (BEP 52: a client
   * "SHOULD NOT" ask for more). Larger requests get a `hash reject`.
   */
  maxHashesPerRequest?: number;
  /**
   * v2-only torrents: bytes of merkle tree layers (above the piece layers, about 32 bytes per piece)
   * kept for answering hash requests, over all torrents; default 64 MiB. The least recently used
   * file trees are dropped first and rebuilt from the piece layer when asked for again.
   */
  hashTreeCacheBytes?: number;
  /** Milliseconds a peer has to complete the handshake; default 10 000. */
  handshakeTimeout?: number;
  /** Milliseconds of silence after which a peer is dropped; default 180 000. */
  idleTimeout?: number;
  /** Milliseconds between keep-alives when idle; default 60 000. */
  keepAliveInterval?: number;
  /** Milliseconds a connected peer may stay uninterested before it is dropped; default 300 000. */
  uninterestedTimeout?: number;
  /** Milliseconds to wait for an outgoing TCP connection; default 10 000. */
  connectTimeout?: number;
  /** Dial peers learned from trackers; default true. */
  dial?: boolean;
  /** Announce to the torrents' trackers; default true. */
  announce?: boolean;
  /** Peers asked for per announce; default 50. */
  numwant?: number;
  /** Lower bound in seconds on re-announce intervals, whatever a tracker says; default 5. */
  minAnnounceInterval?: number;
  /** First retry delay in ms after a failed announce; default 15 000 (doubling up to 5 min). */
  announceRetryDelay?: number;
  /** Verify pieces when a torrent is added (per-torrent override in {@link AddOptions}); default true. */
  verify?: boolean;
  /** Most files kept open; default 64. */
  maxOpenFiles?: number;
  /** Client name sent in the extension handshake and as User-Agent. */
  clientName?: string;
}

/** The numeric options of {@link SeederOptions} and their ranges (defaults are documented on each). */
const SEEDER_NUMBERS: Record<string, NumberRange> = {
  port: { max: 65535 },
  uploadSlots: { min: 1, max: 1000 },
  rotateInterval: { min: 1 },
  maxConnections: { min: 1 },
  maxConnectionsPerTorrent: { min: 1 },
  maxConnectionsPerAddress: { min: 1 },
  maxRequests: { min: 1, max: 100_000 },
  maxHashRequestsPerSecond: { min: 1, max: 100_000 },
  maxHashesPerRequest: { min: 2, max: 8192 },
  hashTreeCacheBytes: {},
  handshakeTimeout: { min: 1 },
  idleTimeout: { min: 1 },
  keepAliveInterval: { min: 1 },
  uninterestedTimeout: { min: 1 },
  connectTimeout: { min: 1 },
  numwant: { max: 10_000 },
  minAnnounceInterval: {},
  announceRetryDelay: { min: 1 },
  maxOpenFiles: { min: 1 },
};
const SEEDER_OPTIONS: ReadonlySet<string> = new Set([...Object.keys(SEEDER_NUMBERS), 'host', 'peerId', 'dial', 'announce', 'verify', 'clientName']);

/** Check a seeder's options at startup: types, ranges, unknown keys (the shared options pipeline). */
function checkSeederOptions(options: SeederOptions): void {
  const scope = 'createSeeder';
  const o = optionsObject(scope, options);
  warnUnknownKeys(scope, o, SEEDER_OPTIONS);
  for (const [name, range] of Object.entries(SEEDER_NUMBERS)) wholeNumber(scope, name, o[name], 0, range);
  for (const name of ['dial', 'announce', 'verify']) booleanOption(scope, name, o[name], true);
}

/** Options of {@link Seeder.add}. */
export interface AddOptions {
  /** Hash every piece before serving (default: the seeder's `verify` option). Skip only for known-good data. */
  verify?: boolean;
  /** Announce tiers to use instead of the torrent's own. */
  announce?: string[][];
  /** Verification progress: bytes hashed so far and the total. */
  onVerifyProgress?: (doneBytes: number, totalBytes: number) => void;
  /** Aborts verification (the promise rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** What {@link Seeder.add} resolves with. */
export interface SeededTorrentInfo {
  /** Info hash, lowercase hex. */
  infoHash: string;
  /** Torrent name. */
  name: string;
  /** Total bytes. */
  length: number;
  /** Number of pieces. */
  pieceCount: number;
}

/** Per-torrent statistics. */
export interface TorrentStats extends SeededTorrentInfo {
  /** Payload bytes uploaded for this torrent. */
  uploaded: number;
  /** Connected peers (handshake done). */
  peers: number;
  /** Peers interested in our data. */
  interested: number;
  /** Peers we are currently uploading to (unchoked). */
  unchoked: number;
  /** Seeders in the swarm by the last tracker answer. */
  seeders?: number;
  /** Leechers in the swarm by the last tracker answer. */
  leechers?: number;
  /** Time of the last successful announce. */
  lastAnnounce?: Date;
  /** v2-only torrents: BEP 52 hash requests answered with `hashes` (all peers, since added). */
  hashRequestsServed?: number;
  /** v2-only torrents: BEP 52 hash requests answered with `hash reject`. */
  hashRequestsRejected?: number;
}

/** Seeder-wide statistics. */
export interface SeederStats {
  /** Payload bytes uploaded since start. */
  uploaded: number;
  /** Connected peers over all torrents. */
  peers: number;
  /** Per torrent. */
  torrents: TorrentStats[];
}

/** Payload of `peer` and `peer-close` events. */
export interface PeerEventInfo {
  /** Info hash (hex); undefined if the peer never completed a handshake. */
  infoHash?: string;
  /** Remote address. */
  address: string;
  /** Remote port. */
  port: number;
  /** Remote peer id (hex), once known. */
  peerId?: string;
  /** Who opened the connection. */
  direction: 'incoming' | 'outgoing';
  /** Remote client name from the extension handshake, if sent. */
  client?: string;
}

/** Payload of `peer-close` events. */
export interface PeerCloseEventInfo extends PeerEventInfo {
  /** Why it closed. */
  reason: string;
  /** The underlying error, if any (protocol violations are `WireProtocolError`s). */
  error?: Error;
  /** Payload bytes uploaded on this connection. */
  uploaded: number;
}

/** Payload of `announce` events: a successful announce of one torrent. */
export interface SeederAnnounceEvent extends AnnounceResult {
  /** Info hash (hex). */
  infoHash: string;
}

/** Payload of `announce-error` events. */
export interface SeederAnnounceErrorEvent extends AnnounceFailure {
  /** Info hash (hex). */
  infoHash: string;
}

/** Payload of `dial-error` events: an outgoing connection that could not be made. */
export interface DialErrorEvent {
  /** Info hash (hex). */
  infoHash: string;
  /** Peer address. */
  address: string;
  /** Peer port. */
  port: number;
  /** What went wrong. */
  error: Error;
}

/**
 * Events of a {@link Seeder} and their listener arguments. The seeder never emits `error`
 * (server-level problems are `warning`s), so an unlistened seeder cannot crash the process.
 */
export interface SeederEvents {
  /** A torrent started seeding. */
  'torrent-added': [info: SeededTorrentInfo];
  /** A torrent was removed. */
  'torrent-removed': [info: { infoHash: string }];
  /** A peer completed the handshake. */
  peer: [info: PeerEventInfo];
  /** A connection ended (including ones dropped before or during the handshake). */
  'peer-close': [info: PeerCloseEventInfo];
  /** A tracker answered. */
  announce: [info: SeederAnnounceEvent];
  /** A tracker could not be reached or refused the announce. */
  'announce-error': [info: SeederAnnounceErrorEvent];
  /** Dialling a peer failed. */
  'dial-error': [info: DialErrorEvent];
  /** A server-level problem (e.g. accept errors). */
  warning: [error: Error];
}

/** Names of {@link SeederEvents}. */
export type SeederEventName = keyof SeederEvents;

interface Entry {
  info: SeededTorrentInfo;
  parsed: ParsedTorrent;
  storage: TorrentStorage;
  seed: SeedTorrent;
  /** v2-only torrents: the hash request server. */
  hashTrees?: HashTrees;
  peers: Set<PeerConnection>;
  dialing: Set<string>;
  /** `host|port` of peers not to dial again before the given time (failed, or already seeds). */
  dialBackoff: Map<string, number>;
  uploaded: number;
  hashRequestsServed: number;
  hashRequestsRejected: number;
  announcer?: Announcer;
  lastAnnounce?: Date;
  removing: boolean;
}

const WILDCARD = new Set(['0.0.0.0', '::', '']);
/** Don't redial an address that failed for this long (ms). */
const DIAL_FAILURE_BACKOFF = 60_000;
/** Don't redial a peer that turned out to be a seed for this long (ms). */
const SEED_BACKOFF = 30 * 60_000;
/** Close reasons (from PeerConnection) meaning the remote peer has the whole torrent. */
const SEED_REASONS = new Set(['peer is a seed', 'peer completed the torrent']);
/** Hosts × torrents whose allowed-fast use is remembered. */
const FAST_LEDGER_SIZE = 4096;

/** A running seeder. Create with {@link createSeeder}. */
export class Seeder extends EventEmitter<SeederEvents> {
  /** Our peer id. */
  readonly peerId: Buffer;
  /** The TCP server. */
  readonly server: net.Server;
  private readonly opts: SeederOptions;
  private readonly torrents = new Map<string, Entry>();
  private readonly adding = new Set<string>();
  private readonly connections = new Set<PeerConnection>();
  private readonly choker: Choker<PeerConnection>;
  private readonly pool: FilePool;
  private readonly hashTreeCache: HashTreeCache;
  private readonly key = randomBytes(4).toString('hex');
  private tickTimer: NodeJS.Timeout | undefined;
  private uploadedTotal = 0;
  private closing: Promise<void> | undefined;
  private listenPort = 0;
  /** Addresses at which we reached ourselves (a tracker listed us under them); never dialled again. */
  private readonly selfAddresses = new Set<string>();
  /**
   * `<info hash hex>|<host>` → bytes of each allowed-fast piece served to that host while choked,
   * so reconnecting does not renew the allowance (the oldest entries go beyond FAST_LEDGER_SIZE).
   */
  private readonly fastLedgers = new Map<string, Map<number, number>>();

  /** Use {@link createSeeder}. */
  constructor(options: SeederOptions = {}) {
    super();
    checkSeederOptions(options);
    this.opts = options;
    this.peerId = options.peerId ?? Buffer.concat([Buffer.from('-ET0100-', 'latin1'), randomBytes(12)]);
    if (this.peerId.length !== 20) throw new RangeError('peerId must be 20 bytes');
    this.choker = new Choker({ slots: options.uploadSlots ?? 8, rotateInterval: options.rotateInterval ?? 10_000 });
    this.pool = new FilePool(options.maxOpenFiles ?? 64);
    this.hashTreeCache = new HashTreeCache(options.hashTreeCacheBytes ?? 64 * 1024 * 1024);
    this.server = net.createServer({ noDelay: true }, (socket) => this.onIncoming(socket));
    this.server.on('error', (err) => this.emit('warning', err));
  }

  /** The port we listen on (after {@link Seeder.listen}). */
  get port(): number {
    return this.listenPort;
  }

  /** The bind address, when a specific one was given. */
  get host(): string | undefined {
    const h = this.opts.host;
    return h && !WILDCARD.has(h) ? h : undefined;
  }

  /** Starts listening; called by {@link createSeeder}. */
  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen({ port: this.opts.port ?? 6881, host: this.opts.host || undefined }, () => {
        this.server.off('error', onError);
        const addr = this.server.address();
        this.listenPort = addr && typeof addr === 'object' ? addr.port : 0;
        resolve();
      });
    });
    this.choker.start();
    this.tickTimer = setInterval(() => {
      const now = Date.now();
      for (const c of this.connections) c.tick(now);
      this.choker.review();
    }, 1000);
    this.tickTimer.unref();
  }

  /**
   * Starts seeding a torrent (the .torrent bytes, or a {@link ParsedTorrent}) whose data lives at
   * `dataPath`: for a single-file torrent the file itself or the directory holding it; for a
   * multi-file torrent the directory holding the torrent's root directory, or that root itself.
   * Verifies every piece first unless told not to; rejects when a torrent path is unsafe, data is
   * missing or short, or a piece does not match.
   *
   * v1, hybrid and v2-only torrents. A hybrid torrent is served under its v1 info hash (pad files
   * as zeros). A v2-only torrent is served under its SHA-256 info hash cut to 20 bytes (handshakes
   * with the v2 bit, announces, the `infoHash` of events and stats), every piece whole (zeros past
   * the end of a file), and its peers' BEP 52 hash requests are answered (see hash-trees.ts).
   */
  async add(torrent: Uint8Array | ParsedTorrent, dataPath: string, options: AddOptions = {}): Promise<SeededTorrentInfo> {
    if (this.closing) throw new Error('seeder is closed');
    const parsed = torrent instanceof Uint8Array ? parseTorrent(torrent) : torrent;
    // A v2-only torrent is known by its truncated SHA-256 info hash (handshake, trackers).
    const hex = parsed.infoHashBuffer.toString('hex');
    if (this.torrents.has(hex) || this.adding.has(hex)) throw new Error(`torrent ${hex} is already being seeded`);
    this.adding.add(hex);
    try {
      const files = await resolveLocalFiles(parsed, dataPath);
      // A hybrid torrent's v1 data holds pad files (zeros) between the files: its pieces cover more
      // than the files' bytes. A v2-only torrent has no v1 pieces but the same layout: every file
      // starts a piece (BEP 52), and piece indexes run over the files' pieces in order.
      const hybrid = parsed.version === 'hybrid';
      const v2 = parsed.version === 'v2';
      let pieceCount = parsed.pieces.length;
      let dataLength = hybrid && pieceCount > 0 ? (pieceCount - 1) * parsed.pieceLength + parsed.lastPieceLength : parsed.length;
      if (v2) {
        // Every piece of a v2 torrent is served as a whole piece, the last one too: libtorrent asks
        // for whole blocks past the end of the last file (implied padding); the bytes there are zeros.
        pieceCount = 0;
        for (const file of parsed.files) if (file.length > 0) pieceCount += Math.ceil(file.length / parsed.pieceLength);
        dataLength = pieceCount * parsed.pieceLength;
      }
      const geometry = { length: dataLength, pieceLength: parsed.pieceLength, pieceCount };
      const storage = new TorrentStorage(files, geometry, this.pool, hybrid || v2);
      await storage.checkSizes();
      if (options.verify ?? this.opts.verify ?? true) {
        let bad: number[];
        try {
          bad = v2
            ? await storage.verifyV2(parsed.files, options.onVerifyProgress, options.signal)
            : hybrid
            ? await storage.verifyHybrid(
                parsed.pieces,
                parsed.files.map((file) => file.piecesRoot),
                parsed.multiFile,
                options.onVerifyProgress,
                options.signal,
              )
            : await storage.verify(parsed.pieces, options.onVerifyProgress, options.signal);
        } catch (error) {
          storage.close();
          throw error;
        }
        if (bad.length > 0) {
          storage.close();
          throw new TorrentDataError(`${bad.length} of ${pieceCount} pieces do not match the torrent (first: piece ${bad[0]})`);
        }
      }
      if (this.closing) {
        storage.close();
        throw new Error('seeder is closed');
      }
      const info: SeededTorrentInfo = { infoHash: hex, name: parsed.name, length: parsed.length, pieceCount };
      const hashTrees = v2
        ? new HashTrees(
            parsed.files
              .filter((file) => file.length > 0 && file.piecesRoot !== undefined)
              .map((file) => ({
                piecesRoot: file.piecesRoot!,
                length: file.length,
                pieceLayer: file.pieceLayer,
                firstPiece: file.offset / parsed.pieceLength,
              })),
            parsed.pieceLength,
            (index, length) => storage.readBlock(index, 0, length),
            this.hashTreeCache,
          )
        : undefined;
      const seed: SeedTorrent = {
        infoHash: parsed.infoHashBuffer,
        pieceCount,
        pieceSize: (i) => storage.pieceSize(i),
        readBlock: (i, begin, length) => storage.readBlock(i, begin, length),
        metadata: parsed.infoBuffer,
        hashServer: hashTrees,
      };
      const entry: Entry = {
        info,
        parsed,
        storage,
        seed,
        hashTrees,
        peers: new Set(),
        dialing: new Set(),
        dialBackoff: new Map(),
        uploaded: 0,
        hashRequestsServed: 0,
        hashRequestsRejected: 0,
        removing: false,
      };
      this.torrents.set(hex, entry);
      if (this.opts.announce ?? true) this.startAnnouncer(entry, options.announce ?? parsed.announce);
      this.emit('torrent-added', info);
      return info;
    } finally {
      this.adding.delete(hex);
    }
  }

  /** Stops seeding a torrent: sends `stopped` to its trackers and closes its peers. */
  async remove(infoHash: string | Buffer): Promise<boolean> {
    const hex = typeof infoHash === 'string' ? infoHash.toLowerCase() : infoHash.toString('hex');
    const entry = this.torrents.get(hex);
    if (!entry || entry.removing) return false;
    entry.removing = true;
    for (const peer of [...entry.peers]) peer.close('torrent removed');
    await entry.announcer?.stop();
    entry.storage.close();
    entry.hashTrees?.forget();
    this.torrents.delete(hex);
    this.emit('torrent-removed', { infoHash: hex });
    return true;
  }

  /** Info hashes (hex) being seeded. */
  list(): string[] {
    return [...this.torrents.keys()];
  }

  /** Asks every tracker of every torrent for peers now. */
  announceNow(): void {
    for (const entry of this.torrents.values()) entry.announcer?.announceNow();
  }

  /** Current statistics. */
  stats(): SeederStats {
    const torrents: TorrentStats[] = [];
    let peers = 0;
    for (const e of this.torrents.values()) {
      let interested = 0;
      let unchoked = 0;
      for (const p of e.peers) {
        if (p.peerInterested) interested++;
        if (!p.amChoking) unchoked++;
      }
      peers += e.peers.size;
      const last = e.announcer?.last;
      torrents.push({
        ...e.info,
        uploaded: e.uploaded,
        peers: e.peers.size,
        interested,
        unchoked,
        seeders: last?.response.complete,
        leechers: last?.response.incomplete,
        lastAnnounce: e.lastAnnounce,
        ...(e.hashTrees ? { hashRequestsServed: e.hashRequestsServed, hashRequestsRejected: e.hashRequestsRejected } : {}),
      });
    }
    return { uploaded: this.uploadedTotal, peers, torrents };
  }

  /** Stops everything: `stopped` to trackers, closes peers, the server and open files. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.server.close();
      clearInterval(this.tickTimer);
      this.choker.stop();
      await Promise.all([...this.torrents.keys()].map((hex) => this.remove(hex)));
      for (const c of [...this.connections]) c.close('seeder closed');
      await this.pool.closeAll();
    })();
    return this.closing;
  }

  private startAnnouncer(entry: Entry, tiers: string[][]): void {
    const announcer = new Announcer({
      tiers,
      infoHash: entry.parsed.infoHashBuffer,
      peerId: this.peerId,
      port: () => this.port,
      uploaded: () => entry.uploaded,
      localAddress: this.host,
      numwant: this.opts.numwant ?? 50,
      key: this.key,
      minInterval: this.opts.minAnnounceInterval ?? 5,
      retryDelay: this.opts.announceRetryDelay,
      userAgent: this.opts.clientName ?? 'express-torrent-tracker',
    });
    if (announcer.tierCount === 0) return;
    entry.announcer = announcer;
    const infoHash = entry.info.infoHash;
    announcer.on('announce', (r: AnnounceResult) => {
      entry.lastAnnounce = new Date();
      this.emit('announce', { infoHash, ...r });
    });
    announcer.on('announce-error', (f: AnnounceFailure) => this.emit('announce-error', { infoHash, ...f }));
    announcer.on('peers', (peers: PeerAddress[]) => {
      if (this.opts.dial ?? true) for (const p of peers) this.dial(entry, p);
    });
    announcer.start();
  }

  private get connectionCount(): number {
    return this.connections.size;
  }

  private onIncoming(socket: net.Socket): void {
    socket.on('error', () => undefined); // PeerConnection takes over; this guards the gap
    const host = hostKey(socket.remoteAddress ?? '');
    if (this.closing || !this.makeRoom(this.connections, this.opts.maxConnections ?? 500, host)) {
      socket.destroy();
      return;
    }
    this.track(
      new PeerConnection({
        ...this.peerOptions(socket),
        socket,
        direction: 'incoming',
        lookup: (infoHash) => {
          const entry = this.torrents.get(infoHash.toString('hex'));
          if (!entry || entry.removing) return undefined;
          let fromHost = 0;
          for (const p of entry.peers) if (p.host === host) fromHost++;
          if (fromHost >= (this.opts.maxConnectionsPerAddress ?? 4)) return 'too many connections from this address';
          if (!this.makeRoom(entry.peers, this.opts.maxConnectionsPerTorrent ?? 100, host)) return 'too many peers for this torrent';
          return entry.seed;
        },
      }),
    );
  }

  /**
   * True when `peers` has a free slot under `limit` for a newcomer from `host`, after closing one
   * connection that only holds a slot if need be (see eviction.ts; grace: one rotation).
   */
  private makeRoom(peers: Set<PeerConnection>, limit: number, host: string): boolean {
    if (peers.size < limit) return true;
    if (peers.size > limit) return false; // one eviction frees one slot only
    const victim = pickVictim(peers, host, Date.now(), this.choker.rotateInterval);
    if (victim === undefined) return false;
    victim.close('evicted to make room for another host');
    return peers.size < limit;
  }

  /** Dials one peer learned from a tracker, unless already connected or recently failed. */
  private dial(entry: Entry, peer: PeerAddress): void {
    if (this.closing || entry.removing) return;
    const host = peer.host;
    const family = net.isIP(host);
    if (family === 0 || peer.port <= 0 || peer.port > 65535) return;
    const bind = this.host;
    if (bind && net.isIP(bind) !== family) return; // cannot reach that family from our bind address
    if (peer.port === this.port && (host === bind || this.selfAddresses.has(host))) return; // ourselves
    const key = `${host}|${peer.port}`;
    if (entry.dialing.has(key)) return;
    for (const p of entry.peers) if (p.address === host && p.port === peer.port) return;
    const until = entry.dialBackoff.get(key);
    if (until !== undefined) {
      if (Date.now() < until) return;
      entry.dialBackoff.delete(key);
    }
    if (this.connectionCount + this.dialingCount() >= (this.opts.maxConnections ?? 500)) return;
    if (entry.peers.size + entry.dialing.size >= (this.opts.maxConnectionsPerTorrent ?? 100)) return;

    entry.dialing.add(key);
    const socket = net.connect({ host, port: peer.port, localAddress: bind, noDelay: true });
    const timer = setTimeout(() => socket.destroy(new Error('connect timeout')), this.opts.connectTimeout ?? 10_000);
    timer.unref();
    const fail = (error: Error): void => {
      clearTimeout(timer);
      entry.dialing.delete(key);
      this.backoff(entry, key, DIAL_FAILURE_BACKOFF);
      this.emit('dial-error', { infoHash: entry.info.infoHash, address: host, port: peer.port, error } satisfies DialErrorEvent);
    };
    socket.once('error', fail);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      entry.dialing.delete(key);
      if (this.closing || entry.removing) {
        socket.destroy();
        return;
      }
      const peerConn = new PeerConnection({ ...this.peerOptions(socket), socket, direction: 'outgoing', torrent: entry.seed });
      peerConn.once('close', (info: PeerCloseInfo) => {
        // A peer that has everything, that turned us away, or that is already connected to us
        // (it dialled us first) is not worth redialling soon.
        const ms = SEED_REASONS.has(info.reason)
          ? SEED_BACKOFF
          : !peerConn.ready || info.reason === 'duplicate connection'
            ? DIAL_FAILURE_BACKOFF
            : 0;
        this.backoff(entry, key, ms);
      });
      this.track(peerConn);
    });
  }

  private backoff(entry: Entry, key: string, ms: number): void {
    if (ms <= 0) return;
    if (entry.dialBackoff.size > 10_000) entry.dialBackoff.clear();
    entry.dialBackoff.set(key, Date.now() + ms);
  }

  private dialingCount(): number {
    let n = 0;
    for (const e of this.torrents.values()) n += e.dialing.size;
    return n;
  }

  /** The allowed-fast ledger of one host for one torrent (see {@link Seeder.fastLedgers}). */
  private fastLedger(infoHash: Buffer, address: string | undefined): Map<number, number> {
    const key = `${infoHash.toString('hex')}|${hostKey(address ?? '')}`;
    let ledger = this.fastLedgers.get(key);
    if (ledger === undefined) {
      ledger = new Map();
      if (this.fastLedgers.size >= FAST_LEDGER_SIZE) this.fastLedgers.delete(this.fastLedgers.keys().next().value!);
    } else {
      this.fastLedgers.delete(key); // most recently used last
    }
    this.fastLedgers.set(key, ledger);
    return ledger;
  }

  private peerOptions(socket: net.Socket) {
    return {
      allowedFastServed: (infoHash: Buffer) => this.fastLedger(infoHash, socket.remoteAddress),
      peerId: this.peerId,
      listenPort: this.port,
      clientName: this.opts.clientName ?? 'express-torrent-tracker',
      maxRequests: this.opts.maxRequests,
      maxHashRequestsPerSecond: this.opts.maxHashRequestsPerSecond ?? DEFAULT_HASH_REQUESTS_PER_SECOND,
      maxHashesPerRequest: this.opts.maxHashesPerRequest ?? DEFAULT_MAX_HASHES_PER_REQUEST,
      handshakeTimeout: this.opts.handshakeTimeout,
      idleTimeout: this.opts.idleTimeout,
      keepAliveInterval: this.opts.keepAliveInterval,
      uninterestedTimeout: this.opts.uninterestedTimeout,
    };
  }

  private track(peer: PeerConnection): void {
    this.connections.add(peer);
    let entry: Entry | undefined;
    const describe = (): PeerEventInfo => ({
      infoHash: peer.torrent?.infoHash.toString('hex'),
      address: peer.address,
      port: peer.port,
      peerId: peer.peerIdHex,
      direction: peer.direction,
      client: peer.clientName,
    });
    peer.on('ready', () => {
      entry = this.torrents.get(peer.torrent!.infoHash.toString('hex'));
      if (!entry || entry.removing) {
        peer.close('torrent removed');
        return;
      }
      for (const other of entry.peers) {
        if (other.remotePeerId?.equals(peer.remotePeerId!)) {
          peer.close('duplicate connection');
          return;
        }
      }
      entry.peers.add(peer);
      this.choker.add(peer);
      this.emit('peer', describe());
    });
    peer.on('interest', () => this.choker.interestChanged(peer));
    peer.on('upload', (bytes: number) => {
      this.uploadedTotal += bytes;
      if (entry) entry.uploaded += bytes;
    });
    peer.on('hash-request', (served: boolean) => {
      if (!entry) return;
      if (served) entry.hashRequestsServed += 1;
      else entry.hashRequestsRejected += 1;
    });
    peer.on('close', (info: PeerCloseInfo) => {
      if (info.reason === 'connected to ourselves' && peer.direction === 'incoming' && this.selfAddresses.size < 64) {
        this.selfAddresses.add(peer.localAddress);
      }
      this.connections.delete(peer);
      this.choker.remove(peer);
      entry?.peers.delete(peer);
      this.emit('peer-close', { ...describe(), reason: info.reason, error: info.error, uploaded: peer.uploaded });
    });
  }
}

/**
 * Creates a seeder and starts listening. Add torrents with {@link Seeder.add}; stop with
 * {@link Seeder.close} (which sends `stopped` to the trackers).
 *
 * ```ts
 * const seeder = await createSeeder({ port: 6881 });
 * await seeder.add(await readFile('site.torrent'), '/srv/files');
 * ```
 */
export async function createSeeder(options: SeederOptions = {}): Promise<Seeder> {
  const seeder = new Seeder(options);
  await seeder.listen();
  return seeder;
}
