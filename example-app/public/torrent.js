// The torrent page: live counts, and the in-browser download with WebTorrent (its bundle is loaded
// only when the button is pressed). Writes the SHA-256 of every file and the bytes per source into
// #result when done (the browser tests read it); #status counts its renders in data-ticks (a test waits for one
// more after "Done" to see that it stays).
import { human } from './format.js';

const config = JSON.parse(document.getElementById('config').textContent);
const button = document.getElementById('start');
const status = document.getElementById('status');
const progress = document.getElementById('progress');
const result = document.getElementById('result');
const sources = new URLSearchParams(location.search).get('sources'); // 'peers', 'webseed' or null (both)
const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');

async function download() {
  button.disabled = true;
  status.textContent = 'Starting…';
  const { default: WebTorrent } = await import(config.bundle);
  const client = new WebTorrent({
    webSeeds: sources !== 'peers',
    tracker: sources === 'webseed' ? false : config.iceServers ? { rtcConfig: { iceServers: config.iceServers } } : {},
  });
  window.webTorrentClient = client;
  client.on('error', (error) => fail(error));
  const torrentFile = new Uint8Array(await (await fetch(config.torrent)).arrayBuffer());
  const bySource = {};
  /** The peers (not the web seed) that sent bytes. */
  const senders = new Set();
  const torrent = client.add(torrentFile);
  torrent.on('error', (error) => fail(error));
  torrent.on('wire', (wire) => {
    wire.on('download', (bytes) => {
      bySource[wire.type] = (bySource[wire.type] ?? 0) + bytes;
      if (wire.type !== 'webSeed') senders.add(wire);
    });
  });
  progress.hidden = false;
  // One place writes the status, from the torrent's state: a 'download' event or a tick that comes
  // after 'done' (a piece requested from two sources in the endgame, the web seed's last range)
  // shows "Done" again instead of overwriting it. A tick also catches a torrent that completed
  // without a 'done' event reaching us.
  let finished = false;
  const render = () => {
    if (result.dataset.error) return; // the error stays
    progress.value = torrent.progress;
    const text = (finished || torrent.done ? 'Done: every piece checked' : 'Downloading ' + human(torrent.downloaded) + ' of ' + human(torrent.length)) + ', ' + sourcesText();
    status.textContent = finished
      ? text + '.' + (sources === 'webseed' ? '' : ' Seeding to other visitors while this page is open.')
      : text;
    status.dataset.ticks = String(Number(status.dataset.ticks ?? 0) + 1);
  };
  // Peers and the web seed as sources: "from 2 peers + web seed" (connected ones while downloading,
  // those that sent bytes once done).
  const sourcesText = () => {
    const wires = torrent.wires ?? [];
    const peers = finished ? senders.size : wires.filter((w) => w.type !== 'webSeed').length;
    const webSeed = finished ? Boolean(bySource.webSeed) : wires.some((w) => w.type === 'webSeed');
    const parts = [];
    if (peers > 0 || !webSeed) parts.push(peers + (peers === 1 ? ' peer' : ' peers'));
    if (webSeed) parts.push('web seed');
    return 'from ' + parts.join(' + ');
  };
  torrent.on('download', render);
  const ticker = setInterval(() => {
    render();
    if (torrent.done && !finished) finish();
  }, 500);
  torrent.on('close', () => clearInterval(ticker));
  let finishing;
  const finish = () => (finishing ??= done());
  torrent.on('done', finish);
  async function done() {
    finished = true;
    render();
    const list = document.getElementById('files');
    const digests = [];
    for (const file of torrent.files) {
      const blob = await file.blob();
      const sha256 = hex(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()));
      digests.push({ path: file.path, length: file.length, sha256 });
      const item = document.createElement('li');
      const link = document.createElement('a');
      link.href = URL.createObjectURL(blob);
      link.download = file.name;
      link.textContent = 'Save ' + file.path;
      item.append(link, ' (' + human(file.length) + ', SHA-256 ', Object.assign(document.createElement('code'), { textContent: sha256 }), ')');
      list.append(item);
    }
    result.value = JSON.stringify({ files: digests, bySource });
    result.dataset.done = 'true';
  }
}

function fail(error) {
  status.textContent = 'Error: ' + (error?.message ?? error);
  result.dataset.error = String(error?.message ?? error);
}

button?.addEventListener('click', () => download().catch(fail));

// Live counts of this torrent's swarms.
async function counts() {
  try {
    const res = await fetch(`/api/torrents/${encodeURIComponent(config.name)}`, { cache: 'no-store' });
    if (res.ok) {
      const c = await res.json();
      for (const field of ['seeders', 'leechers', 'downloads']) {
        document.querySelector(`#counts [data-field="${field}"]`).textContent = String(c[field]);
      }
    }
  } catch {
    /* try again at the next tick */
  }
  setTimeout(counts, 2000);
}
counts();
