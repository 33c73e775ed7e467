/**
 * UDP connection ids (BEP 15) that cannot be forged: 8 bytes = a one-byte time-slot tag plus the
 * first 7 bytes of HMAC-SHA256(slot key, client address). Slot keys rotate every `slotSeconds`
 * (random per process, or derived from a shared secret so that several instances behind one address
 * accept each other's ids). An id is valid in the slot it was issued in and the next one: between
 * one and two slot lengths (about two minutes by default). Checked in constant time.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Options of {@link ConnectionIds}. */
export interface ConnectionIdOptions {
  /** Shared secret: instances with the same secret accept each other's ids. Default: random per process. */
  secret?: string | Uint8Array;
  /** Seconds per slot; ids live one to two slots. Default 60. */
  slotSeconds?: number;
  /** Clock, ms. */
  now?: () => number;
}

/** Issues and checks connection ids. */
export class ConnectionIds {
  private readonly secret: Buffer | undefined;
  private readonly slotMs: number;
  private readonly now: () => number;
  private keys = new Map<number, Buffer>();
  /**
   * MACs already computed, per slot and address (a client connects once and announces many times):
   * one HMAC per client and slot instead of one per datagram. Bounded; dropped on rotation.
   */
  private macs = new Map<number, Map<string, Buffer>>();
  private static readonly MAX_CACHED = 100_000;

  constructor(options: ConnectionIdOptions = {}) {
    this.secret = options.secret === undefined ? undefined : Buffer.from(options.secret);
    if (this.secret !== undefined && this.secret.length < 16) throw new TypeError('connection id secret: at least 16 bytes');
    this.slotMs = Math.max(1, options.slotSeconds ?? 60) * 1000;
    this.now = options.now ?? Date.now;
  }

  /** A connection id for `address` (4 or 16 bytes) in the current slot. */
  issue(address: Uint8Array): Buffer {
    const slot = this.slot();
    const id = Buffer.allocUnsafe(8);
    id[0] = slot & 0xff;
    this.mac(slot, address).copy(id, 1, 0, 7);
    return id;
  }

  /** True when `id` (8 bytes) was issued to `address` in this slot or the previous one. */
  verify(id: Uint8Array, address: Uint8Array): boolean {
    if (id.length !== 8) return false;
    const current = this.slot();
    const slot = (current & 0xff) === id[0] ? current : ((current - 1) & 0xff) === id[0] ? current - 1 : -1;
    if (slot < 0) return false;
    return timingSafeEqual(this.mac(slot, address).subarray(0, 7), id.subarray(1, 8));
  }

  private slot(): number {
    return Math.floor(this.now() / this.slotMs);
  }

  private mac(slot: number, address: Uint8Array): Buffer {
    let cache = this.macs.get(slot);
    const name = Buffer.from(address.buffer, address.byteOffset, address.byteLength).toString('latin1');
    const cached = cache?.get(name);
    if (cached) return cached;
    const mac = createHmac('sha256', this.key(slot)).update(address).digest();
    if (!cache) {
      cache = new Map();
      this.macs.set(slot, cache);
      for (const old of this.macs.keys()) if (old < slot - 1) this.macs.delete(old);
    }
    if (cache.size >= ConnectionIds.MAX_CACHED) cache.clear();
    cache.set(name, mac);
    return mac;
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
