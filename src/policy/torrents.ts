/**
 * Registered torrents: which info hashes the tracker serves, and each one's credit factors. The site
 * passes a function (its own torrents table) or `'registry'` for the tracker's built-in registry in
 * the store (`tracker.addTorrent()`). Unknown hashes get `unregistered torrent` and are never stored.
 */
import { TrackerFailure } from '../protocol/errors.js';
import type { TorrentRules } from '../swarm/types.js';
import { AnswerCache, type AnswerCacheOptions } from './cache.js';

/** The site's answer for an info hash: registered (`true` or rules) or not. */
export type TorrentAnswer = boolean | TorrentRules | null | undefined;

/** Says whether an info hash (lowercase hex) is registered, and with which rules; may be async. */
export type TorrentVerifier = (infoHash: string) => TorrentAnswer | Promise<TorrentAnswer>;

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

  constructor(verify: TorrentVerifier, options: Omit<AnswerCacheOptions, 'what'>) {
    this.cache = new AnswerCache<TorrentRules | null>(
      async (hex) => toRules(await verify(hex)),
      (rules) => rules === null,
      { ...options, what: 'the torrent check' },
    );
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
