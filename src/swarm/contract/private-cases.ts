/**
 * Contract cases of private mode (`SwarmAnnounce.private`, for stores whose `privateMode` is true): a
 * peer belongs to the owner that first announced it, a regular announce waits the min interval, the
 * store returns the peer's state before each accepted announce (the tracker credits traffic from
 * it), and a refused announce changes nothing, not even that state.
 */
import type { PrivateAnnounce } from '../types.js';
import { expect } from './expect.js';
import { type ContractCase, announceOf, hash, hex, three } from './fixtures.js';

/** The private part of an announce by `owner`. */
function as(owner: string, minInterval = 0, counters?: { uploaded: number; downloaded: number }): PrivateAnnounce {
  return { owner, minInterval, uploaded: counters?.uploaded ?? 0, downloaded: counters?.downloaded ?? 0, counters: counters !== undefined };
}

/** Private mode. */
export const privateCases: ContractCase[] = [
  {
    name: 'a peer belongs to the owner that first announced it: another owner can neither change nor stop it',
    async run(s) {
      const ih = hash();
      const mine = announceOf(ih, { private: as('u1') });
      await s.announce(mine);
      for (const event of ['update', 'completed', 'stopped', 'started'] as const) {
        const r = await s.announce({ ...mine, event, seeder: true, private: as('u2') });
        expect(r.refusal, event).toEqual({ kind: 'owner' });
        expect(r, event).toMatchObject({ complete: 0, incomplete: 0, downloaded: 0, peers: [] });
        expect(r.counted === true, event).toBe(false);
      }
      expect((await s.scrape([ih])).map(three)).toEqual([{ complete: 0, incomplete: 1, downloaded: 0 }]);
      const own = await s.announce({ ...mine, event: 'update', private: as('u1') });
      expect(own.refusal).toBeUndefined();
      expect(own.previous).toMatchObject({ owner: 'u1' });
    },
  },
  {
    name: 'a regular announce sooner than the min interval is refused with the time left; started and stopped pass',
    async run(s, clock) {
      const ih = hash();
      const other = announceOf(ih, { private: as('u9') });
      await s.announce(other);
      const a = announceOf(ih, { private: as('u1', 30_000) });
      await s.announce(a);
      clock.advance(10);
      const early = await s.announce({ ...a, event: 'update', seeder: true });
      expect(early.refusal).toEqual({ kind: 'interval', retryIn: 20_000 });
      expect((await s.scrape([ih])).map(three)).toEqual([{ complete: 0, incomplete: 2, downloaded: 0 }]);
      // a refused announce does not restart the wait; an accepted one does
      clock.advance(20);
      const onTime = await s.announce({ ...a, event: 'update', seeder: true });
      expect(onTime.refusal).toBeUndefined();
      expect(onTime).toMatchObject({ complete: 1, incomplete: 1 });
      expect(onTime.peers.map((p) => hex(p.peerId))).toEqual([hex(other.peerId)]);
      clock.advance(1);
      expect((await s.announce({ ...a, event: 'update', seeder: true })).refusal).toEqual({ kind: 'interval', retryIn: 29_000 });
      expect((await s.announce({ ...a, event: 'stopped', seeder: true })).refusal).toBeUndefined();
      expect((await s.announce({ ...a, event: 'started' })).refusal).toBeUndefined();
      expect((await s.scrape([ih])).map(three)).toEqual([{ complete: 0, incomplete: 2, downloaded: 0 }]);
      // 0 enforces nothing
      const b = announceOf(ih, { private: as('u2', 0) });
      await s.announce(b);
      expect((await s.announce({ ...b, event: 'update' })).refusal).toBeUndefined();
    },
  },
  {
    name: 'returns the state of the last accepted announce: owner, time, seeder, counters; stopped reports it, then it is forgotten',
    async run(s, clock) {
      const ih = hash();
      const t0 = clock.now();
      const a = announceOf(ih, { private: as('u1', 0, { uploaded: 0, downloaded: 0 }) });
      expect((await s.announce(a)).previous).toBeUndefined();
      clock.advance(30);
      const second = await s.announce({ ...a, event: 'update', seeder: true, private: as('u1', 0, { uploaded: 1000, downloaded: 500 }) });
      expect(second.previous).toMatchObject({ owner: 'u1', at: t0, seeder: false, uploaded: 0, downloaded: 0 });
      clock.advance(30);
      const third = await s.announce({ ...a, event: 'update', seeder: true, private: as('u1', 0, { uploaded: 3000, downloaded: 500 }) });
      expect(third.previous).toMatchObject({ owner: 'u1', at: t0 + 30_000, seeder: true, uploaded: 1000, downloaded: 500 });
      clock.advance(30);
      const stop = await s.announce({ ...a, event: 'stopped', seeder: true, private: as('u1', 0, { uploaded: 4000, downloaded: 500 }) });
      expect(stop.previous).toMatchObject({ owner: 'u1', at: t0 + 60_000, seeder: true, uploaded: 3000, downloaded: 500 });
      expect((await s.announce({ ...a, event: 'started', private: as('u1', 0, { uploaded: 4000, downloaded: 500 }) })).previous).toBeUndefined();
    },
  },
  {
    name: 'keeps the client counters only when traffic is accounted (counters false: the state holds 0)',
    async run(s) {
      const a = announceOf(hash(), { private: { owner: 'u1', minInterval: 0, uploaded: 700, downloaded: 300, counters: false } });
      await s.announce(a);
      const r = await s.announce({ ...a, event: 'update' });
      expect(r.previous).toMatchObject({ owner: 'u1', seeder: false, uploaded: 0, downloaded: 0 });
    },
  },
  {
    name: 'a refused announce leaves the baseline alone: the next accepted one sees the last accepted counters',
    async run(s, clock) {
      const ih = hash();
      const t0 = clock.now();
      const a = announceOf(ih, { private: as('u1', 60_000, { uploaded: 100, downloaded: 10 }) });
      await s.announce(a);
      clock.advance(10);
      const early = await s.announce({ ...a, event: 'update', private: as('u1', 60_000, { uploaded: 500, downloaded: 50 }) });
      expect(early.refusal).toMatchObject({ kind: 'interval' });
      const other = await s.announce({ ...a, event: 'update', private: as('u2', 60_000, { uploaded: 9999, downloaded: 0 }) });
      expect(other.refusal).toEqual({ kind: 'owner' });
      clock.advance(60);
      const later = await s.announce({ ...a, event: 'update', private: as('u1', 60_000, { uploaded: 900, downloaded: 90 }) });
      expect(later.refusal).toBeUndefined();
      expect(later.previous).toMatchObject({ owner: 'u1', at: t0, uploaded: 100, downloaded: 10 });
    },
  },
  {
    name: 'a peer forgotten by expiry has no state and no owner any more: anyone may announce it',
    async run(s, clock) {
      const ih = hash();
      const a = announceOf(ih, { ttl: 60, private: as('u1', 60_000) });
      await s.announce(a);
      clock.advance(61);
      const r = await s.announce({ ...a, private: as('u2', 60_000) });
      expect(r.refusal).toBeUndefined();
      expect(r.previous).toBeUndefined();
      expect((await s.scrape([ih])).map(three)).toEqual([{ complete: 0, incomplete: 1, downloaded: 0 }]);
    },
  },
  {
    name: 'completed counts once in private mode too, and a refused one never counts',
    async run(s) {
      const ih = hash();
      const a = announceOf(ih, { private: as('u1') });
      await s.announce(a);
      const hijack = await s.announce({ ...a, event: 'completed', seeder: true, private: as('u2') });
      expect(hijack.refusal).toEqual({ kind: 'owner' });
      expect(hijack.counted === true).toBe(false);
      const done = await s.announce({ ...a, event: 'completed', seeder: true });
      expect(done).toMatchObject({ complete: 1, incomplete: 0, downloaded: 1, counted: true });
      expect(done.previous).toMatchObject({ owner: 'u1', seeder: false });
      const repeat = await s.announce({ ...a, event: 'completed', seeder: true });
      expect(repeat).toMatchObject({ downloaded: 1, counted: false });
      expect((await s.scrape([ih])).map(three)).toEqual([{ complete: 1, incomplete: 0, downloaded: 1 }]);
    },
  },
  {
    name: 'with an enforced min interval, a completion that counts passes at once; a repeat waits like an update',
    async run(s, clock) {
      const ih = hash();
      const own = { owner: 'u1', minInterval: 60_000, uploaded: 0, downloaded: 0, counters: false };
      const a = announceOf(ih, { private: own });
      await s.announce(a);
      clock.advance(1);
      const done = await s.announce({ ...a, event: 'completed', seeder: true });
      expect(done).toMatchObject({ downloaded: 1, counted: true });
      expect(done.refusal).toBeUndefined();
      clock.advance(1);
      const early = await s.announce({ ...a, event: 'completed', seeder: true });
      expect(early.refusal).toMatchObject({ kind: 'interval' });
      expect(early.refusal?.kind === 'interval' && early.refusal.retryIn).toBe(59_000);
      const update = await s.announce({ ...a, event: 'update', seeder: true });
      expect(update.refusal).toMatchObject({ kind: 'interval' });
      expect((await s.scrape([ih])).map(three)).toEqual([{ complete: 1, incomplete: 0, downloaded: 1 }]);
      clock.advance(59);
      const later = await s.announce({ ...a, event: 'completed', seeder: true });
      expect(later.refusal).toBeUndefined();
      expect(later).toMatchObject({ downloaded: 1, counted: false });
      // started and stopped keep passing at once; after stopped a new completion counts at once
      clock.advance(1);
      expect((await s.announce({ ...a, event: 'stopped' })).refusal).toBeUndefined();
      expect((await s.announce({ ...a, event: 'started' })).refusal).toBeUndefined();
      expect(await s.announce({ ...a, event: 'completed', seeder: true })).toMatchObject({ downloaded: 2, counted: true });
    },
  },
];
