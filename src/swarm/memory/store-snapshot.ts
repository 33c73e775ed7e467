/**
 * The memory store's state in its snapshot file (the file format and its atomic writing are in
 * snapshot.ts): saving walks the swarm directory in slices of a few milliseconds, so the event loop
 * keeps running; loading rebuilds swarms (each peer keeping its remaining lifetime; peers whose
 * lifetime ran out while the process was down are dropped), the totals wheel, the torrent registry
 * and bans, or refuses the whole file with one warning.
 */
import type { Ban } from '../../policy/bans.js';
import type { TorrentRules } from '../../types.js';
import { KIND_SWARM, peerKind, type ExpiryWheel } from '../expiry-wheel.js';
import type { MemoryBanStore } from './bans.js';
import { recordDone, recordExpiry, recordKey, recordPartial, recordPeer, recordSeeder, RECORD_SIZE } from './peer-record.js';
import type { MemoryTorrentRegistry } from './registry.js';
import { readSnapshot, removeStaleTemps, SnapshotError, SWARM_HEAD, TAG_END, TAG_EXTRAS, TAG_SWARM, writeSnapshotFile } from './snapshot.js';
import type { SwarmDirectory } from './swarm-directory.js';

/** What loading the snapshot file did (`MemorySwarmStore.snapshot`). */
export interface SnapshotLoad {
  file: string;
  /** `loaded`: its content is in the store; `missing`: no file yet; `refused`: the store started empty. */
  status: 'loaded' | 'missing' | 'refused';
  /** Refused: the code (as in the warning) and why. */
  code?: string;
  reason?: string;
  swarms: number;
  peers: number;
  /** Peers dropped because their lifetime ran out while the store was down. */
  expired: number;
  /** Milliseconds the load took (reading, checking and rebuilding). */
  ms: number;
}

/** Figures of the last `MemorySwarmStore.save()`. */
export interface SnapshotSave {
  swarms: number;
  peers: number;
  bytes: number;
  /** Milliseconds from start to the renamed file. */
  ms: number;
  /** Longest the event loop was held by one serialization slice (ms). */
  longestBlockMs: number;
}

/** What saving and loading need of the store. */
export interface SnapshotAccess {
  directory: SwarmDirectory;
  /** The store's live totals (it may replace the wheel: read it through this). */
  wheel(): ExpiryWheel;
  /** The store's second zero: records hold expiries relative to it, the file absolute ones. */
  epoch: number;
  /** The store's clock (ms). */
  now(): number;
  /** The store's current second, relative to `epoch`. */
  second(): number;
  registry: MemoryTorrentRegistry;
  bans: MemoryBanStore;
  /** Most swarms kept for their `downloaded` count alone. */
  maxRetained: number;
  /** Empty the store again (a file found malformed while loading). */
  reset(): void;
}

/** Milliseconds a serialization slice of {@link saveSnapshot} may run before yielding. */
const SAVE_SLICE_MS = 5;

/**
 * Write the store's swarms, registry and bans to `file`, atomically, serializing in slices of about
 * {@link SAVE_SLICE_MS} ms (each swarm copied whole, as it is between two announces). Resolves with
 * the save's figures.
 */
export async function saveSnapshot(file: string, store: SnapshotAccess): Promise<SnapshotSave> {
  const started = performance.now();
  let longest = 0;
  let swarms = 0;
  let peerCount = 0;
  const bytes = await writeSnapshotFile(file, async (writer) => {
    const head = writer.reserve(8);
    head.chunk.writeDoubleLE(store.now(), head.at);
    const directory = store.directory;
    const epoch = store.epoch;
    let id = 0;
    for (;;) {
      const sliceStart = performance.now();
      // Look at the clock every 2048 records or so (a few hundred microseconds of work).
      let work = 0;
      for (; id < directory.high; id++) {
        if (directory.used(id)) {
          const peers = directory.peers(id);
          const count = peers.count;
          const downloaded = directory.downloaded(id);
          if (count > 0 || downloaded > 0) {
            const { chunk, at } = writer.reserve(SWARM_HEAD + count * RECORD_SIZE);
            chunk[at] = TAG_SWARM;
            directory.copyInfoHash(id, chunk, at + 1);
            chunk.writeUInt32LE(downloaded, at + 21);
            chunk.writeUInt32LE(directory.ttl(id) >>> 0, at + 25);
            chunk.writeUInt32LE(count, at + 29);
            let off = at + SWARM_HEAD;
            for (let p = 0; p < count; p++, off += RECORD_SIZE) {
              peers.copyRecord(p, chunk, off);
              chunk.writeUInt32LE((chunk.readUInt32LE(off + 40) + epoch) >>> 0, off + 40);
            }
            swarms++;
            peerCount += count;
            work += count;
          }
        }
        if (++work >= 2048) {
          work = 0;
          if (performance.now() - sliceStart >= SAVE_SLICE_MS) {
            id++;
            break;
          }
        }
      }
      longest = Math.max(longest, performance.now() - sliceStart);
      await writer.drain();
      if (id >= directory.high) break;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const sliceStart = performance.now();
    const extras = Buffer.from(
      JSON.stringify({
        registry: store.registry.entries(),
        bans: store.bans.snapshot(),
      }),
    );
    const x = writer.reserve(5 + extras.length);
    x.chunk[x.at] = TAG_EXTRAS;
    x.chunk.writeUInt32LE(extras.length, x.at + 1);
    extras.copy(x.chunk, x.at + 5);
    const end = writer.reserve(1);
    end.chunk[end.at] = TAG_END;
    longest = Math.max(longest, performance.now() - sliceStart);
  });
  return { swarms, peers: peerCount, bytes, ms: performance.now() - started, longestBlockMs: longest };
}

/** Load `file` into the (empty) store; never throws, never loads half a file. */
export function loadSnapshot(file: string, store: SnapshotAccess): SnapshotLoad {
  const started = performance.now();
  const result: SnapshotLoad = { file, status: 'missing', swarms: 0, peers: 0, expired: 0, ms: 0 };
  let body: Buffer | undefined;
  removeStaleTemps(file);
  try {
    body = readSnapshot(file);
  } catch (error) {
    const code = error instanceof SnapshotError ? error.code : 'ETT_SNAPSHOT_UNREADABLE';
    result.status = 'refused';
    result.code = code;
    result.reason = (error as Error).message;
    console.warn(`express-torrent-tracker: [${code}] snapshot ${file} refused: ${result.reason}; the memory store starts empty`);
  }
  if (body) {
    try {
      restore(body, result, store);
      result.status = 'loaded';
    } catch (error) {
      // Checked before use, so this means a bug: still, never keep half a file.
      store.reset();
      result.status = 'refused';
      result.code = 'ETT_SNAPSHOT_MALFORMED';
      result.reason = (error as Error).message;
      result.swarms = result.peers = result.expired = 0;
      console.warn(`express-torrent-tracker: [ETT_SNAPSHOT_MALFORMED] snapshot ${file} refused: ${result.reason}; the memory store starts empty`);
    }
  }
  result.ms = performance.now() - started;
  return result;
}

/** Rebuild swarms, registry and bans from a checked snapshot body. */
function restore(body: Buffer, result: SnapshotLoad, store: SnapshotAccess): void {
  const now = store.second();
  const directory = store.directory;
  const wheel = store.wheel();
  const epoch = store.epoch;
  let extras: { registry?: Array<[string, TorrentRules]>; bans?: Ban[] } | undefined;
  let at = 8;
  while (body[at] !== TAG_END) {
    if (body[at] === TAG_EXTRAS) {
      const length = body.readUInt32LE(at + 1);
      extras = JSON.parse(body.toString('utf8', at + 5, at + 5 + length)) as typeof extras;
      at += 5 + length;
      continue;
    }
    const infoHash = body.subarray(at + 1, at + 21);
    const downloaded = body.readUInt32LE(at + 21);
    const ttl = body.readUInt32LE(at + 25);
    const count = body.readUInt32LE(at + 29);
    const first = at + SWARM_HEAD;
    at = first + count * RECORD_SIZE;
    // A swarm dropped and created again during a slice-wise save may appear twice: the first counts.
    if (directory.find(infoHash) >= 0) continue;
    let id = -1;
    let last = -1;
    for (let off = first; off < at; off += RECORD_SIZE) {
      const expiry = recordExpiry(body, off) - epoch;
      if (expiry < now) {
        result.expired++;
        continue;
      }
      if (id < 0) id = directory.add(infoHash, now, ttl);
      const peer = recordPeer(body, off);
      const seeder = recordSeeder(body, off);
      directory.peers(id).upsert(peer.peerId, peer.ip, peer.port, seeder, expiry, recordKey(body, off), -1, recordDone(body, off), recordPartial(body, off));
      wheel.count(peerKind(seeder, peer.ip.length === 16), expiry, 1, now);
      if (expiry > last) last = expiry;
      result.peers++;
    }
    if (id < 0) {
      if (downloaded === 0) continue;
      id = directory.add(infoHash, now, ttl);
      directory.setDownloaded(id, downloaded);
      directory.retain(id, now, store.maxRetained);
    } else {
      directory.setDownloaded(id, downloaded);
      directory.setLast(id, last);
      wheel.count(KIND_SWARM, last, 1, now);
    }
    result.swarms++;
  }
  if (extras?.registry) store.registry.restore(extras.registry);
  if (extras?.bans) store.bans.restore(extras.bans);
}
