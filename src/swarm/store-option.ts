/**
 * The `store` option checked when a tracker is created, before anything is opened: a value that
 * cannot be a store (a number, a plain object, a malformed URI, an unknown scheme, a URI whose adapter
 * package is not installed) is a TypeError at startup that says how to fix it, instead of a tracker
 * that starts and then fails every announce. Also the store's description for logs, without secrets.
 */
import Keyv from 'keyv';
import { describeValue } from '../option-checks.js';
import { isSwarmStore } from './types.js';

/** URI schemes and the Keyv adapter package each one is opened with. */
export const STORE_SCHEMES: Readonly<Record<string, string>> = {
  /** Built in (no package): `memory://` or `memory:///path/to/snapshot-file`. */
  memory: '',
  redis: '@keyv/redis',
  rediss: '@keyv/redis',
  sqlite: '@keyv/sqlite',
  postgres: '@keyv/postgres',
  postgresql: '@keyv/postgres',
  mysql: '@keyv/mysql',
  mariadb: '@keyv/mysql',
};

const EXAMPLES = 'e.g. "redis://127.0.0.1:6379", "sqlite:///var/lib/tracker.sqlite", "postgresql://user@host/db", "mysql://user@host/db", "memory:///var/lib/tracker/swarms.snap"';

/** True when `value` looks like a Keyv instance (has the Keyv API and an adapter). */
export function isKeyv(value: unknown): value is Keyv {
  if (value instanceof Keyv) return true;
  const v = value as Partial<Keyv> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.get === 'function' &&
    typeof v.set === 'function' &&
    typeof v.delete === 'function' &&
    typeof v.getMany === 'function' &&
    'store' in v &&
    'opts' in v
  );
}

/** `uri` with its password (`user:password@`) replaced by `***`, and `password=` query values. */
export function redactUri(uri: string): string {
  return uri
    .replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/?#]*):[^@/?#]*@/i, '$1:***@')
    .replace(/([?&](?:password|pass|pwd|token|secret)=)[^&#]*/gi, '$1***');
}

/** The store as logs may show it: `memory`, a URI without its password, or the store's kind. */
export function describeStore(option: unknown): string {
  if (option === undefined || option === null) return 'memory';
  if (typeof option === 'string') return redactUri(option);
  if (isKeyv(option)) {
    const adapter = (option as { opts?: { store?: object } }).opts?.store ?? (option as { store?: object }).store;
    const name = adapter?.constructor?.name;
    return `a Keyv instance${name && name !== 'Object' && name !== 'Map' ? ` (${name})` : name === 'Map' ? ' (in memory)' : ''}`;
  }
  const name = (option as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'a custom store';
}

/**
 * Throws a TypeError naming the fix when `option` cannot be a store. Checks only what is known
 * without I/O; whether the backend answers is `ready()`'s question.
 */
export function checkStoreOption(option: unknown, scope: string): void {
  if (option === undefined || isSwarmStore(option) || isKeyv(option)) return;
  if (typeof option !== 'string') {
    const received = option !== null && typeof option === 'object' ? `an object without the SwarmStore or Keyv methods (keys: ${Object.keys(option).slice(0, 6).join(', ') || 'none'})` : describeValue(option);
    throw new TypeError(`${scope}: options.store must be a connection URI (${EXAMPLES}), a Keyv instance or a SwarmStore; leave it out for memory (got ${received})`);
  }
  const uri = option.trim();
  const shown = JSON.stringify(redactUri(uri).slice(0, 80));
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase();
  if (!scheme) {
    // A scheme we know, misspelled around its "://" ("redis//host", "redis:/host", "redis:host").
    const known = Object.keys(STORE_SCHEMES).sort((a, b) => b.length - a.length).find((s) => new RegExp(`^${s}[:/]`, 'i').test(uri));
    const rest = known ? uri.slice(known.length).replace(/^[:/]{1,3}/, '') : '';
    const hint = known ? `; did you mean ${JSON.stringify(redactUri(`${known}://${known === 'sqlite' && uri.startsWith('/', known.length + 1) ? '/' : ''}${rest}`))}?` : ` (${EXAMPLES})`;
    throw new TypeError(`${scope}: options.store ${shown} is not a connection URI: it needs a scheme followed by "://"${hint}`);
  }
  const adapter = STORE_SCHEMES[scheme];
  if (scheme === 'memory') {
    const rest = uri.slice('memory://'.length);
    if (rest !== '' && !rest.startsWith('/')) {
      throw new TypeError(`${scope}: options.store ${shown}: a memory:// URI takes an absolute snapshot file path (e.g. "memory:///var/lib/tracker/swarms.snap") or nothing (plain memory)`);
    }
    return;
  }
  if (adapter === undefined) {
    throw new TypeError(
      `${scope}: options.store: unsupported URI scheme "${scheme}" in ${shown}; use memory://, redis://, rediss://, sqlite://, postgresql:// or mysql:// (${EXAMPLES}), or pass a Keyv instance or a SwarmStore`,
    );
  }
  if (scheme !== 'sqlite') {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw new TypeError(`${scope}: options.store ${shown} is not a valid URI (${EXAMPLES})`);
    }
    if (!url.hostname) throw new TypeError(`${scope}: options.store ${shown} names no host (${EXAMPLES})`);
  } else if (uri.length <= 'sqlite://'.length) {
    throw new TypeError(`${scope}: options.store ${shown} names no database file (e.g. "sqlite:///var/lib/tracker.sqlite")`);
  }
  if (!resolvable(adapter)) {
    throw new TypeError(`${scope}: options.store: a ${scheme}:// URI needs the package ${adapter}; install it with "npm install ${adapter}"`);
  }
}

/**
 * Throws a TypeError when `option` is a store instance that cannot keep the per-peer state private
 * mode or `enforceInterval` needs (`need` names which; undefined: neither is on).
 */
export function checkStoreState(option: unknown, scope: string, need: string | undefined): void {
  if (need === undefined || !isSwarmStore(option) || option.privateMode) return;
  throw new TypeError(`${scope}: options.store does not keep the per-peer state that ${need} needs (its privateMode is not true); use the memory, Redis or Keyv store`);
}

/** True when `name` can be imported from this package (without loading it). */
export function resolvable(name: string): boolean {
  try {
    import.meta.resolve(name);
    return true;
  } catch {
    return false;
  }
}
