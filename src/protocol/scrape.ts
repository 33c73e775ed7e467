/**
 * Scrape request validation (BEP 48): every `info_hash` parameter, each exactly 20 bytes, at most a
 * configured number of them. Pure.
 */
import { TrackerFailure } from './errors.js';
import { decodeFixed, splitQuery, type QueryLimits } from './query.js';

/** Limits for scrape requests. */
export interface ScrapeLimits extends QueryLimits {
  /** Most info hashes in one scrape. */
  maxScrapeHashes: number;
}

/**
 * Info hashes of a scrape, duplicates removed, in request order. An empty list means the client
 * asked for a full scrape.
 */
export function parseScrape(rawQuery: string, limits: ScrapeLimits): Buffer[] {
  const { names, values } = splitQuery(rawQuery, limits);
  const hashes: Buffer[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < names.length; i++) {
    if (names[i] !== 'info_hash') continue;
    const hash = decodeFixed(values[i], 'info_hash', 20);
    const key = hash.toString('latin1');
    if (seen.has(key)) continue;
    seen.add(key);
    if (hashes.length >= limits.maxScrapeHashes) {
      throw new TrackerFailure(`too many info_hash values in one scrape (limit ${limits.maxScrapeHashes})`);
    }
    hashes.push(hash);
  }
  return hashes;
}
