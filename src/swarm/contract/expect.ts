/**
 * The few matchers the contract's cases use, on node:assert, so that the contract needs no test
 * runner's `expect` (node:test has none) and imports no test library at run time. The names follow
 * the usual ones (`toEqual`, `toMatchObject`, ...) so the cases read as tests usually do.
 */
import assert from 'node:assert/strict';

/** A value without its properties that are `undefined` (as `toEqual` ignores them). */
function defined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(defined);
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = defined(v);
  return out;
}

/** Matchers on `actual`; each throws an AssertionError (prefixed by `message`) when it fails. */
export function expect<T>(actual: T, message?: string) {
  const say = (what: string): string => (message ? `${message}: ${what}` : what);
  return {
    /** Deep equality, ignoring properties that are undefined. */
    toEqual(expected: unknown): void {
      assert.deepStrictEqual(defined(actual), defined(expected), say('not equal'));
    },
    /** Every property of `expected` equals (deeply) the same property of `actual`. */
    toMatchObject(expected: Record<string, unknown>): void {
      assert.ok(actual !== null && typeof actual === 'object', say('not an object'));
      const picked: Record<string, unknown> = {};
      for (const key of Object.keys(expected)) picked[key] = (actual as Record<string, unknown>)[key];
      assert.deepStrictEqual(defined(picked), defined(expected), say('does not match'));
    },
    /** `Object.is` equality. */
    toBe(expected: unknown): void {
      assert.equal(actual, expected, say(`expected ${String(expected)}, got ${String(actual)}`));
    },
    toBeUndefined(): void {
      assert.equal(actual, undefined, say('expected undefined'));
    },
    toBeDefined(): void {
      assert.notEqual(actual, undefined, say('expected a value'));
    },
    /** An array or string of `length` entries. */
    toHaveLength(length: number): void {
      assert.equal((actual as { length: number }).length, length, say('wrong length'));
    },
    /** An array holding `item` (compared with `===`). */
    toContain(item: unknown): void {
      assert.ok((actual as unknown[]).includes(item), say(`does not contain ${String(item)}`));
    },
    toBeGreaterThan(n: number): void {
      assert.ok((actual as number) > n, say(`${String(actual)} is not > ${n}`));
    },
    toBeLessThanOrEqual(n: number): void {
      assert.ok((actual as number) <= n, say(`${String(actual)} is not <= ${n}`));
    },
    toBeLessThan(n: number): void {
      assert.ok((actual as number) < n, say(`${String(actual)} is not < ${n}`));
    },
  };
}
