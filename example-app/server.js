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
// also answer UDP announces on that port: the same swarms, udp:// in every published torrent).
// Run from the repository root (npm start builds the library first).
import express from 'express';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSeeder, createTorrent, createUdpTracker, trackerMiddleware, webSeedHandler } from '../dist/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const port = Number(process.env.PORT ?? 3000);
const store = process.env.TRACKER_STORE || undefined;
const filesDir = path.resolve(process.env.FILES_DIR ?? path.join(here, 'files'));

const app = express();
const tracker = trackerMiddleware({ store });
// One core, two doors: UDP announces land in the same swarms as HTTP ones.
const udp = process.env.UDP_PORT ? createUdpTracker({ tracker: tracker.tracker }) : undefined;
app.use('/tracker', tracker);
app.use('/webseed', webSeedHandler(filesDir));

/** name → { torrent, infoHash, magnet, length } once hashed. */
const torrents = new Map();
let seeder;

// A little live activity for the home page (hex at the edges, as the events give it).
const recent = [];
tracker.tracker.on('announce', (e) => {
  recent.unshift({ at: new Date().toISOString(), ...e });
  recent.length = Math.min(recent.length, 10);
});
tracker.tracker.on('failure', (f) => {
  if (!String(f.reason).startsWith('tracker storage')) return;
  console.error(`[tracker] ${f.reason}${f.error ? `: ${f.error.cause ?? f.error}` : ''}`);
});

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const size = (n) => (n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);

app.get('/torrents/:name', (req, res) => {
  const t = torrents.get(req.params.name.replace(/\.torrent$/, ''));
  if (!t) return void res.status(404).send('no such torrent');
  res.type('application/x-bittorrent').attachment(`${req.params.name.replace(/\.torrent$/, '')}.torrent`).send(t.torrent);
});

app.get('/', (req, res) => {
  const announce = `${req.protocol}://${req.get('host')}/tracker/announce`;
  const files = [...torrents.entries()]
    .map(([name, t]) => `<li><a href="/torrents/${encodeURIComponent(name)}.torrent">${escape(name)}.torrent</a> (${size(t.length)}) — <a href="${escape(t.magnet)}">magnet</a> — <code>${t.infoHash}</code></li>`)
    .join('');
  const rows = recent
    .map((e) => `<tr><td>${escape(e.at)}</td><td><code>${escape(e.infoHash)}</code></td><td>${escape(e.ip)}:${e.port}</td><td>${escape(e.event)}</td><td>${e.seeder ? 'seeder' : 'leecher'}</td></tr>`)
    .join('');
  res.type('html').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>express-torrent-tracker demo</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}code{background:#f3f3f3;padding:.1em .3em}table{border-collapse:collapse}td{padding:.2em .6em;border-bottom:1px solid #ddd;font-size:.9em}</style>
</head><body>
<h1>This site runs its own BitTorrent tracker</h1>
<p>This is the demo app of <strong>express-torrent-tracker</strong>: an ordinary Express site that
added a tracker with one line, <code>app.use('/tracker', trackerMiddleware())</code>.</p>
<p>Announce URL for your torrents:</p>
<p><code id="announce">${escape(announce)}</code></p>
<h2>Files published here</h2>
<p>Each torrent names this tracker and this site as a web seed (<code>/webseed/</code>), so it downloads
even when no other peer is online${seeder ? `; the site also seeds them as a peer on port ${seeder.port}` : ''}.</p>
${files ? `<ul>${files}</ul>` : '<p>Hashing…</p>'}
<p>Make a torrent for your own file: <code>npx torrent-tracker create my-file.iso --announce ${escape(announce)}</code>.
Scrape: <code>${escape(announce.replace(/announce$/, 'scrape'))}?info_hash=…</code></p>
<p>Swarm storage: <code>${escape(store ? store.replace(/\/\/[^@/]*@/, '//…@') : 'memory (this process)')}</code></p>
<h2>Recent announces</h2>
${rows ? `<table>${rows}</table>` : '<p>None yet.</p>'}
</body></html>`);
});

let udpUrl;

/** Make a torrent for every top-level entry of FILES_DIR (and seed them if SEED_PORT is set). */
async function publish(publicUrl) {
  const entries = (await readdir(filesDir, { withFileTypes: true })).filter((e) => !e.name.startsWith('.'));
  for (const entry of entries) {
    const t = await createTorrent(path.join(filesDir, entry.name), {
      announce: udpUrl ? [[udpUrl], [`${publicUrl}/tracker/announce`]] : `${publicUrl}/tracker/announce`,
      webSeeds: `${publicUrl}/webseed/`,
      createdBy: 'express-torrent-tracker demo',
    });
    torrents.set(entry.name, t);
    if (seeder) await seeder.add(t.torrent, filesDir, { verify: false });
    console.log(`published ${entry.name}: ${t.infoHash}`);
  }
}

const server = app.listen(port, async () => {
  const actual = server.address().port;
  const publicUrl = (process.env.PUBLIC_URL ?? `http://localhost:${actual}`).replace(/\/$/, '');
  console.log(`express-torrent-tracker demo on http://localhost:${actual} (tracker at /tracker/announce)`);
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

async function shutdown() {
  server.close();
  await udp?.close();
  await seeder?.close();
  await tracker.close();
  process.exit(0);
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
