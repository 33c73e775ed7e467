/**
 * The one options pipeline: the small checks every entry point (middleware, standalone server, UDP,
 * WebSocket, seeder, `createTorrent`) resolves its options with. A wrong value throws a TypeError at
 * startup naming the entry point, the option, what it must be and what was received; an unknown key
 * is warned about once, with the known option it most resembles.
 */

/** The received value as a person would describe it in an error message. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return 'an object';
}

/** Range of a numeric option. */
export interface NumberRange {
  /** Smallest value accepted. Default 0. */
  min?: number;
  /** Largest value accepted. Default 2^53−1. */
  max?: number;
}

function fail(scope: string, name: string, expected: string, value: unknown): never {
  throw new TypeError(`${scope}: options.${name} must be ${expected} (got ${describeValue(value)})`);
}

function range(min: number, max: number): string {
  return max === Number.MAX_SAFE_INTEGER ? (min === 0 ? 'a whole number, 0 or more' : `a whole number, ${min} or more`) : `a whole number from ${min} to ${max}`;
}

/** A whole-number option: `fallback` when absent, else checked against `min`..`max`. */
export function wholeNumber(scope: string, name: string, value: unknown, fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER }: NumberRange = {}): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) fail(scope, name, range(min, max), value);
  return value;
}

/** A number option that may have a fraction (seconds, factors): finite, within `min`..`max`. */
export function finiteNumber(scope: string, name: string, value: unknown, fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER }: NumberRange = {}): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    fail(scope, name, max === Number.MAX_SAFE_INTEGER ? `a number, ${min} or more` : `a number from ${min} to ${max}`, value);
  }
  return value;
}

/** A number option above 0 that may have a fraction (seconds, rates). */
export function positiveNumber(scope: string, name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail(scope, name, 'a number above 0', value);
  return value;
}

/** A boolean option. */
export function booleanOption(scope: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(scope, name, 'true or false', value);
  return value;
}

/** A string option limited to `choices`. */
export function oneOf<T extends string>(scope: string, name: string, value: unknown, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !choices.includes(value as T)) fail(scope, name, `one of ${choices.map((c) => `'${c}'`).join(', ')}`, value);
  return value as T;
}

/** A function option (`shape` describes its signature in the message, e.g. `(passkey) => user id`). */
export function functionOption<F>(scope: string, name: string, value: unknown, shape: string): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') fail(scope, name, `a function ${shape}`, value);
  return value as F;
}

/** An options argument: undefined or a plain object (not an array, not a function). */
export function optionsObject(scope: string, options: unknown): Record<string, unknown> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    const hint = typeof options === 'function' ? ` — did you pass ${scope} itself instead of calling it, as in app.use('/tracker', ${scope}())?` : '';
    throw new TypeError(`${scope}: options must be an object (got ${describeValue(options)})${hint}`);
  }
  return options as Record<string, unknown>;
}

/** Edit distance (insertions, deletions, substitutions), capped: enough to suggest a spelling. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/** The known option a mistyped key most resembles, if one is close. */
export function suggestOption(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of known) {
    const d = name.toLowerCase() === lower ? 0 : distance(lower, name.toLowerCase());
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 4)) ? best : undefined;
}

const warned = new Set<string>();

/**
 * Warn once per process (per entry point and key) about keys that are not options of `scope`: they
 * are ignored, which is how a typo (`intervall`) silently keeps a default.
 */
export function warnUnknownKeys(
  scope: string,
  options: Record<string, unknown>,
  known: ReadonlySet<string>,
  log: (message: string) => void = (message) => console.warn(message),
): void {
  for (const key of Object.keys(options)) {
    if (known.has(key) || options[key] === undefined || warned.has(`${scope}\n${key}`)) continue;
    warned.add(`${scope}\n${key}`);
    const suggestion = suggestOption(key, [...known]);
    log(`express-torrent-tracker: ${scope}: unknown option "${key}" is ignored${suggestion ? ` (did you mean "${suggestion}"?)` : ''}.`);
  }
}
