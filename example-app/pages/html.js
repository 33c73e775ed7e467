// HTML with escaping by default: every value put into an html`…` template is escaped unless it is
// itself html`…` (or raw(), for the few fixed snippets that are not templates). Pages never build
// markup by string concatenation, so nothing a visitor or an uploader typed can become markup.

class SafeHtml {
  constructor(text) {
    this.text = text;
  }
  toString() {
    return this.text;
  }
}

export function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function render(value) {
  if (value === undefined || value === null || value === false) return '';
  if (value instanceof SafeHtml) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(value);
}

/** Tagged template: `html\`<p>${name}</p>\`` escapes `name`. */
export function html(strings, ...values) {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new SafeHtml(out);
}

/** Trusted markup as it is (only for constants of this code). */
export const raw = (text) => new SafeHtml(String(text));

/** JSON for a `<script type="application/json">` block: `<` escaped so no value can close the tag. */
export const jsonBlock = (value) => new SafeHtml(JSON.stringify(value).replace(/</g, '\\u003c'));

/** 1536 → "1.5 KiB". */
export function size(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/**
 * A whole page: header with the site's navigation, `body`, and the page's own scripts (files under
 * /static/, no inline script).
 */
export function page({ title, body, scripts = [], site }) {
  const nav = [
    html`<a href="/">Files</a>`,
    html`<a href="/stats">Stats</a>`,
    site.private ? (site.user ? html`<a href="/account">${site.user.name}</a>` : html`<a href="/signup">Sign up</a> · <a href="/signin">Sign in</a>`) : null,
    html`<a href="/admin">Admin</a>`,
  ].filter(Boolean);
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} — express-torrent-tracker demo</title>
<link rel="stylesheet" href="/static/style.css">
${scripts.filter((s) => s.endsWith('.css')).map((s) => html`<link rel="stylesheet" href="${s}">`)}
</head><body>
<header><nav>${nav.map((link, i) => html`${i ? ' · ' : ''}${link}`)}</nav></header>
<main>
${body}
</main>
${scripts.filter((s) => !s.endsWith('.css')).map((s) => html`<script src="${s}"${s.endsWith('.mjs') || s.startsWith('/static/') ? raw(' type="module"') : ''}></script>`)}
</body></html>`.toString();
}
