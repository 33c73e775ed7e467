/**
 * Which connections come from "one host", for per-host limits: an IPv4 address, or an IPv6 /64
 * (one subnet is what a single home or server gets, and any address in it is free to its owner, so
 * counting IPv6 addresses one by one would limit nothing).
 */
import { parseAddress } from '../protocol/address.js';

/**
 * The host an address belongs to: the IPv4 address itself, or `<first 64 bits in hex>::/64` for
 * IPv6 (IPv4-mapped IPv6 counts as IPv4). Text that is not an address is its own host.
 */
export function hostKey(address: string): string {
  const bytes = parseAddress(address);
  if (bytes === undefined) return address;
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  return `${bytes.subarray(0, 8).toString('hex')}::/64`;
}
