/**
 * The Keyv store's instance slots and registry: which id this instance writes its shards under, and
 * how it knows the ids of the others.
 *
 * - A slot is a lease, `<prefix>:lease:<id>` holding this instance's random token, renewed every
 *   `heartbeat` ms and living `3 × heartbeat + maxClockSkew` ms (Keyv judges expiry by the reader's
 *   clock, so an instance whose clock runs up to `maxClockSkew` ahead still sees live leases as
 *   live). Without a fixed `instanceId` an instance claims the lowest free numeric slot: it sets the
 *   lease, waits `claimSettle` (plus a random part) and keeps the slot only if its token is still
 *   there. A restarted instance thus takes over a slot left free, and with it the slot's shards.
 * - The registry, `<prefix>:instances`, lists every id that ever wrote. It is only ever added to; an
 *   instance re-reads it and re-adds itself when a concurrent rewrite dropped it.
 * - The write fence ({@link InstanceSlots.ownsSlot}): before writing, the store checks that the
 *   lease still holds its token. An instance that lost its slot (paused past its lease) moves to a
 *   new one and tells the store through `onMove`.
 */
import { randomBytes } from 'node:crypto';
import { KeyvStoreError, type KeyvStorage } from './storage.js';

/** Lease of an instance slot. */
interface Lease {
  token: string;
}

/** Settings of {@link InstanceSlots} (the store's options of the same names, defaults applied). */
export interface InstanceSlotsOptions {
  /** Prefix of every key name. */
  prefix: string;
  /** A fixed id to hold, or undefined to claim the lowest free numeric slot. */
  instanceId: string | undefined;
  /** Milliseconds between lease renewals. */
  heartbeat: number;
  /** Allowance for clock differences between instances, added to the lease's lifetime (ms). */
  maxClockSkew: number;
  /** Milliseconds to wait before checking that a claimed slot is really ours. */
  claimSettle: number;
  /**
   * Called when this instance takes a new slot after losing its previous one, before it lists the
   * new id: the store moves what it holds to the new slot.
   */
  onMove: () => void;
}

/** This instance's slot (lease) and its knowledge of the registry of instance ids. */
export class InstanceSlots {
  /** Key of the registry of instance ids. */
  readonly registryKey: string;
  private readonly token = randomBytes(12).toString('hex');
  /** Milliseconds a lease lives in the database (three heartbeats plus the clock-skew allowance). */
  private readonly leaseTtl: number;
  /** performance.now() when our lease was last set or confirmed: writes trust it for one heartbeat. */
  private leaseCheckedAt = -Infinity;
  /** Current instance id, once claimed. */
  private current: string | undefined;
  /** The id whose lease we lost, until we hold a new one. */
  private lostId: string | undefined;
  /** Known registry (always includes our id once claimed). */
  private known: string[] = [];
  private starting: Promise<void> | undefined;

  constructor(
    private readonly storage: KeyvStorage,
    private readonly options: InstanceSlotsOptions,
  ) {
    this.registryKey = `${options.prefix}:instances`;
    this.leaseTtl = options.heartbeat * 3 + options.maxClockSkew;
  }

  /** This instance's id (undefined until claimed, and while it moves to a new slot). */
  get id(): string | undefined {
    return this.current;
  }

  /** Every instance id known from the registry, sorted (ours included once claimed). */
  get instances(): string[] {
    return this.known;
  }

  /** Claim the instance slot once; a failure (backend down) is retried by the next call. */
  start(): Promise<void> {
    if (this.current !== undefined) return Promise.resolve();
    if (this.storage.closed) return Promise.reject(new KeyvStoreError('the Keyv swarm store is closed'));
    this.starting ??= this.claim().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  /** Resolves once a claim in flight has ended (whether it succeeded or not). */
  async settled(): Promise<void> {
    await this.starting?.catch(() => undefined);
  }

  /**
   * The write fence: true when slot `id` is still ours. Confirmed by reading the lease unless it was
   * set or confirmed less than one heartbeat ago (monotonic clock: a paused process finds its
   * confirmation old and reads again). Another instance can take a slot only once its lease has
   * gone unrenewed for three heartbeats plus the clock-skew allowance, so a write that starts within
   * one heartbeat of a confirmation lands while the lease is still ours (unless the database itself
   * holds the write back for longer than two heartbeats). A lost slot moves us to a new one; the
   * caller's data stays dirty and is written there.
   */
  async ownsSlot(id: string): Promise<boolean> {
    if (performance.now() - this.leaseCheckedAt < this.options.heartbeat) return true;
    const at = performance.now();
    const lease = await this.readLease(id);
    if (lease?.token === this.token) {
      this.leaseCheckedAt = at;
      return true;
    }
    if (this.current === id) {
      // Someone took our slot (we were paused longer than the lease), or it expired: move on.
      this.lostId = id;
      this.current = undefined;
      void this.start().catch(() => undefined);
    }
    return false;
  }

  /** Renew the lease; when it was lost (we were paused for longer than its TTL) move to a new slot. */
  async heartbeat(): Promise<void> {
    if (this.storage.closed || this.current === undefined) return;
    try {
      const lease = await this.readLease(this.current);
      if (lease && lease.token !== this.token) {
        // Someone took our slot (we were paused longer than the lease): move to a free one.
        this.lostId = this.current;
        this.current = undefined;
        await this.start();
        return;
      }
      await this.setLease(this.current);
      await this.ensureListed();
    } catch {
      this.storage.healthy = false;
    }
  }

  /** Give the slot up (on close): delete the lease if it still holds our token. */
  async release(): Promise<void> {
    if (this.current === undefined) return;
    const key = this.leaseKey(this.current);
    const lease = (await this.storage.call(this.storage.kv.get(key))) as Lease | undefined;
    if (lease?.token === this.token) await this.storage.call(this.storage.kv.delete(key));
  }

  /**
   * Make sure our id is in the registry list. Several instances may rewrite the list at once and one
   * may drop another's addition; each checks again after a random pause and re-adds itself.
   */
  async ensureListed(): Promise<void> {
    const id = this.current;
    if (id === undefined) return;
    for (let attempt = 0; attempt < 20; attempt++) {
      const listed = await this.readRegistry();
      if (listed.includes(id)) return;
      await this.storage.call(this.storage.kv.set(this.registryKey, [...new Set([...listed, ...this.known, id])].sort()));
      await sleep(20 + Math.random() * 80);
    }
    throw new KeyvStoreError('could not register this instance');
  }

  /**
   * Merge a registry value read from the database into what we know (entries are only ever added).
   * Returns the ids the value itself lists.
   */
  mergeRegistry(list: unknown): string[] {
    const set = new Set(this.known);
    if (Array.isArray(list)) for (const x of list) if (typeof x === 'string') set.add(x);
    if (this.current !== undefined) set.add(this.current);
    this.known = [...set].sort();
    return Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : [];
  }

  private async claim(): Promise<void> {
    if (this.options.instanceId !== undefined) {
      const id = this.options.instanceId;
      const lease = await this.readLease(id);
      if (lease && lease.token !== this.token) {
        throw new KeyvStoreError(`instanceId "${id}" is in use by another running instance`);
      }
      await this.setLease(id);
      await this.adopt(id);
      return;
    }
    const tried = new Set<string>();
    for (let attempt = 0; attempt < 64; attempt++) {
      await this.readRegistry();
      // The lowest slots first: a restarted instance takes over the shards of a slot left free.
      const candidates: number[] = [];
      for (let n = 1; candidates.length < 8; n++) if (!tried.has(String(n))) candidates.push(n);
      const leases = await this.storage.getMany(candidates.map((n) => this.leaseKey(String(n))));
      const free = candidates.find((_, i) => leases[i] === undefined || leases[i] === null);
      if (free === undefined) {
        for (const n of candidates) tried.add(String(n));
        continue;
      }
      const id = String(free);
      const at = performance.now();
      await this.storage.call(this.storage.kv.set(this.leaseKey(id), { token: this.token } satisfies Lease, this.leaseTtl));
      const settle = this.options.claimSettle;
      await sleep(settle + Math.random() * settle);
      const check = await this.readLease(id);
      if (check?.token === this.token) {
        this.leaseCheckedAt = at;
        await this.adopt(id);
        return;
      }
      tried.add(id);
    }
    throw new KeyvStoreError('could not claim an instance slot');
  }

  /** Become instance `id`: list it; after losing a slot, let the store move to the new one. */
  private async adopt(id: string): Promise<void> {
    const previous = this.current ?? this.lostId;
    this.current = id;
    this.lostId = undefined;
    if (previous !== undefined && previous !== id) this.options.onMove();
    await this.ensureListed();
  }

  private async readRegistry(): Promise<string[]> {
    const list = await this.storage.call(this.storage.kv.get(this.registryKey));
    return this.mergeRegistry(list);
  }

  private async readLease(id: string): Promise<Lease | undefined> {
    return (await this.storage.call(this.storage.kv.get(this.leaseKey(id)))) as Lease | undefined;
  }

  /** Set (or renew) our lease on slot `id`; the write confirms the slot for one heartbeat. */
  private async setLease(id: string): Promise<void> {
    const at = performance.now();
    await this.storage.call(this.storage.kv.set(this.leaseKey(id), { token: this.token } satisfies Lease, this.leaseTtl));
    this.leaseCheckedAt = at;
  }

  private leaseKey(id: string): string {
    return `${this.options.prefix}:lease:${id}`;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
