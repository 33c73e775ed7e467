/**
 * libtorrent (python3-libtorrent 2.0 from Debian) as a reference for BitTorrent v2 and hybrid
 * torrents: it reads a .torrent and reports its info hashes, checks data against it in a session
 * of its own (loopback only, DHT/LSD/UPnP off), and creates v1, v2 and hybrid torrents.
 * Without it, tests skip with a visible reason; under CI=true a missing libtorrent is a failure.
 */
import { spawnSync } from 'node:child_process';

/** Interpreters tried in order: Debian's (where the package installs), then whatever is on PATH. */
const PYTHONS = ['/usr/bin/python3', 'python3'];

let found: string | null | undefined;

/** The python3 that can `import libtorrent`, or null. */
export function libtorrentPython(): string | null {
  if (found === undefined) {
    found = PYTHONS.find((python) => spawnSync(python, ['-c', 'import libtorrent'], { stdio: 'ignore' }).status === 0) ?? null;
  }
  return found;
}

/** True when python3-libtorrent is importable; under CI=true its absence throws (see .ci/run). */
export function haveLibtorrent(): boolean {
  if (libtorrentPython() !== null) return true;
  if (process.env.CI === 'true') throw new Error('python3-libtorrent is required under CI=true (install: see .ci/run)');
  console.warn('[skip] python3-libtorrent is not installed; skipping the tests that need it');
  return false;
}

function python(script: string, args: string[], timeout = 120_000): string {
  const interpreter = libtorrentPython();
  if (interpreter === null) throw new Error('python3-libtorrent is not installed');
  const r = spawnSync(interpreter, ['-c', script, ...args], { encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`libtorrent script failed (${r.status ?? r.signal}): ${r.stderr}`);
  return r.stdout;
}

const INFO = `
import json, sys, libtorrent as lt
ti = lt.torrent_info(sys.argv[1])
h = ti.info_hashes()
fs = ti.files()
files = []
for i in range(fs.num_files()):
    files.append({'path': fs.file_path(i), 'size': fs.file_size(i), 'offset': fs.file_offset(i), 'pad': bool(fs.file_flags(i) & 1)})
print(json.dumps({
    'v1': str(h.v1) if h.has_v1() else None,
    'v2': str(h.v2) if h.has_v2() else None,
    'name': ti.name(), 'pieces': ti.num_pieces(), 'pieceLength': ti.piece_length(),
    'totalSize': ti.total_size(), 'files': files,
}))
`;

/** What libtorrent reads from a .torrent file. */
export interface LibtorrentInfo {
  /** v1 info hash (hex) or null. */
  v1: string | null;
  /** v2 info hash (64 hex) or null. */
  v2: string | null;
  name: string;
  pieces: number;
  pieceLength: number;
  totalSize: number;
  files: Array<{ path: string; size: number; offset: number; pad: boolean }>;
}

/** Load `torrentFile` with `lt.torrent_info` (throws if libtorrent refuses it). */
export function libtorrentInfo(torrentFile: string): LibtorrentInfo {
  return JSON.parse(python(INFO, [torrentFile])) as LibtorrentInfo;
}

const CHECK = `
import json, sys, time, libtorrent as lt
ses = lt.session({'listen_interfaces': '127.0.0.1:0', 'enable_dht': False, 'enable_lsd': False,
                  'enable_upnp': False, 'enable_natpmp': False,
                  'alert_mask': lt.alert.category_t.status_notification | lt.alert.category_t.error_notification})
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(sys.argv[1])
atp.save_path = sys.argv[2]
atp.flags = lt.torrent_flags.upload_mode
h = ses.add_torrent(atp)
# No resume data: libtorrent checks every piece of the files it finds, then posts torrent_checked_alert.
checked = False
deadline = time.time() + 100
while not checked and time.time() < deadline:
    ses.wait_for_alert(500)
    for a in ses.pop_alerts():
        if isinstance(a, lt.torrent_checked_alert):
            checked = True
s = h.status()
print(json.dumps({'numPieces': s.num_pieces, 'total': atp.ti.num_pieces(), 'progress': s.progress,
                  'seeding': s.is_seeding, 'checked': checked, 'error': s.errc.message() if s.errc.value() else None}))
`;

/** libtorrent's verdict on data checked against a torrent. */
export interface LibtorrentCheck {
  /** Pieces that passed. */
  numPieces: number;
  /** Pieces of the torrent. */
  total: number;
  progress: number;
  seeding: boolean;
  /** Whether libtorrent reported the check complete. */
  checked: boolean;
  error: string | null;
}

/** Check the data in `saveDir` (the directory holding the torrent's file or root directory) against `torrentFile`. */
export function libtorrentCheck(torrentFile: string, saveDir: string): LibtorrentCheck {
  return JSON.parse(python(CHECK, [torrentFile, saveDir])) as LibtorrentCheck;
}

const CREATE = `
import os, sys, libtorrent as lt
path, mode, piece_length, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
fs = lt.file_storage()
lt.add_files(fs, path)
flags = {'v1': lt.create_torrent.v1_only, 'v2': lt.create_torrent.v2_only, 'hybrid': 0}[mode]
if len(sys.argv) > 5 and sys.argv[5] == 'no-tail-padding':
    flags |= lt.create_torrent.canonical_files_no_tail_padding
t = lt.create_torrent(fs, piece_length, flags=flags)
lt.set_piece_hashes(t, os.path.dirname(os.path.abspath(path)))
with open(out, 'wb') as f:
    f.write(lt.bencode(t.generate()))
`;

/**
 * Make a torrent of `target` with libtorrent (`mode` v1, v2 or hybrid) into `out`. With
 * `tailPadding: false`, libtorrent's `canonical_files_no_tail_padding` flag: a hybrid torrent's v1
 * file list has no pad file after its last file.
 */
export function libtorrentCreate(
  target: string,
  mode: 'v1' | 'v2' | 'hybrid',
  pieceLength: number,
  out: string,
  options: { tailPadding?: boolean } = {},
): void {
  python(CREATE, [target, mode, String(pieceLength), out, ...(options.tailPadding === false ? ['no-tail-padding'] : [])]);
}
