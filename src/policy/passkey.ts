/**
 * Passkeys: who announces on a private tracker. The passkey is the path segment before `announce`
 * / `scrape`; the site's function maps it to a user id. Malformed passkeys are refused before the
 * function is called. A passkey is a secret: it never appears in a failure reason, an event, a log
 * line or a metric (only its digest crosses the wire between instances).
 */
import { createHash } from 'node:crypto';
import { TrackerFailure } from '../protocol/errors.js';
import { AnswerCache, type AnswerCacheOptions } from './cache.js';

/** A user of the site, as the `passkey` function returns it. */
export type UserId = string | number;

/** The site's answer for a passkey: its user, or a refusal (`null`, `undefined`, `false`). */
export type PasskeyAnswer = UserId | null | undefined | false;

/** Maps a passkey to its user (or refuses it); may be async. */
export type PasskeyVerifier = (passkey: string) => PasskeyAnswer | Promise<PasskeyAnswer>;

/** Longest accepted passkey, in characters. */
export const MAX_PASSKEY_LENGTH = 128;

/** URL-safe (RFC 3986 unreserved) characters only: nothing to decode, nothing to misread. */
const PASSKEY = /^[A-Za-z0-9._~-]+$/;

/** The failure for a passkey the site refused (the same whatever the reason: no oracle). */
export const PASSKEY_REFUSED = 'unknown or disabled passkey';

/** Throw the failure for a malformed passkey; the site's function is never called with one. */
export function checkPasskeyFormat(passkey: string | undefined): asserts passkey is string {
  if (passkey === undefined || passkey === '') {
    throw new TrackerFailure('this tracker is private: announce to the URL with your passkey (<tracker>/<passkey>/announce)', 'denied');
  }
  if (passkey.length > MAX_PASSKEY_LENGTH) throw new TrackerFailure(`passkey too long (limit ${MAX_PASSKEY_LENGTH} characters)`);
  if (!PASSKEY.test(passkey)) throw new TrackerFailure('passkey may only contain letters, digits, "-", "_", "." and "~"');
}

/** Digest of a passkey, the form in which it may travel between instances. */
export function passkeyDigest(passkey: string): string {
  return createHash('sha256').update(passkey).digest('base64url').slice(0, 22);
}

function refusedAnswer(value: UserId | null): boolean {
  return value === null;
}

/** Passkey → digest memo (digests are cheap but not free on the hot path); cleared whole when full. */
const digestMemo = new Map<string, string>();
const DIGEST_MEMO_SIZE = 10_000;

function digestOf(passkey: string): string {
  let digest = digestMemo.get(passkey);
  if (digest === undefined) {
    if (digestMemo.size >= DIGEST_MEMO_SIZE) digestMemo.clear();
    digest = passkeyDigest(passkey);
    digestMemo.set(passkey, digest);
  }
  return digest;
}

/**
 * The cached passkey → user look-up. Answers are cached under the passkey's digest, the same key
 * another instance's forget message carries: forgetting works whatever else was looked up meanwhile
 * (a flood of random passkeys cannot push a passkey out of a side table and make a forget miss).
 */
export class PasskeyPolicy {
  private readonly cache: AnswerCache<UserId | null>;

  constructor(verify: PasskeyVerifier, options: Omit<AnswerCacheOptions, 'what'>) {
    this.cache = new AnswerCache<UserId | null>(
      async (_digest, passkey) => {
        const user = await verify(passkey!);
        if (typeof user === 'number') return Number.isFinite(user) ? user : null;
        return typeof user === 'string' && user !== '' ? user : null;
      },
      refusedAnswer,
      { ...options, what: 'the passkey check' },
    );
  }

  /** The cached answer (a user, or `null` for a refusal), or undefined when it must be looked up. */
  peek(passkey: string): UserId | null | undefined {
    return this.cache.peek(digestOf(passkey))?.value;
  }

  /** The user of a (well-formed) passkey, or `null` when refused. Rejects with a LookupError. */
  resolve(passkey: string): Promise<UserId | null> {
    return this.cache.get(digestOf(passkey), passkey);
  }

  /** Drop the cached answer of a passkey. */
  forget(passkey: string): void {
    this.cache.forget(digestOf(passkey));
  }

  /** Drop the cached answer of the passkey with this digest (see {@link passkeyDigest}). */
  forgetDigest(digest: string): void {
    this.cache.forget(digest);
  }
}
