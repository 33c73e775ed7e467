/**
 * The Redis store's scripts as Redis runs them: each Lua text of lua.ts (history.ts keeps its own)
 * with its SHA-1, sent with EVALSHA and, the first time a Redis does not know it yet, with EVAL
 * (which also caches it).
 */
import { createHash } from 'node:crypto';
import type { RedisConnection } from './connection.js';
import { ANNOUNCE_LUA, MERGE_CREDIT_LUA, PEERS_LUA, SCRAPE_LUA, TOTALS_APPLY_LUA, TOTALS_READ_LUA } from './lua.js';

/** A loaded Lua script: its text and SHA-1 for EVALSHA. */
export class Script {
  /** SHA-1 of the source, hex: the script's name for EVALSHA. */
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }
}

/** One announce: the peer, the counters, the sample, the private-mode state and the totals' moves. */
export const ANNOUNCE = new Script(ANNOUNCE_LUA);
/** The counters of one swarm. */
export const SCRAPE = new Script(SCRAPE_LUA);
/** Redis Cluster: the totals' moves an announce returned, applied in the totals' own slot. */
export const TOTALS_APPLY = new Script(TOTALS_APPLY_LUA);
/** A hybrid torrent's credit for one client, combined across its two swarms. */
export const MERGE_CREDIT = new Script(MERGE_CREDIT_LUA);
/** A page of one swarm's live peers (read-only). */
export const PEERS = new Script(PEERS_LUA);
/** The live totals of every swarm. */
export const TOTALS_READ = new Script(TOTALS_READ_LUA);

/** EVALSHA, falling back to EVAL (which also caches the script) when Redis does not know it yet. */
export async function evalScript(
  connection: RedisConnection,
  script: Script,
  keys: string[],
  args: Array<string | Buffer>,
): Promise<unknown> {
  const tail = [String(keys.length), ...keys, ...args];
  try {
    return await connection.command(keys[0], ['EVALSHA', script.sha, ...tail]);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
      return connection.command(keys[0], ['EVAL', script.source, ...tail]);
    }
    throw error;
  }
}
