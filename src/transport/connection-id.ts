/**
 * UDP connection ids (BEP 15) that cannot be forged: 8 bytes = a one-byte time-slot tag plus the
 * first 7 bytes of HMAC-SHA256(slot key, client address). Slot keys rotate every `slotSeconds`
 * (random per process, or derived from a shared secret so that several instances behind one address
 * accept each other's ids). An id is valid in the slot it was issued in and the next one: between
 * one and two slot lengths (about two minutes by default). Checked in constant time (the 8 bytes
 * are compared as two 32-bit halves whose differences are combined before the one test).
 */
import { createHmac, randomBytes } from 'node:crypto';

/** Options of {@link ConnectionIds}. */
export interface ConnectionIdOptions {
  /** Shared secret: instances with the same secret accept each other's ids. Default: random per process. */
  secret?: string | Uint8Array;
  /** Seconds per slot; ids live one to two slots. Default 60. */
  slotSeconds?: number;
  /** Clock, ms. */
  now?: () => number;
}

/** The id of one address in one slot, as two 32-bit halves: tag byte + MAC bytes 0..2, MAC bytes 3..6. */
interface SlotId {
  high: number;
  low: number;
}

/** Issues and checks connection ids. */
export class ConnectionIds {
  private readonly secret: Buffer | undefined;
  private readonly slotMs: number;
  private readonly now: () => number;
  private keys = new Map<number, Buffer>();
  /**
   * Ids already computed, per slot and address (a client connects once and announces many times):
   * one HMAC per client and slot instead of one per datagram. Keyed by the caller's name for the
   * address (the UDP transport passes the address text it got from the socket, so no key has to be
   * built from the bytes), else by the bytes. Bounded; dropped on rotation.
   */
  private ids = new Map<number, Map<string, SlotId>>();
  private static readonly MAX_CACHED = 100_000;

  constructor(options: ConnectionIdOptions = {}) {
    this.secret = options.secret === undefined ? undefined : Buffer.from(options.secret);
    if (this.secret !== undefined && this.secret.length < 16) throw new TypeError('connection id secret: at least 16 bytes');
    this.slotMs = Math.max(1, options.slotSeconds ?? 60) * 1000;
    this.now = options.now ?? Date.now;
  }

  /**
   * A connection id for `address` (4 or 16 bytes) in the current slot. `name`: a text that stands
   * for exactly these bytes (such as the address text they were parsed from), used as cache key.
   */
  issue(address: Uint8Array, name?: string): Buffer {
    const { high, low } = this.idOf(this.slot(), address, name);
    const id = Buffer.allocUnsafe(8);
    id.writeUInt32BE(high, 0);
    id.writeUInt32BE(low, 4);
    return id;
  }

  /** True when `id` (8 bytes) was issued to `address` in this slot or the previous one. `name` as for {@link issue}. */
  verify(id: Uint8Array, address: Uint8Array, name?: string): boolean {
    return id.length === 8 && this.verifyAt(id, address, name);
  }

  /**
   * {@link verify} for the id in the first 8 bytes of `datagram` (which must be at least 8 bytes
   * long), without a view on it.
   */
  verifyAt(datagram: Uint8Array, address: Uint8Array, name?: string): boolean {
    const tag = datagram[0];
    const current = this.slot();
    const slot = (current & 0xff) === tag ? current : ((current - 1) & 0xff) === tag ? current - 1 : -1;
    if (slot < 0) return false;
    const expected = this.idOf(slot, address, name);
    const high = ((tag << 24) | (datagram[1] << 16) | (datagram[2] << 8) | datagram[3]) >>> 0;
    const low = ((datagram[4] << 24) | (datagram[5] << 16) | (datagram[6] << 8) | datagram[7]) >>> 0;
    // Constant time: both halves are always compared, and only the combined difference is tested.
    return ((expected.high ^ high) | (expected.low ^ low)) === 0;
  }

  private slot(): number {
    return Math.floor(this.now() / this.slotMs);
  }

  private idOf(slot: number, address: Uint8Array, name: string | undefined): SlotId {
    let cache = this.ids.get(slot);
    // A caller's name never starts with '#' (address texts do not), so the two kinds of keys never meet.
    const key = name ?? '#' + Buffer.from(address.buffer, address.byteOffset, address.byteLength).toString('latin1');
    const cached = cache?.get(key);
    if (cached) return cached;
    const mac = createHmac('sha256', this.key(slot)).update(address).digest();
    const id: SlotId = {
      high: (((slot & 0xff) << 24) | (mac[0] << 16) | (mac[1] << 8) | mac[2]) >>> 0,
      low: mac.readUInt32BE(3),
    };
    if (!cache) {
      cache = new Map();
      this.ids.set(slot, cache);
      for (const old of this.ids.keys()) if (old < slot - 1) this.ids.delete(old);
    }
    if (cache.size >= ConnectionIds.MAX_CACHED) cache.clear();
    cache.set(key, id);
    return id;
  }

  /** The key of a slot; keys of slots older than the previous one are dropped (rotation). */
  private key(slot: number): Buffer {
    let key = this.keys.get(slot);
    if (key) return key;
    key = this.secret ? createHmac('sha256', this.secret).update(`slot ${slot}`).digest() : randomBytes(32);
    this.keys.set(slot, key);
    for (const old of this.keys.keys()) if (old < slot - 1) this.keys.delete(old);
    return key;
  }
}
