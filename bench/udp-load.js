// UDP announce load generator (BEP 15), as clients behave: each socket connects, then announces
// random peers into the given swarms with a fixed number of announces in flight, reconnecting when
// its connection id is refused and resending what was lost after a timeout. One process drives
// SOCKETS sockets; bench/run.js starts several processes and sums their counts.
//
//   node udp-load.js HOST PORT SECONDS HASHES_FILE [SOCKETS=8] [WINDOW=16] [FAMILY=4]
// Prints one JSON line: { answered, errors, timeouts, seconds }.
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

const [host, portText, secondsText, hashesFile, socketsText = '8', windowText = '16', familyText = '4'] = process.argv.slice(2);
const port = Number(portText);
const seconds = Number(secondsText);
const sockets = Number(socketsText);
const window = Number(windowText);
const hashes = readFileSync(hashesFile, 'utf8').trim().split('\n').map((h) => Buffer.from(h.trim(), 'hex'));
const PROTOCOL_ID = 0x41727101980n;
let answered = 0;
let errors = 0;
let timeouts = 0;
const started = Date.now();
const end = started + seconds * 1000;
/** Coarse clock (updated every 100 ms by each socket's timer): no Date.now() per datagram. */
let now = started;

function drive() {
  const socket = dgram.createSocket({ type: familyText === '6' ? 'udp6' : 'udp4', recvBufferSize: 1 << 20 });
  let connectionId;
  let tx = 1;
  const inflight = new Map();
  // One packet buffer per slot in flight, filled once: an announce only changes the transaction id,
  // info hash, peer id and port (no allocation, no random bytes per announce).
  const peerBase = randomBytes(20);
  let peerCounter = 0;
  const connect = () => {
    const b = Buffer.alloc(16);
    b.writeBigUInt64BE(PROTOCOL_ID, 0);
    b.writeUInt32BE(0, 8);
    b.writeUInt32BE(0, 12);
    socket.send(b, port, host);
  };
  const announce = () => {
    const b = Buffer.allocUnsafe(98);
    connectionId.copy(b, 0);
    b.writeUInt32BE(1, 8);
    const t = (tx = (tx + 1) >>> 0 || 1);
    b.writeUInt32BE(t, 12);
    hashes[(Math.random() * hashes.length) | 0].copy(b, 16);
    peerBase.copy(b, 36);
    b.writeUInt32BE(peerCounter++ >>> 0, 36);
    b.fill(0, 56, 98);
    b.writeUInt32BE(1000, 68); // left
    b.writeUInt32BE(2, 80); // started
    b.writeInt32BE(50, 92); // numwant
    b.writeUInt16BE(1024 + (peerCounter % 60000), 96);
    inflight.set(t, now);
    socket.send(b, port, host);
  };
  socket.on('message', (msg) => {
    if (msg.length < 8) return;
    const action = msg.readUInt32BE(0);
    if (action === 0) {
      const first = connectionId === undefined;
      connectionId = Buffer.from(msg.subarray(8, 16));
      if (first) for (let i = 0; i < window; i++) announce();
      return;
    }
    if (!inflight.delete(msg.readUInt32BE(4))) return;
    if (action === 1) answered++;
    else {
      errors++;
      connect(); // an expired id: reconnect, keep going
    }
    if (now < end) announce();
  });
  const timer = setInterval(() => {
    now = Date.now();
    for (const [t, at] of inflight) {
      if (now - at > 500) {
        inflight.delete(t);
        timeouts++;
        if (now < end) announce();
      }
    }
  }, 100);
  socket.bind(0, () => connect());
  return () => {
    clearInterval(timer);
    socket.close();
  };
}

const stops = Array.from({ length: sockets }, () => drive());
setTimeout(() => {
  const elapsed = (Date.now() - started) / 1000;
  for (const stop of stops) stop();
  process.stdout.write(`${JSON.stringify({ answered, errors, timeouts, seconds: elapsed })}\n`);
}, seconds * 1000);
