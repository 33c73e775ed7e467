// Time createTorrent() on one file in-process (hashing and writing the torrent, no Node start-up).
// Usage: node bench/hash.js FILE PIECE_LENGTH [v1|v2|hybrid]  → prints seconds as JSON.
import { createTorrent } from '../dist/index.js';

const [file, pieceLength, version = 'v1'] = process.argv.slice(2);
const t0 = process.hrtime.bigint();
const t = await createTorrent(file, { announce: 'http://127.0.0.1/announce', pieceLength: Number(pieceLength), creationDate: false, version });
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({ seconds, infoHash: t.infoHash, infoHashV2: t.infoHashV2 }));
