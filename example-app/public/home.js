// Live counts on the home page: poll GET /api/torrents every second and update the table in place
// (rows of torrents published since the page loaded are added). Text only: nothing from the answer
// becomes markup.
import { human } from './format.js';

const table = document.getElementById('torrents');
const live = document.getElementById('live');
const FIELDS = ['seeders', 'leechers', 'downloads'];

function cell(text, className) {
  const td = document.createElement('td');
  if (className) td.className = className;
  td.textContent = text;
  return td;
}

function addRow(t) {
  const tr = document.createElement('tr');
  tr.dataset.name = t.name;
  const first = document.createElement('td');
  const link = document.createElement('a');
  link.href = `/t/${encodeURIComponent(t.name)}`;
  link.textContent = t.name;
  const hash = document.createElement('code');
  hash.className = 'hash';
  hash.textContent = t.infoHash;
  first.append(link, document.createElement('br'), hash);
  tr.append(first, cell(human(t.size), 'num'));
  for (const field of FIELDS) {
    const td = cell('', 'num');
    td.dataset.field = field;
    tr.append(td);
  }
  const open = document.createElement('td');
  const page = document.createElement('a');
  page.href = link.href;
  page.textContent = 'open';
  open.append(page);
  tr.append(open);
  table.tBodies[0].append(tr);
  return tr;
}

async function refresh() {
  const res = await fetch('/api/torrents', { cache: 'no-store' });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const torrents = await res.json();
  if (!table) {
    if (torrents.length) location.reload(); // the first files were published: show the table
    return;
  }
  const rows = new Map([...table.tBodies[0].rows].map((tr) => [tr.dataset.name, tr]));
  for (const t of torrents) {
    const tr = rows.get(t.name) ?? addRow(t);
    for (const field of FIELDS) {
      const td = tr.querySelector(`[data-field="${field}"]`);
      const text = String(t[field]);
      if (td.textContent !== text) {
        td.textContent = text;
        td.classList.remove('changed');
        void td.offsetWidth; // restart the highlight
        td.classList.add('changed');
      }
    }
  }
  if (live) {
    live.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    live.dataset.updates = String(Number(live.dataset.updates ?? 0) + 1);
  }
}

async function loop() {
  try {
    await refresh();
  } catch (error) {
    if (live) live.textContent = `Live counts paused: ${error.message}`;
  }
  setTimeout(loop, 1000);
}
loop();
