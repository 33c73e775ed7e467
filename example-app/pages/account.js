// The private mode's accounts: /signup (a name, then a passkey and a session cookie), /signin (name
// and passkey again, after a log out or in another browser), /account (the signed-in user's own
// passkey, personal announce URL, .torrent links and credited traffic, from SQLite), a new passkey,
// log out. A page never shows another user's passkey or traffic. Every form carries a CSRF token
// (auth.js), sign-ups and sign-in attempts are throttled per client address, and a signed-in visitor
// cannot sign up (a cross-site form could otherwise swap their session for another account). In the
// public mode these pages only say that there are no accounts.
import express from 'express';
import { cookie, cookies, SESSION_COOKIE } from '../auth.js';
import { NAME_RULE, SESSION_MS } from '../users.js';
import { html, page, size } from './html.js';

const SESSION_SECONDS = SESSION_MS / 1000;

const duration = (s) => (s < 120 ? `${Math.round(s)} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`);

export function registerAccounts(app, site) {
  const form = express.urlencoded({ extended: false, limit: '4kb' });
  const render = (req, res, title, body, status = 200) =>
    res.status(status).set('Cache-Control', 'private, no-store').type('html').send(page({ title, body, site: site.pageSite(req) }));

  if (!site.private) {
    const publicOnly = (req, res) =>
      render(req, res, 'Accounts', html`<h1>No accounts here</h1><p>This tracker is public: anyone may announce, no sign-up needed.
Start the site with <code>PRIVATE=1</code> for members with passkeys and per-user traffic.</p>`, 404);
    app.get(['/signup', '/signin', '/account'], publicOnly);
    return;
  }
  const { users, catalog } = site;
  const csrfField = (req) => html`<input type="hidden" name="_csrf" value="${req.csrfToken}">`;
  /** Parse the form and check its CSRF token (403 otherwise). */
  const checkedForm = [
    form,
    (req, res, next) => {
      if (site.csrf.check(req)) return next();
      res.status(403).set('Cache-Control', 'no-store').type('text/plain').send('refused: this form has no valid CSRF token (reload the page and send it again)\n');
    },
  ];

  const signupForm = (req, message, name = '') => html`
<h1>Sign up</h1>
<p>This tracker is private: members announce to a URL with their own passkey, and the tracker credits
their upload and download. Pick a name to get yours.</p>
${message ? html`<p class="error" id="signup-error">${message}</p>` : ''}
<form method="post" action="/signup" id="signup">${csrfField(req)}
<p><label>Name <input name="name" value="${name}" required pattern="[A-Za-z0-9_.\\-]{2,32}" maxlength="32" autocomplete="username"></label>
<button type="submit">Sign up</button></p>
<p class="note">2 to 32 letters, digits, <code>_</code>, <code>.</code> or <code>-</code>. This browser keeps you signed in (a cookie).</p>
</form>
<p>A member already? <a href="/signin">Sign in</a> with your name and passkey.</p>`;

  const signinForm = (req, message, name = '') => html`
<h1>Sign in</h1>
<p>Your name and your passkey (on your account page, and in your personal announce URL after
<code>/tracker/</code>).</p>
${message ? html`<p class="error" id="signin-error">${message}</p>` : ''}
<form method="post" action="/signin" id="signin">${csrfField(req)}
<p><label>Name <input name="name" value="${name}" required maxlength="32" autocomplete="username"></label></p>
<p><label>Passkey <input name="passkey" type="password" required maxlength="64" autocomplete="current-password"></label></p>
<p><button type="submit">Sign in</button></p>
</form>
<p>New here? <a href="/signup">Sign up</a>.</p>`;

  const signedIn = (res, token) =>
    res.set('Set-Cookie', cookie(SESSION_COOKIE, token, { secure: site.secure, maxAge: SESSION_SECONDS })).redirect(303, '/account');

  app.get('/signup', (req, res) => {
    if (req.user) return void res.redirect(303, '/account');
    render(req, res, 'Sign up', signupForm(req));
  });

  // A signed-in visitor is refused before the throttle counts anything.
  const notSignedIn = (req, res, next) => {
    if (!req.user) return next();
    render(req, res, 'Signed in', html`<h1>You are signed in</h1><p id="signed-in-error">You are signed in as <a href="/account">${req.user.name}</a>:
log out first to make another account or to sign in as someone else.</p>`, 409);
  };

  app.post('/signup', checkedForm, notSignedIn, site.signupLimiter, async (req, res, next) => {
    const name = String(req.body?.name ?? '').trim();
    if (!NAME_RULE.test(name)) return render(req, res, 'Sign up', signupForm(req, 'A name has 2 to 32 letters, digits, "_", "." or "-".', name), 400);
    try {
      const { token } = await users.signUp(name);
      signedIn(res, token);
    } catch (error) {
      if (error.code === 'NAME_TAKEN') return render(req, res, 'Sign up', signupForm(req, 'That name is taken.', name), 409);
      next(error);
    }
  });

  app.get('/signin', (req, res) => {
    if (req.user) return void res.redirect(303, '/account');
    render(req, res, 'Sign in', signinForm(req));
  });

  app.post('/signin', checkedForm, notSignedIn, site.signinLimiter, async (req, res, next) => {
    const name = String(req.body?.name ?? '').trim();
    try {
      const signed = await users.signIn(name, String(req.body?.passkey ?? '').trim());
      if (!signed) return render(req, res, 'Sign in', signinForm(req, 'That name and passkey do not match.', name), 401);
      signedIn(res, signed.token);
    } catch (error) {
      next(error);
    }
  });

  app.get('/account', async (req, res, next) => {
    if (!req.user) return void res.redirect(303, '/signup');
    try {
      const { rows, total } = await users.traffic(req.user.id);
      const revokedAt = await users.lastRevocation(req.user.id);
      const announce = `${catalog.publicUrl}/tracker/${req.user.passkey}/announce`;
      const traffic = rows.map((r) => {
        const entry = catalog.byInfoHash.get(r.infoHash);
        return html`<tr><td>${entry ? html`<a href="/t/${encodeURIComponent(entry.name)}">${entry.name}</a>` : html`<code>${r.infoHash}</code>`}</td>
<td class="num" data-field="uploaded" data-bytes="${r.uploaded}">${size(r.uploaded)}</td>
<td class="num" data-field="downloaded" data-bytes="${r.downloaded}">${size(r.downloaded)}</td>
<td class="num">${duration(r.seedSeconds)}</td><td class="num">${r.completed}</td></tr>`;
      });
      const torrents = catalog
        .list()
        .map((e) => html`<li><a href="/torrents/${encodeURIComponent(e.name)}.torrent" data-name="${e.name}">${e.name}.torrent</a> (${size(e.torrent.length)})</li>`);
      render(
        req,
        res,
        'Your account',
        html`<h1>${req.user.name}</h1>
<h2>Your passkey</h2>
${
  revokedAt
    ? html`<p class="error" id="passkey-revoked">The admin revoked your previous passkey (${new Date(revokedAt).toISOString().replace('T', ' ').slice(0, 16)} UTC):
the one below is new. Download your .torrent files again; the old ones no longer announce.</p>`
    : ''
}
<p><code id="passkey">${req.user.passkey}</code></p>
<p>Your announce URL: <code id="personal-announce">${announce}</code>. Keep both secret: whoever has them
announces as you. Your .torrent files below carry it already.</p>
<form method="post" action="/account/passkey" class="inline">${csrfField(req)}<button type="submit">New passkey</button></form>
<span class="note">(the old one stops working at once; download your .torrent files again)</span>
<h2>Your traffic</h2>
<p id="traffic-total">Credited upload <strong data-field="uploaded" data-bytes="${total.uploaded}">${size(total.uploaded)}</strong>,
download <strong data-field="downloaded" data-bytes="${total.downloaded}">${size(total.downloaded)}</strong>.
<span class="note">Written every ${site.config.trafficInterval} s.</span></p>
${
  rows.length
    ? html`<table id="traffic"><thead><tr><th>Torrent</th><th class="num">Uploaded</th><th class="num">Downloaded</th><th class="num">Seeding</th><th class="num">Completed</th></tr></thead>
<tbody>${traffic}</tbody></table>`
    : html`<p id="no-traffic">Nothing yet: download or seed one of the torrents below.</p>`
}
<h2>Your .torrent files</h2>
<ul id="personal-torrents">${torrents}</ul>
<p>To sign in again later (after logging out, or in another browser): your name and your passkey.</p>
<form method="post" action="/account/logout" id="logout">${csrfField(req)}<button type="submit">Log out</button></form>`,
      );
    } catch (error) {
      next(error);
    }
  });

  app.post('/account/passkey', checkedForm, async (req, res, next) => {
    if (!req.user) return void res.redirect(303, '/signup');
    try {
      const old = await users.renewPasskey(req.user.id);
      if (old) await site.router.forgetPasskey(old);
      res.redirect(303, '/account');
    } catch (error) {
      next(error);
    }
  });

  app.post('/account/logout', checkedForm, async (req, res) => {
    await users.endSession(cookies(req)[SESSION_COOKIE]);
    res.set('Set-Cookie', cookie(SESSION_COOKIE, '', { secure: site.secure, maxAge: 0 })).redirect(303, '/');
  });
}
