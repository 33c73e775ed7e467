/**
 * A rolling deploy on the memory store: the first process drains (which saves its swarms to the
 * snapshot file), the next one starts on the same `memory:///` URI and answers the same counts and
 * peers, with no announce in between.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { compactPeers, decodeDict } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet, startApp } from '../helpers/http.js';

const dir = mkdtempSync(join(tmpdir(), 'ett-drain-snap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('drain saves the memory store; the next process loads it and answers the same swarm', async () => {
  const store = `memory://${join(dir, 'swarms.snap')}`;
  const ih = randomBytes(20);
  const announce = async (port: number, peer: number, left: number) =>
    decodeDict(
      (await rawGet(port, `/tracker/announce?info_hash=${escapeAll(ih)}&peer_id=${escapeAll(Buffer.alloc(20, peer))}&port=${6000 + peer}&uploaded=0&downloaded=0&left=${left}&compact=1`)).body,
    );
  const first = await startApp({ store, intervalJitter: 0 });
  for (let peer = 1; peer <= 5; peer++) await announce(first.port, peer, peer === 1 ? 0 : 100);
  expect(await first.router.tracker.counts([ih])).toEqual([{ complete: 1, incomplete: 4, downloaded: 0, downloaders: 4 }]);
  const drained = await first.router.drain({ timeout: 5000 });
  expect(drained.timedOut).toBe(false);
  expect((await first.router.health()).ready).toBe(false);
  first.server.closeAllConnections();
  await new Promise<void>((resolve) => first.server.close(() => resolve()));

  const next = await startApp({ store, intervalJitter: 0 });
  try {
    expect(await next.router.tracker.counts([ih])).toEqual([{ complete: 1, incomplete: 4, downloaded: 0, downloaders: 4 }]);
    // A sixth peer gets the five saved ones.
    const answer = await announce(next.port, 6, 100);
    expect(compactPeers(answer.peers, 4).sort()).toEqual([1, 2, 3, 4, 5].map((p) => `127.0.0.1:${6000 + p}`).sort());
    expect((await next.router.health()).ready).toBe(true);
  } finally {
    await next.close();
  }
});
