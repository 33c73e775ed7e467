/**
 * `createUdpTracker()`: the UDP door (BEP 15, with BEP 41 URL data) to the same tracker core as the
 * Express middleware: same store, same policies (passkeys from the URL data, registered torrents,
 * client rules, intervals, accounting), same events.
 *
 * Datagrams are turned into the core's validated announce / scrape and the core's answer into a
 * datagram; nothing else happens here. Strangers get silence (BEP 15 as opentracker reads it; the
 * class of CVE-2024-2169, where two UDP services answer each other's answers for ever):
 * - only a well-formed connect (protocol id 0x41727101980, action 0) is answered before the sender
 *   has proven its address, and that answer is exactly 16 bytes, never more than the request;
 * - a datagram with an unknown action, a connection id not valid for its source address (a spoofed
 *   sender, a stale client, another server's answer), fewer than 16 bytes, or anything else that
 *   cannot be answered is dropped without a word and counted (`stats().udp.dropped`);
 * - error packets (failure reasons) go only to proven senders: a valid connection id for the address.
 * So an unauthenticated sender can cause at most one 16-byte answer per request of 16 bytes or more
 * (ratio ≤ 1), and no answer of this tracker, read as a request, is ever answered.
 *
 * No exception or rejection leaves the datagram handler ({@link UdpTracker.handle}): a datagram it
 * fails on is dropped and the error goes to the core's `failure` event (kind `internal`).
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { parseAddress } from '../protocol/address.js';
import { TrackerFailure } from '../protocol/errors.js';
import { parseTrackerPath } from '../protocol/path.js';
import {
  ACTION_ANNOUNCE,
  ACTION_SCRAPE,
  encodeConnect,
  encodeUdpAnnounce,
  encodeUdpError,
  encodeUdpScrape,
  isConnect,
  parseUdpAnnounceRequest,
  parseUdpScrape,
  readHeader,
  UdpPacketError,
  type UdpAnnounceRequest,
} from '../protocol/udp.js';
import type { Peer, SwarmCounts } from '../types.js';
import { Tracker, type AnswerWriter, type TrackerOptions } from '../tracker.js';
import { TRACKER_OPTION_NAMES } from '../options.js';
import { describeValue, optionsObject, warnUnknownKeys, wholeNumber } from '../option-checks.js';
import { ConnectionIds } from './connection-id.js';
import { toldInterval } from '../policy/interval.js';

/** Every option of {@link createUdpTracker}: the tracker's and the UDP door's own. */
const UDP_OPTIONS: ReadonlySet<string> = new Set([...TRACKER_OPTION_NAMES, 'tracker', 'connectionSecret', 'connectionIdSlot', 'maxPending']);

/** Options of {@link createUdpTracker}. */
export interface UdpTrackerOptions extends TrackerOptions {
  /**
   * An existing tracker core to serve (`router.tracker` of a {@link trackerMiddleware}, or
   * `server.tracker`): one store, one set of policies for HTTP and UDP. When given, the tracker
   * options above are ignored. Default: a new core from these options.
   */
  tracker?: Tracker;
  /**
   * Secret for connection ids (at least 16 bytes). Several instances behind one UDP address need the
   * same secret to accept each other's ids. Default: random per process.
   */
  connectionSecret?: string | Uint8Array;
  /** Seconds per connection-id slot; an id lives one to two slots. Default 60 (BEP 15: two minutes at most). */
  connectionIdSlot?: number;
  /** Most announces and scrapes waiting for the store at once; more datagrams are dropped. Default 10 000. */
  maxPending?: number;
}

/** A running (or not yet started) UDP tracker. Events: `error` (socket errors). */
export class UdpTracker extends EventEmitter {
  /** The tracker core behind this socket. */
  readonly tracker: Tracker;
  private readonly ids: ConnectionIds;
  private readonly owned: boolean;
  private readonly maxPending: number;
  private pending = 0;
  private socket: dgram.Socket | undefined;
  private closed = false;
  /** Set by a drain: datagrams are dropped from then on. */
  private draining = false;
  private readonly detach: () => void;
  /** Address texts as the socket reports them → their bytes (bounded; see {@link addressBytes}). */
  private readonly addresses = new Map<string, Buffer>();
  /** The address of the answer being sent (see the socket's `lookup` in {@link listen}). */
  private sendingTo: string | undefined;

  constructor(options: UdpTrackerOptions = {}) {
    super();
    const scope = 'createUdpTracker';
    warnUnknownKeys(scope, optionsObject(scope, options), UDP_OPTIONS);
    this.owned = options.tracker === undefined;
    if (options.tracker !== undefined && !(options.tracker instanceof Tracker)) {
      throw new TypeError(`${scope}: options.tracker must be a Tracker (router.tracker or server.tracker) (got ${describeValue(options.tracker)})`);
    }
    this.tracker = options.tracker ?? new Tracker(options, scope);
    const slotSeconds = wholeNumber(scope, 'connectionIdSlot', options.connectionIdSlot, 60, { min: 1, max: 3600 });
    this.ids = new ConnectionIds({ secret: options.connectionSecret, slotSeconds });
    this.maxPending = wholeNumber(scope, 'maxPending', options.maxPending, 10_000, { min: 1 });
    this.detach = this.tracker.attachDoor('udp', {
      ready: () => this.socket !== undefined && !this.closed && !this.draining,
      drain: async () => {
        this.draining = true;
      },
    });
  }

  /**
   * Start listening. Without `host` the socket is dual-stack (`::`, IPv4 clients included); with an
   * IPv4 host it is IPv4 only. Resolves with the bound address.
   */
  listen(port = 0, host?: string): Promise<AddressInfo> {
    if (this.socket) throw new Error('this UDP tracker is already listening');
    const ipv4 = host !== undefined && !host.includes(':');
    // Large buffers ride out bursts instead of dropping datagrams (the kernel caps them at rmem_max / wmem_max).
    const family = ipv4 ? 4 : 6;
    const socket = dgram.createSocket({
      type: ipv4 ? 'udp4' : 'udp6',
      ipv6Only: false,
      recvBufferSize: 4 << 20,
      sendBufferSize: 4 << 20,
      // Answers go to the address text the socket itself reported: an IP literal, nothing to
      // resolve. Node's default lookup would still validate it and defer every send to the next
      // tick; this one hands it straight back (anything else, such as the host to bind, is resolved
      // as usual).
      lookup: ((hostname: string, options: unknown, callback: (error: Error | null, address: string, family: number) => void) => {
        if (hostname === this.sendingTo) callback(null, hostname, family);
        else dns.lookup(hostname, options as dns.LookupOneOptions, callback);
      }) as unknown as typeof dns.lookup,
    });
    this.socket = socket;
    socket.on('message', (msg, rinfo) => this.receive(msg, rinfo));
    socket.on('error', (error) => {
      if (this.listenerCount('error') > 0) this.emit('error', error);
    });
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host ?? '::', () => {
        socket.off('error', reject);
        resolve(socket.address());
      });
    });
  }

  /** The bound address (after {@link listen}). */
  address(): AddressInfo {
    if (!this.socket) throw new Error('not listening');
    return this.socket.address();
  }

  /** Stop listening; closes the tracker core too when this UDP tracker created it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.detach();
    const socket = this.socket;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
    if (this.owned) await this.tracker.close();
  }

  /**
   * Answer one datagram: the one entry point of every datagram of the socket (tests call it too).
   * Never throws, and no promise it starts rejects: a datagram it fails on is dropped, counted, and
   * the error goes to the core's `failure` event (kind `internal`). `reply` receives each answer.
   */
  handle(msg: Buffer, address: string, reply: (answer: Buffer) => void): void {
    try {
      const answer = this.answer(msg, address);
      if (answer === undefined) return;
      if (!(answer instanceof Promise)) {
        reply(answer);
        return;
      }
      answer.then(reply).catch((error: unknown) => this.bug(error));
    } catch (error) {
      this.bug(error);
    }
  }

  /** A datagram the handler failed on (our bug): dropped, counted, reported as an internal failure. */
  private bug(error: unknown): void {
    try {
      this.tracker.statsCounters.udpDrop();
      this.tracker.failureReason(error);
    } catch {
      // a `failure` listener that throws must not take the socket down either
    }
  }

  /** Drop a datagram without an answer (counted). */
  private drop(): undefined {
    this.tracker.statsCounters.udpDrop();
    return undefined;
  }

  private receive(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    if (this.draining) return void this.drop();
    // Through handle(), so that every datagram of the socket passes there (tests wrap it).
    this.handle(msg, rinfo.address, (answer) => this.send(answer, rinfo.port, rinfo.address));
  }

  private send(answer: Buffer, port: number, address: string): void {
    const socket = this.socket;
    if (this.closed || !socket) return;
    this.sendingTo = address;
    try {
      // No callback: Node then drops a failed send silently (an answer lost like any datagram; the
      // client retries) instead of a callback per answer. The only send error Node would emit as
      // `error` is a failed address lookup, and the lookup of `listen` answers this address at once.
      socket.send(answer, port, address);
    } catch {
      // the socket closed meanwhile
    } finally {
      this.sendingTo = undefined;
    }
  }

  /**
   * The bytes of an address text as the socket reports it (parsed once per address: a client sends
   * many datagrams). Bounded: the map is emptied when it is full. Undefined for no IP literal.
   */
  private addressBytes(text: string): Buffer | undefined {
    let ip = this.addresses.get(text);
    if (ip !== undefined) return ip;
    ip = parseAddress(text);
    if (!ip) return undefined;
    if (this.addresses.size >= MAX_ADDRESSES) this.addresses.clear();
    this.addresses.set(text, ip);
    return ip;
  }

  /**
   * The answer to one datagram: at once, as a promise (which never rejects) when the core has to
   * wait for the store or a policy, or undefined (no answer). May throw only on a bug.
   */
  private answer(msg: Buffer, address: string): Buffer | Promise<Buffer> | undefined {
    if (msg.length < 16) return this.drop(); // too short to answer
    const ip = this.addressBytes(address);
    if (!ip) return this.drop();
    const action = msg.readUInt32BE(8);
    const transactionId = msg.readUInt32BE(12);
    // The one answer to an unproven sender: 16 bytes for a request of at least 16.
    if (isConnect(msg)) return encodeConnect(transactionId, this.ids.issue(ip, address));
    // Everything else only from a proven sender, and not a word otherwise: an error packet to a
    // stranger could be another server's request (a loop), or land on a spoofed victim.
    if (action !== ACTION_ANNOUNCE && action !== ACTION_SCRAPE) return this.drop();
    if (!this.ids.verifyAt(msg, ip, address)) return this.drop(); // stale clients time out and connect again
    if (this.pending >= this.maxPending) return this.drop(); // overloaded: the client retries
    if (action === ACTION_SCRAPE) return this.scrape(msg, transactionId);
    let request: UdpAnnounceRequest;
    let passkey: string | undefined;
    try {
      request = parseUdpAnnounceRequest(msg);
      passkey = this.passkeyOf(request.urlData);
    } catch (error) {
      return encodeUdpError(transactionId, error instanceof UdpPacketError ? error.message : this.tracker.failureReason(error));
    }
    const answer = this.tracker.announceRequest({ request, remote: ip, passkey, writer: ip.length === 4 ? this.writer4 : this.writer6 });
    if (answer === undefined) return undefined;
    if (!(answer instanceof Promise)) return withTransaction(answer, transactionId);
    this.pending++;
    return answer.then(
      (a) => {
        this.pending--;
        return withTransaction(a, transactionId);
      },
      (error: unknown) => {
        this.pending--;
        return encodeUdpError(transactionId, this.tracker.failureReason(error));
      },
    );
  }

  private scrape(msg: Buffer, transactionId: number): Buffer | Promise<Buffer> {
    let hashes: Buffer[];
    try {
      hashes = parseUdpScrape(msg, readHeader(msg)!).infoHashes;
      if (this.tracker.isPrivate) throw new TrackerFailure('scrape over UDP is not available on this private tracker (no passkey): use HTTP');
    } catch (error) {
      return encodeUdpError(transactionId, error instanceof UdpPacketError ? error.message : this.tracker.failureReason(error));
    }
    this.pending++;
    return this.tracker
      .scrapeHashes(hashes, undefined)
      .then(
        (counts) => encodeUdpScrape(transactionId, counts.map((c) => c ?? ZERO)),
        (error: unknown) => encodeUdpError(transactionId, this.tracker.failureReason(error)),
      )
      .finally(() => this.pending--);
  }

  /** The passkey from BEP 41 URL data (`/<passkey>/announce[?…]`) on a private tracker. */
  private passkeyOf(urlData: string): string | undefined {
    if (!this.tracker.isPrivate || urlData === '') return undefined;
    const q = urlData.indexOf('?');
    const target = parseTrackerPath(q === -1 ? urlData : urlData.slice(0, q));
    if (!target || target.endpoint !== 'announce') throw new TrackerFailure('URL data must be /<passkey>/announce');
    return target.passkey;
  }

  /** Answers for IPv4 requesters: 6-byte peers. The transaction id is filled in by the caller. */
  private readonly writer4 = this.makeWriter(4);
  /** Answers for IPv6 requesters: 18-byte peers. */
  private readonly writer6 = this.makeWriter(6);

  private makeWriter(family: 4 | 6): AnswerWriter<Buffer> {
    const entry = family === 4 ? 6 : 18;
    return {
      alwaysCompact: true,
      compact: (counts, peers4, peers6) => encodeUdpAnnounce(0, toldInterval(this.tracker.options), counts, family === 4 ? peers4 : peers6),
      peers: (counts, peers) => encodeUdpAnnounce(0, toldInterval(this.tracker.options), counts, packPeers(peers, entry)),
      failure: (reason) => encodeUdpError(0, reason),
    };
  }
}

const ZERO: SwarmCounts = { complete: 0, incomplete: 0, downloaded: 0 };

/** Most address texts whose bytes are kept (about 100 bytes each). */
const MAX_ADDRESSES = 65_536;

/** Set the transaction id of an answer built with 0. */
function withTransaction(answer: Buffer, transactionId: number): Buffer {
  answer.writeUInt32BE(transactionId, 4);
  return answer;
}

/** Compact entries (6 or 18 bytes) of the peers of one family. */
function packPeers(peers: Peer[], entry: 6 | 18): Buffer {
  const size = entry - 2;
  const out = Buffer.allocUnsafe(peers.length * entry);
  let at = 0;
  for (const p of peers) {
    if (p.ip.length !== size) continue;
    out.set(p.ip, at);
    out.writeUInt16BE(p.port, at + size);
    at += entry;
  }
  return out.subarray(0, at);
}

/**
 * Create a UDP tracker; call `.listen(port, host)` on it. Pass `{ tracker: router.tracker }` to
 * serve the same swarms and policies as an Express tracker in the same process.
 */
export function createUdpTracker(options: UdpTrackerOptions = {}): UdpTracker {
  return new UdpTracker(options);
}
