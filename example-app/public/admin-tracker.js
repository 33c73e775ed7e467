// The admin page's tracker part, built on the admin API (/admin/api, docs/admin-api.md): the
// registered torrents with live counts and rules (factors saved with PATCH), a torrent's peers, bans
// (add, list, lift) and, in the private mode, passkey revocation. The admin cookie goes with every
// request (same origin); errors show the problem details' `detail`. Plain DOM, no framework.
const root = document.getElementById('tracker-admin');
const api = root?.dataset.api;
const status = document.getElementById('api-status');

/** A call of the admin API: the JSON answer (undefined for 204), or an Error with the problem's detail. */
async function call(method, path, body) {
  const res = await fetch(`${api}${path}`, {
    method,
    cache: 'no-store',
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return undefined;
  const type = res.headers.get('content-type') ?? '';
  const data = type.includes('json') ? await res.json().catch(() => undefined) : { detail: (await res.text()).trim() };
  if (!res.ok) throw Object.assign(new Error(data?.detail || data?.title || `HTTP ${res.status}`), { status: res.status });
  return data;
}

function say(text, className = 'ok') {
  status.className = className;
  status.textContent = text;
  if (className === 'error') status.dataset.error = text;
  else delete status.dataset.error;
}

/** Run an action; its error is shown (from the problem details). */
async function act(fn) {
  try {
    await fn();
  } catch (error) {
    say(error.message, 'error');
  }
}

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((c) => c !== undefined && c !== null));
  return node;
}

const time = (iso) => (iso ? new Date(iso).toLocaleString() : '');

/** Names of the published torrents, from the page's "Published" table. */
const nameOf = (infoHash) => document.querySelector(`#published tr[data-info-hash="${infoHash}"]`)?.dataset.name;

// --- Torrents -------------------------------------------------------------------------------------

const torrentsBody = document.querySelector('#torrents tbody');
const rows = new Map();

function withField(input, field) {
  input.dataset.field = field;
  input.style.width = '5em';
  return input;
}

function torrentRow(t) {
  const cells = {
    seeders: el('td', { className: 'num' }),
    leechers: el('td', { className: 'num' }),
    downloads: el('td', { className: 'num' }),
  };
  for (const [field, td] of Object.entries(cells)) td.dataset.field = field;
  const up = withField(el('input', { type: 'number', min: '0', step: 'any', placeholder: '1', title: 'empty: 1' }), 'uploadFactor');
  const down = withField(el('input', { type: 'number', min: '0', step: 'any', placeholder: '1', title: 'empty: 1' }), 'downloadFactor');
  const save = el('button', { type: 'button', className: 'save', textContent: 'Save' });
  const peers = el('button', { type: 'button', className: 'show-peers', textContent: 'Peers' });
  const remove = el('button', { type: 'button', className: 'unregister', textContent: 'Unregister' });
  const name = nameOf(t.infoHash);
  const tr = el(
    'tr',
    {},
    el('td', {}, name ? el('span', { className: 'name', textContent: name }) : undefined, name ? ' ' : undefined, el('code', { className: 'hash', textContent: t.infoHash })),
    cells.seeders,
    cells.leechers,
    cells.downloads,
    el('td', {}, up),
    el('td', {}, down),
    el('td', {}, save, ' ', peers, ' ', remove),
  );
  tr.dataset.infoHash = t.infoHash;
  const factor = (input) => (input.value.trim() === '' ? null : Number(input.value));
  save.addEventListener('click', () =>
    act(async () => {
      const done = await call('PATCH', `/torrents/${t.infoHash}`, { rules: { uploadFactor: factor(up), downloadFactor: factor(down) } });
      row.setRules(done.rules);
      tr.dataset.saved = String(Number(tr.dataset.saved ?? 0) + 1);
      say(`Saved the rules of ${name ?? t.infoHash}.`);
    }),
  );
  peers.addEventListener('click', () => act(() => showPeers(t.infoHash, name)));
  remove.addEventListener('click', () =>
    act(async () => {
      if (!confirm(`Unregister ${name ?? t.infoHash}? It leaves this site until the next start.`)) return;
      await call('DELETE', `/torrents/${t.infoHash}`);
      say(`Unregistered ${name ?? t.infoHash}.`);
      await refreshTorrents();
    }),
  );
  const row = {
    tr,
    setCounts(c) {
      cells.seeders.textContent = String(c.complete);
      cells.leechers.textContent = String(c.incomplete);
      cells.downloads.textContent = String(c.downloaded);
    },
    setRules(r) {
      // Not while the admin is typing in it.
      if (document.activeElement !== up) up.value = r.uploadFactor ?? '';
      if (document.activeElement !== down) down.value = r.downloadFactor ?? '';
    },
  };
  row.setRules(t.rules);
  return row;
}

async function refreshTorrents() {
  const page = await call('GET', '/torrents?sort=peers&limit=100');
  const seen = new Set();
  for (const t of page.torrents) {
    seen.add(t.infoHash);
    let row = rows.get(t.infoHash);
    if (!row) {
      row = torrentRow(t);
      rows.set(t.infoHash, row);
    }
    row.setCounts(t.counts);
    torrentsBody.append(row.tr); // in the answer's order (most peers first)
  }
  for (const [hash, row] of rows) {
    if (!seen.has(hash)) {
      row.tr.remove();
      rows.delete(hash);
    }
  }
  torrentsBody.dataset.loaded = String(Number(torrentsBody.dataset.loaded ?? 0) + 1);
}

// --- Peers ----------------------------------------------------------------------------------------

async function showPeers(infoHash, name) {
  const page = await call('GET', `/torrents/${infoHash}/peers?limit=200`);
  const box = document.getElementById('peers');
  document.getElementById('peers-title').textContent = `Peers of ${name ?? infoHash} (${page.total})`;
  const body = document.querySelector('#peers-table tbody');
  const isPrivate = root.dataset.private === '1';
  if (page.peers.length === 0) body.replaceChildren(el('tr', {}, el('td', { colSpan: 6, className: 'note', textContent: 'No peers right now.' })));
  else body.replaceChildren(
    ...page.peers.map((p) =>
      el(
        'tr',
        {},
        el('td', {}, el('code', { textContent: p.ip })),
        el('td', { className: 'num', textContent: String(p.port) }),
        el('td', { textContent: `${p.client ?? ''}${p.webrtc ? ' (browser)' : ''}` }),
        el('td', { textContent: p.seeder ? 'yes' : 'no' }),
        el('td', { textContent: time(p.lastAnnounce) }),
        isPrivate ? el('td', { textContent: p.user === undefined ? '' : String(p.user) }) : undefined,
      ),
    ),
  );
  box.hidden = false;
  box.dataset.infoHash = infoHash;
}

// --- Bans -----------------------------------------------------------------------------------------

const bansBody = document.querySelector('#bans tbody');

async function refreshBans() {
  const { bans } = await call('GET', '/bans');
  bansBody.replaceChildren(
    ...bans.map((b) => {
      const what = b.address !== undefined ? `address ${b.address}` : b.user !== undefined ? `user ${b.user}` : `client ${b.client}`;
      const unban = el('button', { type: 'button', className: 'unban', textContent: 'Unban' });
      unban.dataset.id = b.id;
      unban.addEventListener('click', () =>
        act(async () => {
          await call('DELETE', `/bans/${encodeURIComponent(b.id)}`);
          say(`Lifted the ban of ${what}.`);
          await refreshBans();
        }),
      );
      const tr = el('tr', {}, el('td', { textContent: what }), el('td', { textContent: b.expiresAt ? time(b.expiresAt) : 'no end' }), el('td', { textContent: b.reason ?? '' }), el('td', { textContent: time(b.createdAt) }), el('td', {}, unban));
      tr.dataset.id = b.id;
      tr.dataset.target = b.address ?? b.user ?? b.client;
      return tr;
    }),
  );
  bansBody.dataset.loaded = String(Number(bansBody.dataset.loaded ?? 0) + 1);
}

document.getElementById('ban-form')?.addEventListener('submit', (event) => {
  event.preventDefault();
  act(async () => {
    const kind = document.getElementById('ban-kind').value;
    const value = document.getElementById('ban-value').value.trim();
    const expires = document.getElementById('ban-expires').value;
    const reason = document.getElementById('ban-reason').value.trim();
    const body = { [kind]: kind === 'user' && /^\d+$/.test(value) ? Number(value) : value };
    // datetime-local is the admin's local time; the API takes an ISO date with its zone.
    if (expires) body.expiresAt = new Date(expires).toISOString();
    if (reason) body.reason = reason;
    const ban = await call('POST', '/bans', body);
    say(`Banned ${kind} ${value}.`);
    document.getElementById('ban-value').value = '';
    await refreshBans();
    return ban;
  });
});

// --- Passkeys (private mode) ----------------------------------------------------------------------

document.getElementById('revoke-form')?.addEventListener('submit', (event) => {
  event.preventDefault();
  act(async () => {
    const input = document.getElementById('revoke-passkey');
    await call('POST', '/passkeys/revoke', { passkey: input.value.trim() });
    input.value = '';
    say('Revoked: that passkey announces no more; its member gets a new one on their account page.');
  });
});

if (root) {
  const tick = () => act(refreshTorrents);
  tick();
  setInterval(tick, 3000);
  act(refreshBans);
}
