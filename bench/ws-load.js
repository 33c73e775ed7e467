// WebTorrent (WebSocket tracker) load generator, as browser clients behave: one socket per client,
// a random peer id per socket ('-WW0300-' + 12 characters, as WebTorrent makes them), several
// torrents per socket picked at random among the swarms (binary info hashes as 20-character latin1
// strings), JSON frames as bittorrent-tracker's client sends them. bench/ws.js starts several of
// these processes against one server and sums their counts. Driven over IPC:
//
//   node ws-load.js --url ws://127.0.0.1:PORT/announce --hashes FILE --mode announce|offers|idle
//     [--sockets 100] [--window 4] [--torrents 50] [--offers 5] [--seconds 5] [--swarms 300] [--rate 0]
//
// announce, offers: connect the sockets, announce `started` for every torrent of every socket (not
// counted; the swarms fill with listening sockets), send {ready}, wait for 'go', then keep `window`
// announces in flight per socket for `seconds` (periodic announces: no event; `announce` mode with
// numwant 0 and no offers, `offers` mode with numwant = `offers` offers of a ~500-byte SDP each,
// fresh offer ids every time; with --rate, that many announces per second instead), counting the
// answers to our announces and the offers the tracker relayed to our sockets; send {result}, wait
// for 'close' and exit.
// idle: `sockets` connections, each announcing `started` once (numwant 0) into one of the first
// `swarms` hashes; send {ready} when all are answered, keep them open until 'close'.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    hashes: { type: 'string' },
    mode: { type: 'string', default: 'announce' },
    sockets: { type: 'string', default: '100' },
    window: { type: 'string', default: '4' },
    torrents: { type: 'string', default: '50' },
    offers: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '5' },
    swarms: { type: 'string', default: '300' },
    rate: { type: 'string', default: '0' },
  },
});
const mode = args.mode;
const sockets = Number(args.sockets);
const window = Number(args.window);
const perSocket = Number(args.torrents);
const offerCount = mode === 'offers' ? Number(args.offers) : 0;
const seconds = Number(args.seconds);
/** Announces per second this process sends (0: as fast as the answers come, `window` in flight per socket). */
const rate = Number(args.rate);
const hashes = readFileSync(args.hashes, 'utf8').trim().split('\n').map((h) => Buffer.from(h.trim(), 'hex'));
/** Info hashes as JSON string literals (binary, latin1: bytes >= 0x80 become two UTF-8 bytes on the wire). */
const hashJson = hashes.map((h) => JSON.stringify(h.toString('latin1')));

// A WebRTC data-channel offer as Chromium makes it (about 500 bytes of SDP).
const SDP_OBJECT = JSON.stringify({
  type: 'offer',
  sdp:
    'v=0\r\no=- 4215775240449105457 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=extmap-allow-mixed\r\n' +
    'a=msid-semantic: WMS\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n' +
    `a=ice-ufrag:${randomBytes(3).toString('base64')}\r\na=ice-pwd:${randomBytes(18).toString('base64')}\r\na=ice-options:trickle\r\n` +
    `a=fingerprint:sha-256 ${[...randomBytes(32)].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':')}\r\n` +
    'a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n',
});
// Offer ids: 12 random bytes (latin1) of this process + an 8-character counter: unique, no randomness per offer.
const offerPrefix = JSON.stringify(randomBytes(12).toString('latin1')).slice(1, -1);
let offerCounter = 0;
const offersJson = () => {
  if (offerCount === 0) return '"numwant":0,"offers":[]';
  let s = `"numwant":${offerCount},"offers":[`;
  for (let i = 0; i < offerCount; i++) {
    const id = (offerCounter++ >>> 0).toString(36).padStart(8, '0');
    s += `${i ? ',' : ''}{"offer":${SDP_OBJECT},"offer_id":"${offerPrefix}${id}"}`;
  }
  return s + ']';
};

let measuring = false;
let answered = 0;
let failures = 0;
let offersReceived = 0;
let closedEarly = 0;
let errors = 0;
let firstFailure;
let stopAt = 0;

/** One client: a socket, a peer id, its torrents. */
class Client {
  constructor(torrents) {
    this.peerId = JSON.stringify('-WW0300-' + randomBytes(9).toString('base64'));
    this.torrents = torrents;
    this.inflight = 0;
    this.uploaded = 0;
    this.onAnswer = undefined;
  }

  connect() {
    return new Promise((resolve, reject) => {
      // Zero masking keys: the client skips XOR-ing its frames (the server unmasks as always).
      this.ws = new WebSocket(args.url, { perMessageDeflate: false, skipUTF8Validation: true, generateMask: (mask) => mask.fill(0) });
      this.ws.on('open', () => resolve());
      this.ws.on('error', (error) => {
        errors++;
        reject(error);
      });
      this.ws.on('close', () => {
        if (!this.closing) closedEarly++;
      });
      this.ws.on('message', (data) => {
        // Offers relayed to us are big (~600 bytes of SDP); our answers are ~100 bytes.
        if (data.length > 300) {
          if (measuring) offersReceived++;
          return;
        }
        if (data.indexOf('failure') >= 0) {
          failures++;
          firstFailure ??= data.toString();
        } else if (measuring) answered++;
        this.inflight--;
        this.onAnswer?.();
      });
    });
  }

  announce(torrent, event) {
    this.inflight++;
    this.uploaded += 16384;
    this.ws.send(
      `{"action":"announce","info_hash":${hashJson[torrent]},"peer_id":${this.peerId},"uploaded":${this.uploaded},"downloaded":${this.uploaded},"left":1000000,${event ? `"event":"${event}",` : ''}${event === 'started' ? '"numwant":0,"offers":[]' : offersJson()}}`,
    );
  }

  /** Announce `started` for each torrent, `window` at a time; resolves when all are answered. */
  start() {
    return new Promise((resolve) => {
      let next = 0;
      const pump = () => {
        while (this.inflight < window && next < this.torrents.length) this.announce(this.torrents[next++], 'started');
        if (next === this.torrents.length && this.inflight === 0) {
          this.onAnswer = undefined;
          resolve();
        }
      };
      this.onAnswer = pump;
      pump();
    });
  }

  run() {
    const pump = () => {
      while (this.inflight < window && Date.now() < stopAt) this.announce(this.torrents[(Math.random() * this.torrents.length) | 0]);
    };
    this.onAnswer = pump;
    pump();
  }

  close() {
    this.closing = true;
    this.ws.terminate();
  }
}

/** Run `fn` over `items` with at most `limit` at a time. */
async function pool(items, limit, fn) {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (i < items.length) await fn(items[i++]);
    }),
  );
}

const pick = (n, k) => {
  const set = new Set();
  while (set.size < Math.min(n, k)) set.add((Math.random() * n) | 0);
  return [...set];
};

const message = (expected) => new Promise((resolve) => process.once('message', (m) => (m === expected ? resolve() : process.exit(2))));

if (mode === 'idle') {
  const base = Math.floor(Math.random() * sockets);
  const swarms = Math.min(Number(args.swarms), hashes.length);
  const clients = Array.from({ length: sockets }, (_, i) => new Client([(base + i) % swarms]));
  let opened = 0;
  await pool(clients, 200, async (c) => {
    try {
      await c.connect();
      opened++;
      await c.start();
    } catch {
      // counted in errors
    }
  });
  process.send({ ready: { opened, failures, errors, closedEarly, firstFailure } });
  await message('close');
  for (const c of clients) c.close();
  process.exit(0);
} else {
  const clients = Array.from({ length: sockets }, () => new Client(pick(hashes.length, perSocket)));
  await pool(clients, 100, (c) => c.connect());
  await Promise.all(clients.map((c) => c.start()));
  process.send({ ready: { opened: clients.length, failures, errors, closedEarly, firstFailure } });
  await message('go');
  const t0 = Date.now();
  stopAt = t0 + seconds * 1000;
  measuring = true;
  if (rate > 0) {
    // A fixed rate, spread over the sockets in turn (a socket with `window` announces unanswered is skipped).
    let sent = 0;
    let next = 0;
    const timer = setInterval(() => {
      const now = Date.now();
      if (now >= stopAt) return;
      const due = Math.floor(((now - t0) / 1000) * rate) - sent;
      for (let i = 0, tried = 0; i < due && tried < clients.length; tried++) {
        const c = clients[next++ % clients.length];
        if (c.inflight >= window) continue;
        c.announce(c.torrents[(Math.random() * c.torrents.length) | 0]);
        sent++;
        i++;
      }
      if (Math.floor(((now - t0) / 1000) * rate) - sent > rate) sent = Math.floor(((now - t0) / 1000) * rate) - rate; // cannot keep up: no endless backlog
    }, 5);
    await new Promise((r) => setTimeout(r, stopAt - Date.now()));
    clearInterval(timer);
  } else {
    for (const c of clients) c.run();
    await new Promise((r) => setTimeout(r, stopAt - Date.now()));
  }
  measuring = false;
  const elapsed = (Date.now() - t0) / 1000;
  process.send({ result: { answered, offersReceived, failures, errors, closedEarly, firstFailure, seconds: elapsed } });
  await message('close');
  for (const c of clients) c.close();
  process.exit(0);
}
