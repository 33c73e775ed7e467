// A WebTorrent peer in Node for test/interop: seeds or downloads one torrent, finding peers only
// through the WebSocket tracker URLs it is given (no DHT, no local discovery, no uTP, no PEX, no
// web seeds, no NAT mapping). Its WebRTC comes from node-datachannel.
//
//   node peer.mjs '<json>'   with { torrent: <path of a .torrent>, dir: <data folder>,
//                                  announce?: [<ws url>, ...], webSeeds?: boolean (default false),
//                                  onSignal?: boolean (load, print "loaded", add the torrent on SIGUSR2) }
// It seeds when `dir` holds the torrent's data (checked first), and downloads into `dir` otherwise.
//
// Prints one JSON line per event on stdout:
//   {"event":"loaded"}                                      with onSignal: ready to start on SIGUSR2
//   {"event":"ready","infoHash":…,"progress":…}             the torrent is loaded (a seeder: verified)
//   {"event":"announced","count":n}                         a tracker answered an announce (n so far)
//   {"event":"wire","type":"webrtc","remote":…}             a peer connection (type: webrtc, tcp…, webSeed)
//   {"event":"done","infoHash":…,"wires":{type: bytes downloaded}}   the download is complete
//   {"event":"error","message":…}
// and exits on SIGTERM (destroying the client first: its tracker sockets send `stopped`).
import WebTorrent from 'webtorrent';

const options = JSON.parse(process.argv[2]);
const print = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

const client = new WebTorrent({
  dht: false,
  lsd: false,
  utp: false,
  utPex: false,
  natUpnp: false,
  natPmp: false,
  webSeeds: options.webSeeds === true,
  tracker: { rtcConfig: { iceServers: [] } },
});
client.on('error', (error) => print({ event: 'error', message: String(error?.message ?? error) }));

function start() {
  const downloaded = {};
  const torrent = client.add(options.torrent, { path: options.dir, announce: options.announce ?? [] });
  torrent.on('error', (error) => print({ event: 'error', message: String(error?.message ?? error) }));
  torrent.on('warning', (warning) => print({ event: 'warning', message: String(warning?.message ?? warning) }));
  torrent.on('wire', (wire, remote) => {
    print({ event: 'wire', type: wire.type, remote: String(remote ?? '') });
    wire.on('download', (bytes) => {
      downloaded[wire.type] = (downloaded[wire.type] ?? 0) + bytes;
    });
  });
  let announces = 0;
  torrent.on('trackerAnnounce', () => print({ event: 'announced', count: ++announces }));
  torrent.on('ready', () => print({ event: 'ready', infoHash: torrent.infoHash, progress: torrent.progress }));
  torrent.on('done', () => print({ event: 'done', infoHash: torrent.infoHash, wires: downloaded }));
}

if (options.onSignal) {
  process.once('SIGUSR2', start);
  print({ event: 'loaded' });
} else {
  start();
}

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  const timer = setTimeout(() => process.exit(0), 2000);
  client.destroy(() => {
    clearTimeout(timer);
    process.exit(0);
  });
});
