// Everything the example site reads from its environment, parsed and checked in one place.
//
//   HOST               address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 or :: for every interface)
//   PORT               port to listen on (default 3000; 0 picks a free one)
//   TRACKER_STORE      swarm storage, a store URI (redis://, sqlite://, postgresql://, mysql://); unset = memory
//   FILES_DIR          the files published at start (default example-app/files)
//   UPLOADS_DIR        where admin uploads are kept and published from (default example-app/data/uploads)
//   PUBLIC_URL         how clients reach this site (default http://localhost:PORT)
//   SEED_PORT          also seed every torrent as a BitTorrent peer on this port
//   UDP_PORT           also answer UDP announces on this port (udp:// first in every torrent)
//   WEBTORRENT_JS      the WebTorrent browser bundle for the in-browser download (see findWebTorrentBundle)
//   ICE_SERVERS        a JSON array of RTCIceServer for the in-browser client (default: WebTorrent's)
//   TORRENT_VERSION    v1 (default) or hybrid: hybrid torrents are read by v1 and v2 clients, and counted
//                      and credited once though they announce in two swarms
//   ADMIN_TOKEN        the admin page's token (unset: no admin page, uploads off)
//   MAX_UPLOAD_BYTES   largest upload (default 1 GiB)
//   PRIVATE            1: a private tracker (sign-up, passkeys, per-user traffic in SQLite)
//   SIGNUP_LIMIT       private mode: sign-ups allowed per client address per hour (default 5)
//   SQLITE_FILE        the users database of the private mode (default example-app/data/users.sqlite)
//   TRAFFIC_INTERVAL   seconds between traffic batches written to SQLite (default 60)
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = path.dirname(fileURLToPath(import.meta.url));

/** A whole number from the environment, or `fallback` when unset; exits with a message when malformed. */
function integer(name, fallback, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    console.error(`${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(raw)}`);
    process.exit(1);
  }
  return n;
}

/**
 * The WebTorrent browser bundle (an ES module) for the in-browser download, or undefined. In this
 * repository `npm start` installs it into test/webtorrent-client (test/webtorrent-client/install.mjs:
 * webtorrent's install scripts break a plain `npm install` of the root, so it has a folder of its
 * own). A site of your own: install the `webtorrent` package (found then in node_modules; with npm,
 * `npm install --ignore-scripts webtorrent` or pnpm, as its dependency ip-set runs `npx only-allow
 * pnpm` at install), or set WEBTORRENT_JS to a copy of webtorrent/dist/webtorrent.min.js.
 */
function findWebTorrentBundle() {
  if (process.env.WEBTORRENT_JS) return existsSync(process.env.WEBTORRENT_JS) ? path.resolve(process.env.WEBTORRENT_JS) : undefined;
  const inPackage = path.join('node_modules', 'webtorrent', 'dist', 'webtorrent.min.js');
  return [path.join(here, inPackage), path.join(here, '..', inPackage), path.join(here, '..', 'test', 'webtorrent-client', inPackage)].find((file) =>
    existsSync(file),
  );
}

function iceServers() {
  try {
    const parsed = process.env.ICE_SERVERS ? JSON.parse(process.env.ICE_SERVERS) : undefined;
    if (parsed !== undefined && !Array.isArray(parsed)) throw new Error('not an array');
    return parsed;
  } catch (error) {
    console.error(`ICE_SERVERS must be a JSON array of RTCIceServer (${error.message}); using WebTorrent's defaults`);
    return undefined;
  }
}

/** One of `allowed` from the environment, or `fallback` when unset; exits with a message otherwise. */
function oneOf(name, allowed, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!allowed.includes(raw)) {
    console.error(`${name} must be one of ${allowed.join(', ')} (got ${JSON.stringify(raw)})`);
    process.exit(1);
  }
  return raw;
}

const flag = (name) => /^(1|true|yes|on)$/i.test(process.env[name] ?? '');

export const config = {
  host: process.env.HOST || '127.0.0.1',
  port: integer('PORT', 3000, { max: 65535 }),
  store: process.env.TRACKER_STORE || undefined,
  filesDir: path.resolve(process.env.FILES_DIR ?? path.join(here, 'files')),
  uploadsDir: path.resolve(process.env.UPLOADS_DIR ?? path.join(here, 'data', 'uploads')),
  publicUrl: process.env.PUBLIC_URL ? process.env.PUBLIC_URL.replace(/\/$/, '') : undefined,
  seedPort: process.env.SEED_PORT ? integer('SEED_PORT', 0, { max: 65535 }) : undefined,
  udpPort: process.env.UDP_PORT ? integer('UDP_PORT', 0, { max: 65535 }) : undefined,
  webTorrentBundle: findWebTorrentBundle(),
  iceServers: iceServers(),
  adminToken: process.env.ADMIN_TOKEN || undefined,
  maxUploadBytes: integer('MAX_UPLOAD_BYTES', 1024 ** 3, { min: 1 }),
  private: flag('PRIVATE'),
  torrentVersion: oneOf('TORRENT_VERSION', ['v1', 'hybrid'], 'v1'),
  sqliteFile: path.resolve(process.env.SQLITE_FILE ?? path.join(here, 'data', 'users.sqlite')),
  trafficInterval: integer('TRAFFIC_INTERVAL', 60, { min: 1, max: 3600 }),
  signupLimit: integer('SIGNUP_LIMIT', 5, { min: 1 }),
};
