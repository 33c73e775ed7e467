/** Pure credit rules and the batching ledger of onTraffic. */
import { describe, expect, it } from 'vitest';
import { creditAnnounce, TrafficLedger, type TrafficRecord } from '../../src/policy/traffic.js';
import type { PeerState } from '../../src/types.js';

const TTL = 3600_000;
const state = (over: Partial<PeerState> = {}): PeerState => ({ owner: 'u1', at: 1_000_000, seeder: false, uploaded: 100, downloaded: 1000, ...over });

describe('creditAnnounce', () => {
  it('the first announce of a peer sets the baseline and credits nothing', () => {
    expect(creditAnnounce(undefined, { event: 'update', uploaded: 5000, downloaded: 9000, at: 2_000_000 }, {}, TTL)).toEqual({
      uploaded: 0,
      downloaded: 0,
      rawUploaded: 0,
      rawDownloaded: 0,
      seedSeconds: 0,
      completed: 0,
    });
  });

  it('started sets a new baseline even when the peer is known', () => {
    const c = creditAnnounce(state({ seeder: true }), { event: 'started', uploaded: 500, downloaded: 5000, at: 1_060_000 }, {}, TTL);
    expect(c).toMatchObject({ rawUploaded: 0, rawDownloaded: 0, seedSeconds: 0 });
  });

  it('credits the deltas since the previous announce', () => {
    const c = creditAnnounce(state(), { event: 'update', uploaded: 350, downloaded: 1800, at: 1_030_000 }, {}, TTL);
    expect(c).toEqual({ uploaded: 250, downloaded: 800, rawUploaded: 250, rawDownloaded: 800, seedSeconds: 0, completed: 0 });
  });

  it('a counter lower than before (client restart) sets a new baseline without credit', () => {
    expect(creditAnnounce(state(), { event: 'update', uploaded: 50, downloaded: 5000, at: 1_030_000 }, {}, TTL)).toMatchObject({
      rawUploaded: 0,
      rawDownloaded: 0,
      uploaded: 0,
      downloaded: 0,
    });
    expect(creditAnnounce(state(), { event: 'update', uploaded: 500, downloaded: 10, at: 1_030_000 }, {}, TTL)).toMatchObject({
      rawUploaded: 0,
      rawDownloaded: 0,
    });
  });

  it('applies upload and download factors to the credit, not to the raw numbers (freeleech)', () => {
    const c = creditAnnounce(state(), { event: 'update', uploaded: 1100, downloaded: 2000, at: 1_030_000 }, { uploadFactor: 2, downloadFactor: 0 }, TTL);
    expect(c).toMatchObject({ uploaded: 2000, downloaded: 0, rawUploaded: 1000, rawDownloaded: 1000 });
    const half = creditAnnounce(state(), { event: 'update', uploaded: 101, downloaded: 1003, at: 1_030_000 }, { downloadFactor: 0.5 }, TTL);
    expect(half).toMatchObject({ downloaded: 2, rawDownloaded: 3, uploaded: 1 });
  });

  it('seed time is the time between two announces while seeding, capped at the peer TTL', () => {
    expect(creditAnnounce(state({ seeder: true }), { event: 'update', uploaded: 100, downloaded: 1000, at: 1_900_000 }, {}, TTL).seedSeconds).toBe(900);
    expect(creditAnnounce(state({ seeder: false }), { event: 'update', uploaded: 100, downloaded: 1000, at: 1_900_000 }, {}, TTL).seedSeconds).toBe(0);
    expect(creditAnnounce(state({ seeder: true }), { event: 'stopped', uploaded: 100, downloaded: 1000, at: 1_000_000 + 10 * TTL }, {}, TTL).seedSeconds).toBe(3600);
  });

  it('counts completions, with or without a baseline', () => {
    expect(creditAnnounce(undefined, { event: 'completed', uploaded: 0, downloaded: 10, at: 1 }, {}, TTL).completed).toBe(1);
    expect(creditAnnounce(state(), { event: 'completed', uploaded: 100, downloaded: 2000, at: 1_000_500 }, {}, TTL)).toMatchObject({
      completed: 1,
      rawDownloaded: 1000,
    });
  });

  it('credits a completion only when the store counted it (undefined: a store that does not say counts)', () => {
    const done = { event: 'completed' as const, uploaded: 100, downloaded: 2000, at: 1_000_500 };
    expect(creditAnnounce(state(), done, {}, TTL, true).completed).toBe(1);
    expect(creditAnnounce(undefined, done, {}, TTL, true).completed).toBe(1);
    expect(creditAnnounce(state(), done, {}, TTL, undefined).completed).toBe(1);
    // a repeat: no completion, but its traffic is credited as for an update
    expect(creditAnnounce(state(), done, {}, TTL, false)).toMatchObject({ completed: 0, rawDownloaded: 1000 });
    expect(creditAnnounce(undefined, done, {}, TTL, false).completed).toBe(0);
    expect(creditAnnounce(state(), { ...done, event: 'update' }, {}, TTL, true).completed).toBe(0);
  });
});

const credit = (up: number, down: number, seed = 0, completed = 0) => ({
  uploaded: up,
  downloaded: down,
  rawUploaded: up,
  rawDownloaded: down,
  seedSeconds: seed,
  completed,
});

describe('TrafficLedger', () => {
  it('aggregates per (user, info hash), keeps number and string ids apart, drops empty credits', async () => {
    const batches: TrafficRecord[][] = [];
    const ledger = new TrafficLedger((records) => void batches.push(records), 3_600_000);
    ledger.add('alice', 'aa', credit(10, 20));
    ledger.add('alice', 'aa', credit(1, 2, 30, 1));
    ledger.add('alice', 'bb', credit(5, 0));
    ledger.add(7, 'aa', credit(1, 1));
    ledger.add('7', 'aa', credit(2, 2));
    ledger.add('bob', 'aa', credit(0, 0));
    await ledger.flush();
    expect(batches).toHaveLength(1);
    const byKey = Object.fromEntries(batches[0].map((r) => [`${typeof r.user}:${r.user}:${r.infoHash}`, r]));
    expect(Object.keys(byKey).sort()).toEqual(['number:7:aa', 'string:7:aa', 'string:alice:aa', 'string:alice:bb']);
    expect(byKey['string:alice:aa']).toEqual({ user: 'alice', infoHash: 'aa', ...credit(11, 22, 30, 1) });
    await ledger.flush();
    expect(batches).toHaveLength(1); // nothing pending: no empty call
    await ledger.close();
  });

  it('keeps a batch whose callback throws or rejects and merges it into the next: nothing lost, nothing twice', async () => {
    const delivered: TrafficRecord[][] = [];
    let fail = 2;
    const errors: unknown[] = [];
    const ledger = new TrafficLedger(
      async (records) => {
        if (fail-- === 2) throw new Error('database down');
        if (fail === 0) return Promise.reject(new Error('still down'));
        delivered.push(records);
      },
      3_600_000,
      (e) => errors.push(e),
    );
    ledger.add('u', 'h', credit(10, 10));
    await expect(ledger.flush()).rejects.toThrow('database down');
    ledger.add('u', 'h', credit(1, 1));
    ledger.add('v', 'h', credit(3, 3));
    await expect(ledger.flush()).rejects.toThrow('still down');
    ledger.add('u', 'h', credit(100, 0));
    await ledger.flush();
    expect(errors).toHaveLength(2);
    expect(delivered).toHaveLength(1);
    const sum = Object.fromEntries(delivered[0].map((r) => [r.user, r]));
    expect(sum.u).toMatchObject({ uploaded: 111, downloaded: 11 });
    expect(sum.v).toMatchObject({ uploaded: 3, downloaded: 3 });
    await ledger.close();
  });

  it('one hand-over at a time; close() hands over the last batch', async () => {
    const calls: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let active = 0;
    const ledger = new TrafficLedger(async (records) => {
      active++;
      expect(active).toBe(1);
      calls.push(records.reduce((n, r) => n + r.uploaded, 0));
      if (calls.length === 1) await gate;
      active--;
    }, 3_600_000);
    ledger.add('u', 'h', credit(1, 0));
    const first = ledger.flush();
    ledger.add('u', 'h', credit(2, 0));
    const second = ledger.flush();
    ledger.add('u', 'h', credit(4, 0));
    release();
    await Promise.all([first, second]);
    ledger.add('u', 'h', credit(8, 0));
    await ledger.close();
    expect(calls.reduce((a, b) => a + b, 0)).toBe(15);
    expect(calls[0]).toBe(1);
  });

  it('hands batches over on its timer', async () => {
    const got: TrafficRecord[][] = [];
    const ledger = new TrafficLedger((r) => void got.push(r), 20);
    ledger.add('u', 'h', credit(1, 1));
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (got.length > 0) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
    expect(got[0][0]).toMatchObject({ user: 'u', uploaded: 1 });
    await ledger.close();
  });
});
