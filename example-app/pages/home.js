// The home page: the published torrents with live seeders, leechers and downloads (public/home.js
// polls GET /api/torrents), the announce URL, and the last announces (never a peer's address).
// Also the .torrent downloads (GET /torrents/<name>.torrent): in the private mode, a personal one
// with the signed-in user's passkey.
import { html, page, size } from './html.js';

export function registerHome(app, site) {
  const { catalog } = site;

  app.get('/api/torrents', async (req, res) => {
    try {
      const counts = await catalog.counts();
      res.set('Cache-Control', 'no-store').json(counts.map((c) => ({ ...c, size: catalog.byName.get(c.name).torrent.length })));
    } catch (error) {
      res.status(503).json({ error: `the tracker's store did not answer: ${error.message}` });
    }
  });

  app.get('/torrents/:name', async (req, res) => {
    const name = req.params.name.replace(/\.torrent$/, '');
    const entry = catalog.byName.get(name);
    if (!entry) return void res.status(404).type('text/plain').send('no such torrent');
    if (site.private && !req.user) {
      return void res.status(403).type('text/plain').send('this tracker is private: sign up (/signup) to get your personal .torrent\n');
    }
    res
      .type('application/x-bittorrent')
      .set('Cache-Control', 'private, no-store')
      .attachment(`${name}.torrent`)
      .send(catalog.torrentFile(entry, req.user?.passkey));
  });

  app.get('/', async (req, res) => {
    // The private mode's page carries the member's passkey (links): never stored by a cache.
    if (site.private) res.set('Cache-Control', 'private, no-store');
    const { http: announce, ws } = site.announceUrls(req);
    let counts = new Map();
    try {
      counts = new Map((await catalog.counts()).map((c) => [c.name, c]));
    } catch {
      /* the store is down: the page still lists the files, the script retries */
    }
    const entries = catalog.list();
    const downloadLinks = (entry) => {
      const file = `/torrents/${encodeURIComponent(entry.name)}.torrent`;
      if (site.private && !req.user) return html`<a href="/signup">sign up to download</a>`;
      return html`<a href="${file}">.torrent</a> · <a href="${catalog.magnet(entry, req.user?.passkey)}">magnet</a>`;
    };
    const rows = entries.map((entry) => {
      const c = counts.get(entry.name);
      return html`<tr data-name="${entry.name}">
<td><a href="/t/${encodeURIComponent(entry.name)}">${entry.name}</a><br><code class="hash">${entry.torrent.infoHash}</code></td>
<td class="num">${size(entry.torrent.length)}</td>
<td class="num" data-field="seeders">${c ? c.seeders : '–'}</td>
<td class="num" data-field="leechers">${c ? c.leechers : '–'}</td>
<td class="num" data-field="downloads">${c ? c.downloads : '–'}</td>
<td>${downloadLinks(entry)}</td></tr>`;
    });
    const recent = site.activity.recent.map(
      (e) => html`<tr><td>${e.at}</td><td><code>${e.infoHash}</code></td><td>${e.event}</td><td>${e.seeder ? 'seeder' : 'leecher'}</td></tr>`,
    );
    const body = html`
<h1>This site runs its own BitTorrent tracker</h1>
<p>This is the demo app of <strong>express-torrent-tracker</strong>: an ordinary Express site that
added a tracker with one line, <code>app.use('/tracker', trackerMiddleware())</code>.</p>
${
  site.private
    ? html`<p><strong>This tracker is private.</strong> Only its members announce, each to a URL with their own
passkey: ${req.user ? html`the .torrent and magnet links below carry yours (see <a href="/account">your account</a>)` : html`<a href="/signup">sign up</a> to get yours and your personal .torrent files`}.
Credited upload and download are shown on each member's account page.</p>
<p>The tracker answers at <code id="announce">${announce}</code> (<code id="announce-ws">${ws}</code> for browsers) with
your passkey after <code>/tracker/</code>.</p>`
    : html`<p>Announce URL for your torrents:</p>
<p><code id="announce">${announce}</code></p>
<p>Browsers (WebTorrent) announce at <code id="announce-ws">${ws}</code>: the same swarms.</p>`
}
<h2>Files published here</h2>
<p>Each torrent names this tracker and this site as a web seed (<code>/webseed/</code>${site.private ? ', in members’ own .torrent files, with their passkey' : ''}), so it downloads
even when no other peer is online${site.seeder() ? `; the site also seeds them as a peer on port ${site.seeder().port}` : ''}.
Open a file's page to download it in your browser, from the web seed and from other visitors. Counts
are live (BitTorrent and browser peers together).</p>
${
  entries.length
    ? html`<table id="torrents"><thead><tr><th>File</th><th>Size</th><th>Seeders</th><th>Leechers</th><th>Downloads</th><th></th></tr></thead>
<tbody>${rows}</tbody></table>
<p class="note" id="live" role="status"></p>`
    : html`<p id="torrents-empty">Hashing…</p>`
}
${
  site.private
    ? ''
    : html`<p>Make a torrent for your own file: <code>npx express-torrent-tracker create my-file.iso --announce ${announce}</code>.
Scrape: <code>${announce.replace(/announce$/, 'scrape')}?info_hash=…</code></p>`
}
<p>Swarm storage: <code>${site.storeLabel}</code></p>
<h2>Recent announces</h2>
${recent.length ? html`<table>${recent}</table>` : html`<p>None yet.</p>`}`;
    res.type('html').send(page({ title: 'Files', body, scripts: ['/static/home.js'], site: site.pageSite(req) }));
  });
}
