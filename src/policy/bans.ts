/**
 * The ban rule: bans by address or CIDR block (IPv4, IPv6), by user (private mode) and by client
 * (peer_id prefix), checked for every announce of every door once the chain has granted it. A
 * {@link BanList} answers "is this peer banned?" without a scan over the bans: a Map per CIDR prefix
 * length in use (at most 33 + 129 look-ups, whatever the number of bans), a Map of users, a Map per
 * client-prefix length (at most 20). Expired bans stop applying at the moment they expire.
 */
import { randomBytes } from 'node:crypto';
import { formatAddress, parseAddress } from '../protocol/address.js';
import type { UserId } from './passkey.js';

/** What to ban: exactly one of `address`, `user`, `client`. */
export interface BanSpec {
  /** An IP address or a CIDR block, IPv4 or IPv6 (`203.0.113.7`, `203.0.113.0/24`, `2001:db8::/32`). */
  address?: string;
  /** A user id as the `passkey` function returns it (private mode). */
  user?: string | number;
  /** A peer_id prefix, e.g. `-XL0012-` (latin1 text: one character a byte), 1 to 20 bytes. */
  client?: string;
  /** When the ban ends (ms since the epoch, or a Date); absent: permanent. */
  expiresAt?: number | Date;
  /** Told to the client: `banned: <reason>` (at most {@link MAX_BAN_REASON} characters, no control characters). */
  reason?: string;
}

/** A ban as kept in the store. */
export interface Ban {
  id: string;
  /** Canonical text: an address (`203.0.113.7`) or a block (`203.0.113.0/24`). */
  address?: string;
  user?: string | number;
  client?: string;
  /** ms since the epoch; absent: permanent. */
  expiresAt?: number;
  reason?: string;
  /** ms since the epoch. */
  createdAt: number;
}

/** Most bans a tracker keeps. */
export const MAX_BANS = 10_000;
/** Longest ban reason, in characters. */
export const MAX_BAN_REASON = 200;

/** The failure reason told to a banned peer. */
export function banReason(ban: Ban): string {
  return ban.reason ? `banned: ${ban.reason}` : 'banned';
}

/** An address or block as bytes plus prefix length (TypeError when it is neither). */
export function parseBlock(text: string): { bytes: Buffer; bits: number } {
  const slash = text.indexOf('/');
  const host = slash === -1 ? text : text.slice(0, slash);
  const raw = parseAddress(host);
  if (!raw || host.includes('%')) throw new TypeError(`ban address: "${text}" is not an IP address or CIDR block`);
  const mapped = raw.length === 4 && host.includes(':');
  let bits = raw.length * 8;
  if (slash !== -1) {
    const suffix = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(suffix)) throw new TypeError(`ban address: "${text}" has no valid prefix length`);
    bits = Number(suffix);
    if (mapped) {
      if (bits < 96) throw new TypeError(`ban address: "${text}": an IPv4-mapped block needs a prefix of at least 96`);
      bits -= 96;
    }
    if (bits > raw.length * 8) throw new TypeError(`ban address: "${text}": prefix longer than the address`);
  }
  const masked = mask(raw, bits);
  if (!masked.equals(raw)) throw new TypeError(`ban address: "${text}" has bits set past its prefix (the block is ${formatAddress(masked)}/${bits})`);
  return { bytes: masked, bits };
}

function mask(ip: Uint8Array, bits: number): Buffer {
  const out = Buffer.from(ip);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    out[i] &= keep === 8 ? 0xff : (0xff << (8 - keep)) & 0xff;
  }
  return out;
}

/** The stored, canonical form of a spec (TypeError for bad input). `now`: the clock. */
export function makeBan(spec: BanSpec, now: number): Ban {
  if (typeof spec !== 'object' || spec === null) throw new TypeError('ban: expected an object with one of address, user, client');
  const kinds = (['address', 'user', 'client'] as const).filter((k) => spec[k] !== undefined);
  if (kinds.length !== 1) throw new TypeError(`ban: give exactly one of address, user, client (got ${kinds.length === 0 ? 'none' : kinds.join(' and ')})`);
  const ban: Ban = { id: randomBytes(8).toString('hex'), createdAt: now };
  if (spec.address !== undefined) {
    if (typeof spec.address !== 'string') throw new TypeError('ban address: expected a string');
    const { bytes, bits } = parseBlock(spec.address.trim());
    ban.address = bits === bytes.length * 8 ? formatAddress(bytes) : `${formatAddress(bytes)}/${bits}`;
  } else if (spec.user !== undefined) {
    const user = spec.user;
    if (typeof user === 'number' ? !Number.isFinite(user) : typeof user !== 'string' || user.length === 0 || user.length > 256) {
      throw new TypeError('ban user: expected a finite number or a string of 1 to 256 characters');
    }
    ban.user = user;
  } else {
    const client = spec.client;
    if (typeof client !== 'string' || client.length === 0 || client.length > 20 || !/^[\u0000-\u00ff]*$/.test(client)) {
      throw new TypeError('ban client: expected a peer_id prefix of 1 to 20 latin1 characters');
    }
    ban.client = client;
  }
  if (spec.expiresAt !== undefined) {
    const at = spec.expiresAt instanceof Date ? spec.expiresAt.getTime() : spec.expiresAt;
    if (typeof at !== 'number' || !Number.isFinite(at)) throw new TypeError('ban expiresAt: expected ms since the epoch or a Date');
    if (at <= now) throw new TypeError('ban expiresAt: already in the past');
    ban.expiresAt = Math.round(at);
  }
  if (spec.reason !== undefined) {
    if (typeof spec.reason !== 'string') throw new TypeError('ban reason: expected a string');
    if (spec.reason.length > MAX_BAN_REASON) throw new TypeError(`ban reason: at most ${MAX_BAN_REASON} characters`);
    if (/[\u0000-\u001f\u007f-\u009f]/.test(spec.reason)) throw new TypeError('ban reason: control characters are not allowed');
    if (spec.reason.length > 0) ban.reason = spec.reason;
  }
  return ban;
}

/** A stored ban read back (another instance wrote it): the ban, or undefined when it is malformed. */
export function storedBan(value: unknown): Ban | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Ban;
  if (typeof v.id !== 'string' || typeof v.createdAt !== 'number') return undefined;
  try {
    const ban = makeBan({ address: v.address, user: v.user, client: v.client, reason: v.reason }, v.createdAt);
    ban.id = v.id;
    if (typeof v.expiresAt === 'number') ban.expiresAt = v.expiresAt;
    return ban;
  } catch {
    return undefined;
  }
}

/** The index key of a ban: what a second ban on the same thing replaces. */
export function banKey(ban: Ban): string {
  if (ban.address !== undefined) return `a${ban.address}`;
  if (ban.user !== undefined) return `u${String(ban.user)}`;
  return `c${ban.client}`;
}

/** True when `ban` applies to a peer (address bytes, peer id, user); expiry is not looked at. */
export function banMatches(ban: Ban, ip: Uint8Array | undefined, peerId: Uint8Array | undefined, user: UserId | undefined): boolean {
  if (ban.address !== undefined) {
    if (!ip) return false;
    const { bytes, bits } = parseBlock(ban.address);
    return bytes.length === ip.length && mask(ip, bits).equals(bytes);
  }
  if (ban.user !== undefined) return user !== undefined && String(user) === String(ban.user);
  if (!peerId) return false;
  const prefix = Buffer.from(ban.client!, 'latin1');
  return prefix.length <= peerId.length && Buffer.from(peerId.buffer, peerId.byteOffset, prefix.length).equals(prefix);
}

/** An IPv4 address (4 bytes) cut to its first `bits` bits, as an unsigned 32-bit number. */
function v4Key(ip: Uint8Array, bits: number, at = 0): number {
  if (bits === 0) return 0;
  const n = ((ip[at] << 24) | (ip[at + 1] << 16) | (ip[at + 2] << 8) | ip[at + 3]) >>> 0;
  return (n & (~0 << (32 - bits))) >>> 0;
}

/** An IPv6 address (16 bytes) cut to its first `bits` bits, as a latin1 string of the bytes that hold them. */
function v6Key(ip: Uint8Array, bits: number, at = 0): string {
  let key = '';
  const whole = bits >>> 3;
  for (let i = 0; i < whole; i++) key += String.fromCharCode(ip[at + i]);
  const rest = bits & 7;
  if (rest !== 0) key += String.fromCharCode(ip[at + whole] & ((0xff << (8 - rest)) & 0xff));
  return key;
}

/** Maps of one kind, one per key length in use (prefix length in bits, or client-prefix length in bytes). */
class LengthIndex<K extends string | number> {
  private readonly byLength = new Map<number, Map<K, Ban>>();
  /** Lengths in use, longest first. */
  lengths: number[] = [];

  set(length: number, key: K, ban: Ban): void {
    let map = this.byLength.get(length);
    if (!map) {
      this.byLength.set(length, (map = new Map()));
      this.lengths = [...this.byLength.keys()].sort((a, b) => b - a);
    }
    map.set(key, ban);
  }

  get(length: number, key: K): Ban | undefined {
    return this.byLength.get(length)?.get(key);
  }

  delete(length: number, key: K): void {
    const map = this.byLength.get(length);
    if (!map) return;
    map.delete(key);
    if (map.size === 0) {
      this.byLength.delete(length);
      this.lengths = [...this.byLength.keys()].sort((a, b) => b - a);
    }
  }
}

/** The live bans of a tracker, indexed for matching (see the module comment). */
export class BanList {
  /** Number of bans held (0: the announce path skips the rule with one comparison). */
  size = 0;
  private readonly byId = new Map<string, Ban>();
  private readonly byKey = new Map<string, Ban>();
  private readonly v4 = new LengthIndex<number>();
  private readonly v6 = new LengthIndex<string>();
  private readonly clients = new LengthIndex<string>();
  private readonly users = new Map<string, Ban>();
  /** Address bans held (answers are filtered by address only when there are some). */
  addressBans = 0;
  /** Client bans held. */
  clientBans = 0;
  /**
   * Until when (ms) answers must be filtered: peers listed before a ban may still be in the store
   * (the keeper sets it; 0 once nothing banned can be listed).
   */
  filterUntil = 0;

  constructor(
    private readonly now: () => number = Date.now,
    /** Told of a ban found expired while matching (the keeper removes it from the store). */
    private readonly onExpired: (ban: Ban) => void = () => undefined,
  ) {}

  /** Every ban held, expired ones included. */
  all(): Ban[] {
    return [...this.byId.values()];
  }

  get(id: string): Ban | undefined {
    return this.byId.get(id);
  }

  /** The ban on the same thing as `ban` (what adding it replaces). */
  sameAs(ban: Ban): Ban | undefined {
    return this.byKey.get(banKey(ban));
  }

  /** Hold `ban` (replacing the one on the same thing, if any). Returns the ban replaced. */
  add(ban: Ban): Ban | undefined {
    const old = this.byKey.get(banKey(ban));
    if (old) {
      if (old.id === ban.id) return undefined;
      // Two instances banned the same thing at once: the newer ban wins everywhere.
      if (old.createdAt > ban.createdAt || (old.createdAt === ban.createdAt && old.id > ban.id)) return undefined;
      this.remove(old.id);
    }
    this.byId.set(ban.id, ban);
    this.byKey.set(banKey(ban), ban);
    this.size++;
    if (ban.address !== undefined) {
      const { bytes, bits } = parseBlock(ban.address);
      if (bytes.length === 4) this.v4.set(bits, v4Key(bytes, bits), ban);
      else this.v6.set(bits, v6Key(bytes, bits), ban);
      this.addressBans++;
    } else if (ban.user !== undefined) {
      this.users.set(String(ban.user), ban);
    } else {
      this.clients.set(ban.client!.length, ban.client!, ban);
      this.clientBans++;
    }
    return old;
  }

  /** Stop holding ban `id`; returns it (undefined: not held). */
  remove(id: string): Ban | undefined {
    const ban = this.byId.get(id);
    if (!ban) return undefined;
    this.byId.delete(id);
    this.byKey.delete(banKey(ban));
    this.size--;
    if (ban.address !== undefined) {
      const { bytes, bits } = parseBlock(ban.address);
      if (bytes.length === 4) this.v4.delete(bits, v4Key(bytes, bits));
      else this.v6.delete(bits, v6Key(bytes, bits));
      this.addressBans--;
    } else if (ban.user !== undefined) {
      this.users.delete(String(ban.user));
    } else {
      this.clients.delete(ban.client!.length, ban.client!);
      this.clientBans--;
    }
    return ban;
  }

  /** The live ban that applies to a peer, if any. `ip`: 4 or 16 bytes; `user`: private mode's user. */
  match(ip: Uint8Array | undefined, peerId: Uint8Array | undefined, user: UserId | undefined): Ban | undefined {
    if (this.size === 0) return undefined;
    return (ip && this.matchAddress(ip)) ?? (user !== undefined ? this.live(this.users.get(String(user))) : undefined) ?? (peerId && this.matchClient(peerId));
  }

  /**
   * The live address ban covering `ip` (4 or 16 bytes), if any; or the address of `length` bytes at
   * offset `at` of `ip` (entries of a compact peer list, without a copy).
   */
  matchAddress(ip: Uint8Array, at = 0, length = ip.length): Ban | undefined {
    if (this.addressBans === 0) return undefined;
    if (length === 4) {
      const lengths = this.v4.lengths;
      for (let i = 0; i < lengths.length; i++) {
        const ban = this.live(this.v4.get(lengths[i], v4Key(ip, lengths[i], at)));
        if (ban) return ban;
      }
      return undefined;
    }
    const lengths = this.v6.lengths;
    for (let i = 0; i < lengths.length; i++) {
      const ban = this.live(this.v6.get(lengths[i], v6Key(ip, lengths[i], at)));
      if (ban) return ban;
    }
    return undefined;
  }

  /** The live client ban whose prefix starts `peerId`, if any. */
  matchClient(peerId: Uint8Array): Ban | undefined {
    if (this.clientBans === 0) return undefined;
    const id = Buffer.from(peerId.buffer, peerId.byteOffset, peerId.byteLength);
    for (const length of this.clients.lengths) {
      if (length > id.length) continue;
      const ban = this.live(this.clients.get(length, id.toString('latin1', 0, length)));
      if (ban) return ban;
    }
    return undefined;
  }

  private live(ban: Ban | undefined): Ban | undefined {
    if (!ban || ban.expiresAt === undefined || ban.expiresAt > this.now()) return ban;
    this.remove(ban.id);
    this.onExpired(ban);
    return undefined;
  }
}
