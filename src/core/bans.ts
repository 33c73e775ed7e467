/**
 * Bans beside the core: made and lifted through the tracker (`tracker.ban`, `unban`, `bans`), kept
 * in the store's {@link BanStore} (or in this process when the store has none), held here in a
 * {@link BanList} that the announce path matches against. Other instances learn of a change:
 * - through the store's bus when it has one (Redis): the change itself is published and applied on
 *   receipt, within milliseconds; every instance also re-reads the list every
 *   `refreshInterval` (30 s) in case a message was missed;
 * - by re-reading the list every `refreshInterval` when it has no bus (Keyv: 5 s).
 * On a new ban (made here or learned), the listed peers it covers are removed from the store where
 * the store can (`removePeers`, the memory store), and transports that hold connections are told.
 */
import type { EventEmitter } from 'node:events';
import { BanList, MAX_BANS, makeBan, storedBan, type Ban, type BanSpec } from '../policy/bans.js';
import { memoryBanStore } from '../swarm/memory/bans.js';
import { MemorySwarmStore } from '../swarm/memory/memory-store.js';
import { withDeadline } from '../util/deadline.js';
import type { BanStore, SwarmStore } from '../swarm/types.js';
import type { UserId } from '../policy/passkey.js';
import { BusSubscription } from './bus-subscription.js';

export type { Ban, BanSpec } from '../policy/bans.js';

/** What the bans need of the core. */
export interface BanAccess {
  /** The open store. */
  opened(): Promise<SwarmStore>;
  /** A store call bounded by `storeTimeout` (and counted in the storage stats): calls the site makes. */
  bounded<T>(promise: Promise<T>): Promise<T>;
  /** `peerTtl` in ms: how long a listed peer may outlive a ban without announcing again. */
  peerTtl: number;
  /** `storeTimeout` in ms, for the background re-reads (not counted: they are not the tracker's work). */
  timeout: number;
  /** Where `banned` / `unbanned` go. */
  events: EventEmitter;
  /** Where background failures go (store unreachable…: reported, retried by the next refresh). */
  failures: { emit(reason: string, error: unknown): void };
  /** The user of a passkey when the policy cache knows it (private mode). */
  userOf(passkey: string): UserId | undefined;
}

/**
 * Told of every ban that comes into force on this instance (made here or elsewhere), with a way to
 * find the user of a connection's passkey (the policy cache).
 */
export type BanListener = (ban: Ban, userOf: (passkey: string) => UserId | undefined) => void;

/** A ban change on the bus. */
interface BanMessage {
  ban?: unknown;
  unban?: unknown;
}

/** See the module comment. */
export class BanKeeper {
  /** The bans in force, matched on every announce. */
  readonly list: BanList;
  private store: BanStore | undefined;
  private swarms: SwarmStore | undefined;
  private timer: NodeJS.Timeout | undefined;
  private subscription: BusSubscription | undefined;
  private publish: ((message: string) => Promise<void>) | undefined;
  /** Changes made here since a refresh started: that refresh's result is stale. */
  private changes = 0;
  private closed = false;
  private readonly listeners = new Set<BanListener>();
  /** A walk removing listed peers is in progress; bans waiting for the next one. */
  private walking = false;
  private readonly pending: Ban[] = [];

  constructor(private readonly core: BanAccess) {
    this.list = new BanList(Date.now, (ban) => this.expired(ban));
    core.opened().then(
      (store) => this.attach(store),
      () => undefined, // no store: every answer is a failure anyway
    );
  }

  /** The store is open: load its bans, listen on its bus, re-read them every `refreshInterval`. */
  private attach(swarms: SwarmStore): void {
    if (this.closed) return;
    this.swarms = swarms;
    this.store = swarms.bans ?? memoryBanStore();
    const bus = swarms.bus;
    if (bus) {
      this.publish = (message) => bus.publish(message);
      // Listen (retried until it works; meanwhile the periodic re-read keeps bans in step).
      this.subscription = new BusSubscription(bus, (text) => this.receive(text));
    }
    void this.refresh();
    const every = this.store.refreshInterval;
    if (every !== undefined && every > 0) {
      this.timer = setInterval(() => void this.refresh(), every);
      this.timer.unref();
    }
  }

  /** Ban (see `tracker.ban`). */
  async ban(spec: BanSpec): Promise<Ban> {
    const ban = makeBan(spec, Date.now());
    const store = await this.opened();
    const replaced = this.list.sameAs(ban);
    if (!replaced && this.list.size >= MAX_BANS) throw new TypeError(`ban: at most ${MAX_BANS} bans (lift some first)`);
    this.changes++;
    await this.core.bounded(store.add(ban));
    if (replaced) await this.core.bounded(store.remove(replaced.id));
    this.apply(ban, true);
    await this.send({ ban });
    this.core.events.emit('banned', { ...ban });
    return { ...ban };
  }

  /** Lift a ban (see `tracker.unban`); true when it was held. */
  async unban(id: string): Promise<boolean> {
    if (typeof id !== 'string') throw new TypeError('unban: expected a ban id');
    const store = await this.opened();
    this.changes++;
    const held = this.list.remove(id);
    const removed = await this.core.bounded(store.remove(id));
    if (!removed && !held) return false;
    await this.send({ unban: id });
    this.core.events.emit('unbanned', { ...(held ?? { id, createdAt: 0 }) });
    return true;
  }

  /** The live bans, oldest first. */
  async bans(): Promise<Ban[]> {
    await this.opened();
    await this.refresh();
    const now = Date.now();
    return this.list
      .all()
      .filter((ban) => ban.expiresAt === undefined || ban.expiresAt > now)
      .sort((a, b) => a.createdAt - b.createdAt)
      .map((ban) => ({ ...ban }));
  }

  /** `listener` is told of every ban that comes into force here (made here or on another instance). */
  onBan(listener: BanListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stop refreshing and listening. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.subscription?.close();
  }

  private async opened(): Promise<BanStore> {
    await this.core.opened();
    if (!this.store) throw new Error('the tracker store could not be opened');
    return this.store;
  }

  /** Re-read the store's bans: new ones come into force, lifted and expired ones go. */
  private async refresh(): Promise<void> {
    const store = this.store;
    if (!store || this.closed) return;
    const before = this.changes;
    let stored: Ban[];
    try {
      stored = await withDeadline(store.list(), this.core.timeout, () => new Error(`bans: the store did not answer within ${this.core.timeout} ms`));
    } catch (error) {
      this.core.failures.emit('bans could not be read from the store (kept as they were; retried)', error);
      return;
    }
    if (before !== this.changes) return; // a change made here meanwhile: the next refresh sees it
    const now = Date.now();
    const seen = new Set<string>();
    for (const ban of stored) {
      if (ban.expiresAt !== undefined && ban.expiresAt <= now) {
        this.expired(ban);
        continue;
      }
      seen.add(ban.id);
      if (!this.list.get(ban.id)) this.apply(ban, false);
    }
    for (const ban of this.list.all()) if (!seen.has(ban.id)) this.list.remove(ban.id);
  }

  /**
   * A ban comes into force here: matched from now on, connections told, its listed peers removed
   * (`made` here: from the whole store; learned from another instance: only where each instance
   * keeps its own peers, a store without a bus).
   */
  private apply(ban: Ban, made: boolean): void {
    if (this.list.get(ban.id)) return;
    this.list.add(ban);
    if (this.list.get(ban.id) === undefined) return; // an older ban on the same thing: ignored
    for (const listener of this.listeners) {
      try {
        listener(ban, this.core.userOf);
      } catch (error) {
        this.core.failures.emit('a ban listener threw', error);
      }
    }
    // Answers are filtered until listed peers are gone: they expire within a peer TTL at the latest.
    this.list.filterUntil = Math.max(this.list.filterUntil, Date.now() + this.core.peerTtl);
    if (made || !this.swarms?.bus) this.purge(ban);
  }

  /**
   * Remove the peers a new ban covers from the store, where the store can (in the background). One
   * walk at a time: bans made while a walk runs are removed together by the next one.
   */
  private purge(ban: Ban): void {
    const swarms = this.swarms;
    const removePeers = swarms?.removePeers?.bind(swarms);
    if (!removePeers) return;
    this.pending.push(ban);
    if (this.walking) return;
    this.walking = true;
    const walk = (): void => {
      const probe = new BanList();
      for (const b of this.pending.splice(0)) probe.add(b);
      removePeers((peer, owner) => probe.match(peer.ip, peer.peerId, owner) !== undefined)
        .then(
          () => {
            // In this process's memory, a finished walk leaves no banned peer listed: filtering can stop.
            if (this.pending.length === 0 && swarms instanceof MemorySwarmStore) this.list.filterUntil = 0;
          },
          (error: unknown) => this.core.failures.emit('bans: listed peers could not be removed (they are not handed out, and go at their next announce)', error),
        )
        .finally(() => {
          if (this.pending.length > 0 && !this.closed) walk();
          else this.walking = false;
        });
    };
    walk();
  }

  /** A ban expired: it stops applying, and goes from the store. */
  private expired(ban: Ban): void {
    this.list.remove(ban.id);
    const store = this.store;
    if (store) store.remove(ban.id).catch(() => undefined);
  }

  private async send(message: BanMessage): Promise<void> {
    if (!this.publish) return;
    try {
      await this.core.bounded(this.publish(JSON.stringify(message)));
    } catch (error) {
      // Stored already: other instances pick it up at their next refresh.
      this.core.failures.emit('bans: other instances could not be told at once (they re-read the bans periodically)', error);
    }
  }

  private receive(text: string): void {
    if (!text.startsWith('{"ban') && !text.startsWith('{"unban')) return;
    let message: BanMessage;
    this.changes++;
    try {
      message = JSON.parse(text) as BanMessage;
    } catch {
      return;
    }
    if (message.ban !== undefined) {
      const ban = storedBan(message.ban);
      if (ban && (ban.expiresAt === undefined || ban.expiresAt > Date.now())) this.apply(ban, false);
    } else if (typeof message.unban === 'string') {
      this.list.remove(message.unban);
    }
  }
}
