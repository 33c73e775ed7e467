/**
 * Real clients through the UDP tracker (BEP 15, BEP 41), which serves the core of a
 * trackerMiddleware() app: the torrents' only announce URL is `udp://127.0.0.1:PORT/…`, so every
 * announce the tracker accepts must have come in a datagram; an Express middleware in front of the
 * router counts the HTTP requests to prove it (none in the public test).
 *
 * - Public: aria2 seeds from 127.0.0.2, qBittorrent and Transmission download; each announces over
 *   UDP only, the downloads are byte-identical.
 * - Private: qBittorrent (libtorrent sends BEP 41 URL data) announces to
 *   `udp://127.0.0.1:PORT/<passkey>/announce` and is credited to its user; it downloads from an
 *   aria2 seeder announcing over HTTP with its own passkey (one swarm, two transports). An unknown
 *   passkey in the URL data is refused, to a raw client and to qBittorrent.
 *
 * What each client sends is recorded by wrapping `UdpTracker.handle()` (every datagram of the socket
 * goes through it): a proxy cannot be used, libtorrent drops answers from an address or port other
 * than the one it sent to. For the same reason the tracker is bound to 127.0.0.1, the address in the
 * URLs, not to the dual-stack `::`.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTorrent } from '../../src/torrent/parse.js';
import type { AnnounceEventInfo } from '../../src/tracker.js';
import { createUdpTracker, type UdpTracker } from '../../src/transport/udp.js';
import {
  aria2Seeder,
  ClientProcess,
  freePort,
  haveBinaries,
  qbittorrent,
  sha1File,
  transmissionAdd,
  transmissionDaemon,
  transmissionRemote,
  waitFor,
} from '../helpers/clients.js';
import { startApp, type RunningApp } from '../helpers/http.js';
import { announcePacket, decodeAnswer, UdpTestClient } from '../helpers/udp.js';

const available = haveBinaries('aria2c', 'qbittorrent-nox', 'transmission-daemon', 'transmission-remote', 'mktorrent');

const ACTIONS = ['connect', 'announce', 'scrape', 'error'];
const EVENTS = ['update', 'completed', 'started', 'stopped'];

/** One datagram the UDP tracker received, decoded here (independently of the tracker's codec), and its answer. */
interface Datagram {
  from: string;
  /** BEP 15 action (0 connect, 1 announce, 2 scrape). */
  action: number;
  bytes: number;
  /** Announces: peer id (hex) and client prefix (`A2-`, `-qB`, `-TR`). */
  peerId?: string;
  client?: string;
  infoHash?: string;
  event?: string;
  /** Announces: BEP 41 options after the 98 bytes (URL data concatenated; whether an end-of-options byte came). */
  urlData?: string;
  endOfOptions?: boolean;
  /** Scrapes: how many info hashes. */
  hashes?: number;
  answer?: { action: number; bytes: number; message?: string };
}

function bep41(options: Buffer): { urlData: string; endOfOptions: boolean } {
  let urlData = '';
  for (let at = 0; at < options.length; ) {
    const type = options[at];
    if (type === 0) return { urlData, endOfOptions: true };
    if (type === 1) {
      at++;
      continue;
    }
    const length = options[at + 1] ?? 0;
    if (type === 2) urlData += options.toString('latin1', at + 2, at + 2 + length);
    at += 2 + length;
  }
  return { urlData, endOfOptions: false };
}

/** Record every datagram `udp` receives and what it answers (call before `listen`). */
function recordDatagrams(udp: UdpTracker): Datagram[] {
  const log: Datagram[] = [];
  const handle = udp.handle.bind(udp);
  udp.handle = (msg, address, reply) => {
    const d: Datagram = { from: address, action: msg.length >= 16 ? msg.readUInt32BE(8) : -1, bytes: msg.length };
    if (d.action === 1 && msg.length >= 98) {
      const peerId = msg.subarray(36, 56);
      Object.assign(d, {
        infoHash: msg.toString('hex', 16, 36),
        peerId: peerId.toString('hex'),
        client: peerId.toString('latin1', 0, 3),
        event: EVENTS[msg.readUInt32BE(80)] ?? String(msg.readUInt32BE(80)),
        ...bep41(msg.subarray(98)),
      });
    }
    if (d.action === 2) d.hashes = (msg.length - 16) / 20;
    log.push(d);
    handle(msg, address, (answer) => {
      const action = answer.readUInt32BE(0);
      d.answer = { action, bytes: answer.length, message: action === 3 ? answer.toString('utf8', 8) : undefined };
      reply(answer);
    });
  };
  return log;
}

function describeDatagrams(log: Datagram[]): string {
  return log
    .map((d) => {
      const what =
        d.action === 1
          ? ` ${d.client} ${d.event} url-data=${JSON.stringify(d.urlData)}${d.endOfOptions ? ' +end-of-options' : ''}`
          : d.action === 2
            ? ` ${d.hashes} hash(es)`
            : '';
      const answer = d.answer
        ? `${ACTIONS[d.answer.action] ?? d.answer.action} ${d.answer.bytes} B${d.answer.message ? ` "${d.answer.message}"` : ''}`
        : 'no answer';
      return `${d.from} ${ACTIONS[d.action] ?? d.action} ${d.bytes} B${what} -> ${answer}`;
    })
    .join('\n');
}

const clientOf = (e: AnnounceEventInfo): string => Buffer.from(e.peerId, 'hex').toString('latin1', 0, 3);

/** A UDP port that was free on `host` a moment ago. */
async function freeUdpPort(host: string): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, () => resolve());
  });
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/**
 * aria2 1.36 has UDP tracker support only with its IPv4 DHT on (the two share one UDP socket,
 * `--dht-listen-port`); with DHT off it fails a udp:// announce with "udp is not supported yet". So
 * the seeder runs DHT with an empty routing table of its own and no entry point: with DHT off in
 * qBittorrent and Transmission there is no node to learn peers from, the tracker stays the only source.
 */
async function aria2UdpArgs(dir: string, iface: string): Promise<string[]> {
  return ['--enable-dht=true', '--enable-dht6=false', `--dht-listen-port=${await freeUdpPort(iface)}`, `--dht-file-path=${path.join(dir, 'aria2-dht.dat')}`];
}

function makeTorrent(announce: string, source: string, output: string, isPrivate = false): string {
  const r = spawnSync('mktorrent', [...(isPrivate ? ['-p'] : []), '-a', announce, '-l', '18', '-o', output, source], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mktorrent failed: ${r.stderr}`);
  return parseTorrent(readFileSync(output)).infoHash;
}

/** A tracker app with the UDP tracker on 127.0.0.1 sharing its core; HTTP requests and datagrams recorded. */
async function startTrackers(options: Parameters<typeof startApp>[0]): Promise<{
  app: RunningApp;
  udp: UdpTracker;
  port: number;
  http: string[];
  datagrams: Datagram[];
  announces: AnnounceEventInfo[];
  failures: string[];
}> {
  const http: string[] = [];
  const app = await startApp(options, (express) =>
    express.use((req: Request, _res: Response, next: NextFunction) => {
      http.push(req.originalUrl);
      next();
    }),
  );
  running.push(() => app.close());
  const udp = createUdpTracker({ tracker: app.router.tracker });
  running.push(() => udp.close());
  const datagrams = recordDatagrams(udp);
  const bound = await udp.listen(0, '127.0.0.1');
  expect(bound.address).toBe('127.0.0.1');
  const announces: AnnounceEventInfo[] = [];
  app.router.tracker.on('announce', (e: AnnounceEventInfo) => announces.push(e));
  const failures: string[] = [];
  app.router.tracker.on('failure', (f: { reason: string }) => failures.push(f.reason));
  return { app, udp, port: bound.port, http, datagrams, announces, failures };
}

/** qBittorrent's Web API (no login from localhost with the helper's config). */
async function qbApi<T>(webuiPort: number, pathAndQuery: string, init?: RequestInit): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${webuiPort}/api/v2/${pathAndQuery}`, init);
  const text = await res.text();
  if (!res.ok) throw new Error(`qBittorrent ${pathAndQuery}: ${res.status} ${text}`);
  return (text.startsWith('[') || text.startsWith('{') ? JSON.parse(text) : text) as T;
}

interface QbTracker {
  url: string;
  /** 0 disabled, 1 not contacted, 2 working, 3 updating, 4 not working. */
  status: number;
  msg: string;
}

/** Clients started (killed after the tests) and trackers to close, newest last. */
const started: ClientProcess[] = [];
const running: Array<() => Promise<void>> = [];

describe.skipIf(!available)('real clients through the UDP tracker (BEP 15, BEP 41)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ett-udp-clients-'));
  });
  afterAll(async () => {
    await Promise.all(started.map((c) => c.stop('SIGKILL')));
    for (const close of running.reverse()) await close().catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('aria2 seeds, qBittorrent and Transmission download; every announce comes over udp://, none over HTTP', async () => {
    // libtorrent raises the 10 s interval to 300 s: peers must outlive that.
    const t = await startTrackers({ interval: 10, minInterval: 5, peerTtl: 600 });
    const { datagrams, announces } = t;
    const base = path.join(dir, 'public');
    const seedDir = path.join(base, 'seed');
    mkdirSync(seedDir, { recursive: true });
    writeFileSync(path.join(seedDir, 'payload.bin'), randomBytes(5 * 1024 * 1024 + 4321));
    const expected = await sha1File(path.join(seedDir, 'payload.bin'));
    const torrent = path.join(base, 'payload.torrent');
    const infoHash = makeTorrent(`udp://127.0.0.1:${t.port}/announce`, path.join(seedDir, 'payload.bin'), torrent);

    // Leechers first: they announce, get no peers, and wait to be dialled.
    const qbDir = path.join(base, 'qb-dl');
    const qb = qbittorrent({ home: path.join(base, 'qb-home'), torrent, saveDir: qbDir, port: await freePort(), webuiPort: await freePort() });
    started.push(qb);
    const trDir = path.join(base, 'tr-dl');
    const tr = await transmissionDaemon({ configDir: path.join(base, 'tr-conf'), downloadDir: trDir });
    started.push(tr);
    await transmissionAdd(tr.rpcPort, torrent);

    const aria2Log = path.join(base, 'aria2.log');
    const diagnostics = (): string => {
      let info: string;
      try {
        info = transmissionRemote(tr.rpcPort, ['-t', '1', '-i']);
      } catch (e) {
        info = String(e);
      }
      let aria2 = '';
      try {
        aria2 = readFileSync(aria2Log, 'utf8').split('\n').filter((l) => /UDPT|tracker|DHT|ERROR/i.test(l)).slice(-30).join('\n');
      } catch {
        /* not started */
      }
      return `\n--- datagrams\n${describeDatagrams(datagrams)}\n--- HTTP\n${t.http.join('\n')}\n--- failures\n${t.failures.join('\n')}\n--- transmission\n${info}\n--- aria2\n${aria2}\n--- qBittorrent\n${qb.output}`;
    };

    let seeder: ClientProcess | undefined;
    try {
      await waitFor('qBittorrent and Transmission to announce over UDP', () => {
        const names = new Set(announces.map(clientOf));
        return names.has('-qB') && names.has('-TR');
      }, 60_000);

      // The seeder gets both leechers in its first answer (6-byte IPv4 peers) and dials them.
      const listenPort = await freePort('127.0.0.2');
      seeder = aria2Seeder({ torrent, dataDir: seedDir, listenPort, iface: '127.0.0.2', logFile: aria2Log, extraArgs: await aria2UdpArgs(base, '127.0.0.2') });
      started.push(seeder);

      await waitFor('both downloads to be byte-identical', async () => {
        const [a, b] = await Promise.all([sha1File(path.join(qbDir, 'payload.bin')), sha1File(path.join(trDir, 'payload.bin'))]);
        return a === expected && b === expected;
      }, 90_000, 500);
      await waitFor('completed announces from qBittorrent and Transmission', () =>
        ['-qB', '-TR'].every((c) => announces.some((e) => clientOf(e) === c && e.event === 'completed')),
      30_000);
    } catch (error) {
      throw new Error(`${String(error)}${diagnostics()}`);
    }

    // Nothing reached the HTTP side: no announce (and no scrape either).
    expect(t.http.filter((u) => u.startsWith('/tracker/announce')), diagnostics()).toEqual([]);
    expect(t.http, diagnostics()).toEqual([]);

    // Each of the three clients announced over UDP, and every announce the core accepted is one of
    // those datagrams (same peer id, same event): none can have come another way.
    expect(new Set(announces.map(clientOf))).toEqual(new Set(['A2-', '-qB', '-TR']));
    for (const e of announces) {
      expect(e.infoHash).toBe(infoHash);
      expect(datagrams.some((d) => d.action === 1 && d.peerId === e.peerId && d.event === e.event), `${clientOf(e)} ${e.event}${diagnostics()}`).toBe(true);
    }
    expect(announces.find((e) => clientOf(e) === 'A2-'), diagnostics()).toMatchObject({ ip: '127.0.0.2', seeder: true, event: 'started' });
    expect(datagrams.filter((d) => d.client === 'A2-').every((d) => d.from === '127.0.0.2')).toBe(true);

    // Every datagram got a real answer of its own kind (connect, announce, scrape): no error packets.
    expect(datagrams.filter((d) => d.answer?.action !== d.action).map((d) => `${d.client ?? d.from} ${ACTIONS[d.action]}`), diagnostics()).toEqual([]);
    // libtorrent sends the URL's path as BEP 41 URL data.
    const qbAnnounces = datagrams.filter((d) => d.action === 1 && d.client === '-qB');
    expect(qbAnnounces.map((d) => d.urlData)).toEqual(qbAnnounces.map(() => '/announce'));

    // qBittorrent says `stopped` on SIGTERM, over UDP too.
    await qb.stop('SIGTERM', 15_000);
    await waitFor('qBittorrent stopped announce', () => announces.some((e) => clientOf(e) === '-qB' && e.event === 'stopped'), 20_000);
    expect(datagrams.some((d) => d.client === '-qB' && d.event === 'stopped')).toBe(true);
    expect(t.http).toEqual([]);
  }, 150_000);

  it('private: qBittorrent announces with its passkey in BEP 41 URL data and is credited to its user; unknown passkeys are refused', async () => {
    const keys = { qb: randomBytes(16).toString('hex'), a2: randomBytes(16).toString('hex'), unknown: randomBytes(16).toString('hex') };
    const users: Record<string, string> = { [keys.qb]: 'user-qb', [keys.a2]: 'user-aria2' };
    const t = await startTrackers({ passkey: (pk) => users[pk] ?? null, interval: 10, minInterval: 5, peerTtl: 600 });
    const { datagrams, announces } = t;
    const udpBase = `udp://127.0.0.1:${t.port}`;

    // A raw BEP 15 client: an unknown passkey in the URL data, or none, is refused.
    const raw = new UdpTestClient(4, '127.0.0.1', t.port);
    await raw.bind('127.0.0.1');
    try {
      const id = await raw.connect();
      const ask = async (tx: number, urlData?: string) =>
        decodeAnswer(await raw.request(announcePacket({ connectionId: id, tx, infoHash: randomBytes(20), peerId: randomBytes(20), event: 2, urlData })));
      const unknown = await ask(1, `/${keys.unknown}/announce`);
      expect({ action: unknown.action, message: unknown.body.toString() }).toEqual({ action: 3, message: 'unknown or disabled passkey' });
      const none = await ask(2);
      expect(none.action).toBe(3);
      expect(none.body.toString()).toMatch(/private/);
    } finally {
      await raw.close();
    }
    expect(announces).toHaveLength(0);

    const base = path.join(dir, 'private');
    const seedDir = path.join(base, 'seed');
    mkdirSync(seedDir, { recursive: true });
    writeFileSync(path.join(seedDir, 'payload.bin'), randomBytes(3 * 1024 * 1024 + 777));
    writeFileSync(path.join(base, 'other.bin'), randomBytes(512 * 1024 + 3));
    const expected = await sha1File(path.join(seedDir, 'payload.bin'));
    // One private info dictionary, two announce URLs: qBittorrent's over UDP, aria2's over HTTP
    // (aria2 1.36 sends no URL data, so it cannot carry a passkey over UDP).
    const qbTorrent = path.join(base, 'qb.torrent');
    const infoHash = makeTorrent(`${udpBase}/${keys.qb}/announce`, path.join(seedDir, 'payload.bin'), qbTorrent, true);
    const a2Torrent = path.join(base, 'a2.torrent');
    expect(makeTorrent(`${t.app.base}/tracker/${keys.a2}/announce`, path.join(seedDir, 'payload.bin'), a2Torrent, true)).toBe(infoHash);
    const badTorrent = path.join(base, 'bad.torrent');
    const badHash = makeTorrent(`${udpBase}/${keys.unknown}/announce`, path.join(base, 'other.bin'), badTorrent, true);

    const qbDir = path.join(base, 'qb-dl');
    const webuiPort = await freePort();
    const qb = qbittorrent({ home: path.join(base, 'qb-home'), torrent: qbTorrent, saveDir: qbDir, port: await freePort(), webuiPort });
    started.push(qb);
    const diagnostics = (): string =>
      `\n--- datagrams\n${describeDatagrams(datagrams)}\n--- HTTP\n${t.http.join('\n')}\n--- failures\n${t.failures.join('\n')}\n--- qBittorrent\n${qb.output}`;

    try {
      await waitFor('qBittorrent to announce over UDP', () => announces.some((e) => clientOf(e) === '-qB'), 60_000);
      // The torrent with an unknown passkey, added through the Web API.
      await waitFor('qBittorrent Web API', () => qbApi<string>(webuiPort, 'app/version'), 30_000);
      const form = new FormData();
      form.append('torrents', new Blob([readFileSync(badTorrent)], { type: 'application/x-bittorrent' }), 'bad.torrent');
      form.append('savepath', path.join(base, 'qb-bad'));
      expect(await qbApi<string>(webuiPort, 'torrents/add', { method: 'POST', body: form })).toBe('Ok.');

      // aria2 seeds over HTTP; its first answer holds qBittorrent, which it dials.
      const seeder = aria2Seeder({ torrent: a2Torrent, dataDir: seedDir, listenPort: await freePort('127.0.0.2'), iface: '127.0.0.2' });
      started.push(seeder);
      await waitFor('qBittorrent download to be byte-identical', async () => (await sha1File(path.join(qbDir, 'payload.bin'))) === expected, 60_000, 500);
      await waitFor('qBittorrent completed announce', () => announces.some((e) => clientOf(e) === '-qB' && e.event === 'completed'), 30_000);

      // qBittorrent's announce with the unknown passkey got the tracker's error packet, and
      // qBittorrent marks that tracker as not working.
      await waitFor('the refusal of the unknown passkey', () =>
        datagrams.some((d) => d.client === '-qB' && d.infoHash === badHash && d.answer?.message === 'unknown or disabled passkey'),
      30_000);
      await waitFor('qBittorrent to mark the unknown-passkey tracker not working', async () => {
        const trackers = await qbApi<QbTracker[]>(webuiPort, `torrents/trackers?hash=${badHash}`);
        return trackers.some((tr) => tr.url === `${udpBase}/${keys.unknown}/announce` && tr.status === 4);
      }, 60_000, 500);
      const good = await qbApi<QbTracker[]>(webuiPort, `torrents/trackers?hash=${infoHash}`);
      expect(good.find((tr) => tr.url.startsWith('udp://'))).toMatchObject({ url: `${udpBase}/${keys.qb}/announce`, status: 2 });
    } catch (error) {
      throw new Error(`${String(error)}${diagnostics()}`);
    }

    // qBittorrent: over UDP only, its passkey in the URL data, every announce credited to its user;
    // nothing was accepted for the unknown passkey.
    const qbEvents = announces.filter((e) => clientOf(e) === '-qB');
    expect(qbEvents.map((e) => e.event)).toEqual(expect.arrayContaining(['started', 'completed']));
    for (const e of qbEvents) expect(e, diagnostics()).toMatchObject({ user: 'user-qb', infoHash, ip: '127.0.0.1' });
    expect(announces.filter((e) => e.infoHash === badHash)).toEqual([]);
    const qbGood = datagrams.filter((d) => d.action === 1 && d.client === '-qB' && d.infoHash === infoHash);
    expect(qbGood.length).toBeGreaterThanOrEqual(qbEvents.length);
    expect(qbGood.map((d) => d.urlData)).toEqual(qbGood.map(() => `/${keys.qb}/announce`));
    expect(qbGood.every((d) => d.answer?.action === 1), diagnostics()).toBe(true);
    expect(t.http.some((u) => u.includes('peer_id=-qB')), diagnostics()).toBe(false);

    // aria2 announced over HTTP with its passkey, as its user, into the same swarm.
    const a2Events = announces.filter((e) => clientOf(e) === 'A2-');
    expect(a2Events.length).toBeGreaterThan(0);
    for (const e of a2Events) expect(e).toMatchObject({ user: 'user-aria2', infoHash, ip: '127.0.0.2', seeder: true });
    expect(t.http.filter((u) => u.startsWith('/tracker/')).every((u) => u.startsWith(`/tracker/${keys.a2}/`)), diagnostics()).toBe(true);
  }, 120_000);
});
