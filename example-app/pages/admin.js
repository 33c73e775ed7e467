// The admin page (/admin), behind ADMIN_TOKEN: log in with the token (a form that sets an HttpOnly,
// SameSite=Strict cookie for /admin; scripts send `Authorization: Bearer <token>` instead), upload a
// file (public/admin.js shows the upload's progress, then the hashing's by polling
// GET /admin/jobs/<id>), and the site publishes it: listed on the home page, served by the web seed,
// seeded by the site's seeder. Without ADMIN_TOKEN the page says the admin is disabled.
//
// The tracker's admin API (trackerAdmin, docs/admin-api.md) is mounted at /admin/api behind the
// same check (the admin cookie or the bearer token; 401 problem details otherwise, 404 without
// ADMIN_TOKEN). Its changes must come from this site: POST, PATCH and DELETE from another origin are
// refused by sameOriginPosts (auth.js) before they get here, and bodies must be JSON (which no
// cross-site form can send, and a cross-site fetch only after a CORS preflight this site never
// answers). The page's tracker part (public/admin-tracker.js) is built on it: torrents with live
// counts and rules, a torrent's peers (addresses: this page only), bans, passkey revocation.
import express from 'express';
import path from 'node:path';
import { trackerAdmin } from '../../dist/index.js';
import { discard, keepUpload, safeFileName, uploadMiddleware } from '../uploads.js';
import { html, page, size } from './html.js';

const FAILED_LOGIN_DELAY_MS = 1000;

export function registerAdmin(app, site) {
  const { admin, catalog, config } = site;
  const form = express.urlencoded({ extended: false, limit: '4kb' });
  const upload = uploadMiddleware({ uploadsDir: config.uploadsDir, maxBytes: config.maxUploadBytes });

  const render = (req, res, body, status = 200, scripts = ['/static/admin.js']) =>
    res.status(status).set('Cache-Control', 'no-store').type('html').send(page({ title: 'Admin', body, scripts, site: site.pageSite(req) }));

  const loginForm = (message) => html`
<h1>Admin</h1>
${message ? html`<p class="error" id="login-error">${message}</p>` : ''}
<form method="post" action="/admin/login" id="login">
<p><label>Admin token <input type="password" name="token" autocomplete="current-password" required></label>
<button type="submit">Log in</button></p>
</form>
<p class="note">The token is the server's <code>ADMIN_TOKEN</code>. Scripts may send <code>Authorization: Bearer &lt;token&gt;</code> instead.</p>`;

  app.get('/admin', (req, res) => {
    if (!admin.enabled) {
      return render(
        req,
        res,
        html`<h1>Admin</h1>
<p id="admin-disabled"><strong>The admin page is disabled on this server:</strong> it was started without
<code>ADMIN_TOKEN</code>. Start it with <code>ADMIN_TOKEN=&lt;a long random secret&gt; npm start</code> to upload
and publish files from the browser.</p>`,
      );
    }
    if (!admin.isAdmin(req)) return render(req, res, loginForm());
    const published = catalog
      .list()
      .map(
        (e) =>
          html`<tr data-info-hash="${e.torrent.infoHash}" data-name="${e.name}"><td><a href="/t/${encodeURIComponent(e.name)}">${e.name}</a></td><td class="num">${size(e.torrent.length)}</td><td><code class="hash">${e.torrent.infoHash}</code></td></tr>`,
      );
    render(
      req,
      res,
      html`<h1>Admin</h1>
<form method="post" action="/admin/logout" class="inline"><button type="submit">Log out</button></form>
<h2>Publish a file</h2>
<form id="upload" method="post" action="/admin/upload" enctype="multipart/form-data" data-max-bytes="${config.maxUploadBytes}">
<p><input type="file" name="file" id="file" required> <button type="submit" id="upload-button">Upload and publish</button></p>
<p class="note">At most ${size(config.maxUploadBytes)} (<code>MAX_UPLOAD_BYTES</code>). The file is kept in the uploads folder,
hashed into a ${config.private ? 'private ' : ''}torrent that names this tracker and this site's web seed, and listed on the home page.</p>
</form>
<div id="upload-box" hidden>
<p>Upload: <span id="upload-text"></span></p>
<progress id="upload-progress" max="1" value="0"></progress>
<p>Hashing: <span id="hash-text"></span></p>
<progress id="hash-progress" max="1" value="0"></progress>
</div>
<p id="upload-status" role="status"></p>
<h2>Published</h2>
<table id="published"><tbody>${published}</tbody></table>
${trackerPart()}`,
      200,
      ['/static/admin.js', '/static/admin-tracker.js'],
    );
  });

  /** The tracker's part of the page; public/admin-tracker.js fills it from the admin API. */
  const trackerPart = () => html`
<section id="tracker-admin" data-api="/admin/api" data-private="${site.private ? '1' : '0'}">
<h2>Tracker</h2>
<p id="api-status" role="status"></p>
<h3>Torrents</h3>
<p class="note">The tracker's registry, most peers first (refreshed every few seconds).
${site.private ? 'Credited traffic is multiplied by the factors (empty: 1; download 0 is freeleech).' : 'Public mode: the factors are kept but nothing is credited (no accounts); the tracker answers any torrent.'}
Unregistering takes a torrent off this site${site.private ? ' and the tracker' : ''} until the next start publishes its file again.</p>
<table id="torrents"><thead><tr><th>Torrent</th><th class="num">Seeders</th><th class="num">Leechers</th><th class="num">Downloads</th>
<th>Upload ×</th><th>Download ×</th><th></th></tr></thead><tbody></tbody></table>
<div id="peers" hidden>
<h3 id="peers-title">Peers</h3>
<p class="note">Addresses are shown on this page only, never on the public pages.</p>
<table id="peers-table"><thead><tr><th>Address</th><th class="num">Port</th><th>Client</th><th>Seeder</th><th>Last announce</th>${site.private ? html`<th>User</th>` : ''}</tr></thead><tbody></tbody></table>
</div>
<h3>Bans</h3>
<form id="ban-form">
<p><label>Ban <select id="ban-kind"><option value="address">address or CIDR block</option>${site.private ? html`<option value="user">user id</option>` : ''}<option value="client">client (peer id prefix)</option></select></label>
<input id="ban-value" required maxlength="64" placeholder="203.0.113.7, 2001:db8::/32, -XX0…">
<label>until <input id="ban-expires" type="datetime-local"></label>
<label>reason <input id="ban-reason" maxlength="200"></label>
<button type="submit" id="ban-button">Ban</button></p>
<p class="note">A banned peer's announces are refused (with the reason) over HTTP, UDP and WebSocket, and it leaves the swarms. Empty "until": no end.</p>
</form>
<table id="bans"><thead><tr><th>Banned</th><th>Until</th><th>Reason</th><th>Since</th><th></th></tr></thead><tbody></tbody></table>
${
  site.private
    ? html`<h3>Passkeys</h3>
<form id="revoke-form">
<p><label>Passkey <input id="revoke-passkey" required maxlength="64" autocomplete="off" spellcheck="false"></label>
<button type="submit" id="revoke-button">Revoke</button></p>
<p class="note">Its announces are refused at once; the member gets a new passkey on their account page.</p>
</form>`
    : ''
}
</section>`;

  app.post('/admin/login', form, async (req, res) => {
    if (!admin.enabled) return void res.redirect(303, '/admin');
    if (!admin.checkToken(req.body?.token)) {
      await new Promise((r) => setTimeout(r, FAILED_LOGIN_DELAY_MS)); // slows down guessing
      return render(req, res, loginForm('Wrong token.'), 401);
    }
    res.set('Set-Cookie', admin.login()).redirect(303, '/admin');
  });

  app.post('/admin/logout', (req, res) => {
    res.set('Set-Cookie', admin.logout(req)).redirect(303, '/admin');
  });

  /** Only the admin gets further (checked before the body is read). */
  const requireAdmin = (req, res, next) => {
    if (!admin.enabled) return void res.status(404).json({ error: 'the admin is disabled on this server (no ADMIN_TOKEN)' });
    if (!admin.isAdmin(req)) return void res.status(403).json({ error: 'log in as admin first' });
    next();
  };

  app.post('/admin/upload', requireAdmin, (req, res) => {
    upload(req, res, async (error) => {
      const temp = req.file?.path;
      if (error) {
        await discard(temp);
        const tooBig = error.code === 'LIMIT_FILE_SIZE';
        return void res
          .status(tooBig ? 413 : 400)
          .json({ error: tooBig ? `the file is larger than the limit of ${size(config.maxUploadBytes)} (MAX_UPLOAD_BYTES)` : `upload failed: ${error.message}` });
      }
      if (!req.file) return void res.status(400).json({ error: 'no file in the form (field "file")' });
      const name = safeFileName(req.file.originalname);
      if (!name) {
        await discard(temp);
        return void res.status(400).json({ error: 'the file name has no usable characters' });
      }
      if (!catalog.reserve(name)) {
        await discard(temp);
        return void res.status(409).json({ error: `a torrent named ${name} is published already` });
      }
      try {
        await keepUpload(temp, config.uploadsDir, name);
      } catch (e) {
        catalog.release(name);
        await discard(temp);
        return void res.status(e.code === 'EEXIST' ? 409 : 500).json({ error: e.message });
      }
      // A file that cannot be hashed is not kept (it would be tried again at every start).
      const job = catalog.startJob(config.uploadsDir, name, { onFailure: () => discard(path.join(config.uploadsDir, name)) });
      res.status(202).json({ job: job.id, name });
    });
  });

  app.get('/admin/jobs/:id', requireAdmin, (req, res) => {
    const job = catalog.jobs.get(req.params.id);
    if (!job) return void res.status(404).json({ error: 'no such job' });
    res.set('Cache-Control', 'no-store').json(job);
  });

  // The admin API. Problem details (RFC 9457) for the site's own refusals too.
  const problem = (res, status, title, detail, headers = {}) =>
    void res.status(status).set({ ...headers, 'Cache-Control': 'no-store' }).type('application/problem+json').send(JSON.stringify({ type: 'about:blank', title, status, detail }));
  const apiGate = (req, res, next) => {
    if (!admin.enabled) return problem(res, 404, 'Not Found', 'the admin is disabled on this server (no ADMIN_TOKEN)');
    if (!admin.isAdmin(req)) {
      return problem(res, 401, 'Unauthorized', 'log in as admin first (/admin) or send Authorization: Bearer <ADMIN_TOKEN>', { 'WWW-Authenticate': 'Bearer realm="admin"' });
    }
    // Bodies are JSON only: no form of any site can send one (cross-origin ones are refused before, see auth.js).
    if ((req.method === 'POST' || req.method === 'PATCH' || req.method === 'PUT') && !req.is('application/json')) {
      return problem(res, 415, 'Unsupported Media Type', 'send a JSON body with Content-Type: application/json');
    }
    next();
  };
  if (site.users) {
    // A revoked passkey must stay revoked: the member gets a new one in the users table first, then
    // the admin API drops the tracker's cached answer for the old one (on every instance).
    app.post('/admin/api/passkeys/revoke', apiGate, express.json({ limit: '4kb' }), async (req, res, next) => {
      try {
        const userId = await site.users.revokePasskey(req.body?.passkey);
        if (userId !== undefined) console.log(`[admin] revoked a passkey of user ${userId}`);
        next();
      } catch (error) {
        next(error);
      }
    });
  }
  app.use(
    '/admin/api',
    apiGate,
    admin.enabled ? trackerAdmin(site.router, { onError: (error) => console.error(`[admin api] ${error?.stack ?? error}`) }) : (req, res) => problem(res, 404, 'Not Found', 'no admin API'),
    // The JSON parser above: a body that is not JSON.
    (error, req, res, next) => {
      if (res.headersSent || typeof error?.status !== 'number' || error.status >= 500) return next(error);
      problem(res, error.status, 'Bad Request', error.type === 'entity.too.large' ? 'the body is too large' : 'the body is not valid JSON');
    },
  );
}
