import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { escapeAll } from '../helpers/escape.js';
import { decodeDict, failureOf } from '../helpers/bdecode.js';
import { rawGet, startApp, type RunningApp } from '../helpers/http.js';
import { prng } from '../helpers/prng.js';

const ih = escapeAll(randomBytes(20));
const pid = escapeAll(randomBytes(20));
const ok = `info_hash=${ih}&peer_id=${pid}&port=6881&uploaded=0&downloaded=0&left=0`;

describe('bad input gets HTTP 200 and a failure reason naming the problem', () => {
  let app: RunningApp;
  let unhandled = 0;
  const onUnhandled = (): void => void unhandled++;
  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    app = await startApp();
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await app.close();
  });

  it.each([
    ['', 'info_hash is missing'],
    [ok.replace(`info_hash=${ih}&`, ''), 'info_hash is missing'],
    [ok.replace(`peer_id=${pid}&`, ''), 'peer_id is missing'],
    [ok.replace('port=6881&', ''), 'port is missing'],
    [ok.replace(ih, ih.slice(3)), 'info_hash must be exactly 20 bytes (got 19)'],
    [ok.replace(pid, pid + '%41'), 'peer_id must be exactly 20 bytes (got 21)'],
    [ok.replace('port=6881', 'port=0'), 'port must be an integer from 1 to 65535'],
    [ok.replace('port=6881', 'port=70000'), 'port must be an integer from 1 to 65535'],
    [ok.replace('port=6881', 'port=abc'), 'port must be an integer from 1 to 65535'],
    [ok.replace('uploaded=0', 'uploaded=-1'), 'uploaded must be a whole number from 0 to 9007199254740991'],
    [ok.replace('downloaded=0', 'downloaded=1e3'), 'downloaded must be a whole number from 0 to 9007199254740991'],
    [ok.replace('left=0', 'left=x'), 'left must be a whole number from 0 to 9007199254740991'],
    // Counters are safe integers on every door (test/http/counters.test.ts covers UDP and WebSocket): these passed before.
    [ok.replace('uploaded=0', 'uploaded=18446744073709551615'), 'uploaded must be a whole number from 0 to 9007199254740991'],
    [ok.replace('downloaded=0', 'downloaded=9007199254740992'), 'downloaded must be a whole number from 0 to 9007199254740991'],
    [`${ok}&corrupt=-1`, 'corrupt must be a whole number from 0 to 9007199254740991'],
    [`${ok}&event=bogus`, 'event must be started, completed, stopped, paused or empty'],
    [ok.replace(ih, ih.slice(0, -2)), 'truncated %-escape in info_hash'],
    [ok.replace(ih, '%XY' + ih.slice(3)), 'malformed %-escape in info_hash'],
    [`${ok}${'&a=b'.repeat(200)}`, 'too many query parameters (limit 128)'],
    [`${ok}&pad=${'y'.repeat(12000)}`, 'request too long (limit 8192 characters)'],
  ])('announce %#', async (query, reason) => {
    const res = await rawGet(app.port, `/tracker/announce?${query}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(failureOf(res.body)).toBe(reason);
  });

  it.each([
    ['info_hash=%41', 'info_hash must be exactly 20 bytes (got 1)'],
    [`info_hash=${ih}&info_hash=%4`, 'truncated %-escape in info_hash'],
    [Array.from({ length: 65 }, () => `info_hash=${escapeAll(randomBytes(20))}`).join('&'), 'too many info_hash values in one scrape (limit 64)'],
  ])('scrape %#', async (query, reason) => {
    const res = await rawGet(app.port, `/tracker/scrape?${query}`);
    expect(res.status).toBe(200);
    expect(failureOf(res.body)).toBe(reason);
  });

  it('survives raw non-ASCII bytes in the request line', async () => {
    const body = await new Promise<Buffer>((resolve, reject) => {
      const socket = net.connect(app.port, '127.0.0.1');
      const chunks: Buffer[] = [];
      socket.on('data', (c) => chunks.push(c));
      socket.on('end', () => resolve(Buffer.concat(chunks)));
      socket.on('error', reject);
      const id = Buffer.alloc(20, 0xe9); // raw byte 0xE9, not escaped
      socket.end(
        Buffer.concat([
          Buffer.from('GET /tracker/announce?info_hash='),
          id,
          Buffer.from(`&peer_id=${pid}&port=1&left=0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
        ]),
      );
    });
    const text = body.toString('latin1');
    // Either Node's HTTP parser refuses the request line (400, before any middleware runs) or the
    // tracker decodes the bytes; never a 5xx, and the app keeps answering.
    expect(text).toMatch(/^HTTP\/1\.1 (200|400)/);
    expect(failureOf((await rawGet(app.port, `/tracker/announce?${ok}`)).body)).toBeUndefined();
  });

  it('fuzz: 3000 seeded random query strings all get a bencoded dictionary, then the app still works', async () => {
    const rand = prng(0x5eed);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEF0123456789%%%%&&&===-_.~+!*()\',;:@$/?';
    const fields = ['info_hash', 'peer_id', 'port', 'uploaded', 'downloaded', 'left', 'event', 'numwant', 'compact', 'no_peer_id', 'ip'];
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    const junk = (n: number): string => Array.from({ length: n }, () => pick([...alphabet])).join('');
    const queries: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const mode = rand();
      if (mode < 0.3) queries.push(junk(Math.floor(rand() * 200)));
      else {
        // structurally plausible: known fields with mutated values
        const parts = [];
        for (const f of fields) if (rand() < 0.8) parts.push(`${f}=${rand() < 0.5 ? junk(Math.floor(rand() * 70)) : pick([ih, pid, '6881', '0', '-1', '99999999999999999999999', 'started', 'stopped', 'completed', ''])}`);
        queries.push(parts.sort(() => rand() - 0.5).join('&'));
      }
    }
    let i = 0;
    const worker = async (): Promise<void> => {
      while (i < queries.length) {
        const q = queries[i++];
        const path = `/tracker/${rand() < 0.8 ? 'announce' : 'scrape'}?${q}`;
        const res = await new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
          http
            .get({ host: '127.0.0.1', port: app.port, path, agent }, (r) => {
              const chunks: Buffer[] = [];
              r.on('data', (c: Buffer) => chunks.push(c));
              r.on('end', () => resolve({ status: r.statusCode ?? 0, body: Buffer.concat(chunks) }));
            })
            .on('error', reject);
        });
        expect(res.status, path).toBe(200);
        expect(() => decodeDict(res.body), path).not.toThrow();
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    agent.destroy();
    const res = await rawGet(app.port, `/tracker/announce?${ok}`);
    expect(failureOf(res.body)).toBeUndefined();
    expect(unhandled).toBe(0);
  });
});
