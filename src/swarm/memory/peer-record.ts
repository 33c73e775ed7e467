/**
 * One peer as a fixed-size binary record: the layout shared by a swarm's {@link PeerTable} and by
 * the inline peer of a one-peer swarm's row in the {@link SwarmDirectory}, and the functions that
 * read and write it.
 *
 * Layout (RECORD_SIZE bytes):
 *   0..19   peer id
 *   20..37  the peer's compact form (BEP 23/7): IPv4 address + port in 20..25, or IPv6 address +
 *           port in 20..37; so a compact answer copies one contiguous run per peer
 *   38      flags: bit 0 = seeder, bit 1 = IPv6, bit 2 = has a key, bit 3 = done (the peer has been
 *           listed as a seeder or had a counted completion: a later `completed` does not count),
 *           bit 4 = partial seed (BEP 21 `event=paused`: a leecher that is not a downloader)
 *   39      unused
 *   40..43  expiry, seconds since the owning store's epoch (uint32, little-endian)
 *   44..47  the client's `key` (32 bits), which lets it move to another address
 */
import { peerKind } from '../expiry-wheel.js';
import type { Peer } from '../../types.js';

/** Size in bytes of one peer record. */
export const RECORD_SIZE = 48;
const OFFSET_IP = 20;
/** Offset of the flags byte in a record. */
export const OFFSET_FLAGS = 38;
const OFFSET_EXPIRY = 40;
const OFFSET_KEY = 44;
const FLAG_SEEDER = 1;
/** Flags bit: the peer's address is IPv6. */
export const FLAG_IPV6 = 2;
const FLAG_KEY = 4;
const FLAG_DONE = 8;
const FLAG_PARTIAL = 16;

/** Does the record at `base` of `page` hold `peerId`? */
export function recordIdEquals(page: Uint8Array, base: number, peerId: Uint8Array): boolean {
  for (let i = 0; i < 20; i++) if (page[base + i] !== peerId[i]) return false;
  return true;
}

/**
 * May an announce from `ip` with `key` update or remove the peer recorded at `base`? Yes when it
 * comes from the address the peer is listed with, or carries the key the peer was recorded with.
 */
export function recordMayChange(page: Buffer, base: number, ip: Uint8Array, key: number | undefined): boolean {
  const flags = page[base + OFFSET_FLAGS];
  if (((flags & FLAG_IPV6) !== 0) === (ip.length === 16)) {
    let same = true;
    for (let i = 0; i < ip.length; i++) {
      if (page[base + OFFSET_IP + i] !== ip[i]) {
        same = false;
        break;
      }
    }
    if (same) return true;
  }
  return key !== undefined && (flags & FLAG_KEY) !== 0 && page.readUInt32LE(base + OFFSET_KEY) === key >>> 0;
}

/** Kind of the record at `base` for the totals wheel ({@link peerKind}). */
export function recordKind(page: Uint8Array, base: number): number {
  const flags = page[base + OFFSET_FLAGS];
  return peerKind((flags & FLAG_SEEDER) !== 0, (flags & FLAG_IPV6) !== 0);
}

/** Is the record at `base` a seeder? */
export function recordSeeder(page: Uint8Array, base: number): boolean {
  return (page[base + OFFSET_FLAGS] & FLAG_SEEDER) !== 0;
}

/** Is the record at `base` a partial seed (BEP 21)? */
export function recordPartial(page: Uint8Array, base: number): boolean {
  return (page[base + OFFSET_FLAGS] & FLAG_PARTIAL) !== 0;
}

/**
 * Has the peer recorded at `base` completed (been listed as a seeder, or had a counted completion)?
 * Its next `completed` then does not add to `downloaded`. Says nothing about expiry: check that too.
 */
export function recordDone(page: Uint8Array, base: number): boolean {
  return (page[base + OFFSET_FLAGS] & FLAG_DONE) !== 0;
}

/** Clear the done bit of the record at `base` (an expired record is about to be reused). */
export function clearRecordDone(page: Uint8Array, base: number): void {
  page[base + OFFSET_FLAGS] &= ~FLAG_DONE;
}

/** Expiry (store seconds) of the record at `base`. */
export function recordExpiry(page: Buffer, base: number): number {
  return page.readUInt32LE(base + OFFSET_EXPIRY);
}

/** The client's `key` recorded at `base`, or undefined when it sent none. */
export function recordKey(page: Buffer, base: number): number | undefined {
  return page[base + OFFSET_FLAGS] & FLAG_KEY ? page.readUInt32LE(base + OFFSET_KEY) : undefined;
}

/**
 * Write everything but the peer id into the record at `base`. An announce without a key keeps the
 * key of an existing record (`existing`): clients send it on some requests only. The done bit is set
 * by a seeder or a counted completion (`completed`) and kept by an existing record. `partial`: the
 * announce said `event=paused` (never with `seeder`).
 */
export function writeRecord(
  page: Buffer,
  base: number,
  ip: Uint8Array,
  port: number,
  seeder: boolean,
  expiry: number,
  key: number | undefined,
  existing: boolean,
  completed = false,
  partial = false,
): void {
  const ipAt = base + OFFSET_IP;
  for (let i = 0; i < ip.length; i++) page[ipAt + i] = ip[i];
  page[ipAt + ip.length] = port >>> 8;
  page[ipAt + ip.length + 1] = port & 0xff;
  const old = existing ? page[base + OFFSET_FLAGS] : 0;
  const keyFlag = key !== undefined ? FLAG_KEY : old & FLAG_KEY;
  const doneFlag = seeder || completed ? FLAG_DONE : old & FLAG_DONE;
  const kindFlag = seeder ? FLAG_SEEDER : partial ? FLAG_PARTIAL : 0;
  page[base + OFFSET_FLAGS] = kindFlag | (ip.length === 16 ? FLAG_IPV6 : 0) | keyFlag | doneFlag;
  page.writeUInt32LE(expiry >>> 0, base + OFFSET_EXPIRY);
  if (key !== undefined) page.writeUInt32LE(key >>> 0, base + OFFSET_KEY);
}

/** A copy of the peer recorded at `base` (one allocation holds both the id and the address). */
export function recordPeer(page: Uint8Array, base: number): Peer {
  const size = (page[base + OFFSET_FLAGS] & FLAG_IPV6) !== 0 ? 16 : 4;
  const copy = Buffer.from(page.subarray(base, base + OFFSET_IP + size));
  const portAt = base + OFFSET_IP + size;
  return { peerId: copy.subarray(0, 20), ip: copy.subarray(20), port: (page[portAt] << 8) | page[portAt + 1] };
}

/**
 * Copy the compact form of the peer recorded at `base` into `out4` at entry `n4` (IPv4, 6 bytes) or
 * `out6` at entry `n6` (IPv6, 18 bytes). Returns true for IPv6.
 */
export function recordCompact(page: Uint8Array, base: number, out4: Uint8Array, n4: number, out6: Uint8Array, n6: number): boolean {
  const from = base + OFFSET_IP;
  if (page[base + OFFSET_FLAGS] & FLAG_IPV6) {
    for (let j = 0; j < 18; j++) out6[n6 * 18 + j] = page[from + j];
    return true;
  }
  for (let j = 0; j < 6; j++) out4[n4 * 6 + j] = page[from + j];
  return false;
}
