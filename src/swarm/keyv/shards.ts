/**
 * The Keyv store's shards in the database: reading every listed instance's shard of some swarms
 * (big shards continue in chunk keys), and the fenced write-behind of this instance's own shards.
 *
 * Key layout: `<prefix>:<infohash>:<id>` holds instance `id`'s shard of a swarm (a
 * {@link ShardValue}: its `completed` counter and its first {@link CHUNK_RECORDS} records); a bigger
 * shard continues in chunk keys `<prefix>:<infohash>:<id>:<n>`, n = 1..x.
 *
 * Writes never overlap (one write turn at a time, the slot check included), so two versions of one
 * shard cannot land in the wrong order, and every write is fenced by the slot's lease
 * ({@link InstanceSlots.ownsSlot}): an instance that lost its slot writes nothing there.
 */
import {
  CHUNK_RECORDS,
  decodeRecords,
  encodeRecords,
  isShard,
  type ChunkValue,
  type ReadShard,
  type ShardValue,
} from './records.js';
import type { InstanceSlots } from './slots.js';
import { KeyvStoreError, type KeyvStorage } from './storage.js';
import type { Swarm } from './swarm.js';

/** Reads and writes of shards for one store instance. */
export class ShardIo {
  private flushing: Promise<void> | undefined;

  /**
   * @param swarms the store's swarms in memory: the write-behind writes the dirty ones
   * @param now the store's clock (record expiry)
   */
  constructor(
    private readonly storage: KeyvStorage,
    private readonly slots: InstanceSlots,
    private readonly swarms: Map<string, Swarm>,
    private readonly prefix: string,
    private readonly now: () => number,
  ) {}

  /** True while a write is in flight. */
  get busy(): boolean {
    return this.flushing !== undefined;
  }

  /**
   * Read the shards of `hexes` from every listed instance, plus the registry in the same call; reads
   * again for instances the registry reveals. Our own shard is read only where `includeOwn(hex)`.
   */
  async read(hexes: string[], includeOwn: (hex: string) => boolean): Promise<Map<string, ReadShard[]>> {
    const out = new Map<string, ReadShard[]>();
    for (const hex of hexes) out.set(hex, []);
    if (hexes.length === 0) return out;
    let ids = this.slots.instances;
    const done = new Set<string>();
    const chunked: Array<{ hex: string; shard: ReadShard }> = [];
    for (let round = 0; round < 3 && ids.length > 0; round++) {
      const keys: string[] = [this.slots.registryKey];
      const where: Array<[string, string]> = [];
      for (const hex of hexes) {
        for (const id of ids) {
          if (id === this.slots.id && !includeOwn(hex)) continue;
          keys.push(this.shardKey(hex, id));
          where.push([hex, id]);
        }
      }
      const values = await this.storage.getMany(keys);
      for (const id of ids) done.add(id);
      where.forEach(([hex, id], i) => {
        const value = values[i + 1];
        if (!isShard(value)) return;
        const x = Number.isInteger(value.x) && (value.x as number) > 0 ? (value.x as number) : 0;
        const shard: ReadShard = { id, d: value.d, x, recs: decodeRecords(value.p) };
        out.get(hex)?.push(shard);
        if (x > 0) chunked.push({ hex, shard });
      });
      this.slots.mergeRegistry(values[0]);
      ids = this.slots.instances.filter((id) => !done.has(id));
    }
    if (chunked.length > 0) {
      const keys: string[] = [];
      for (const { hex, shard } of chunked) for (let j = 1; j <= shard.x; j++) keys.push(this.chunkKey(hex, shard.id, j));
      const values = await this.storage.getMany(keys);
      let at = 0;
      for (const { shard } of chunked) {
        for (let j = 1; j <= shard.x; j++) {
          const value = values[at++] as ChunkValue | undefined;
          if (value && typeof value.p === 'string') for (const rec of decodeRecords(value.p)) shard.recs.push(rec);
        }
      }
    }
    this.storage.healthy = true;
    return out;
  }

  /**
   * Write up to `limit` dirty shards, or only `only` (one setMany, one deleteMany). With a finite
   * `limit` and no `only` (the timer) it skips the round when a write is in flight; otherwise it
   * waits for its turn.
   */
  async write(limit: number, only?: Swarm): Promise<void> {
    if (this.flushing && limit !== Infinity && !only) return; // the timer: next round
    while (this.flushing) await this.flushing;
    // Held for the whole write, the slot check included: writes never overlap, so two versions of
    // one shard cannot land in the wrong order.
    let release!: () => void;
    this.flushing = new Promise<void>((resolve) => (release = resolve));
    try {
      await this.writeFenced(limit, only);
    } finally {
      this.flushing = undefined;
      release();
    }
  }

  /** {@link write}'s work, once it holds the write turn. */
  private async writeFenced(limit: number, only?: Swarm): Promise<void> {
    let id = this.slots.id;
    if (id === undefined) return;
    if (!(await this.slots.ownsSlot(id))) {
      // Fenced: the slot is someone else's now. Write under our new slot once we hold one.
      await this.slots.start();
      id = this.slots.id;
      if (id === undefined || !(await this.slots.ownsSlot(id))) throw new KeyvStoreError('lost the instance slot; retrying under a new one');
    }
    const batch: Swarm[] = [];
    if (only) {
      if (only.dirty) batch.push(only);
    } else {
      for (const swarm of this.swarms.values()) {
        if (swarm.dirty) batch.push(swarm);
        if (batch.length >= limit) break;
      }
    }
    if (batch.length === 0) return;
    const now = this.now();
    const sets: Array<{ key: string; value: ShardValue | ChunkValue; ttl?: number }> = [];
    const writtenCounts = new Map<Swarm, number>();
    const deletes: string[] = [];
    for (const swarm of batch) {
      swarm.dirty = false;
      for (const [key, rec] of swarm.own) if (rec.exp < now) swarm.own.delete(key);
      const key = this.shardKey(swarm.hex, id);
      const recs = [...swarm.own.values()];
      const chunks = Math.max(0, Math.ceil(recs.length / CHUNK_RECORDS) - 1);
      // chunk keys of a bigger earlier version of the shard
      for (let j = chunks + 1; j <= swarm.chunks; j++) deletes.push(this.chunkKey(swarm.hex, id, j));
      swarm.chunks = chunks;
      writtenCounts.set(swarm, swarm.downloaded);
      if (recs.length === 0 && swarm.downloaded === 0) {
        deletes.push(key);
        continue;
      }
      let last = 0;
      for (const rec of recs) if (rec.exp > last) last = rec.exp;
      const ttl = Math.max(1000, Math.ceil(last - now) + 1000);
      const value: ShardValue = { d: swarm.downloaded, p: encodeRecords(recs.slice(0, CHUNK_RECORDS)) };
      if (chunks > 0) value.x = chunks;
      // A shard holding a counter is persistent; otherwise it lives as long as its longest record.
      sets.push(swarm.downloaded > 0 ? { key, value } : { key, value, ttl });
      for (let j = 1; j <= chunks; j++) {
        const part = recs.slice(j * CHUNK_RECORDS, (j + 1) * CHUNK_RECORDS);
        sets.push({ key: this.chunkKey(swarm.hex, id, j), value: { p: encodeRecords(part) }, ttl });
      }
    }
    const { kv } = this.storage;
    const work = (async () => {
      if (sets.length > 0) await this.storage.call(kv.setMany(sets));
      if (deletes.length > 0) await this.storage.call(kv.deleteMany(deletes));
    })();
    try {
      await work;
      this.storage.healthy = true;
      for (const [swarm, d] of writtenCounts) if (this.slots.id === id) swarm.written = d;
    } catch (error) {
      this.storage.healthy = false;
      for (const swarm of batch) swarm.dirty = true;
      throw error;
    }
  }

  private shardKey(hex: string, id: string): string {
    return `${this.prefix}:${hex}:${id}`;
  }

  private chunkKey(hex: string, id: string, n: number): string {
    return `${this.prefix}:${hex}:${id}:${n}`;
  }
}
