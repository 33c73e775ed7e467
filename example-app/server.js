// The demo site: an ordinary Express app that runs its own BitTorrent tracker at /tracker.
//
//   npm start                                   # memory store, port 3000
//   PORT=8080 TRACKER_STORE=redis://127.0.0.1:6379 npm start
//
// Run from the repository root (npm start builds the library first).
import express from 'express';
import { trackerMiddleware } from '../dist/index.js';

const port = Number(process.env.PORT ?? 3000);
const store = process.env.TRACKER_STORE || undefined;

const app = express();
const tracker = trackerMiddleware({ store });
app.use('/tracker', tracker);

// A little live activity for the home page (hex at the edges, as the events give it).
const recent = [];
tracker.tracker.on('announce', (e) => {
  recent.unshift({ at: new Date().toISOString(), ...e });
  recent.length = Math.min(recent.length, 10);
});
tracker.tracker.on('failure', (f) => {
  if (f.error && !String(f.reason).startsWith('tracker storage')) return;
  console.error(`[tracker] ${f.reason}${f.error ? `: ${f.error.cause ?? f.error}` : ''}`);
});

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

app.get('/', (req, res) => {
  const announce = `${req.protocol}://${req.get('host')}/tracker/announce`;
  const rows = recent
    .map((e) => `<tr><td>${escape(e.at)}</td><td><code>${escape(e.infoHash)}</code></td><td>${escape(e.ip)}:${e.port}</td><td>${escape(e.event)}</td><td>${e.seeder ? 'seeder' : 'leecher'}</td></tr>`)
    .join('');
  res.type('html').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>express-torrent-tracker demo</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}code{background:#f3f3f3;padding:.1em .3em}table{border-collapse:collapse}td{padding:.2em .6em;border-bottom:1px solid #ddd;font-size:.9em}</style>
</head><body>
<h1>This site runs its own BitTorrent tracker</h1>
<p>This is the demo app of <strong>express-torrent-tracker</strong>: an ordinary Express site that
added a tracker with one line, <code>app.use('/tracker', trackerMiddleware())</code>.</p>
<p>Announce URL for your torrents:</p>
<p><code id="announce">${escape(announce)}</code></p>
<p>Make a torrent for a file and share it, e.g.
<code>mktorrent -a ${escape(announce)} my-file.iso</code>, then open it in any BitTorrent client.
Scrape: <code>${escape(announce.replace(/announce$/, 'scrape'))}?info_hash=…</code></p>
<p>Swarm storage: <code>${escape(store ? store.replace(/\/\/[^@/]*@/, '//…@') : 'memory (this process)')}</code></p>
<h2>Recent announces</h2>
${rows ? `<table>${rows}</table>` : '<p>None yet.</p>'}
</body></html>`);
});

const server = app.listen(port, () => {
  const actual = server.address().port;
  console.log(`express-torrent-tracker demo on http://localhost:${actual} (tracker at /tracker/announce)`);
});

async function shutdown() {
  server.close();
  await tracker.close();
  process.exit(0);
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
