/**
 * The memory store's snapshot file (issue 25 item 3): what one store saves the next one loads
 * (scrape counts, peer lists, `downloaded`, registry, bans), peers whose lifetime ran out while down
 * are gone, damaged / truncated / foreign files are refused as a whole, a kill -9 during a save
 * leaves the previous file loadable, and `memory:///path` works as `options.store`.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, statSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { MemorySwarmStore } from '../../src/swarm/memory/memory-store.js';
import { openStore } from '../../src/swarm/open.js';
import { checkStoreOption } from '../../src/swarm/store-option.js';
import { fakeClock } from '../../src/swarm/contract/index.js';
import type { SwarmStore } from '../../src/swarm/types.js';
import { ensureBuilt, root } from '../helpers/instances.js';
import { rawGet, startApp } from '../helpers/http.js';
import { decodeDict, type Dict } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';

const dir = mkdtempSync(join(tmpdir(), 'ett-snapshot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const hashOf = (s: number): Buffer => {
  const h = Buffer.alloc(20);
  h.writeUInt32BE(s, 0);
  h[19] = 0x5a;
  return h;
};

/** `swarms` × `perSwarm` peers: a third seeders, IPv6 every 7th, half with ttl 120 s and half 3600 s. */
function fill(store: MemorySwarmStore, swarms: number, perSwarm: number): void {
  for (let s = 0; s < swarms; s++) {
    const infoHash = hashOf(s);
    for (let p = 0; p < perSwarm; p++) {
      const peerId = Buffer.alloc(20);
      peerId.writeUInt32BE(s, 0);
      peerId.writeUInt32BE(p, 4);
      const ip = p % 7 === 0 ? Buffer.from(`20010db8000000000000000000${(p & 255).toString(16).padStart(2, '0')}${(s & 255).toString(16).padStart(2, '0')}00`.slice(0, 32), 'hex') : Buffer.from([10, s & 255, p >> 8, p & 255]);
      store.announceSync({ infoHash, peerId, ip, port: 1024 + p, seeder: p % 3 === 0, event: p % 10 === 0 ? 'completed' : 'started', numwant: 0, ttl: p % 2 === 0 ? 120 : 3600, key: p % 5 === 0 ? p : undefined });
    }
  }
}

/** Every live peer of swarm `s` as sorted strings. */
async function peerList(store: SwarmStore, s: number): Promise<string[]> {
  const page = await store.peersOf!(hashOf(s), 0, 100_000);
  return page.peers.map((p) => `${Buffer.from(p.peerId).toString('hex')} ${Buffer.from(p.ip).toString('hex')}:${p.port} ${p.seeder ? 'S' : 'L'} ${p.expires}`).sort();
}

describe('memory store snapshot', () => {
  it('100 000 peers saved by one store are loaded by the next: same scrape counts and peer lists, expired peers gone', async () => {
    const clock = fakeClock();
    const file = join(dir, 'roundtrip.snap');
    const a = new MemorySwarmStore({ now: clock.now, file });
    expect(a.snapshot?.status).toBe('missing');
    fill(a, 1000, 100);
    await a.registry!.add(hashOf(3), { downloadFactor: 0 });
    await a.bans!.add({ id: 'b1', address: '203.0.113.7', createdAt: clock.now(), reason: 'test' });
    // A swarm with no peer left that keeps its downloaded count.
    const gone = Buffer.alloc(20, 7);
    const peerId = Buffer.alloc(20, 1);
    a.announceSync({ infoHash: gone, peerId, ip: Buffer.from([10, 9, 9, 9]), port: 1, seeder: false, event: 'completed', numwant: 0, ttl: 60 });
    a.announceSync({ infoHash: gone, peerId, ip: Buffer.from([10, 9, 9, 9]), port: 1, seeder: false, event: 'stopped', numwant: 0, ttl: 60 });
    const hashes = Array.from({ length: 1000 }, (_, s) => hashOf(s));
    const before = await a.scrape([...hashes, gone]);
    const lists = await Promise.all([0, 1, 500, 999].map((s) => peerList(a, s)));
    const totals = a.totalsNow();
    expect(a.peerCount).toBe(100_000);
    await a.save();
    expect(a.lastSave).toMatchObject({ swarms: 1001, peers: 100_000 });
    await a.close();

    clock.advance(30);
    const b = new MemorySwarmStore({ now: clock.now, file });
    expect(b.snapshot).toMatchObject({ status: 'loaded', swarms: 1001, peers: 100_000, expired: 0 });
    expect(await b.scrape([...hashes, gone])).toEqual(before);
    expect(await Promise.all([0, 1, 500, 999].map((s) => peerList(b, s)))).toEqual(lists);
    expect(b.totalsNow()).toEqual(totals);
    expect(await b.registry!.get(hashOf(3))).toEqual({ downloadFactor: 0 });
    expect((await b.bans!.list()).map((ban) => ban.id)).toEqual(['b1']);
    // A completed peer that comes back after the restart does not count twice.
    const again = b.announceSync({ infoHash: hashOf(0), peerId: Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 3]), Buffer.alloc(12)]), ip: Buffer.from([10, 0, 0, 3]), port: 1027, seeder: true, event: 'completed', numwant: 0, ttl: 3600 });
    expect(again.counted).toBe(false);
    await b.close(); // saves again

    // Down for 10 minutes: the peers announced with ttl 120 s ran out meanwhile.
    clock.advance(600);
    const c = new MemorySwarmStore({ now: clock.now, file });
    expect(c.snapshot).toMatchObject({ status: 'loaded', peers: 50_000, expired: 50_000 });
    const after = await c.scrape(hashes);
    after.forEach((counts, s) => {
      expect(counts.complete + counts.incomplete).toBe(50);
      expect(counts.downloaded).toBe(before[s].downloaded);
    });
    for (const line of await peerList(c, 1)) expect(parseInt(line.split(' ')[0].slice(8, 16), 16) % 2).toBe(1);
    await c.close();
  }, 60_000);

  it('saveInterval saves periodically without being asked', async () => {
    const file = join(dir, 'periodic.snap');
    const store = new MemorySwarmStore({ file, saveInterval: 0.05 });
    fill(store, 10, 10);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(store.lastSave).toMatchObject({ swarms: 10, peers: 100 });
    expect(store.lastSave!.longestBlockMs).toBeLessThan(50);
    const next = new MemorySwarmStore({ file });
    expect(next.snapshot).toMatchObject({ status: 'loaded', peers: 100 });
    await next.close();
    await store.close();
  });

  describe('a damaged, truncated or foreign file is refused whole: the store starts empty and says so', () => {
    const make = async (name: string): Promise<string> => {
      const file = join(dir, name);
      const store = new MemorySwarmStore({ file });
      fill(store, 50, 20);
      await store.close();
      return file;
    };
    const check = (file: string, code: string): void => {
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
      const store = new MemorySwarmStore({ file });
      expect(store.snapshot).toMatchObject({ status: 'refused', code, peers: 0, swarms: 0 });
      expect(store.peerCount).toBe(0);
      expect(store.swarmCount).toBe(0);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0][0])).toMatch(new RegExp(`\\[${code}\\] snapshot .* refused: .*; the memory store starts empty`));
      clearInterval((store as unknown as { timer: NodeJS.Timeout }).timer);
    };

    it('truncated', async () => {
      const file = await make('truncated.snap');
      truncateSync(file, Math.floor(statSync(file).size / 2));
      check(file, 'ETT_SNAPSHOT_TRUNCATED');
    });

    it('one bit flipped', async () => {
      const file = await make('flipped.snap');
      const data = readFileSync(file);
      data[Math.floor(data.length * 0.6)] ^= 0x10;
      writeFileSync(file, data);
      check(file, 'ETT_SNAPSHOT_CHECKSUM');
    });

    it('foreign (not a snapshot)', () => {
      const file = join(dir, 'foreign.snap');
      writeFileSync(file, JSON.stringify({ hello: 'world' }));
      check(file, 'ETT_SNAPSHOT_FOREIGN');
    });

    it('a newer format version', async () => {
      const file = await make('version.snap');
      const data = readFileSync(file);
      data.writeUInt32LE(99, 8);
      writeFileSync(file, data);
      check(file, 'ETT_SNAPSHOT_VERSION');
    });
  });

  it('a kill -9 during a save leaves the previous file loadable', async () => {
    ensureBuilt();
    const file = join(dir, 'killed.snap');
    let midSave = 0;
    for (let round = 0; round < 4; round++) {
      const child = spawn(process.execPath, [join(root, 'test/swarm/fixtures/snapshot-saver.mjs')], { env: { ...process.env, FILE: file, SWARMS: '2000', PEERS: '100' }, stdio: ['pipe', 'pipe', 'inherit'] });
      const lines = createInterface({ input: child.stdout! });
      // After the first complete save, kill it at some point of a later save.
      await new Promise<void>((resolve) => lines.once('line', () => resolve()));
      await new Promise((resolve) => setTimeout(resolve, 20 + round * 37));
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      // Killed in the middle of a save: its temporary file is there, unfinished.
      if (readdirSync(dir).some((name) => name.startsWith('.killed.snap.'))) midSave++;
      const store = new MemorySwarmStore({ file });
      expect(store.snapshot).toMatchObject({ status: 'loaded', peers: 200_000, swarms: 2000 });
      await store.close();
    }
    expect(midSave).toBeGreaterThan(0);
    // Temp files of killed saves are swept by the next load.
    expect(readdirSync(dir).filter((name) => name.startsWith('.killed.snap.'))).toEqual([]);
  }, 120_000);

  it('memory:///path works as options.store (openStore, checkStoreOption, trackerMiddleware)', async () => {
    const file = join(dir, 'uri.snap');
    expect(() => checkStoreOption(`memory://${file}`, 'test')).not.toThrow();
    expect(() => checkStoreOption('memory://', 'test')).not.toThrow();
    expect(() => checkStoreOption('memory://host/x', 'test')).toThrow(/absolute snapshot file path/);
    const plain = await openStore('memory://');
    expect(plain.store).toBeInstanceOf(MemorySwarmStore);
    expect((plain.store as MemorySwarmStore).snapshot).toBeUndefined();
    await plain.store.close?.();

    const infoHash = hashOf(42);
    const announce = (app: { port: number }, n: number, left: number): Promise<unknown> =>
      rawGet(app.port, `/tracker/announce?info_hash=${escapeAll(infoHash)}&peer_id=${escapeAll(Buffer.from(`-XX0001-${String(n).padStart(12, '0')}`))}&port=${6881 + n}&uploaded=0&downloaded=0&left=${left}&compact=1${left === 0 ? '&event=completed' : ''}`);
    const scrape = async (app: { port: number }): Promise<Dict> => {
      const res = await rawGet(app.port, `/tracker/scrape?info_hash=${escapeAll(infoHash)}`);
      const files = decodeDict(res.body).files as Map<string, Dict> | Record<string, Dict>;
      return (files instanceof Map ? [...files.values()][0] : Object.values(files)[0]) as Dict;
    };
    const first = await startApp({ store: `memory://${file}` });
    await first.router.ready();
    for (let n = 0; n < 5; n++) await announce(first, n, n < 2 ? 0 : 100);
    const counts = await scrape(first);
    expect(counts).toMatchObject({ complete: 2, incomplete: 3, downloaded: 2 });
    await first.close(); // the store is the tracker's: closing it saves it
    const second = await startApp({ store: `memory://${file}` });
    await second.router.ready();
    expect(await scrape(second)).toEqual(counts);
    await second.close();
  }, 30_000);
});
