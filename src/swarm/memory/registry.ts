/**
 * The memory store's built-in torrent registry (`torrents: 'registry'`): a Map in this process, and
 * beside it the index {@link TorrentRegistry.list} pages through, kept sorted lazily (sorted again on
 * the first listing after a change, never on the announce path).
 */
import { listedSwarm } from '../registry-rules.js';
import type { TorrentRules } from '../../types.js';
import type { RegisteredSwarm, TorrentRegistry } from '../types.js';

const hexOf = (infoHash: Uint8Array): string => Buffer.from(infoHash.buffer, infoHash.byteOffset, infoHash.byteLength).toString('hex');

/** See the file comment. */
export class MemoryTorrentRegistry implements TorrentRegistry {
  /** Rules by info hash (hex). */
  private readonly torrents = new Map<string, TorrentRules>();
  /** The listed swarms (hex), sorted; undefined after a change until the next listing. */
  private sorted: string[] | undefined = [];

  /** @internal Every entry (hex info hash, rules), for the store's snapshot. */
  entries(): Array<[string, TorrentRules]> {
    return [...this.torrents].map(([hex, rules]) => [hex, { ...rules }]);
  }

  /** @internal Add entries read from a snapshot. */
  restore(entries: Array<[string, TorrentRules]>): void {
    for (const [hex, rules] of entries) this.torrents.set(hex, { ...rules });
    this.sorted = undefined;
  }

  async get(infoHash: Uint8Array): Promise<TorrentRules | undefined> {
    return this.torrents.get(hexOf(infoHash));
  }

  async add(infoHash: Uint8Array, rules: TorrentRules): Promise<void> {
    this.torrents.set(hexOf(infoHash), { ...rules });
    this.sorted = undefined;
  }

  async remove(infoHash: Uint8Array): Promise<boolean> {
    const removed = this.torrents.delete(hexOf(infoHash));
    if (removed) this.sorted = undefined;
    return removed;
  }

  async list(offset: number, limit: number): Promise<{ total: number; torrents: RegisteredSwarm[] }> {
    this.sorted ??= [...this.torrents].filter(([hex, rules]) => listedSwarm(hex, rules)).map(([hex]) => hex).sort();
    const page = this.sorted.slice(offset, offset + limit);
    return { total: this.sorted.length, torrents: page.map((hex) => ({ infoHash: Buffer.from(hex, 'hex'), rules: { ...this.torrents.get(hex)! } })) };
  }
}
