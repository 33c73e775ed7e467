// The demo site: an ordinary Express app that runs its own BitTorrent tracker at /tracker,
// publishes the files of FILES_DIR as torrents, and serves them as web seeds at /webseed.
//
//   npm start                                   # memory store, port 3000
//   PORT=8080 TRACKER_STORE=redis://127.0.0.1:6379 npm start
//   PUBLIC_URL=https://files.example.org SEED_PORT=6881 npm start
//
// Environment: PORT (default 3000), TRACKER_STORE (a store URI; unset = memory), FILES_DIR (default
// example-app/files), PUBLIC_URL (how clients reach this site; default http://localhost:PORT),
// SEED_PORT (set it to also seed the torrents as a BitTorrent peer on that port), UDP_PORT (set it to
// also answer UDP announces on that port: the same swarms, udp:// in every published torrent),
// WEBTORRENT_JS (the WebTorrent browser bundle, webtorrent/dist/webtorrent.min.js, for the in-browser
// download; default: the one of an installed `webtorrent` package, see findWebTorrentBundle),
// ICE_SERVERS (a JSON array of RTCIceServer for the in-browser client; default: WebTorrent's own).
// Run from the repository root (npm start builds the library first).
//
// Browsers are peers too: the WebTorrent (WebSocket) tracker answers at ws://host/tracker/announce
// (wss:// behind https), on the same swarms' store, and every published torrent lists it.
import express from 'express';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createSeeder,
  createTorrent,
  createUdpTracker,
  createWebSocketTracker,
  trackerMiddleware,
  webSeedHandler,
} from '../dist/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const port = Number(process.env.PORT ?? 3000);
const store = process.env.TRACKER_STORE || undefined;
const filesDir = path.resolve(process.env.FILES_DIR ?? path.join(here, 'files'));

/**
 * The WebTorrent browser bundle (an ES module) for the in-browser download, or undefined. It is not a
 * dependency of this repository (webtorrent's install scripts break a plain `npm install`): set
 * WEBTORRENT_JS to a copy of webtorrent/dist/webtorrent.min.js, or install the test client
 * (`npm ci --ignore-scripts --prefix test/webtorrent-client`); a `webtorrent` package in a
 * node_modules of example-app/ or of the repository is found too.
 */
function findWebTorrentBundle() {
  if (process.env.WEBTORRENT_JS) return existsSync(process.env.WEBTORRENT_JS) ? path.resolve(process.env.WEBTORRENT_JS) : undefined;
  const inPackage = path.join('node_modules', 'webtorrent', 'dist', 'webtorrent.min.js');
  return [path.join(here, inPackage), path.join(here, '..', inPackage), path.join(here, '..', 'test', 'webtorrent-client', inPackage)].find((file) =>
    existsSync(file),
  );
}
const webTorrentBundle = findWebTorrentBundle();
let iceServers;
try {
  iceServers = process.env.ICE_SERVERS ? JSON.parse(process.env.ICE_SERVERS) : undefined;
  if (iceServers !== undefined && !Array.isArray(iceServers)) throw new Error('not an array');
} catch (error) {
  console.error(`ICE_SERVERS must be a JSON array of RTCIceServer (${error.message}); using WebTorrent's defaults`);
  iceServers = undefined;
}

const app = express();
const tracker = trackerMiddleware({ store });
// One core, several doors: UDP and WebSocket announces land in the same store as HTTP ones.
const udp = process.env.UDP_PORT ? createUdpTracker({ tracker: tracker.tracker }) : undefined;
app.use('/tracker', tracker);
app.use('/webseed', webSeedHandler(filesDir));

/** name → { torrent, infoHash, magnet, length } once hashed. */
const torrents = new Map();
let seeder;

// A little live activity for the home page (hex at the edges, as the events give it). A peer's
// address is never kept here: a page must not show one visitor's address to the others.
const recent = [];
tracker.tracker.on('announce', (e) => {
  recent.unshift({ at: new Date().toISOString(), infoHash: e.infoHash, event: e.event, seeder: e.seeder });
  recent.length = Math.min(recent.length, 10);
});
tracker.tracker.on('failure', (f) => {
  if (!String(f.reason).startsWith('tracker storage')) return;
  console.error(`[tracker] ${f.reason}${f.error ? `: ${f.error.cause ?? f.error}` : ''}`);
});

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const size = (n) => (n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);
const STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}code{background:#f3f3f3;padding:.1em .3em;word-break:break-all}' +
  'table{border-collapse:collapse}td{padding:.2em .6em;border-bottom:1px solid #ddd;font-size:.9em}button{font:inherit;padding:.3em 1em}progress{width:100%}';
/** The announce URLs as a visitor of this request sees them. */
function announceUrls(req) {
  const http = `${req.protocol}://${req.get('host')}/tracker/announce`;
  return { http, ws: http.replace(/^http/, 'ws') };
}

app.get('/torrents/:name', (req, res) => {
  const t = torrents.get(req.params.name.replace(/\.torrent$/, ''));
  if (!t) return void res.status(404).send('no such torrent');
  res.type('application/x-bittorrent').attachment(`${req.params.name.replace(/\.torrent$/, '')}.torrent`).send(t.torrent);
});

// The WebTorrent bundle for the in-browser download (see findWebTorrentBundle).
app.get('/vendor/webtorrent.min.js', (req, res) => {
  if (!webTorrentBundle) {
    return void res.status(404).type('text/plain').send('WebTorrent bundle not installed on this server (see WEBTORRENT_JS in example-app/server.js)\n');
  }
  res.type('text/javascript').sendFile(webTorrentBundle);
});

app.get('/favicon.ico', (req, res) => void res.status(204).end());

app.get('/', (req, res) => {
  const { http: announce, ws } = announceUrls(req);
  const files = [...torrents.entries()]
    .map(
      ([name, t]) =>
        `<li><a href="/t/${encodeURIComponent(name)}">${escape(name)}</a> (${size(t.length)}) — <a href="/torrents/${encodeURIComponent(name)}.torrent">${escape(name)}.torrent</a> — <a href="${escape(t.magnet)}">magnet</a> — <code>${t.infoHash}</code></li>`,
    )
    .join('');
  const rows = recent
    .map((e) => `<tr><td>${escape(e.at)}</td><td><code>${escape(e.infoHash)}</code></td><td>${escape(e.event)}</td><td>${e.seeder ? 'seeder' : 'leecher'}</td></tr>`)
    .join('');
  res.type('html').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>express-torrent-tracker demo</title>
<style>${STYLE}</style>
</head><body>
<h1>This site runs its own BitTorrent tracker</h1>
<p>This is the demo app of <strong>express-torrent-tracker</strong>: an ordinary Express site that
added a tracker with one line, <code>app.use('/tracker', trackerMiddleware())</code>.</p>
<p>Announce URL for your torrents:</p>
<p><code id="announce">${escape(announce)}</code></p>
<p>Browsers (WebTorrent) announce at <code id="announce-ws">${escape(ws)}</code>: the same swarms.</p>
<h2>Files published here</h2>
<p>Each torrent names this tracker and this site as a web seed (<code>/webseed/</code>), so it downloads
even when no other peer is online${seeder ? `; the site also seeds them as a peer on port ${seeder.port}` : ''}.
Open a file's page to download it in your browser, from the web seed and from other visitors.</p>
${files ? `<ul>${files}</ul>` : '<p>Hashing…</p>'}
<p>Make a torrent for your own file: <code>npx torrent-tracker create my-file.iso --announce ${escape(announce)}</code>.
Scrape: <code>${escape(announce.replace(/announce$/, 'scrape'))}?info_hash=…</code></p>
<p>Swarm storage: <code>${escape(store ? store.replace(/\/\/[^@/]*@/, '//…@') : 'memory (this process)')}</code></p>
<h2>Recent announces</h2>
${rows ? `<table>${rows}</table>` : '<p>None yet.</p>'}
</body></html>`);
});

// One page per published torrent, with a WebTorrent client in the page: the browser downloads from
// the web seed and from other peers (browsers, or WebRTC-capable clients) found through
// ws://host/tracker/announce, and seeds to them while the page stays open. `?sources=peers` turns
// the web seed off (peer-to-peer only), `?sources=webseed` announces to no tracker.
app.get('/t/:name', (req, res) => {
  const name = req.params.name;
  const t = torrents.get(name);
  if (!t) return void res.status(404).type('text/plain').send('no such torrent');
  const config = {
    torrent: `/torrents/${encodeURIComponent(name)}.torrent`,
    bundle: webTorrentBundle ? '/vendor/webtorrent.min.js' : null,
    iceServers: iceServers ?? null,
  };
  res.type('html').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(name)} — express-torrent-tracker demo</title>
<style>${STYLE}</style>
</head><body>
<p><a href="/">← all files</a></p>
<h1>${escape(name)}</h1>
<p>${size(t.length)} — <a href="${escape(config.torrent)}">${escape(name)}.torrent</a> — <a href="${escape(t.magnet)}">magnet</a><br>
Info hash <code>${t.infoHash}</code></p>
<h2>Download in the browser</h2>
${
  webTorrentBundle
    ? `<p>Your browser fetches the pieces from this site's web seed and from other visitors (WebRTC), checks
every piece against the torrent, and shares what it has with the others while this page is open.</p>
<p><button id="start" type="button">Download in the browser</button></p>`
    : `<p><strong>In-browser download is not available on this server:</strong> the WebTorrent browser bundle is not
installed. Set <code>WEBTORRENT_JS</code> to a copy of <code>webtorrent/dist/webtorrent.min.js</code> (from the
<code>webtorrent</code> npm package), or, in this repository, install the test client with
<code>npm ci --ignore-scripts --prefix test/webtorrent-client</code>, then restart. The torrent and magnet links above
work in any BitTorrent client.</p>`
}
<p id="status" role="status"></p>
<progress id="progress" max="1" value="0" hidden></progress>
<ul id="files"></ul>
<output id="result" hidden></output>
<script type="application/json" id="config">${JSON.stringify(config).replace(/</g, '\\u003c')}</script>
<script type="module">
const config = JSON.parse(document.getElementById('config').textContent);
const button = document.getElementById('start');
const status = document.getElementById('status');
const progress = document.getElementById('progress');
const result = document.getElementById('result');
const sources = new URLSearchParams(location.search).get('sources'); // 'peers', 'webseed' or null (both)
const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');
const human = (n) => (n < 1048576 ? (n / 1024).toFixed(1) + ' KiB' : (n / 1048576).toFixed(1) + ' MiB');

async function download() {
  button.disabled = true;
  status.textContent = 'Starting…';
  const { default: WebTorrent } = await import(config.bundle);
  const client = new WebTorrent({
    webSeeds: sources !== 'peers',
    tracker: sources === 'webseed' ? false : config.iceServers ? { rtcConfig: { iceServers: config.iceServers } } : {},
  });
  window.webTorrentClient = client;
  client.on('error', (error) => fail(error));
  const torrentFile = new Uint8Array(await (await fetch(config.torrent)).arrayBuffer());
  const bySource = {};
  const torrent = client.add(torrentFile);
  torrent.on('error', (error) => fail(error));
  torrent.on('wire', (wire) => {
    wire.on('download', (bytes) => {
      bySource[wire.type] = (bySource[wire.type] ?? 0) + bytes;
    });
  });
  progress.hidden = false;
  const show = () => {
    progress.value = torrent.progress;
    status.textContent = 'Downloading: ' + human(torrent.downloaded) + ' of ' + human(torrent.length) + ', ' + torrent.numPeers + ' peer(s)';
  };
  torrent.on('download', show);
  torrent.on('done', async () => {
    show();
    status.textContent = 'Done: every piece checked.' + (sources === 'webseed' ? '' : ' Seeding to other visitors while this page is open.');
    const list = document.getElementById('files');
    const digests = [];
    for (const file of torrent.files) {
      const blob = await file.blob();
      const sha256 = hex(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()));
      digests.push({ path: file.path, length: file.length, sha256 });
      const item = document.createElement('li');
      const link = document.createElement('a');
      link.href = URL.createObjectURL(blob);
      link.download = file.name;
      link.textContent = 'Save ' + file.path;
      item.append(link, ' (' + human(file.length) + ', SHA-256 ', Object.assign(document.createElement('code'), { textContent: sha256 }), ')');
      list.append(item);
    }
    result.value = JSON.stringify({ files: digests, bySource });
    result.dataset.done = 'true';
  });
}

function fail(error) {
  status.textContent = 'Error: ' + (error?.message ?? error);
  result.dataset.error = String(error?.message ?? error);
}

button?.addEventListener('click', () => download().catch(fail));
</script>
</body></html>`);
});

let udpUrl;

/** Make a torrent for every top-level entry of FILES_DIR (and seed them if SEED_PORT is set). */
async function publish(publicUrl) {
  const http = `${publicUrl}/tracker/announce`;
  // Tiers: UDP first when enabled (cheapest), then HTTP, then WebSocket (only WebTorrent speaks it;
  // WebTorrent skips the others, and other clients skip ws://).
  const announce = [...(udpUrl ? [[udpUrl]] : []), [http], [http.replace(/^http/, 'ws')]];
  const entries = (await readdir(filesDir, { withFileTypes: true })).filter((e) => !e.name.startsWith('.'));
  for (const entry of entries) {
    const t = await createTorrent(path.join(filesDir, entry.name), {
      announce,
      // BEP 19: a folder's web seed is the base URL (clients append <name>/<path>); a single file's is
      // the file's own URL (WebTorrent requests a single-file url-list as it is, even one ending in /).
      webSeeds: entry.isDirectory() ? `${publicUrl}/webseed/` : `${publicUrl}/webseed/${encodeURIComponent(entry.name)}`,
      createdBy: 'express-torrent-tracker demo',
    });
    torrents.set(entry.name, t);
    if (seeder) await seeder.add(t.torrent, filesDir, { verify: false });
    console.log(`published ${entry.name}: ${t.infoHash}`);
  }
}

const server = app.listen(port, async (error) => {
  if (error) {
    console.error(`cannot listen on port ${port}: ${error.message}`);
    process.exit(1);
  }
  const actual = server.address().port;
  const publicUrl = (process.env.PUBLIC_URL ?? `http://localhost:${actual}`).replace(/\/$/, '');
  console.log(`express-torrent-tracker demo on http://localhost:${actual} (tracker at /tracker/announce, WebTorrent at ws://…/tracker/announce)`);
  if (!webTorrentBundle) console.log('in-browser download off: WebTorrent bundle not found (set WEBTORRENT_JS)');
  try {
    if (udp) {
      const bound = await udp.listen(Number(process.env.UDP_PORT));
      udpUrl = `udp://${new URL(publicUrl).hostname}:${bound.port}/announce`;
      console.log(`UDP tracker on port ${bound.port}: ${udpUrl}`);
    }
    if (process.env.SEED_PORT) seeder = await createSeeder({ port: Number(process.env.SEED_PORT) });
    await publish(publicUrl);
  } catch (error) {
    console.error(`could not publish ${filesDir}: ${error.message}`);
  }
});
// Browsers announce over WebSocket at the same URL: ws://host/tracker/announce.
const webSocket = createWebSocketTracker({ tracker: tracker.tracker, server, path: '/tracker' });

async function shutdown() {
  server.close();
  await webSocket.close();
  await udp?.close();
  await seeder?.close();
  await tracker.close();
  process.exit(0);
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
