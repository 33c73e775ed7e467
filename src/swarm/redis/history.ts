/**
 * The Redis store's history (see src/history/): per torrent three strings
 * `<prefix>:history:{<hex>}:m|h|d` (one cluster slot per torrent), rings of 1440 minutes, 720 hours
 * and 365 days of 20-byte buckets, the memory history's layout (at most 2525 × 20 = 50 500 bytes of
 * values per torrent). Every instance adds its per-minute sums with one small script per torrent per
 * flush (HISTORY_ADD: GETRANGE + SETRANGE per ring), so history is global; a read is one GET.
 */
import { RESOLUTION_NAMES, RESOLUTIONS, windowOf, type HistoryDelta, type HistoryStore } from '../../history/buckets.js';
import type { RedisConnection } from './connection.js';
import { evalScript, Script } from './scripts.js';

/**
 * History (src/history/): add one torrent's per-minute sums to its three rings. KEYS: the minute,
 * hour and day strings of one torrent (one cluster slot). ARGV: groups of five (minute index,
 * announces, completed, peak seeders, peak leechers). A ring is a string of 20-byte buckets (five
 * little-endian uint32: bucket index + 1, announces, completed, peak seeders, peak leechers; 0 = an
 * empty slot) at offset ((index + 1) mod ring length) × 20, the layout of the memory history. A
 * newer bucket overwrites its slot, an older one is dropped, the same one adds (sums) or keeps the
 * larger (peaks). A ring is written whole (zeros) when its key is new, so it never grows. Each key
 * expires one window after its last write. O(groups), never a scan.
 */
const HISTORY_ADD_LUA = `
local sizes = {1440, 720, 365}
local divs = {1, 60, 1440}
local cap = 4294967295
for r = 1, 3 do
  -- a ring is allocated whole at its first write (exact size; growing it by SETRANGE leaves slack)
  if redis.call('EXISTS', KEYS[r]) == 0 then redis.call('SET', KEYS[r], string.rep('\\0', sizes[r] * 20)) end
end
for i = 1, #ARGV, 5 do
  local minute = tonumber(ARGV[i])
  local a = tonumber(ARGV[i + 1])
  local c = tonumber(ARGV[i + 2])
  local s = tonumber(ARGV[i + 3])
  local l = tonumber(ARGV[i + 4])
  for r = 1, 3 do
    local index = math.floor(minute / divs[r]) + 1
    local offset = (index % sizes[r]) * 20
    local cur = redis.call('GETRANGE', KEYS[r], offset, offset + 19)
    local si, sa, sc, ss, sl = 0, 0, 0, 0, 0
    if #cur == 20 then si, sa, sc, ss, sl = struct.unpack('<I4I4I4I4I4', cur) end
    if index >= si then
      if index > si then
        sa, sc, ss, sl = a, c, s, l
      else
        sa = math.min(cap, sa + a)
        sc = math.min(cap, sc + c)
        ss = math.max(ss, s)
        sl = math.max(sl, l)
      end
      redis.call('SETRANGE', KEYS[r], offset, struct.pack('<I4I4I4I4I4', index, sa, sc, math.min(cap, ss), math.min(cap, sl)))
    end
  end
end
for r = 1, 3 do
  redis.call('PEXPIRE', KEYS[r], sizes[r] * divs[r] * 60000)
end
return 1
`;

/** {@link HISTORY_ADD_LUA} as Redis runs it. */
const HISTORY_ADD = new Script(HISTORY_ADD_LUA);

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
