import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import bencode from 'bencode';
import { Announcer, type AnnounceFailure, type AnnounceResult } from '../../src/seeder/announcer.js';
import { freePort, waitFor } from '../helpers/clients.js';

interface Hit {
  path: string;
  query: URLSearchParams;
  at: number;
}

const servers: http.Server[] = [];
const announcers: Announcer[] = [];

afterEach(async () => {
  for (const a of announcers.splice(0)) await a.stop(500);
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A scripted HTTP tracker: `answer` decides each reply (a dict to bencode, after an optional delay). */
async function fakeTracker(answer: (hit: Hit, n: number) => { body: Record<string, unknown>; delayMs?: number }): Promise<{ url: string; hits: Hit[] }> {
  const hits: Hit[] = [];
  const server = http.createServer((req, res) => {
    const u = new URL(req.url!, 'http://x');
    const hit = { path: u.pathname, query: u.searchParams, at: Date.now() };
    hits.push(hit);
    const { body, delayMs = 0 } = answer(hit, hits.length);
    setTimeout(() => res.end(Buffer.from(bencode.encode(body))), delayMs);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/announce`, hits };
}

function announcer(tiers: string[][], extra: Partial<ConstructorParameters<typeof Announcer>[0]> = {}): Announcer {
  const a = new Announcer({
    tiers,
    infoHash: Buffer.alloc(20, 1),
    peerId: Buffer.from('-ET0100-000000000000'),
    port: () => 6881,
    uploaded: () => 1234,
    minInterval: 1,
    retryDelay: 100,
    ...extra,
  });
  announcers.push(a);
  return a;
}

describe('Announcer', () => {
  it('sends started, then re-announces at the interval without an event, reporting peers', { timeout: 10_000 }, async () => {
    const t = await fakeTracker(() => ({ body: { interval: 1, peers: Buffer.from([10, 0, 0, 1, 0x1a, 0xe1]) } }));
    const a = announcer([[t.url]]);
    const peers: unknown[] = [];
    a.on('peers', (p: unknown[]) => peers.push(...p));
    a.start();
    await waitFor('a re-announce', () => t.hits.length >= 2, 5000);
    expect(t.hits[0].query.get('event')).toBe('started');
    expect(t.hits[0].query.get('uploaded')).toBe('1234');
    expect(t.hits[0].query.get('left')).toBe('0');
    expect(t.hits[0].query.get('compact')).toBe('1');
    expect(t.hits[1].query.get('event')).toBeNull();
    expect(t.hits[1].at - t.hits[0].at).toBeGreaterThanOrEqual(900);
    expect(peers[0]).toEqual({ host: '10.0.0.1', port: 6881 });
    await a.stop();
    expect(t.hits.at(-1)!.query.get('event')).toBe('stopped');
    expect(t.hits.at(-1)!.query.get('numwant')).toBe('0');
  });

  it('fails over within a tier and keeps the tracker that answered first in line', { timeout: 10_000 }, async () => {
    const dead = `http://127.0.0.1:${await freePort()}/announce`;
    const t = await fakeTracker(() => ({ body: { interval: 1 } }));
    const a = announcer([[dead, t.url]]);
    const errors: AnnounceFailure[] = [];
    const ok: AnnounceResult[] = [];
    a.on('announce-error', (f: AnnounceFailure) => errors.push(f));
    a.on('announce', (r: AnnounceResult) => ok.push(r));
    a.start();
    await waitFor('two answers', () => ok.length >= 2, 5000);
    expect(errors).toHaveLength(1);
    expect(errors[0].url).toBe(dead);
    expect(ok.map((r) => r.url)).toEqual([t.url, t.url]);
  });

  it('reports a failure reason and retries after the retry delay', { timeout: 10_000 }, async () => {
    const t = await fakeTracker((_hit, n) => ({ body: n === 1 ? { 'failure reason': 'try later' } : { interval: 60 } }));
    const a = announcer([[t.url]]);
    const errors: AnnounceFailure[] = [];
    a.on('announce-error', (f: AnnounceFailure) => errors.push(f));
    a.start();
    await waitFor('a retry', () => t.hits.length >= 2, 5000);
    expect(errors[0].error.message).toBe('try later');
    expect(t.hits[1].query.get('event')).toBe('started'); // started was never acknowledged
  });

  it('sends stopped even when stopped while started is still in flight', { timeout: 10_000 }, async () => {
    const t = await fakeTracker((_hit, n) => ({ body: { interval: 60 }, delayMs: n === 1 ? 300 : 0 }));
    const a = announcer([[t.url]]);
    a.start();
    await waitFor('started to arrive', () => t.hits.length === 1, 5000);
    await a.stop();
    expect(t.hits.map((h) => h.query.get('event'))).toEqual(['started', 'stopped']);
  });

  it('announces to every tier and ignores non-HTTP trackers', () => {
    expect(announcer([['udp://tracker.example:1337'], ['wss://x']]).tierCount).toBe(0);
    expect(announcer([['udp://a:1', 'http://b/announce'], ['https://c/announce']]).tierCount).toBe(2);
  });
});
