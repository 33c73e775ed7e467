/**
 * A real partial seed: libtorrent (python3-libtorrent 2.0) downloads only one of a torrent's two
 * files (the other at priority 0), so it is finished but not a seed, and announces
 * `event=paused` with bytes left (BEP 21). Through `trackerMiddleware` on a real Express app, the
 * scrape then counts it among the leechers (`incomplete`) but not among the `downloaders`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import type { AnnounceEventInfo } from '../../src/tracker.js';
import { decodeDict } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet, startApp } from '../helpers/http.js';
import { haveLibtorrent, libtorrentPython } from '../helpers/libtorrent.js';

const dir = mkdtempSync(join(tmpdir(), 'ett-partial-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Makes two 64 KiB files and a torrent of both announcing to argv[1], deletes the second file, and
 * adds the torrent with the second file at priority 0: the first is checked complete at once. Prints
 * the info hash, then "ready" once the tracker has answered an announce made while finished, and
 * waits for a line on stdin before it quits.
 */
const PARTIAL = `
import os, sys, time, libtorrent as lt
announce, work = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(work, 'set'), exist_ok=True)
for name in ('a.bin', 'b.bin'):
    with open(os.path.join(work, 'set', name), 'wb') as f:
        f.write(os.urandom(64 * 1024))
fs = lt.file_storage()
lt.add_files(fs, os.path.join(work, 'set'))
ct = lt.create_torrent(fs, 16384, flags=lt.create_torrent.v1_only)
ct.add_tracker(announce)
lt.set_piece_hashes(ct, work)
ti = lt.torrent_info(lt.bdecode(lt.bencode(ct.generate())))
os.remove(os.path.join(work, 'set', 'b.bin'))
ses = lt.session({'listen_interfaces': '127.0.0.1:0', 'enable_dht': False, 'enable_lsd': False,
                  'enable_upnp': False, 'enable_natpmp': False, 'alert_mask': lt.alert_category.tracker,
                  'ssrf_mitigation': False})
p = lt.add_torrent_params()
p.ti = ti
p.save_path = work
p.file_priorities = [1 if fs.file_path(i).endswith('a.bin') else 0 for i in range(fs.num_files())]
h = ses.add_torrent(p)
print(str(ti.info_hashes().v1), flush=True)
deadline = time.time() + 40
asked = 0
ready = False
while time.time() < deadline:
    ses.wait_for_alert(500)
    for a in ses.pop_alerts():
        if isinstance(a, lt.tracker_error_alert):
            print('tracker error: ' + a.message(), file=sys.stderr, flush=True)
        if isinstance(a, lt.tracker_reply_alert) and asked > 0:
            print('ready', flush=True)
            deadline = 0
            ready = True
    s = h.status()
    # once finished (not a seed), announce again and wait for the tracker's answer to that one
    if deadline and s.is_finished and not s.is_seeding and time.time() - asked > 5:
        asked = time.time()
        h.force_reannounce()
if not ready:
    print('no answer from the tracker', flush=True)
sys.stdin.readline()
`;

describe('a real partial seed (libtorrent, BEP 21)', () => {
  it.runIf(haveLibtorrent())('libtorrent, finished but not a seed, sends event=paused: a leecher, not a downloader', async () => {
    const app = await startApp({ interval: 900, intervalJitter: 0 });
    const events: AnnounceEventInfo[] = [];
    app.router.tracker.on('announce', (e: AnnounceEventInfo) => events.push(e));
    const child = spawn(libtorrentPython()!, ['-c', PARTIAL, `http://127.0.0.1:${app.port}/tracker/announce`, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
      const infoHash = String((await lines.next()).value);
      expect(infoHash).toMatch(/^[0-9a-f]{40}$/);
      expect((await lines.next()).value).toBe('ready');
      expect(events.some((e) => e.infoHash === infoHash && e.partial === true && !e.seeder)).toBe(true);
      const d = decodeDict((await rawGet(app.port, `/tracker/scrape?info_hash=${escapeAll(Buffer.from(infoHash, 'hex'))}`)).body);
      expect(Object.values(d.files as Record<string, unknown>)[0]).toEqual({ complete: 0, downloaded: 0, incomplete: 1, downloaders: 0 });
    } finally {
      child.stdin!.end('\n');
      if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
      await app.close();
    }
  }, 60_000);
});
