/**
 * Torrents as the site names them (an info hash in hex or bytes, or a `createTorrent()` /
 * `parseTorrent()` result) turned into the swarms they announce in, and the built-in registry of
 * torrents kept in the store (`torrents: 'registry'`).
 */
import { normaliseRules } from '../policy/torrents.js';
import type { TorrentRules } from '../types.js';
import type { SwarmStore } from '../swarm/types.js';

/**
 * Something a transport passes for a torrent: hex or raw info hash, or a `createTorrent()` /
 * `parseTorrent()` result (a hybrid torrent's result names two swarms: `infoHash` and the first 20
 * bytes of `infoHashV2`).
 */
export type TorrentInput = string | Uint8Array | { infoHash: string; infoHashV2?: string };

/** The info hash of a torrent as 20 bytes (TypeError for anything else). */
export function infoHashBytes(torrent: TorrentInput): Buffer {
  const hex = typeof torrent === 'string' ? torrent : torrent instanceof Uint8Array ? undefined : torrent?.infoHash;
  if (hex !== undefined) {
    if (typeof hex !== 'string' || !/^[0-9a-fA-F]{40}$/.test(hex)) throw new TypeError('info hash: expected 40 hex digits');
    return Buffer.from(hex, 'hex');
  }
  if (torrent instanceof Uint8Array && torrent.length === 20) return Buffer.from(torrent);
  throw new TypeError('info hash: expected 40 hex digits, 20 bytes, or a torrent with an infoHash');
}

/** Every swarm of a torrent: its info hash and, for a v2 or hybrid torrent, its v2 hash cut to 20 bytes. */
export function swarmHashes(torrent: TorrentInput): Buffer[] {
  const hashes = [infoHashBytes(torrent)];
  const v2 = typeof torrent === 'object' && !(torrent instanceof Uint8Array) ? torrent.infoHashV2 : undefined;
  if (v2 !== undefined) {
    if (typeof v2 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(v2)) throw new TypeError('infoHashV2: expected 64 hex digits');
    const swarm = Buffer.from(v2.slice(0, 40), 'hex');
    if (!swarm.equals(hashes[0])) hashes.push(swarm);
  }
  return hashes;
}

/** The `torrentRegistered` event of a tracker: a torrent was added to the built-in registry. */
export interface TorrentRegisteredEvent {
  /** Its info hash (hex; a hybrid torrent's v1 hash). */
  infoHash: string;
  /** A hybrid torrent's v2 info hash (64 hex digits). */
  infoHashV2?: string;
  /** Its rules (credit factors, without the pairing fields). */
  rules: TorrentRules;
}

/** The `torrentRemoved` event of a tracker: a torrent was removed from the built-in registry. */
export interface TorrentRemovedEvent {
  /** Its info hash (hex), as given to `removeTorrent()`. */
  infoHash: string;
  /** A hybrid torrent's v2 info hash, when given to `removeTorrent()`. */
  infoHashV2?: string;
}

/** A torrent's names as events give them: its info hash in lowercase hex, and a hybrid's v2 hash. */
export function torrentNames(torrent: TorrentInput): TorrentRemovedEvent {
  const hashes = swarmHashes(torrent);
  const names: TorrentRemovedEvent = { infoHash: hashes[0]!.toString('hex') };
  if (hashes.length === 2) names.infoHashV2 = (torrent as { infoHashV2: string }).infoHashV2.toLowerCase();
  return names;
}

/** What the registry needs of the core. */
export interface RegistryAccess {
  /** The open store. */
  opened(): Promise<SwarmStore>;
  /** A store call bounded by `storeTimeout`. */
  bounded<T>(promise: Promise<T>): Promise<T>;
  /** Drop the cached answer for a swarm here and on every instance. */
  forget(infoHash: Buffer): Promise<void>;
  /** Emit an event on the tracker (`torrentRegistered`, `torrentRemoved`; a throwing listener is reported). */
  notify(event: string, info: unknown): void;
}

/** The built-in registry (`torrents: 'registry'`), kept in the store so every instance sees it. */
export class TorrentRegistry {
  constructor(private readonly core: RegistryAccess) {}

  /** Register every swarm of a torrent with `rules` (adding again replaces them); what was registered. */
  async add(torrent: TorrentInput, rules: TorrentRules = {}): Promise<TorrentRegisteredEvent> {
    const hashes = swarmHashes(torrent);
    const clean = normaliseRules(rules);
    if (hashes.length === 2) {
      // Both swarms of a hybrid torrent name the torrent: credited and counted once.
      const t = torrent as { infoHash: string; infoHashV2: string };
      clean.infoHash = t.infoHash.toLowerCase();
      clean.infoHashV2 = t.infoHashV2.toLowerCase();
    }
    const registry = await this.registry();
    for (const infoHash of hashes) {
      await this.core.bounded(registry.add(infoHash, clean));
      await this.core.forget(infoHash);
    }
    const { infoHash: _v1, infoHashV2: _v2, ...plain } = clean;
    const event: TorrentRegisteredEvent = { ...torrentNames(torrent), rules: plain };
    this.core.notify('torrentRegistered', event);
    return event;
  }

  /** Remove every swarm of a torrent; resolves true when one was registered. */
  async remove(torrent: TorrentInput): Promise<boolean> {
    const hashes = swarmHashes(torrent);
    const registry = await this.registry();
    let removed = false;
    for (const infoHash of hashes) {
      if (await this.core.bounded(registry.remove(infoHash))) removed = true;
      await this.core.forget(infoHash);
    }
    if (removed) this.core.notify('torrentRemoved', torrentNames(torrent));
    return removed;
  }

  /** The rules of a registered swarm (undefined: not registered): the `torrents` function of `'registry'`. */
  async rules(hex: string): Promise<TorrentRules | undefined> {
    const registry = await this.registry();
    return registry.get(Buffer.from(hex, 'hex'));
  }

  private async registry(): Promise<NonNullable<SwarmStore['registry']>> {
    const store = await this.core.opened();
    if (!store.registry) throw new Error('this store has no torrent registry');
    return store.registry;
  }
}
