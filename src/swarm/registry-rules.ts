/**
 * Rules of a registered torrent as the stores keep them (JSON in Redis and Keyv, an object in
 * memory): only the known fields, of the right type, are read back.
 */
import type { TorrentRules } from '../types.js';

/** The known rule fields of a stored value (anything else ignored; a broken value is no rules). */
export function storedRules(value: unknown): TorrentRules {
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const rules: TorrentRules = {};
  if (typeof v.uploadFactor === 'number') rules.uploadFactor = v.uploadFactor;
  if (typeof v.downloadFactor === 'number') rules.downloadFactor = v.downloadFactor;
  if (typeof v.infoHash === 'string' && /^[0-9a-f]{40}$/.test(v.infoHash) && typeof v.infoHashV2 === 'string' && /^[0-9a-f]{64}$/.test(v.infoHashV2)) {
    rules.infoHash = v.infoHash;
    rules.infoHashV2 = v.infoHashV2;
  }
  return rules;
}

/**
 * Is a swarm registered with `rules` listed in the registry index (`TorrentRegistry.list` in types.ts)?
 * Yes, unless its rules name a hybrid pair whose v1 hash is another swarm: the pair is listed once,
 * under its v1 swarm. `hex` is the swarm's info hash, lowercase.
 */
export function listedSwarm(hex: string, rules: TorrentRules): boolean {
  return rules.infoHash === undefined || rules.infoHash === hex;
}
