/**
 * Registered torrents: which info hashes the tracker serves, and each one's credit factors. The site
 * passes a function (its own torrents table) or `'registry'` for the tracker's built-in registry in
 * the store (`tracker.addTorrent()`). Unknown hashes get `unregistered torrent` and are never stored.
 */
import { TrackerFailure } from '../protocol/errors.js';
import type { TorrentRules } from '../types.js';
import { AnswerCache, type AnswerCacheOptions } from './cache.js';

/** The site's answer for an info hash: registered (`true` or rules) or not. */
export type TorrentAnswer = boolean | TorrentRules | null | undefined;

/**
 * Says whether an info hash (lowercase hex) is registered, and with which rules; may be async. A
 * function with a `many` property (see {@link TorrentVerifier.many}) answers a whole scrape at once.
 */
export type TorrentVerifier = ((infoHash: string) => TorrentAnswer | Promise<TorrentAnswer>) & {
  /**
   * Optional: the answers for several info hashes in one call (one database query), in the order
   * given. A scrape then calls it once with every hash that is not cached, instead of calling the
   * function once per hash.
   */
  many?: (infoHashes: string[]) => TorrentAnswer[] | Promise<TorrentAnswer[]>;
};

/**
 * Most calls of the site's `torrents` function one scrape may cause. Hashes past it that are not
 * cached count as unregistered for that scrape (they are left out of the answer, not cached).
 */
export const MAX_LOOKUPS_PER_SCRAPE = 16;

/** The failure for a torrent that is not registered. */
export const UNREGISTERED = 'unregistered torrent';

function factor(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`${name} must be a finite number >= 0 (got ${String(value)})`);
  }
  return value;
}

/** Check and copy rules (a programming error throws TypeError). */
export function normaliseRules(rules: TorrentRules | undefined): TorrentRules {
  const out: TorrentRules = {};
  const up = factor('uploadFactor', rules?.uploadFactor);
  const down = factor('downloadFactor', rules?.downloadFactor);
  if (up !== undefined) out.uploadFactor = up;
  if (down !== undefined) out.downloadFactor = down;
  if (rules?.infoHash !== undefined || rules?.infoHashV2 !== undefined) {
    const v1 = typeof rules.infoHash === 'string' ? rules.infoHash.toLowerCase() : '';
    const v2 = typeof rules.infoHashV2 === 'string' ? rules.infoHashV2.toLowerCase() : '';
    if (!/^[0-9a-f]{40}$/.test(v1) || !/^[0-9a-f]{64}$/.test(v2)) {
      throw new TypeError(
        `a hybrid torrent's rules need infoHash (40 hex digits) and infoHashV2 (64 hex digits) together (got ${JSON.stringify(rules.infoHash)} and ${JSON.stringify(rules.infoHashV2)})`,
      );
    }
    out.infoHash = v1;
    out.infoHashV2 = v2;
  }
  return out;
}

function toRules(answer: TorrentAnswer): TorrentRules | null {
  if (answer === true) return {};
  if (!answer) return null;
  return normaliseRules(answer);
}

/** The cached info hash → rules look-up (`null` = not registered). */
export class TorrentPolicy {
  private readonly cache: AnswerCache<TorrentRules | null>;
  private readonly many: ((infoHashes: string[]) => TorrentAnswer[] | Promise<TorrentAnswer[]>) | undefined;

  constructor(verify: TorrentVerifier, options: Omit<AnswerCacheOptions, 'what'>) {
    this.cache = new AnswerCache<TorrentRules | null>(
      async (hex) => toRules(await verify(hex)),
      (rules) => rules === null,
      { ...options, what: 'the torrent check' },
    );
    this.many = typeof verify.many === 'function' ? verify.many.bind(verify) : undefined;
  }

  /**
   * The rules of each hash of a scrape (`null`: not registered, or not looked up because the scrape
   * asked for more uncached hashes than {@link MAX_LOOKUPS_PER_SCRAPE}). Cached answers are used as
   * they are; the rest is asked of `many` in one call when the site gave one, else of the function,
   * at most {@link MAX_LOOKUPS_PER_SCRAPE} times. Rejects with a LookupError.
   */
  async resolveScrape(hexes: string[]): Promise<Array<TorrentRules | null>> {
    const out: Array<TorrentRules | null | undefined> = hexes.map((hex) => this.peek(hex));
    const missing = [...new Set(hexes.filter((_, i) => out[i] === undefined))];
    if (missing.length === 0) return out as Array<TorrentRules | null>;
    const found = new Map<string, TorrentRules | null>();
    if (this.many && missing.length > 1) {
      const many = this.many;
      const answers = await this.cache.bounded(async () => {
        const list = await many(missing);
        if (!Array.isArray(list) || list.length !== missing.length) throw new TypeError('torrents.many must return one answer per info hash');
        return list;
      });
      missing.forEach((hex, i) => {
        const rules = toRules(answers[i]);
        found.set(hex, rules);
        this.cache.set(hex, rules);
      });
    } else {
      const asked = missing.slice(0, MAX_LOOKUPS_PER_SCRAPE);
      const answers = await Promise.all(asked.map((hex) => this.cache.get(hex)));
      asked.forEach((hex, i) => found.set(hex, answers[i]));
    }
    return out.map((rules, i) => (rules !== undefined ? rules : (found.get(hexes[i]) ?? null)));
  }

  /** The cached rules (`null`: not registered), or undefined when they must be looked up. */
  peek(hex: string): TorrentRules | null | undefined {
    return this.cache.peek(hex)?.value;
  }

  /** The rules of a torrent, or `null` when it is not registered. Rejects with a LookupError. */
  resolve(hex: string): Promise<TorrentRules | null> {
    return this.cache.get(hex);
  }

  /** Drop the cached answer of one info hash (hex). */
  forget(hex: string): void {
    this.cache.forget(hex);
  }
}

/** Throw `unregistered torrent` when `rules` is null. */
export function requireRegistered(rules: TorrentRules | null): TorrentRules {
  if (!rules) throw new TrackerFailure(UNREGISTERED, 'denied');
  return rules;
}
