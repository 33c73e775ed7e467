// The admin page (/admin), behind ADMIN_TOKEN: log in with the token (a form that sets an HttpOnly,
// SameSite=Strict cookie for /admin; scripts send `Authorization: Bearer <token>` instead), upload a
// file (public/admin.js shows the upload's progress, then the hashing's by polling
// GET /admin/jobs/<id>), and the site publishes it: listed on the home page, served by the web seed,
// seeded by the site's seeder. Without ADMIN_TOKEN the page says the admin is disabled.
import express from 'express';
import path from 'node:path';
import { discard, keepUpload, safeFileName, uploadMiddleware } from '../uploads.js';
import { html, page, size } from './html.js';

const FAILED_LOGIN_DELAY_MS = 1000;

export function registerAdmin(app, site) {
  const { admin, catalog, config } = site;
  const form = express.urlencoded({ extended: false, limit: '4kb' });
  const upload = uploadMiddleware({ uploadsDir: config.uploadsDir, maxBytes: config.maxUploadBytes });

  const render = (req, res, body, status = 200) =>
    res.status(status).set('Cache-Control', 'no-store').type('html').send(page({ title: 'Admin', body, scripts: ['/static/admin.js'], site: site.pageSite(req) }));

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
      .map((e) => html`<tr><td><a href="/t/${encodeURIComponent(e.name)}">${e.name}</a></td><td class="num">${size(e.torrent.length)}</td><td><code class="hash">${e.torrent.infoHash}</code></td></tr>`);
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
<table id="published"><tbody>${published}</tbody></table>`,
    );
  });

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
}
