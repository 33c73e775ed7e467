/**
 * The open-addressing hash indexes of the memory store (a PeerTable's index of peer ids, the swarm
 * directory's index of info hashes): the seeded hash of a 20-byte id, insertion by linear probing,
 * and deletion by backward shift. An index is a Uint32Array whose length is a power of two, its
 * entries non-zero (0 = empty).
 */

/**
 * Hash of a 20-byte id (a peer id, or an info hash) at `at`, mixed with a per-process random seed, so an attacker cannot aim ids at
 * chosen slots or build long chains. It is not collision-proof: flipping bit 31 of one word and
 * bits 31 and 16 of the next changes nothing whatever the seed (imul carries the top bit
 * unchanged, the xor-shift copies it to bit 16), so crafted ids form collision families of up to
 * 16 (one flip pattern per pair of adjacent words of the first four): probe runs at most about 16
 * times longer than chance, never unbounded. test/swarm/peer-table-hash.test.ts checks this claim;
 * keep this comment true if the hash changes.
 */
export function hashPeerId(id: Uint8Array, at: number): number {
  let h = HASH_SEED;
  for (let i = at; i < at + 20; i += 4) {
    const word = id[i] | (id[i + 1] << 8) | (id[i + 2] << 16) | (id[i + 3] << 24);
    h = Math.imul(h ^ word, 0x9e3779b1);
    h ^= h >>> 15;
  }
  h = Math.imul(h ^ (h >>> 13), 0x85ebca6b);
  return (h ^ (h >>> 16)) >>> 0;
}

const HASH_SEED = (Math.random() * 0x100000000) >>> 0;

/** Put `entry` into the first free slot of `index` from its home slot (`hash`). */
export function place(index: Uint32Array, hash: number, entry: number): void {
  const mask = index.length - 1;
  let slot = hash & mask;
  while (index[slot] !== 0) slot = (slot + 1) & mask;
  index[slot] = entry;
}

/**
 * Empty slot `hole` of an open-addressing index (linear probing, entries are non-zero, 0 = empty)
 * with backward-shift deletion: later entries of the probe run move up, so no tombstones are left.
 * `hashOf(entry)` is the hash an entry was inserted with.
 */
export function deleteSlot(index: Uint32Array, hole: number, hashOf: (entry: number) => number): void {
  const mask = index.length - 1;
  index[hole] = 0;
  let slot = (hole + 1) & mask;
  while (index[slot] !== 0) {
    const entry = index[slot];
    const home = hashOf(entry) & mask;
    // Move the entry into the hole if its home is not cyclically in (hole, slot].
    const inRange = hole <= slot ? home > hole && home <= slot : home > hole || home <= slot;
    if (!inRange) {
      index[hole] = entry;
      index[slot] = 0;
      hole = slot;
    }
    slot = (slot + 1) & mask;
  }
}
