/**
 * HTTP fuzz at scale: 100 000 seeded random queries against the Express middleware and 100 000
 * against the standalone server, pipelined over keep-alive connections. Every answer must be HTTP
 * 200 with a bencoded dictionary, nothing may crash or reject unhandled, and a real announce works
 * afterwards.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrackerServer } from '../../src/server.js';
import { decodeDict, failureOf } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet, startApp } from '../helpers/http.js';
import { pipelinedGets } from '../helpers/pipeline.js';
import { prng } from '../helpers/prng.js';

const TOTAL = 100_000;
const ih = escapeAll(randomBytes(20));
const pid = escapeAll(randomBytes(20));
const ok = `info_hash=${ih}&peer_id=${pid}&port=6881&uploaded=0&downloaded=0&left=0`;

/** Seeded queries: junk, plausible fields with mutated values, bad and truncated %-escapes, unknown parameters. */
function queries(seed: number, prefix: string | (() => string), total = TOTAL): string[] {
  const rand = prng(seed);
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEF0123456789%%%%&&&===-_.~+!*()\',;:@$/?';
  const fields = ['info_hash', 'peer_id', 'port', 'uploaded', 'downloaded', 'left', 'event', 'numwant', 'compact', 'no_peer_id', 'ip', 'key', 'trackerid', 'supportcrypto', 'x'];
  const values = [
    ih, pid, '6881', '0', '-1', '99999999999999999999999', 'started', 'stopped', 'completed', '', '%', '%4', '%zz', '%FF%FE', `${ih}%`, '1.2.3.4', '::1',
    // Counter edges and number shapes (only 0 to 2^53-1 in digits is a counter), unicode, long values.
    '9007199254740991', '9007199254740992', '18446744073709551615', '1.5', '1e308', '0x10', '+1', 'Infinity', 'NaN',
    '%C3%A9', '%F0%9F%98%80', '%ED%A0%80', '%00', 'x'.repeat(3000), '9'.repeat(400),
  ];
  const junk = (n: number): string => {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
    return s;
  };
  const out: string[] = new Array(total);
  for (let i = 0; i < total; i++) {
    let q: string;
    if (rand() < 0.25) q = junk(Math.floor(rand() * 200));
    else {
      const parts: string[] = [];
      for (const f of fields) {
        if (rand() < 0.7) parts.push(`${f}=${rand() < 0.4 ? junk(Math.floor(rand() * 70)) : values[Math.floor(rand() * values.length)]}`);
      }
      for (let j = parts.length - 1; j > 0; j--) {
        const k = Math.floor(rand() * (j + 1));
        [parts[j], parts[k]] = [parts[k], parts[j]];
      }
      q = parts.join('&');
    }
    out[i] = `${typeof prefix === 'string' ? prefix : prefix()}${rand() < 0.85 ? 'announce' : 'scrape'}?${q}`;
  }
  return out;
}

function fuzz(port: number, paths: string[]): Promise<number> {
  let answered = 0;
  return pipelinedGets(port, paths, (path, res) => {
    if (res.status !== 200) throw new Error(`HTTP ${res.status} for ${path}`);
    try {
      decodeDict(res.body);
    } catch {
      throw new Error(`not a bencoded dictionary for ${path}: ${res.body.toString('latin1').slice(0, 100)}`);
    }
    answered++;
  }).then(() => answered);
}

describe('HTTP fuzz, 100 000 queries per server', () => {
  let unhandled = 0;
  const onUnhandled = (): void => void unhandled++;
  beforeAll(() => {
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
  });
  afterAll(() => {
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
  });

  it('the Express middleware answers every one with a bencoded dictionary', async () => {
    const app = await startApp();
    const failures: string[] = [];
    app.router.tracker.on('failure', (f: { reason: string }) => failures.push(f.reason));
    try {
      expect(await fuzz(app.port, queries(0xf00d, '/tracker/'))).toBe(TOTAL);
      expect(failures).not.toContain('internal tracker error');
      expect(failureOf((await rawGet(app.port, `/tracker/announce?${ok}`)).body)).toBeUndefined();
      expect(unhandled).toBe(0);
    } finally {
      await app.close();
    }
  }, 240_000);

  it('the standalone server answers every one with a bencoded dictionary', async () => {
    const server = createTrackerServer({ maxConnections: 100 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const failures: string[] = [];
    server.tracker.on('failure', (f: { reason: string }) => failures.push(f.reason));
    try {
      expect(await fuzz(port, queries(0xbeef, '/'))).toBe(TOTAL);
      expect(failures).not.toContain('internal tracker error');
      expect(failureOf((await rawGet(port, `/announce?${ok}`)).body)).toBeUndefined();
      expect(unhandled).toBe(0);
    } finally {
      await server.shutdown();
    }
  }, 240_000);

  it('a private tracker (passkeys, registered torrents, accounting, interval) answers every one and its accounting stays safe', async () => {
    const passkeys = ['member0123456789', 'other.member~_-', 'x', 'refused00000'];
    const records: Array<Record<string, number>> = [];
    const app = await startApp({
      passkey: (pk) => (pk.startsWith('refused') ? null : pk.length),
      torrents: (hex) => hex.charCodeAt(0) % 2 === 0 || { uploadFactor: 2 },
      onTraffic: (batch) => void records.push(...(batch as unknown as Array<Record<string, number>>)),
    });
    const failures: string[] = [];
    app.router.tracker.on('failure', (f: { reason: string }) => failures.push(f.reason));
    const rand = prng(0xcafe);
    const odd = ['', '%41', '..', '%C3%BC', 'p'.repeat(200)];
    const prefix = () => `/tracker/${rand() < 0.9 ? passkeys[Math.floor(rand() * passkeys.length)] : odd[Math.floor(rand() * odd.length)]}/`;
    try {
      const total = 30_000;
      expect(await fuzz(app.port, queries(0xabc, prefix, total))).toBe(total);
      expect(failures).not.toContain('internal tracker error');
      expect(failureOf((await rawGet(app.port, `/tracker/${passkeys[0]}/announce?${ok}`)).body)).toBeUndefined();
      await app.router.tracker.flushTraffic();
      for (const r of records) {
        for (const f of ['uploaded', 'downloaded', 'rawUploaded', 'rawDownloaded']) expect(Number.isSafeInteger(r[f]), f).toBe(true);
      }
      expect(unhandled).toBe(0);
    } finally {
      await app.close();
    }
  }, 240_000);
});
