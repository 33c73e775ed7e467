/**
 * The door of the WebTorrent tracker: which upgrade requests become WebSocket connections. An
 * upgrade is taken when its path is the tracker's announce URL, then admitted only within the
 * budgets: open connections in all (`maxConnections`, 503), open connections per client address
 * (`maxConnectionsPerAddress`, IPv4 address or IPv6 /64, 429), and the site's own `allowUpgrade`
 * hook (Origin checks, the site's auth; 403 when it says no, throws or rejects). Connections being
 * admitted (hook pending, handshake under way) count against the budgets too.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { parseAddress } from '../protocol/address.js';
import { parseTrackerPath } from '../protocol/path.js';

/** Budgets and hooks of the door (validated by the WebSocket tracker). */
export interface DoorOptions {
  /** Mount path (`''` or `/tracker`). */
  prefix: string;
  /** Private tracker: `/<passkey>/announce` paths are taken too. */
  isPrivate: boolean;
  maxConnections: number;
  /** 0: no per-address cap. */
  maxPerAddress: number;
  allowUpgrade: ((req: http.IncomingMessage) => boolean | Promise<boolean>) | undefined;
  clientAddress: ((req: http.IncomingMessage) => string | undefined) | undefined;
}

/** An admitted upgrade: open the WebSocket on it. */
export type Admit = (req: http.IncomingMessage, socket: Duplex, head: Buffer, admission: Admission) => void;

/**
 * One upgrade admitted through the door. Its budget slot is given back once, by
 * {@link Door.release}: when its socket closes before the WebSocket opened, else when the
 * connection closes (the connection keeps only `key`).
 */
export interface Admission {
  /** The client's address (as the socket, or `clientAddress`, gives it). */
  readonly remote: string | undefined;
  /** The passkey from the URL. */
  readonly passkey: string | undefined;
  /** The per-address key it is counted under (undefined: not counted per address). */
  readonly key: string | undefined;
  /** Until the WebSocket opens: gives the slot back when the socket closes first. */
  readonly early: () => void;
  /** True once the slot was given back. */
  released: boolean;
}

/**
 * The key an address is counted under: the IPv4 address (4 bytes) or the IPv6 /64 (8 bytes), as a
 * latin1 string; undefined when it is not an IP address.
 */
export function addressKey(remote: string | undefined): string | undefined {
  const ip = parseAddress(remote);
  if (!ip) return undefined;
  return (ip.length === 4 ? ip : ip.subarray(0, 8)).toString('latin1');
}

/** Upgrade admission and the connection budgets. */
export class Door {
  private open = 0;
  private readonly perAddress = new Map<string, number>();
  /** Set when the tracker closes: every upgrade is refused (503) from then on. */
  closed = false;

  constructor(
    private readonly options: DoorOptions,
    /** Told about errors of the site's hooks (never thrown). */
    private readonly report: (error: unknown) => void,
  ) {}

  /** Connections open or being admitted. */
  get count(): number {
    return this.open;
  }

  /**
   * Take an upgrade request when its path is the tracker's announce URL (returns false and leaves
   * the socket alone otherwise): refused within the budgets and the hook, else handed to `admit`.
   * Never throws.
   */
  take(req: http.IncomingMessage, socket: Duplex, head: Buffer, admit: Admit): boolean {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const full = q < 0 ? url : url.slice(0, q);
    const prefix = this.options.prefix;
    if (prefix !== '' && !(full.startsWith(prefix) && full.charCodeAt(prefix.length) === 47)) return false;
    const target = parseTrackerPath(full.slice(prefix.length));
    if (!target || target.endpoint !== 'announce' || (target.passkey !== undefined && !this.options.isPrivate)) return false;
    socket.on('error', ignore); // a reset during the handshake is not our problem (module-level: keeps no request alive)
    if (this.closed || this.open >= this.options.maxConnections) {
      refuse(socket, 503, 'Service Unavailable');
      return true;
    }
    let remote: string | undefined;
    try {
      remote = this.options.clientAddress ? this.options.clientAddress(req) : req.socket.remoteAddress;
    } catch (error) {
      this.report(error);
      refuse(socket, 403, 'Forbidden');
      return true;
    }
    const key = this.options.maxPerAddress > 0 ? addressKey(remote) : undefined;
    if (key !== undefined && (this.perAddress.get(key) ?? 0) >= this.options.maxPerAddress) {
      refuse(socket, 429, 'Too Many Requests');
      return true;
    }
    const admission = this.reserve(key, remote, target.passkey);
    // Until the WebSocket is open, the slot is given back when the socket closes (refused, reset).
    socket.once('close', admission.early);
    const hook = this.options.allowUpgrade;
    if (!hook) {
      admit(req, socket, head, admission);
      return true;
    }
    let verdict: boolean | Promise<boolean>;
    try {
      verdict = hook(req);
    } catch (error) {
      this.report(error);
      refuse(socket, 403, 'Forbidden');
      return true;
    }
    if (verdict === true) admit(req, socket, head, admission);
    else if (!(verdict instanceof Promise)) refuse(socket, 403, 'Forbidden');
    else {
      verdict.then(
        (ok) => {
          if (admission.released || socket.destroyed) return;
          if (ok === true && !this.closed) admit(req, socket, head, admission);
          else refuse(socket, ok === true ? 503 : 403, ok === true ? 'Service Unavailable' : 'Forbidden');
        },
        (error: unknown) => {
          this.report(error);
          if (!socket.destroyed) refuse(socket, 403, 'Forbidden');
        },
      );
    }
    return true;
  }

  private reserve(key: string | undefined, remote: string | undefined, passkey: string | undefined): Admission {
    this.open++;
    if (key !== undefined) this.perAddress.set(key, (this.perAddress.get(key) ?? 0) + 1);
    const admission: Admission = { remote, passkey, key, early: () => this.release(admission), released: false };
    return admission;
  }

  /**
   * The WebSocket of an admission opened: from now on its connection gives the slot back (by
   * {@link release} with its key); nothing is kept on the socket.
   */
  opened(socket: Duplex, admission: Admission): void {
    socket.off('close', admission.early);
  }

  /** Give an admission's slot back (idempotent). */
  release(admission: { key: string | undefined; released: boolean }): void {
    if (admission.released) return;
    admission.released = true;
    this.open--;
    const key = admission.key;
    if (key === undefined) return;
    const n = (this.perAddress.get(key) ?? 1) - 1;
    if (n <= 0) this.perAddress.delete(key);
    else this.perAddress.set(key, n);
  }
}

/** A listener that ignores its event. */
function ignore(): void {}

/** Answer an upgrade request with an HTTP status and close. */
export function refuse(socket: Duplex, status: number, text: string): void {
  if (socket.destroyed) return;
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
