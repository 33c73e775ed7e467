import { describe, expect, it } from 'vitest';
import { Choker, type ChokerPeer } from '../../src/seeder/choker.js';

class P implements ChokerPeer {
  peerInterested = true;
  amChoking = true;
  turns = 0;
  constructor(readonly name: string) {}
  choke(): void {
    this.amChoking = true;
  }
  unchoke(): void {
    if (this.amChoking) this.turns++;
    this.amChoking = false;
  }
}

function setup(n: number, slots: number) {
  let t = 0;
  const choker = new Choker<P>({ slots, random: () => 0, now: () => ++t });
  const peers = Array.from({ length: n }, (_, i) => new P(`p${i}`));
  for (const p of peers) choker.add(p);
  return { choker, peers, unchoked: () => peers.filter((p) => !p.amChoking) };
}

describe('Choker', () => {
  it('unchokes everyone when interested peers fit in the slots, and nobody uninterested', () => {
    const { choker, peers, unchoked } = setup(3, 4);
    expect(unchoked()).toHaveLength(3);
    const lazy = new P('lazy');
    lazy.peerInterested = false;
    choker.add(lazy);
    expect(lazy.amChoking).toBe(true);
    choker.rotate();
    expect(unchoked()).toHaveLength(3);
    expect(peers.every((p) => p.turns === 1)).toBe(true); // no churn without competition
  });

  it('never uses more than slots + 1 (optimistic) at once', () => {
    const { choker, unchoked } = setup(20, 4);
    expect(unchoked()).toHaveLength(5);
    for (let i = 0; i < 30; i++) {
      choker.rotate();
      expect(unchoked().length).toBeLessThanOrEqual(5);
      expect(choker.unchoked.length).toBe(4);
    }
  });

  it('rotates fairly: with 12 peers and 3 slots everyone gets turns, evenly', () => {
    const { choker, peers } = setup(12, 3);
    for (let i = 0; i < 40; i++) choker.rotate();
    const turns = peers.map((p) => p.turns);
    expect(Math.min(...turns)).toBeGreaterThanOrEqual(8);
    expect(Math.max(...turns) - Math.min(...turns)).toBeLessThanOrEqual(4);
  });

  it('gives a freed slot to a waiting peer at once (disconnect or loss of interest)', () => {
    const { choker, peers } = setup(6, 2);
    const holders = choker.unchoked;
    expect(holders).toHaveLength(2);
    const waiting = peers.filter((p) => p.amChoking);
    choker.remove(holders[0]);
    expect(choker.unchoked).toHaveLength(2);
    holders[1].peerInterested = false;
    choker.interestChanged(holders[1]);
    expect(holders[1].amChoking).toBe(true);
    expect(choker.unchoked).toHaveLength(2);
    expect(choker.unchoked.every((p) => waiting.includes(p))).toBe(true);
  });

  it('moves the optimistic slot to a choked peer', () => {
    const { choker } = setup(10, 2);
    const first = choker.optimisticPeer;
    expect(first).toBeDefined();
    expect(choker.unchoked).not.toContain(first);
    for (let i = 0; i < 3; i++) choker.rotate();
    const opt = choker.optimisticPeer!;
    expect(opt.amChoking).toBe(false);
    expect(choker.unchoked).not.toContain(opt);
  });
});
