/**
 * The admin API's input checks: path and query parameters and JSON bodies, each read into a clean
 * value or refused with a 400 problem naming the part that is wrong, before anything is changed.
 * The limits here are the ones the OpenAPI document states (openapi.ts imports them).
 */
import { isIP } from 'node:net';
import { MAX_PASSKEY_LENGTH } from '../policy/passkey.js';
import { invalid } from './problem.js';
import type { AdminBanBody, AdminRegisterTorrentBody, AdminTorrentRules, AdminUpdateTorrentBody } from './types.js';

/** Largest page of torrents or peers. */
export const MAX_PAGE = 500;
/** Page size when `limit` is absent. */
export const DEFAULT_PAGE = 50;
/** Largest `offset`. */
export const MAX_OFFSET = 1_000_000_000;
/** Longest ban reason, user id (as a string), client prefix and ban id. */
export const MAX_REASON = 200;
export const MAX_USER = 128;
export const MAX_CLIENT = 20;
export const MAX_BAN_ID = 128;
export { MAX_PASSKEY_LENGTH };

export const HEX40 = '^[0-9a-fA-F]{40}$';
export const HEX64 = '^[0-9a-fA-F]{64}$';
export const PATH_HASH = '^([0-9a-fA-F]{40}|[0-9a-fA-F]{64})$';
export const BAN_ID = '^[A-Za-z0-9_.:-]{1,128}$';

type Query = Record<string, unknown>;

function onlyKeys(value: Record<string, unknown>, allowed: readonly string[], where: (key: string) => { pointer?: string; parameter?: string }): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw invalid(`unknown ${where(key).parameter !== undefined ? 'parameter' : 'field'} ${JSON.stringify(key.slice(0, 40))}`, where(key));
  }
}

function queryString(query: Query, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(`${name} must be given once, as a plain value`, { parameter: name });
  return value;
}

function queryInteger(query: Query, name: string, min: number, max: number, fallback: number): number {
  const text = queryString(query, name);
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d{1,10}$/.test(text) || n < min || n > max) throw invalid(`${name} must be an integer from ${min} to ${max}`, { parameter: name });
  return n;
}

/** A request with no query parameters. */
export function noQuery(query: Query): void {
  onlyKeys(query, [], (parameter) => ({ parameter }));
}

/** Pagination (and, for torrents, sorting) parameters. */
export function pageQuery(query: Query, sortable: boolean): { offset: number; limit: number; sort?: 'infoHash' | 'peers' } {
  onlyKeys(query, sortable ? ['offset', 'limit', 'sort'] : ['offset', 'limit'], (parameter) => ({ parameter }));
  const offset = queryInteger(query, 'offset', 0, MAX_OFFSET, 0);
  const limit = queryInteger(query, 'limit', 1, MAX_PAGE, DEFAULT_PAGE);
  if (!sortable) return { offset, limit };
  const sort = queryString(query, 'sort') ?? 'infoHash';
  if (sort !== 'infoHash' && sort !== 'peers') throw invalid('sort must be infoHash or peers', { parameter: 'sort' });
  return { offset, limit, sort };
}

/** The `{infoHash}` path parameter: 40 hex digits, or a 64-digit v2 hash (looked up by its first 40). */
export function pathHash(raw: string): { swarm: string; v2?: string } {
  if (!new RegExp(PATH_HASH).test(raw)) throw invalid('infoHash must be 40 hex digits (or a 64-digit v2 info hash)', { parameter: 'infoHash' });
  const hex = raw.toLowerCase();
  return hex.length === 64 ? { swarm: hex.slice(0, 40), v2: hex } : { swarm: hex };
}

/** The `{id}` path parameter of a ban. */
export function banId(raw: string): string {
  if (!new RegExp(BAN_ID).test(raw)) throw invalid('id must be 1 to 128 letters, digits or _ . : -', { parameter: 'id' });
  return raw;
}

function object(body: unknown, pointer: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid(`${pointer === '' ? 'the body' : pointer} must be a JSON object`, { pointer });
  return body as Record<string, unknown>;
}

function hexField(body: Record<string, unknown>, name: string, digits: 40 | 64, required: boolean): string | undefined {
  const value = body[name];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || !new RegExp(digits === 40 ? HEX40 : HEX64).test(value)) throw invalid(`${name} must be ${digits} hex digits`, { pointer: `/${name}` });
  return value.toLowerCase();
}

function factor(value: unknown, pointer: string, nullable: boolean): number | null | undefined {
  if (value === undefined || (nullable && value === null)) return value as undefined | null;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw invalid(`${pointer.slice(pointer.lastIndexOf('/') + 1)} must be a number >= 0${nullable ? ' or null' : ''}`, { pointer });
  return value;
}

function rules(value: unknown, nullable: boolean): { uploadFactor?: number | null; downloadFactor?: number | null } {
  const o = object(value, '/rules');
  onlyKeys(o, ['uploadFactor', 'downloadFactor'], (key) => ({ pointer: `/rules/${key}` }));
  const out: { uploadFactor?: number | null; downloadFactor?: number | null } = {};
  const up = factor(o.uploadFactor, '/rules/uploadFactor', nullable);
  const down = factor(o.downloadFactor, '/rules/downloadFactor', nullable);
  if (up !== undefined) out.uploadFactor = up;
  if (down !== undefined) out.downloadFactor = down;
  return out;
}

/** `POST /torrents`. */
export function registerBody(body: unknown): Required<Pick<AdminRegisterTorrentBody, 'infoHash' | 'rules'>> & { infoHashV2?: string } {
  const o = object(body, '');
  onlyKeys(o, ['infoHash', 'infoHashV2', 'rules'], (key) => ({ pointer: `/${key}` }));
  const infoHash = hexField(o, 'infoHash', 40, true)!;
  const infoHashV2 = hexField(o, 'infoHashV2', 64, false);
  const r = (o.rules === undefined ? {} : rules(o.rules, false)) as AdminTorrentRules;
  if (infoHashV2 !== undefined && infoHashV2.slice(0, 40) === infoHash) {
    throw invalid('infoHash is the v2 hash cut to 20 bytes: give the v1 info hash of a hybrid torrent, or infoHash alone for a v2-only one', { pointer: '/infoHash' });
  }
  return infoHashV2 === undefined ? { infoHash, rules: r } : { infoHash, infoHashV2, rules: r };
}

/** `PATCH /torrents/{infoHash}`. */
export function updateBody(body: unknown): AdminUpdateTorrentBody {
  const o = object(body, '');
  onlyKeys(o, ['rules'], (key) => ({ pointer: `/${key}` }));
  if (o.rules === undefined) throw invalid('rules is required', { pointer: '/rules' });
  return { rules: rules(o.rules, true) };
}

/** `POST /passkeys/revoke`. */
export function revokeBody(body: unknown): string {
  const o = object(body, '');
  onlyKeys(o, ['passkey'], (key) => ({ pointer: `/${key}` }));
  const passkey = o.passkey;
  if (typeof passkey !== 'string' || passkey.length === 0 || passkey.length > MAX_PASSKEY_LENGTH) {
    throw invalid(`passkey must be a string of 1 to ${MAX_PASSKEY_LENGTH} characters`, { pointer: '/passkey' });
  }
  return passkey;
}

/** True for an IPv4 or IPv6 address or CIDR block (no zone ids). */
export function isAddressOrCidr(text: string): boolean {
  const slash = text.indexOf('/');
  const ip = slash === -1 ? text : text.slice(0, slash);
  const family = isIP(ip);
  if (family === 0 || ip.includes('%')) return false;
  if (slash === -1) return true;
  const prefix = text.slice(slash + 1);
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

function optionalString(o: Record<string, unknown>, name: string, max: number, check?: (s: string) => boolean, what = `a string of 1 to ${max} characters`): string | undefined {
  const value = o[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > max || (check && !check(value))) throw invalid(`${name} must be ${what}`, { pointer: `/${name}` });
  return value;
}

/** `POST /bans`: the ban as the tracker takes it (exactly one of address, user, client). */
export function banBody(body: unknown, now = Date.now()): AdminBanBody & { expires?: Date } {
  const o = object(body, '');
  onlyKeys(o, ['address', 'user', 'client', 'expiresAt', 'reason'], (key) => ({ pointer: `/${key}` }));
  const out: AdminBanBody & { expires?: Date } = {};
  const address = optionalString(o, 'address', 64, isAddressOrCidr, 'an IPv4 or IPv6 address or CIDR block (203.0.113.0/24, 2001:db8::/32)');
  if (address !== undefined) out.address = address;
  if (o.user !== undefined) {
    const u = o.user;
    const ok = (typeof u === 'string' && u.length > 0 && u.length <= MAX_USER) || (typeof u === 'number' && Number.isSafeInteger(u));
    if (!ok) throw invalid(`user must be a string of 1 to ${MAX_USER} characters or an integer`, { pointer: '/user' });
    out.user = u as string | number;
  }
  const client = optionalString(o, 'client', MAX_CLIENT, (s) => /^[\x20-\x7e]+$/.test(s), `a peer id prefix of 1 to ${MAX_CLIENT} printable ASCII characters`);
  if (client !== undefined) out.client = client;
  const targets = [out.address, out.user, out.client].filter((t) => t !== undefined).length;
  if (targets !== 1) throw invalid('a ban names exactly one of address, user or client', { pointer: '' });
  const expiresAt = optionalString(o, 'expiresAt', 40, (s) => /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(s) && !Number.isNaN(Date.parse(s)), 'an ISO 8601 date-time with a time zone (2030-01-31T12:00:00Z)');
  if (expiresAt !== undefined) {
    const at = Date.parse(expiresAt);
    if (at <= now) throw invalid('expiresAt is in the past', { pointer: '/expiresAt' });
    out.expires = new Date(at);
  }
  const reason = optionalString(o, 'reason', MAX_REASON, (s) => !/[\x00-\x1f\x7f]/.test(s), `a string of 1 to ${MAX_REASON} characters without control characters`);
  if (reason !== undefined) out.reason = reason;
  return out;
}
