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

/** A peer of a host, counting the requests it sends (one per turn when `active`). */
class HostPeer extends P {
  requested = 0;
  constructor(
    name: string,
    readonly host: string,
    readonly active = true,
  ) {
    super(name);
  }
  override unchoke(): void {
    super.unchoke();
    if (this.active) this.requested++;
  }
}

describe('Choker: slots are shared by hosts, idle slot holders rank last', () => {
  function clocked(slots: number) {
    let now = 0;
    const choker = new Choker<HostPeer>({ slots, rotateInterval: 1000, random: () => 0, now: () => now });
    const rotate = (): void => {
      now += 1000;
      choker.rotate();
    };
    return { choker, rotate };
  }

  it('a newcomer from another host takes a slot at once from a host holding them all', () => {
    const { choker, rotate } = clocked(4);
    const crowd = Array.from({ length: 6 }, (_, i) => new HostPeer(`a${i}`, '10.0.0.1'));
    for (const p of crowd) choker.add(p);
    expect(choker.unchoked.every((p) => p.host === '10.0.0.1')).toBe(true);
    const newcomer = new HostPeer('b', '10.0.0.2');
    choker.add(newcomer);
    expect(choker.unchoked).toContain(newcomer);
    expect(choker.unchoked).toHaveLength(4);
    for (let i = 0; i < 20; i++) {
      rotate();
      expect(choker.unchoked, `round ${i}`).toContain(newcomer); // one of two hosts: a slot every round
    }
  });

  it('with many one-connection hosts that never request, a real downloader is served once each has wasted one short turn', () => {
    let now = 0;
    const choker = new Choker<HostPeer>({ slots: 2, rotateInterval: 10_000, idleGrace: 2000, random: () => 0, now: () => now });
    const squatters = Array.from({ length: 30 }, (_, i) => new HostPeer(`s${i}`, `10.1.0.${i}`, false));
    for (const p of squatters) choker.add(p);
    const real = new HostPeer('real', '192.0.2.1');
    choker.add(real);
    /** One second: review every second, rotate every ten. */
    const second = (): void => {
      now += 1000;
      choker.review();
      if (now % 10_000 === 0) choker.rotate();
    };
    let waited = 0;
    while (choker.unchoked.indexOf(real) < 0 && choker.optimisticPeer !== real) {
      second();
      waited++;
      expect(waited).toBeLessThanOrEqual(30); // 30 squatters, 3 slots, 2 s each: about 20 s; not 30 × 10 s / 2
    }
    let served = 0;
    for (let i = 0; i < 100; i++) {
      second();
      if (!real.amChoking) served++;
    }
    expect(served).toBeGreaterThanOrEqual(95); // idle squatters rank behind it: it keeps a slot
    expect(squatters.every((p) => p.turns <= 3)).toBe(true);
  });

  it('does not judge a turn that has just begun', () => {
    const { choker, rotate } = clocked(1);
    const a = new HostPeer('a', 'h1', false);
    choker.add(a);
    const b = new HostPeer('b', 'h2');
    const c = new HostPeer('c', 'h3');
    choker.add(b); // b takes the optimistic slot
    choker.add(c); // c waits
    rotate(); // a held its slot a whole turn without requests: idle; b and c rank ahead of it
    expect(choker.unchoked).not.toContain(a);
    choker.review(); // the new holder's turn has just begun: not idle yet
    expect(choker.unchoked).toHaveLength(1);
    expect(choker.unchoked[0]).not.toBe(a);
  });
});
