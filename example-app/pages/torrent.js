// One page per published torrent (/t/<name>): size, files, info hash, .torrent, magnet, web seed,
// live counts (GET /api/torrents/<name>), and a WebTorrent client in the page (public/torrent.js):
// the browser downloads from the web seed and from other peers (browsers, or WebRTC-capable
// clients) found through ws://host/tracker/announce, and seeds to them while the page stays open.
// `?sources=peers` turns the web seed off (peer-to-peer only), `?sources=webseed` announces to no
// tracker. The page also charts the torrent's last day (tracker.history(), per minute; uPlot as on
// the stats page, public/torrent-history.js) and says how many downloads completed this week
// (GET /api/torrents/<name>/history).
import { html, jsonBlock, page, size } from './html.js';
import { uplotDir } from './stats.js';

/** The torrent's history as the page draws it: the last day per minute (uPlot's layout) and this week's downloads. */
async function historyOf(tracker, torrent) {
  const input = torrent.infoHashV2 ? { infoHash: torrent.infoHash, infoHashV2: torrent.infoHashV2 } : torrent.infoHash;
  const [minutes, hours] = await Promise.all([tracker.history(input, { resolution: 'minute' }), tracker.history(input, { resolution: 'hour' })]);
  const week = hours.slice(-7 * 24);
  return {
    day: [minutes.map((b) => b.start / 1000), minutes.map((b) => b.announces), minutes.map((b) => b.peakSeeders), minutes.map((b) => b.peakLeechers)],
    completedToday: minutes.reduce((sum, b) => sum + b.completed, 0),
    downloadsThisWeek: week.reduce((sum, b) => sum + b.completed, 0),
  };
}

export function registerTorrentPage(app, site) {
  const { catalog, config } = site;
  const chartDir = uplotDir();

  // The WebTorrent bundle for the in-browser download (see findWebTorrentBundle in config.js).
  app.get('/vendor/webtorrent.min.js', (req, res) => {
    if (!config.webTorrentBundle) {
      return void res.status(404).type('text/plain').send('WebTorrent bundle not installed on this server (see WEBTORRENT_JS in example-app/config.js)\n');
    }
    res.type('text/javascript').sendFile(config.webTorrentBundle);
  });

  app.get('/api/torrents/:name', async (req, res) => {
    if (!catalog.byName.has(req.params.name)) return void res.status(404).json({ error: 'no such torrent' });
    try {
      const counts = (await catalog.counts()).find((c) => c.name === req.params.name);
      res.set('Cache-Control', 'no-store').json(counts);
    } catch (error) {
      res.status(503).json({ error: `the tracker's store did not answer: ${error.message}` });
    }
  });

  app.get('/api/torrents/:name/history', async (req, res) => {
    const entry = catalog.byName.get(req.params.name);
    if (!entry) return void res.status(404).json({ error: 'no such torrent' });
    try {
      res.set('Cache-Control', 'no-store').json(await historyOf(site.core, entry.torrent));
    } catch (error) {
      res.status(503).json({ error: `the tracker's history could not be read: ${error.message}` });
    }
  });

  app.get('/t/:name', (req, res) => {
    const name = req.params.name;
    const entry = catalog.byName.get(name);
    if (!entry) return void res.status(404).type('text/plain').send('no such torrent');
    // The private mode's page carries the member's passkey (magnet, web seed): never stored by a cache.
    if (site.private) res.set('Cache-Control', 'private, no-store');
    const t = entry.torrent;
    const mayDownload = !site.private || Boolean(req.user);
    const torrentUrl = `/torrents/${encodeURIComponent(name)}.torrent`;
    const config_ = {
      name,
      torrent: torrentUrl,
      bundle: config.webTorrentBundle && mayDownload ? '/vendor/webtorrent.min.js' : null,
      iceServers: config.iceServers ?? null,
    };
    const files = t.files.map((f) => html`<tr><td>${f.path.join('/')}</td><td class="num">${size(f.length)}</td></tr>`);
    const body = html`
<p><a href="/">← all files</a></p>
<h1>${name}</h1>
<table id="details">
<tr><th>Size</th><td>${size(t.length)} (${t.length.toLocaleString('en')} bytes), ${t.files.length} file${t.files.length === 1 ? '' : 's'}, pieces of ${size(t.pieceLength)}</td></tr>
<tr><th>Info hash</th><td><code id="info-hash">${t.infoHash}</code></td></tr>
<tr><th>Torrent</th><td>${
      mayDownload
        ? html`<a id="torrent-link" href="${torrentUrl}">${name}.torrent</a>${site.private ? ' (yours: it carries your passkey)' : ''}`
        : html`<a href="/signup">sign up</a> to get your personal .torrent`
    }</td></tr>
<tr><th>Magnet</th><td>${mayDownload ? html`<a id="magnet" href="${catalog.magnet(entry, req.user?.passkey)}">magnet link</a>` : '–'}</td></tr>
<tr><th>Web seed</th><td>${
      site.private && !req.user ? 'for members (in their own .torrent)' : html`<code id="web-seed">${catalog.webSeeds(entry, req.user?.passkey).join(' ')}</code>`
    }</td></tr>
<tr><th>Swarm</th><td id="counts"><span data-field="seeders">–</span> seeders, <span data-field="leechers">–</span> leechers,
<span data-field="downloads">–</span> downloads <span class="note">(live)</span></td></tr>
<tr><th>This week</th><td id="history-week"><span data-field="downloadsThisWeek">–</span> downloads <span class="note">(completed in the last 7 days)</span></td></tr>
</table>
<h2>The last day</h2>
<p class="note">Announces, peak seeders and peak leechers per minute, the last 24 hours.</p>
${chartDir ? html`<div id="history-chart"></div>` : html`<p id="chart-missing" class="error">The chart library (uplot) is not installed: <code>npm install</code> in the repository.</p>`}
<h2>Files</h2>
<table id="file-list"><thead><tr><th>Path</th><th class="num">Size</th></tr></thead><tbody>${files}</tbody></table>
<h2>Download in the browser</h2>
${
  !mayDownload
    ? html`<p>This tracker is private: <a href="/signup">sign up</a> to download in the browser.</p>`
    : config.webTorrentBundle
      ? html`<p>Your browser fetches the pieces from this site's web seed and from other visitors (WebRTC), checks
every piece against the torrent, and shares what it has with the others while this page is open.</p>
<p><button id="start" type="button">Download in the browser</button></p>`
      : html`<p><strong>In-browser download is not available on this server:</strong> the WebTorrent browser bundle is not
installed. In this repository <code>npm start</code> installs it (<code>node test/webtorrent-client/install.mjs</code>);
elsewhere set <code>WEBTORRENT_JS</code> to a copy of <code>webtorrent/dist/webtorrent.min.js</code> (from the
<code>webtorrent</code> npm package), then restart. The torrent and magnet links above work in any BitTorrent client.</p>`
}
<p id="status" role="status"></p>
<progress id="progress" max="1" value="0" hidden></progress>
<ul id="files"></ul>
<output id="result" hidden></output>
<script type="application/json" id="config">${jsonBlock(config_)}</script>`;
    const scripts = chartDir ? ['/vendor/uplot/uPlot.min.css', '/vendor/uplot/uPlot.iife.min.js', '/static/torrent-history.js', '/static/torrent.js'] : ['/static/torrent-history.js', '/static/torrent.js'];
    res.type('html').send(page({ title: name, body, scripts, site: site.pageSite(req) }));
  });
}
