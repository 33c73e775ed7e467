/**
 * Real clients on a private tracker: qBittorrent, Transmission and aria2 each announce to
 * `/tracker/<their passkey>/announce` (one .torrent per client, the same private info dictionary,
 * only the announce URL differs). aria2 seeds from its own loopback address, the other two leech.
 * After the clients stop, the per-user traffic the site receives through `onTraffic` must equal what
 * the clients themselves reported in their announces, computed here from the raw query strings
 * with the documented credit rules (first / `started` announce is a baseline, then deltas between
 * consecutive accepted announces, a lower counter resets the baseline). Interval enforcement stays
 * on, as on a real private tracker: refused announces must not count.
 */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import { afterAll, describe, expect, it } from 'vitest';
import type { TrafficRecord } from '../../src/policy/traffic.js';
import type { AnnounceEventInfo } from '../../src/tracker.js';
import { parseTorrent } from '../../src/torrent/parse.js';
import { decodeDict, failureOf } from '../helpers/bdecode.js';
import {
  aria2Seeder,
  ClientProcess,
  freePort,
  haveBinaries,
  qbittorrent,
  sha1File,
  transmission,
  transmissionAdd,
  transmissionRemote,
  waitFor,
} from '../helpers/clients.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet, startApp, type RawResponse, type RunningApp } from '../helpers/http.js';

const available = haveBinaries('aria2c', 'qbittorrent-nox', 'transmission-daemon', 'transmission-remote', 'mktorrent');

/** One announce as the app received it (raw query) and as the tracker answered it. */
interface Seen {
  passkey: string;
  infoHash: string;
  peerId: string;
  event: string;
  uploaded: number;
  downloaded: number;
  left: number;
  /** The answer's `failure reason`, if the tracker refused the announce. */
  failure: string | undefined;
}

/** %-decode a raw query value into bytes (binary-safe, unlike URLSearchParams). */
function rawBytes(value: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < value.length; i++) {
    if (value[i] === '%') {
      out.push(parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(value.charCodeAt(i));
  }
  return Buffer.from(out);
}

function parseRaw(query: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    if (eq > 0) params.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return params;
}

/** A private .torrent (info `private` = 1) for `announce`; mktorrent -a changes nothing inside `info`. */
function privateTorrent(announce: string, source: string, output: string): string {
  const r = spawnSync('mktorrent', ['-p', '-a', announce, '-l', '18', '-o', output, source], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mktorrent failed: ${r.stderr}`);
  return parseTorrent(readFileSync(output)).infoHash;
}

interface Expected {
  uploaded: number;
  downloaded: number;
  completed: number;
  /** Accepted announces. */
  accepted: number;
}

/**
 * The credit the tracker should give each user, from the announces it accepted, in the order it
 * answered them: per peer (info hash, peer id), `started` or a first announce is a baseline,
 * `stopped` forgets the peer, a lower counter resets the baseline, otherwise the deltas count; a
 * `completed` counts once while the peer is listed (not after it was listed as a seeder).
 */
function expectedCredit(seen: Seen[], userOf: (passkey: string) => string): Map<string, Expected> {
  const last = new Map<string, { uploaded: number; downloaded: number }>();
  /** Peers listed as a seeder or with a counted completion (until they stop). */
  const done = new Set<string>();
  const out = new Map<string, Expected>();
  for (const a of seen) {
    if (a.failure !== undefined) continue;
    const user = userOf(a.passkey);
    const e = out.get(user) ?? { uploaded: 0, downloaded: 0, completed: 0, accepted: 0 };
    out.set(user, e);
    e.accepted += 1;
    const key = `${a.infoHash}:${a.peerId}`;
    if (a.event === 'completed' && !done.has(key)) e.completed += 1;
    if (a.event === 'stopped') done.delete(key);
    else if (a.event === 'completed' || a.left === 0) done.add(key);
    const previous = last.get(key);
    if (previous && a.event !== 'started' && a.uploaded >= previous.uploaded && a.downloaded >= previous.downloaded) {
      e.uploaded += a.uploaded - previous.uploaded;
      e.downloaded += a.downloaded - previous.downloaded;
    }
    if (a.event === 'stopped') last.delete(key);
    else last.set(key, { uploaded: a.uploaded, downloaded: a.downloaded });
  }
  return out;
}

describe.skipIf(!available)('real clients on a private tracker (passkeys, traffic accounting)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ett-private-clients-'));
  const started: ClientProcess[] = [];
  let app: RunningApp | undefined;

  afterAll(async () => {
    await Promise.all(started.map((c) => c.stop('SIGKILL')));
    await app?.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('each client is credited, per user, exactly what it reported; unknown and missing passkeys are refused', async () => {
    const passkeys = { qb: randomBytes(16).toString('hex'), tr: randomBytes(16).toString('hex'), a2: randomBytes(16).toString('hex') };
    const users: Record<string, string> = { [passkeys.qb]: 'user-qb', [passkeys.tr]: 'user-tr', [passkeys.a2]: 'user-aria2' };
    const userOf = (pk: string): string => users[pk];
    const traffic: TrafficRecord[] = [];
    const seen: Seen[] = [];

    // Record every announce before the tracker sees it, and whether the tracker accepted it.
    const recorder = (req: Request, res: Response, next: NextFunction): void => {
      const url = req.originalUrl;
      const match = /^\/tracker\/([^/?]+)\/announce\?(.*)$/.exec(url);
      if (match) {
        const q = parseRaw(match[2]);
        const entry: Seen = {
          passkey: match[1],
          infoHash: rawBytes(q.get('info_hash') ?? '').toString('hex'),
          peerId: rawBytes(q.get('peer_id') ?? '').toString('hex'),
          event: q.get('event') || 'update',
          uploaded: Number(q.get('uploaded')),
          downloaded: Number(q.get('downloaded')),
          left: Number(q.get('left')),
          failure: undefined,
        };
        const end = res.end.bind(res) as (...args: unknown[]) => Response;
        res.end = ((...args: unknown[]) => {
          const body = args[0];
          if (Buffer.isBuffer(body)) {
            entry.failure = failureOf(body);
            seen.push(entry);
          }
          return end(...args);
        }) as Response['end'];
      }
      next();
    };

    app = await startApp(
      {
        passkey: (pk) => users[pk] ?? null,
        onTraffic: (records) => {
          traffic.push(...records);
        },
        interval: 10,
        minInterval: 5,
        // Peers never expire during the test: every announce but the first is a delta.
        peerTtl: 600,
      },
      (express) => express.use(recorder),
    );
    expect(app.router.tracker.options.enforceInterval).toBe(true);
    const announces: AnnounceEventInfo[] = [];
    const clientOf = (peerIdHex: string): string => Buffer.from(peerIdHex, 'hex').subarray(0, 3).toString('latin1');
    const port = app.port;
    // A cheat: right after qBittorrent's `completed`, replay its peer with inflated counters. It comes
    // sooner than `min interval` after an accepted announce: refused, and it must credit nothing.
    let replay: Promise<RawResponse> | undefined;
    app.router.tracker.on('announce', (e: AnnounceEventInfo) => {
      announces.push(e);
      if (replay || clientOf(e.peerId) !== '-qB' || e.event !== 'completed') return;
      replay = rawGet(
        port,
        `/tracker/${passkeys.qb}/announce?info_hash=${escapeAll(Buffer.from(e.infoHash, 'hex'))}&peer_id=${escapeAll(Buffer.from(e.peerId, 'hex'))}` +
          `&port=${e.port}&uploaded=${1e12}&downloaded=${1e12}&left=0&compact=1`,
      );
    });
    const base = `http://127.0.0.1:${port}/tracker`;

    const seedDir = path.join(dir, 'seed');
    mkdirSync(seedDir);
    const size = 6 * 1024 * 1024 + 12345;
    writeFileSync(path.join(seedDir, 'payload.bin'), randomBytes(size));
    const expectedSha = await sha1File(path.join(seedDir, 'payload.bin'));
    const torrentOf = (name: keyof typeof passkeys): { file: string; infoHash: string } => {
      const file = path.join(dir, `${name}.torrent`);
      return { file, infoHash: privateTorrent(`${base}/${passkeys[name]}/announce`, path.join(seedDir, 'payload.bin'), file) };
    };
    const torrents = { qb: torrentOf('qb'), tr: torrentOf('tr'), a2: torrentOf('a2') };
    const infoHash = torrents.qb.infoHash;
    expect([torrents.tr.infoHash, torrents.a2.infoHash]).toEqual([infoHash, infoHash]);

    // Refusals: unknown passkey, bare URL (the tracker is private).
    const query =
      `info_hash=${escapeAll(Buffer.from(infoHash, 'hex'))}&peer_id=${escapeAll(randomBytes(20))}` +
      '&port=6881&uploaded=0&downloaded=0&left=0&compact=1&event=started';
    const unknown = await rawGet(app.port, `/tracker/${randomBytes(16).toString('hex')}/announce?${query}`);
    expect(unknown.status).toBe(200);
    expect(failureOf(unknown.body)).toBe('unknown or disabled passkey');
    const bare = await rawGet(app.port, `/tracker/announce?${query}`);
    expect(bare.status).toBe(200);
    expect(failureOf(bare.body)).toMatch(/private/);
    expect(announces).toHaveLength(0);
    seen.length = 0;

    // Leechers first: they announce, get no peers, and wait to be dialled.
    const qbDir = path.join(dir, 'qb-dl');
    const qb = qbittorrent({ home: path.join(dir, 'qb-home'), torrent: torrents.qb.file, saveDir: qbDir, port: await freePort(), webuiPort: await freePort() });
    started.push(qb);
    const trDir = path.join(dir, 'tr-dl');
    mkdirSync(trDir);
    const trRpc = await freePort();
    const tr = transmission({ configDir: path.join(dir, 'tr-conf'), rpcPort: trRpc, peerPort: await freePort(), downloadDir: trDir });
    started.push(tr);
    await transmissionAdd(trRpc, torrents.tr.file);
    await waitFor('qBittorrent and Transmission to announce', () => {
      const names = new Set(announces.map((e) => clientOf(e.peerId)));
      return names.has('-qB') && names.has('-TR');
    }, 60_000);

    // The seeder gets both leechers in its first answer and dials them.
    const seeder = aria2Seeder({ torrent: torrents.a2.file, dataDir: seedDir, listenPort: await freePort('127.0.0.2'), iface: '127.0.0.2' });
    started.push(seeder);

    const diagnostics = (): string => {
      let info: string;
      try {
        info = transmissionRemote(trRpc, ['-t', '1', '-i']);
      } catch (e) {
        info = String(e);
      }
      const log = seen.map((a) => `${userOf(a.passkey)} ${clientOf(a.peerId)} ${a.event} up=${a.uploaded} down=${a.downloaded} left=${a.left}${a.failure ? ` REFUSED: ${a.failure}` : ''}`);
      return `\n--- announces\n${log.join('\n')}\n--- transmission\n${info}\n${tr.output.slice(-3000)}\n--- aria2\n${seeder.output}\n--- qBittorrent\n${qb.output}`;
    };

    try {
      await waitFor('both downloads to be byte-identical', async () => {
        const [a, b] = await Promise.all([sha1File(path.join(qbDir, 'payload.bin')), sha1File(path.join(trDir, 'payload.bin'))]);
        return a === expectedSha && b === expectedSha;
      }, 60_000, 500);

      // Every announce carries the user of its passkey, never the passkey.
      const seederAnnounce = announces.find((e) => clientOf(e.peerId) === 'A2-');
      expect(seederAnnounce).toMatchObject({ ip: '127.0.0.2', seeder: true, event: 'started', user: 'user-aria2', infoHash });
      for (const e of announces) {
        expect(e.user).toBe({ '-qB': 'user-qb', '-TR': 'user-tr', 'A2-': 'user-aria2' }[clientOf(e.peerId)]);
      }

      // Both leechers report completion through their passkey URLs (scrape works there too).
      await waitFor('two completed events', async () => (await scrapeCounts(app!.port, passkeys.qb, infoHash)).downloaded === 2, 60_000);

      // Stop everyone; each client says `stopped` with its final counters.
      const stoppedBy = (client: string): boolean =>
        seen.some((a) => clientOf(a.peerId) === client && a.event === 'stopped' && a.failure === undefined);
      await qb.stop('SIGTERM', 15_000);
      await waitFor('qBittorrent stopped announce', () => stoppedBy('-qB'), 20_000);
      // Transmission 3.00 sends no `stopped` when the daemon exits (SIGTERM or --exit); removing the
      // torrent does send it.
      transmissionRemote(trRpc, ['-t', '1', '-r']);
      await waitFor('Transmission stopped announce', () => stoppedBy('-TR'), 20_000);
      await tr.stop('SIGTERM', 15_000);
      // aria2 1.36 shuts down gracefully (announcing `stopped`) on SIGINT; SIGTERM is its emergency
      // shutdown, which sends nothing.
      await seeder.stop('SIGINT', 15_000);
      await waitFor('aria2 stopped announce', () => stoppedBy('A2-'), 20_000);
    } catch (error) {
      throw new Error(`${String(error)}${diagnostics()}`);
    }
    expect(await scrapeCounts(app.port, passkeys.tr, infoHash)).toEqual({ complete: 0, incomplete: 0, downloaded: 2, downloaders: 0 });

    expect(replay, 'the replay was sent').toBeDefined();
    expect(failureOf((await replay!).body)).toMatch(/^announced too soon: wait \d+ more seconds? \(min interval 5 s\)$/);

    await app.router.tracker.flushTraffic();

    // Each accepted announce (and only those) produced an `announce` event.
    const accepted = seen.filter((a) => a.failure === undefined);
    expect(accepted.map((a) => `${a.peerId} ${a.event}`).sort()).toEqual(announces.map((e) => `${e.peerId} ${e.event}`).sort());
    for (const a of seen.filter((s) => s.failure !== undefined)) expect(a.failure).toMatch(/^announced too soon/);

    const expected = expectedCredit(seen, userOf);
    const credited = new Map<string, TrafficRecord>();
    for (const r of traffic) {
      expect(r.infoHash).toBe(infoHash);
      const sum = credited.get(String(r.user)) ?? { ...r, uploaded: 0, downloaded: 0, rawUploaded: 0, rawDownloaded: 0, seedSeconds: 0, completed: 0 };
      sum.uploaded += r.uploaded;
      sum.downloaded += r.downloaded;
      sum.rawUploaded += r.rawUploaded;
      sum.rawDownloaded += r.rawDownloaded;
      sum.seedSeconds += r.seedSeconds;
      sum.completed += r.completed;
      credited.set(String(r.user), sum);
    }
    const summary = [...expected].map(([user, e]) => {
      const c = credited.get(user);
      return `${user}: accepted ${e.accepted}, expected up ${e.uploaded} down ${e.downloaded}; credited up ${c?.uploaded} down ${c?.downloaded} seed ${c?.seedSeconds}s`;
    });
    for (const user of ['user-qb', 'user-tr', 'user-aria2']) {
      const e = expected.get(user);
      const c = credited.get(user);
      expect(e, `${user} announced${diagnostics()}`).toBeDefined();
      expect(c, `${user} credited\n${summary.join('\n')}${diagnostics()}`).toBeDefined();
      // Factors are 1: credited = raw = what the client reported.
      expect({ up: c!.uploaded, down: c!.downloaded, completed: c!.completed }, `${user}\n${summary.join('\n')}${diagnostics()}`).toEqual({
        up: e!.uploaded,
        down: e!.downloaded,
        completed: e!.completed,
      });
      expect({ up: c!.rawUploaded, down: c!.rawDownloaded }).toEqual({ up: c!.uploaded, down: c!.downloaded });
    }
    // Leechers downloaded at least the payload after their `started` baseline; the seeder uploaded.
    expect(credited.get('user-qb')!.rawDownloaded).toBeGreaterThanOrEqual(size);
    expect(credited.get('user-tr')!.rawDownloaded).toBeGreaterThanOrEqual(size);
    expect(credited.get('user-qb')!.completed).toBe(1);
    expect(credited.get('user-tr')!.completed).toBe(1);
    expect(credited.get('user-aria2')!.rawUploaded).toBeGreaterThan(0);
    expect(credited.get('user-aria2')!.rawDownloaded).toBe(0);
    expect(credited.get('user-aria2')!.completed).toBe(0);
    expect(credited.get('user-aria2')!.seedSeconds).toBeGreaterThan(0);
  }, 120_000);
});

async function scrapeCounts(port: number, passkey: string, infoHash: string): Promise<Record<string, number>> {
  const d = decodeDict((await rawGet(port, `/tracker/${passkey}/scrape?info_hash=${escapeAll(Buffer.from(infoHash, 'hex'))}`)).body);
  return Object.values(d.files as Record<string, Record<string, number>>)[0];
}
