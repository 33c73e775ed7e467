/**
 * bittorrent-tracker's own WebSocket client (the one inside WebTorrent) against our WebSocket
 * tracker: announces, offers and answers relayed between two clients until a WebRTC data channel
 * opens between them (node-datachannel), exact counts in every answer, completed / stopped / scrape,
 * and the private mode's `/<passkey>/announce` URL.
 *
 * bittorrent-tracker shares one socket per announce URL inside a process; two clients of one
 * torrent in one process would then share it and both react to every message of that torrent. The
 * two clients here announce to the same tracker through two spellings of its URL (a query string the
 * tracker ignores), so each has its own socket, as two browsers would.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { createTrackerServer, type TrackerServer } from '../../src/server.js';
import { waitFor } from '../helpers/clients.js';
import { describeWebTorrent, importClientPackage } from '../helpers/webtorrent.js';

interface Update {
  complete: number;
  incomplete: number;
}
interface SimplePeer {
  connected: boolean;
  on(event: 'connect' | 'close', listener: () => void): void;
  on(event: 'data', listener: (data: Uint8Array) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  send(data: string): void;
  destroy(): void;
}
interface TrackerClient {
  start(): void;
  stop(): void;
  complete(): void;
  update(): void;
  scrape(): void;
  destroy(cb?: () => void): void;
  on(event: 'update', listener: (data: Update) => void): void;
  on(event: 'scrape', listener: (data: Update & { downloaded: number }) => void): void;
  on(event: 'peer', listener: (peer: SimplePeer) => void): void;
  on(event: 'warning' | 'error', listener: (error: Error) => void): void;
}
type ClientConstructor = new (options: Record<string, unknown>) => TrackerClient;

/** A client with everything it reports kept for assertions. */
interface Observed {
  client: TrackerClient;
  updates: Update[];
  scrapes: Array<Update & { downloaded: number }>;
  peers: SimplePeer[];
  warnings: string[];
  /** The state it reports (`left`). */
  state: { left: number };
}

describeWebTorrent("bittorrent-tracker's WebSocket client through our WebSocket tracker", false, () => {
  let server: TrackerServer | undefined;
  const clients: TrackerClient[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => new Promise<void>((resolve) => c.destroy(() => resolve()))));
    await server?.shutdown();
    server = undefined;
  });

  async function start(options: Parameters<typeof createTrackerServer>[0] = {}): Promise<number> {
    server = createTrackerServer(options);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  /**
   * A client announcing `left`; `offers` false sends `numwant=0`, i.e. no WebRTC offers (making them
   * takes node-datachannel about 5 s, and only the peer that wants to connect needs them).
   */
  async function client(announce: string, infoHash: string, left: number, offers = false): Promise<Observed> {
    const { default: Client } = await importClientPackage<{ default: ClientConstructor }>('bittorrent-tracker');
    const state = { left };
    const c = new Client({
      infoHash,
      peerId: randomBytes(20).toString('hex'),
      announce: [announce],
      port: 6881,
      rtcConfig: { iceServers: [] },
      getAnnounceOpts: () => ({ left: state.left, uploaded: 0, downloaded: 0, ...(offers ? {} : { numwant: 0 }) }),
    });
    clients.push(c);
    const observed: Observed = { client: c, updates: [], scrapes: [], peers: [], warnings: [], state };
    c.on('update', (data) => observed.updates.push({ complete: data.complete, incomplete: data.incomplete }));
    c.on('scrape', (data) => observed.scrapes.push({ complete: data.complete, incomplete: data.incomplete, downloaded: data.downloaded }));
    c.on('peer', (peer) => {
      observed.peers.push(peer);
      peer.on('error', () => undefined); // a failed WebRTC attempt; the next announce brings new offers
    });
    c.on('warning', (error) => observed.warnings.push(error.message));
    c.on('error', (error) => observed.warnings.push(`error: ${error.message}`));
    return observed;
  }

  it('two clients meet: offers and answers are relayed, a data channel opens, counts are exact', { timeout: 90_000 }, async () => {
    // A short interval: each re-announce brings fresh offers (a WebRTC attempt may fail on loopback).
    const port = await start({ interval: 4 });
    const url = `ws://127.0.0.1:${port}/announce`;
    const infoHash = randomBytes(20).toString('hex');
    const seeder = await client(`${url}?client=seeder`, infoHash, 0);
    seeder.client.start();
    await waitFor('the seeder announce answer', () => seeder.updates.length > 0, 30_000, 50);
    expect(seeder.updates[0]).toEqual({ complete: 1, incomplete: 0 });

    const leecher = await client(`${url}?client=leecher`, infoHash, 1000, true);
    leecher.client.start();
    await waitFor('the leecher announce answer', () => leecher.updates.length > 0, 30_000, 50);
    expect(leecher.updates[0]).toEqual({ complete: 1, incomplete: 1 });

    // The leecher's offers reached the seeder (a 'peer' there), the seeder's answer came back (a
    // 'peer' at the leecher), and WebRTC connected the two: messages flow both ways.
    const connected = (o: Observed): SimplePeer | undefined => o.peers.find((p) => p.connected);
    const [atLeecher, atSeeder] = (await waitFor(
      'a WebRTC connection between the two clients',
      () => {
        const a = connected(leecher);
        const b = connected(seeder);
        return a && b ? [a, b] : undefined;
      },
      60_000,
      100,
    )) as [SimplePeer, SimplePeer];
    const received = new Promise<string>((resolve) => atSeeder.on('data', (d: Uint8Array) => resolve(Buffer.from(d).toString())));
    const echoed = new Promise<string>((resolve) => atLeecher.on('data', (d: Uint8Array) => resolve(Buffer.from(d).toString())));
    atLeecher.send('hello from the leecher');
    expect(await received).toBe('hello from the leecher');
    atSeeder.send('hello from the seeder');
    expect(await echoed).toBe('hello from the seeder');

    // completed: two seeders, one completion; scrape over the same socket says the same.
    leecher.state.left = 0;
    const before = leecher.updates.length;
    leecher.client.complete();
    await waitFor('the completed answer', () => leecher.updates.length > before, 20_000, 50);
    expect(leecher.updates.at(-1)).toEqual({ complete: 2, incomplete: 0 });
    leecher.client.scrape();
    await waitFor('the scrape answer', () => leecher.scrapes.length > 0, 20_000, 50);
    expect(leecher.scrapes[0]).toEqual({ complete: 2, incomplete: 0, downloaded: 1 });

    // stopped: the seeder leaves; the leecher (now a seeder) is alone.
    seeder.client.stop();
    await waitFor(
      'the swarm without the stopped client',
      async () => {
        leecher.client.scrape();
        await new Promise((r) => setTimeout(r, 200));
        const last = leecher.scrapes.at(-1);
        return last?.complete === 1 && last.incomplete === 0;
      },
      20_000,
      0,
    );
    expect(leecher.scrapes.at(-1)).toEqual({ complete: 1, incomplete: 0, downloaded: 1 });
    expect(leecher.warnings.filter((w) => !w.startsWith('error: ') && !/answer to an unknown or expired offer/.test(w))).toEqual([]);
  });

  it('closing a client socket takes its peers out of the swarm at once', { timeout: 60_000 }, async () => {
    const port = await start();
    const url = `ws://127.0.0.1:${port}/announce`;
    const infoHash = randomBytes(20).toString('hex');
    const first = await client(`${url}?client=first`, infoHash, 1000);
    first.client.start();
    await waitFor('the first answer', () => first.updates.length > 0, 30_000, 50);
    const watcher = await client(`${url}?client=watcher`, infoHash, 0);
    watcher.client.start();
    await waitFor('the watcher answer', () => watcher.updates.length > 0, 30_000, 50);
    expect(watcher.updates[0]).toEqual({ complete: 1, incomplete: 1 });
    // destroy() closes the socket (its `stopped` may or may not get out first): either way the
    // tracker removes every peer of the socket.
    clients.splice(clients.indexOf(first.client), 1);
    await new Promise<void>((resolve) => first.client.destroy(() => resolve()));
    await waitFor(
      'the swarm without the closed client',
      async () => {
        watcher.client.scrape();
        await new Promise((r) => setTimeout(r, 200));
        const last = watcher.scrapes.at(-1);
        return last?.complete === 1 && last.incomplete === 0;
      },
      20_000,
      0,
    );
    expect(server!.webSocket!.connectionCount).toBe(1);
  });

  it('private mode: announces at /<passkey>/announce, an unknown passkey gets a failure reason', { timeout: 60_000 }, async () => {
    const port = await start({ passkey: (key) => (key === 'alice-key' ? 'alice' : null) });
    const infoHash = randomBytes(20).toString('hex');
    const member = await client(`ws://127.0.0.1:${port}/alice-key/announce`, infoHash, 0);
    member.client.start();
    await waitFor('the member answer', () => member.updates.length > 0, 30_000, 50);
    expect(member.updates[0]).toEqual({ complete: 1, incomplete: 0 });

    const stranger = await client(`ws://127.0.0.1:${port}/mallory-key/announce`, infoHash, 1000);
    stranger.client.start();
    await waitFor('the refusal', () => stranger.warnings.length > 0, 30_000, 50);
    expect(stranger.warnings[0]).toMatch(/passkey/i);
    expect(stranger.updates).toEqual([]);
  });
});
