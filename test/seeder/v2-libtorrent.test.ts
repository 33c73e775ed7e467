/**
 * v2-only seeding with a real client: libtorrent (python3-libtorrent 2.0) downloads a v2-only
 * torrent from our seeder alone, byte-identical. The piece hashes it needs come from our answers to
 * its BEP 52 hash requests.
 * - a torrent made by our createTorrent(..., { version: 'v2' }), introduced through our tracker
 *   (the seeder announces the truncated v2 info hash);
 * - a torrent made by libtorrent itself (create_torrent v2_only, 16 KiB pieces, a file of more than
 *   512 pieces so its piece layer comes in two requests), the peer given to libtorrent directly;
 * - 120 files at a hash-request rate of 2 a second: libtorrent is paced, never refused or dropped.
 * libtorrent is given no piece layers (a magnet link, or the .torrent without them): with wrong
 * hashes in our answers none of these downloads completes.
 * Without python3-libtorrent the tests skip with a visible reason; under CI=true they fail.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSeeder, type PeerCloseEventInfo, type Seeder } from '../../src/seeder/seeder.js';
import { createTorrent } from '../../src/torrent/create.js';
import { parseTorrent } from '../../src/torrent/parse.js';
import type { AnnounceEventInfo } from '../../src/tracker.js';
import { ClientProcess, sha1File, waitFor } from '../helpers/clients.js';
import { startApp, type RunningApp } from '../helpers/http.js';
import { haveLibtorrent, libtorrentCreate, libtorrentPython } from '../helpers/libtorrent.js';
import { bytes, tempDir, writeTree } from '../torrent/fixtures.js';

const available = haveLibtorrent();

/**
 * A libtorrent session that downloads argv[1] (a magnet link, or a .torrent file loaded *without*
 * its "piece layers", so that every piece hash must come from hash requests) into argv[2], from the
 * peer argv[3] (host:port) when given, else from the peers its trackers return; DHT, LSD, UPnP,
 * NAT-PMP off. Prints one JSON line when the torrent is complete (or at the deadline), alerts on
 * stderr.
 */
const DOWNLOAD = `
import json, sys, time, libtorrent as lt
torrent, save, peer, limit = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
ses = lt.session({'listen_interfaces': '127.0.0.1:0', 'enable_dht': False, 'enable_lsd': False,
                  'enable_upnp': False, 'enable_natpmp': False, 'enable_incoming_utp': False,
                  'enable_outgoing_utp': False, 'allow_multiple_connections_per_ip': True,
                  'ssrf_mitigation': False,
                  'alert_mask': lt.alert.category_t.status_notification | lt.alert.category_t.error_notification
                                | lt.alert.category_t.peer_notification | lt.alert.category_t.tracker_notification})
if torrent.startswith('magnet:'):
    atp = lt.parse_magnet_uri(torrent)
else:
    meta = lt.bdecode(open(torrent, 'rb').read())
    assert b'piece layers' in meta
    del meta[b'piece layers']
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(meta)
atp.save_path = save
h = ses.add_torrent(atp)
failed = 0
start = time.time()
last_connect = 0
while time.time() - start < limit:
    s = h.status()
    if s.is_seeding:
        break
    if peer and s.num_peers == 0 and time.time() - last_connect > 2:
        host, port = peer.rsplit(':', 1)
        h.connect_peer((host, int(port)))
        last_connect = time.time()
    ses.wait_for_alert(250)
    for a in ses.pop_alerts():
        if isinstance(a, lt.hash_failed_alert):
            failed += 1
        sys.stderr.write(a.message() + '\\n')
s = h.status()
ti = h.torrent_file()
print(json.dumps({'seeding': s.is_seeding, 'pieces': s.num_pieces, 'total': ti.num_pieces() if ti else -1,
                  'hashFailed': failed, 'downloaded': s.total_payload_download,
                  'v2': str(ti.info_hashes().v2) if ti else None}))
sys.stdout.flush()
`;

interface DownloadResult {
  seeding: boolean;
  pieces: number;
  total: number;
  hashFailed: number;
  downloaded: number;
  v2: string;
}

describe.skipIf(!available)('v2-only torrents seeded to libtorrent', () => {
  let tmp: ReturnType<typeof tempDir>;
  let app: RunningApp | undefined;
  const seeders: Seeder[] = [];
  const clients: ClientProcess[] = [];
  beforeAll(() => {
    tmp = tempDir('ett-v2-seed-lt-');
  });
  afterAll(async () => {
    for (const c of clients) await c.stop('SIGKILL');
    for (const s of seeders) await s.close();
    await app?.close();
    tmp?.cleanup();
  });

  /** Runs the libtorrent download (by PID, killed in afterAll if still running) and returns its report. */
  async function download(
    torrentFile: string,
    saveDir: string,
    peer: string,
    seeder: Seeder,
  ): Promise<DownloadResult & { closes: Array<[string, string | undefined]> }> {
    const closed: PeerCloseEventInfo[] = [];
    seeder.on('peer-close', (info) => closed.push(info));
    const client = new ClientProcess('libtorrent', libtorrentPython()!, ['-c', DOWNLOAD, torrentFile, saveDir, peer, '90']);
    clients.push(client);
    const code = await client.exit;
    const line = client.output
      .split('\n')
      .reverse()
      .find((l) => l.startsWith('{'));
    if (code !== 0 || line === undefined) throw new Error(`libtorrent exited with ${code}:\n${client.output.slice(-4000)}`);
    const result = { ...(JSON.parse(line) as DownloadResult), closes: closed.map((c): [string, string | undefined] => [c.reason, c.error?.message]) };
    if (!result.seeding) {
      const closes = JSON.stringify(closed.map((c) => [c.reason, c.error?.message]));
      throw new Error(`libtorrent did not finish: ${line}\nseeder: ${JSON.stringify(seeder.stats())}\ncloses: ${closes}\n${client.output.slice(-4000)}`);
    }
    return result;
  }

  async function expectSameFiles(contents: Record<string, Buffer>, dir: string): Promise<void> {
    for (const [file, content] of Object.entries(contents)) {
      const expected = createHash('sha1').update(content).digest('hex');
      expect(await sha1File(path.join(dir, file)), file).toBe(expected);
    }
  }

  it('downloads a v2-only torrent made by createTorrent from a magnet link, found through our tracker', { timeout: 150_000 }, async () => {
    app = await startApp({ interval: 5, minInterval: 1 });
    const announces: AnnounceEventInfo[] = [];
    app.router.tracker.on('announce', (event: AnnounceEventInfo) => announces.push(event));
    const name = 'v2 set';
    const contents: Record<string, Buffer> = {
      'big.bin': randomBytes(2_500_000), // 39 pieces of 64 KiB: a piece layer padded to 64
      'dir/small.txt': bytes(777, 2), // less than one piece: no piece layer
      'exact.bin': bytes(65_536, 3), // exactly one piece
      'empty': Buffer.alloc(0),
      'mid.bin': bytes(300_001, 4), // 5 pieces, the last one short
    };
    const root = path.join(tmp.dir, 'seed-a', name);
    writeTree(root, contents);
    const made = await createTorrent(root, { version: 'v2', pieceLength: 65_536, announce: `http://127.0.0.1:${app.port}/tracker/announce` });
    const torrentFile = path.join(tmp.dir, 'a.torrent');
    writeFileSync(torrentFile, made.torrent);
    const truncated = made.infoHashV2!.slice(0, 40);
    expect(made.infoHash).toBe(truncated);

    const seeder = await createSeeder({ port: 0, host: '127.0.0.2', minAnnounceInterval: 1, announceRetryDelay: 1000 });
    seeders.push(seeder);
    const info = await seeder.add(made.torrent, path.dirname(root));
    expect(info).toMatchObject({ infoHash: truncated, pieceCount: 39 + 1 + 1 + 5 });
    await waitFor('the seeder to announce the truncated v2 hash', () => announces.some((a) => a.infoHash === truncated && a.ip === '127.0.0.2'), 15_000);

    const saveDir = path.join(tmp.dir, 'dl-a');
    const tracker = encodeURIComponent(`http://127.0.0.1:${app.port}/tracker/announce`);
    const magnet = `magnet:?xt=urn:btmh:1220${made.infoHashV2}&dn=${encodeURIComponent(name)}&tr=${tracker}`;
    const result = await download(magnet, saveDir, '', seeder);
    expect(result).toMatchObject({ seeding: true, hashFailed: 0, v2: made.infoHashV2 });
    await expectSameFiles(contents, path.join(saveDir, name));
    const total = Object.values(contents).reduce((sum, c) => sum + c.length, 0);
    const stats = seeder.stats();
    expect(stats.uploaded).toBeGreaterThanOrEqual(total);
    // The piece layers of big.bin and mid.bin came from hash requests, all answered.
    expect(stats.torrents[0].hashRequestsServed).toBeGreaterThanOrEqual(2);
    expect(stats.torrents[0].hashRequestsRejected).toBe(0);
  });

  it('is paced, never refused or dropped, at a hash-request rate far below what it would ask (120 files)', { timeout: 150_000 }, async () => {
    const name = 'many files';
    const contents: Record<string, Buffer> = {};
    for (let i = 0; i < 120; i++) contents[`f${String(i).padStart(3, '0')}.bin`] = bytes(40_000 + i, 100 + i); // 3 pieces each
    const root = path.join(tmp.dir, 'seed-c', name);
    writeTree(root, contents);
    const made = await createTorrent(root, { version: 'v2', pieceLength: 16_384 });
    const torrentFile = path.join(tmp.dir, 'c.torrent');
    writeFileSync(torrentFile, made.torrent);
    // Hash requests at 2 a second: libtorrent keeps two outstanding and waits for the answers.
    // (How many it asks for depends on timing: with one block per piece it can also check a whole
    // file against its root, and does so for the files whose hashes have not come yet.)
    const seeder = await createSeeder({ port: 0, host: '127.0.0.2', announce: false, maxHashRequestsPerSecond: 2 });
    seeders.push(seeder);
    await seeder.add(made.torrent, path.dirname(root));
    const saveDir = path.join(tmp.dir, 'dl-c');
    const result = await download(torrentFile, saveDir, `127.0.0.2:${seeder.port}`, seeder);
    expect(result).toMatchObject({ seeding: true, hashFailed: 0 });
    // 80 requests over the first second's 40 waited for the rate: 2 s at least from the first.
    await expectSameFiles(contents, path.join(saveDir, name));
    const [stats] = seeder.stats().torrents;
    expect(stats.hashRequestsServed).toBeGreaterThanOrEqual(1);
    // No connection was closed over hash requests (libtorrent first tries an encrypted handshake,
    // which the seeder does not speak: that one closes as a protocol error of its own).
    expect(result.closes.filter(([, message]) => /hash/.test(message ?? ''))).toEqual([]);

    expect(stats.hashRequestsRejected).toBe(0);
  });

  it('downloads a v2-only torrent made by libtorrent (16 KiB pieces, a file of 544 pieces)', { timeout: 150_000 }, async () => {
    const name = 'lt v2 set';
    const contents: Record<string, Buffer> = {
      'large.bin': randomBytes(544 * 16_384 - 1000),
      'sub/small.txt': bytes(5_000, 5),
      'sub/medium.bin': bytes(100_000, 6),
    };
    const root = path.join(tmp.dir, 'seed-b', name);
    writeTree(root, contents);
    const torrentFile = path.join(tmp.dir, 'b.torrent');
    libtorrentCreate(root, 'v2', 16_384, torrentFile);
    const parsed = parseTorrent(readFileSync(torrentFile));
    expect(parsed.version).toBe('v2');

    const seeder = await createSeeder({ port: 0, host: '127.0.0.2', announce: false });
    seeders.push(seeder);
    await seeder.add(parsed, path.dirname(root));
    const saveDir = path.join(tmp.dir, 'dl-b');
    const result = await download(torrentFile, saveDir, `127.0.0.2:${seeder.port}`, seeder);
    expect(result).toMatchObject({ seeding: true, hashFailed: 0, v2: parsed.infoHashV2 });
    await expectSameFiles(contents, path.join(saveDir, name));
    // large.bin's 544 piece hashes in two requests (512 + 32), medium.bin's 7 in one.
    const [stats] = seeder.stats().torrents;
    expect(stats.hashRequestsServed).toBeGreaterThanOrEqual(3);
    expect(stats.hashRequestsRejected).toBe(0);
  });
});
