/** The answer cache in front of the site's passkey / torrent functions. */
import { describe, expect, it } from 'vitest';
import { AnswerCache, LookupError } from '../../src/policy/cache.js';
import { checkPasskeyFormat, MAX_PASSKEY_LENGTH } from '../../src/policy/passkey.js';
import { clientChecker } from '../../src/policy/clients.js';
import { parseTrackerPath } from '../../src/protocol/path.js';

function cache(lookup: (key: string) => string | null | Promise<string | null>, now = () => clock.t, timeout = 200) {
  return new AnswerCache<string | null>(lookup, (v) => v === null, { ttl: 1000, refusalTtl: 100, maxEntries: 3, timeout, what: 'the check', now });
}
const clock = { t: 0 };

describe('AnswerCache', () => {
  it('coalesces concurrent look-ups of one key into one call and caches the answer for ttl', async () => {
    let calls = 0;
    const c = cache(async (k) => {
      calls++;
      await new Promise((r) => setTimeout(r, 10));
      return `user-${k}`;
    });
    const answers = await Promise.all([c.get('a'), c.get('a'), c.get('a')]);
    expect(answers).toEqual(['user-a', 'user-a', 'user-a']);
    expect(calls).toBe(1);
    expect(c.peek('a')).toEqual({ value: 'user-a', expires: 1000 });
    clock.t = 999;
    expect(c.peek('a')?.value).toBe('user-a');
    clock.t = 1000;
    expect(c.peek('a')).toBeUndefined();
    await c.get('a');
    expect(calls).toBe(2);
    clock.t = 0;
  });

  it('keeps refusals for the shorter refusal ttl', async () => {
    clock.t = 0;
    const c = cache(() => null);
    expect(await c.get('x')).toBeNull();
    expect(c.peek('x')).toBeDefined();
    clock.t = 100;
    expect(c.peek('x')).toBeUndefined();
    clock.t = 0;
  });

  it('a function that throws or hangs fails every waiter with a LookupError and is asked again next time', async () => {
    let n = 0;
    const c = cache(() => {
      n++;
      if (n === 1) throw new Error('db down');
      if (n === 2) return new Promise<string>(() => undefined);
      return 'ok';
    });
    const thrown = await c.get('k').catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(LookupError);
    expect((thrown as LookupError).timedOut).toBe(false);
    expect((thrown as LookupError).publicReason).toBe('the check failed, try again later');
    const started = Date.now();
    const hung = await Promise.all([c.get('k'), c.get('k')].map((p) => p.catch((e: unknown) => e)));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(hung.every((e) => e instanceof LookupError && e.timedOut)).toBe(true);
    expect(n).toBe(2);
    expect(await c.get('k')).toBe('ok');
  });

  it('is bounded: the oldest entry goes first', async () => {
    const c = cache((k) => k);
    for (const k of ['a', 'b', 'c', 'd']) await c.get(k);
    expect(c.peek('a')).toBeUndefined();
    expect(c.peek('d')?.value).toBe('d');
  });

  it('forget() during a look-up keeps its (possibly stale) answer out of the cache', async () => {
    let release!: (v: string) => void;
    const c = cache(() => new Promise<string>((r) => (release = r)), undefined, 5000);
    const pending = c.get('k');
    c.forget('k');
    release('old');
    expect(await pending).toBe('old');
    expect(c.peek('k')).toBeUndefined();
  });
});

describe('passkey format', () => {
  it('accepts URL-safe passkeys up to the limit and refuses anything else before any look-up', () => {
    expect(() => checkPasskeyFormat('a'.repeat(MAX_PASSKEY_LENGTH))).not.toThrow();
    expect(() => checkPasskeyFormat('Ab9-_.~')).not.toThrow();
    for (const bad of [undefined, '', 'a'.repeat(MAX_PASSKEY_LENGTH + 1), 'a%20b', 'a b', 'a+b', 'ä', 'a/b', 'a?b']) {
      expect(() => checkPasskeyFormat(bad)).toThrow();
    }
  });
});

describe('client rules', () => {
  const id = (prefix: string) => Buffer.concat([Buffer.from(prefix, 'latin1'), Buffer.alloc(20 - prefix.length, 0x41)]);
  it('compares raw bytes; deny wins; an allow list refuses everything else', () => {
    expect(clientChecker(undefined)).toBeUndefined();
    expect(clientChecker({})).toBeUndefined();
    const check = clientChecker({ allow: ['-qB', '-TR', 'A2-'], deny: ['-TR2'] })!;
    expect(check(id('-qB4650-'))).toBeUndefined();
    expect(check(id('-TR4000-'))).toBeUndefined();
    expect(check(id('-TR2940-'))).toMatch(/not allowed/);
    expect(check(id('-UT355W-'))).toMatch(/not allowed/);
    const binary = clientChecker({ deny: [Uint8Array.of(0xff, 0x00)] })!;
    expect(binary(Buffer.concat([Buffer.from([0xff, 0x00]), Buffer.alloc(18)]))).toMatch(/not allowed/);
    expect(binary(Buffer.concat([Buffer.from('\u00ff\u0001', 'latin1'), Buffer.alloc(18)]))).toBeUndefined();
    expect(() => clientChecker({ deny: [''] })).toThrow(TypeError);
  });
});

describe('tracker paths', () => {
  it('finds the endpoint and the passkey segment', () => {
    expect(parseTrackerPath('/announce')).toEqual({ endpoint: 'announce', passkey: undefined });
    expect(parseTrackerPath('/Scrape/')).toEqual({ endpoint: 'scrape', passkey: undefined });
    expect(parseTrackerPath('/abcDEF123/announce')).toEqual({ endpoint: 'announce', passkey: 'abcDEF123' });
    expect(parseTrackerPath('/k/SCRAPE')).toEqual({ endpoint: 'scrape', passkey: 'k' });
    expect(parseTrackerPath('/a/b/announce')).toBeUndefined();
    expect(parseTrackerPath('/announcex')).toBeUndefined();
    expect(parseTrackerPath('/')).toBeUndefined();
    expect(parseTrackerPath('//announce')).toEqual({ endpoint: 'announce', passkey: '' });
  });
});
