/**
 * The Redis store's history (see src/history/): per torrent three strings
 * `<prefix>:history:{<hex>}:m|h|d` (one cluster slot per torrent), rings of 1440 minutes, 720 hours
 * and 365 days of 20-byte buckets, the memory history's layout (at most 2525 × 20 = 50 500 bytes of
 * values per torrent). Every instance adds its per-minute sums with one small script per torrent per
 * flush (HISTORY_ADD: GETRANGE + SETRANGE per ring), so history is global; a read is one GET.
 */
import { RESOLUTION_NAMES, RESOLUTIONS, windowOf, type HistoryDelta, type HistoryStore } from '../../history/buckets.js';
import type { RedisConnection } from './connection.js';
import { evalScript, HISTORY_ADD } from './scripts.js';

/** A {@link HistoryStore} on `connection` under `<prefix>:history:`. */
export function redisHistoryStore(connection: RedisConnection, prefix: string): HistoryStore {
  const keys = (torrent: string) => ['m', 'h', 'd'].map((r) => connection.redisKey(`${prefix}:history:{${torrent}}:${r}`));
  return {
    async add(deltas: HistoryDelta[]) {
      const byTorrent = new Map<string, string[]>();
      for (const d of deltas) {
        let args = byTorrent.get(d.torrent);
        if (!args) byTorrent.set(d.torrent, (args = []));
        args.push(String(d.minute), String(d.announces), String(d.completed), String(d.seeders), String(d.leechers));
      }
      // One script per torrent (each torrent may live on another cluster slot), pipelined on the connection.
      await Promise.all([...byTorrent].map(([torrent, args]) => evalScript(connection, HISTORY_ADD, keys(torrent), args)));
    },
    async read(torrent, resolution, now) {
      const key = keys(torrent)[RESOLUTION_NAMES.indexOf(resolution)]!;
      const reply = await connection.command(key, ['GET', key]);
      const ring = Buffer.isBuffer(reply) ? reply : Buffer.alloc(0);
      const { count } = RESOLUTIONS[resolution];
      return windowOf(resolution, now, (index) => {
        const at = ((index + 1) % count) * 20;
        if (at + 20 > ring.length || ring.readUInt32LE(at) !== index + 1) return undefined;
        return [ring.readUInt32LE(at + 4), ring.readUInt32LE(at + 8), ring.readUInt32LE(at + 12), ring.readUInt32LE(at + 16)];
      });
    },
  };
}
