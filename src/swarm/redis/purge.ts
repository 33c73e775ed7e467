/**
 * Removing the listed peers a new ban covers from Redis, in the background: a SCAN over the swarms'
 * peer-data keys (COUNT 1000 a step, every master node), each swarm read with HSCAN (500 peers a
 * step) and, in private mode, its owners with HMGET; each peer found is removed by the announce
 * script as by its own `stopped` (counts and totals stay exact). No step blocks Redis for long;
 * the whole walk is bounded by a deadline ({@link PURGE_DEADLINE}). Meanwhile banned peers are not
 * handed out by address or client (the tracker filters its answers) and a banned peer's own next
 * announce removes it; a peer the walk missed expires with its TTL.
 */
import type { Peer } from '../../types.js';
import { withDeadline, type RedisClientLike, type RedisConnection } from './connection.js';

/** Longest a walk runs (ms). */
export const PURGE_DEADLINE = 120_000;

/** What a walk needs of the store. */
export interface PurgeAccess {
  connection: RedisConnection;
  /** The SCAN pattern of this store's swarms' peer-data keys. */
  pattern: string;
  /** Remove one listed peer as by its own `stopped`. */
  stop(infoHash: Buffer, peer: Peer, key: number | undefined): Promise<void>;
  /** True once the store is closed (the walk stops). */
  closed(): boolean;
}

function asBuffer(value: unknown): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(String(value), 'latin1');
}

/** Remove every listed peer `match` picks; resolves with how many were removed. */
export async function purgePeers(access: PurgeAccess, match: (peer: Peer, owner: string | undefined) => boolean): Promise<number> {
  const { connection } = access;
  const deadline = Date.now() + PURGE_DEADLINE;
  const left = (): number => Math.max(1, Math.min(connection.timeout * 4, deadline - Date.now()));
  const pattern = access.pattern;
  const nodes = (await withDeadline(
    (connection.adapter as unknown as { getMasterNodes(): Promise<RedisClientLike[]> }).getMasterNodes(),
    left(),
    'listing Redis nodes',
  )) as RedisClientLike[];
  let removed = 0;
  for (const node of nodes) {
    let cursor = '0';
    do {
      if (access.closed() || Date.now() > deadline) return removed;
      const reply = (await withDeadline(node.sendCommand(['SCAN', cursor, 'MATCH', pattern, 'COUNT', '1000']), left(), 'Redis SCAN')) as [unknown, unknown[]];
      cursor = String(reply[0]);
      for (const key of reply[1]) {
        const tag = /\{([0-9a-f]{40})\}:d$/.exec(String(key));
        if (tag) removed += await purgeSwarm(access, Buffer.from(tag[1], 'hex'), String(key), match, deadline);
      }
    } while (cursor !== '0');
  }
  return removed;
}

async function purgeSwarm(access: PurgeAccess, infoHash: Buffer, dataKey: string, match: (peer: Peer, owner: string | undefined) => boolean, deadline: number): Promise<number> {
  const { connection } = access;
  const stateKey = `${dataKey.slice(0, -1)}p`;
  let cursor = '0';
  let removed = 0;
  do {
    if (access.closed() || Date.now() > deadline) return removed;
    const reply = (await connection.command(dataKey, ['HSCAN', dataKey, cursor, 'COUNT', '500'])) as [unknown, unknown[]];
    cursor = asBuffer(reply[0]).toString();
    const flat = reply[1];
    const found: Array<{ peer: Peer; key: number | undefined }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const peerId = asBuffer(flat[i]);
      const data = asBuffer(flat[i + 1]);
      if (peerId.length !== 20 || data.length < 6) continue;
      const ipLength = data.length >= 18 ? 16 : 4;
      const rest = data.length - ipLength - 2;
      found.push({
        peer: { peerId, ip: data.subarray(0, ipLength), port: data.readUInt16BE(ipLength) },
        key: rest >= 4 ? data.readUInt32BE(ipLength + 2) : undefined,
      });
    }
    if (found.length === 0) continue;
    const states = (await connection.command(stateKey, ['HMGET', stateKey, ...found.map((f) => Buffer.from(f.peer.peerId))])) as unknown[];
    for (let i = 0; i < found.length; i++) {
      const state = states[i];
      // "<at> <seeder> <uploaded> <downloaded> <owner>": the owner is everything after the fourth space.
      const owner = state === null || state === undefined ? undefined : asBuffer(state).toString().split(' ').slice(4).join(' ');
      if (!match(found[i].peer, owner)) continue;
      await access.stop(infoHash, found[i].peer, found[i].key);
      removed++;
    }
  } while (cursor !== '0');
  return removed;
}
