/**
 * What the peer table's hash promises against crafted peer ids, checked: the per-process seed
 * stops nobody from building small collision families (16 ids with one hash, whatever the seed),
 * and the comment on hashPeerId says so. If the hash changes, update both.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PeerTable } from '../../src/swarm/memory/peer-table.js';

/** The 16 ids obtained from `base` by flipping bit 31 of word k and bits 31 and 16 of word k+1, for any subset of k in 0..3. */
function family(base: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let subset = 0; subset < 16; subset++) {
    const id = Buffer.from(base);
    for (let k = 0; k < 4; k++) {
      if ((subset & (1 << k)) === 0) continue;
      id.writeUInt32LE((id.readUInt32LE(4 * k) ^ 0x80000000) >>> 0, 4 * k);
      id.writeUInt32LE((id.readUInt32LE(4 * k + 4) ^ 0x80010000) >>> 0, 4 * k + 4);
    }
    out.push(id);
  }
  return out;
}

/** The hash the table computed for each of its records (the table's own private hashOf). */
function hashes(table: PeerTable): number[] {
  const internal = table as unknown as { hashOf(at: number): number };
  return Array.from({ length: table.count }, (_, at) => internal.hashOf(at));
}

const ip = Buffer.from([192, 0, 2, 1]);

describe('PeerTable hash and crafted peer ids', () => {
  it('16 crafted ids share one hash whatever the seed, and the table still finds and removes each', () => {
    for (let trial = 0; trial < 20; trial++) {
      const table = new PeerTable();
      const crafted = family(randomBytes(20));
      expect(new Set(crafted.map((id) => id.toString('hex'))).size).toBe(16);
      for (const id of crafted) table.upsert(id, ip, 6881, false, 1000);
      expect(new Set(hashes(table)).size).toBe(1); // one hash for all 16: a collision family
      const others = Array.from({ length: 200 }, () => randomBytes(20));
      for (const id of others) table.upsert(id, ip, 6881, false, 1000);
      expect(new Set(hashes(table)).size).toBeGreaterThan(190); // random ids do not collide like that
      for (const id of [...crafted, ...others]) expect(table.find(id)).toBeGreaterThanOrEqual(0);
      for (const id of crafted.slice(0, 8)) expect(table.remove(id)).toBe(true);
      for (const id of crafted.slice(8)) expect(table.find(id)).toBeGreaterThanOrEqual(0);
      for (const id of others) expect(table.find(id)).toBeGreaterThanOrEqual(0);
    }
  });

  it('the comment on the hash says what is true: small collision families, not "cannot force collisions"', () => {
    const source = readFileSync(new URL('../../src/swarm/memory/hash-index.ts', import.meta.url), 'utf8');
    const comment = source.slice(0, source.indexOf('function hashPeerId(')).split('/**').at(-1)!;
    expect(comment).not.toMatch(/cannot force collisions/);
    expect(comment).toMatch(/collision families of up to\s+(\*\s+)?16/);
  });
});
