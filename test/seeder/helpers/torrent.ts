/**
 * Test fixtures for the seeder: random data on disk plus a .torrent built with the `bencode`
 * package directly (independent of the project's torrent creator), and the ParsedTorrent view of it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import bencode from 'bencode';
import { afterAll } from 'vitest';
import { parseTorrent } from '../../../src/torrent/parse.js';
import type { ParsedTorrent } from '../../../src/torrent/types.js';

/** A torrent fixture. */
export interface TorrentFixture {
  /** Directory holding the torrent's content (its file, or its root directory). */
  dir: string;
  /** The .torrent bytes. */
  torrentBuffer: Buffer;
  /** Path of the written .torrent file. */
  torrentPath: string;
  /** The torrent as parsed by the project's parseTorrent. */
  parsed: ParsedTorrent;
  /** The concatenated content. */
  data: Buffer;
}

/** Options for {@link makeTorrent}. */
export interface MakeTorrentOptions {
  /** Torrent name (file name for single-file). */
  name?: string;
  /** Single-file size; ignored when `files` is given. */
  size?: number;
  /** Multi-file layout: path components and sizes. */
  files?: Array<{ path: string[]; length: number }>;
  /** Piece length; default 16 KiB. */
  pieceLength?: number;
  /** Announce URL. */
  announce?: string;
  /** Web seeds. */
  urlList?: string[];
  /** Use this directory instead of a fresh temp dir. */
  dir?: string;
}

/** Temp dirs made by {@link makeTorrent} for the current test file, removed after its tests. */
const madeDirs = new Set<string>();
afterAll(async () => {
  await Promise.all([...madeDirs].map((dir) => rm(dir, { recursive: true, force: true })));
  madeDirs.clear();
});

/** Writes random data and builds a torrent for it. */
export async function makeTorrent(options: MakeTorrentOptions = {}): Promise<TorrentFixture> {
  let dir = options.dir;
  if (dir === undefined) {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ett-seeder-'));
    madeDirs.add(dir);
  }
  const name = options.name ?? 'data.bin';
  const pieceLength = options.pieceLength ?? 16 * 1024;
  const multi = options.files !== undefined;
  const layout = options.files ?? [{ path: [name], length: options.size ?? 100_000 }];
  const parts: Buffer[] = [];
  const files: ParsedTorrent['files'] = [];
  let offset = 0;
  for (const f of layout) {
    const content = randomBytes(f.length);
    const target = multi ? path.join(dir, name, ...f.path) : path.join(dir, ...f.path);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, content);
    parts.push(content);
    files.push({ path: f.path, length: f.length, offset });
    offset += f.length;
  }
  const data = Buffer.concat(parts);
  const pieces: Buffer[] = [];
  for (let i = 0; i < data.length; i += pieceLength) {
    pieces.push(createHash('sha1').update(data.subarray(i, i + pieceLength)).digest());
  }
  const info: Record<string, unknown> = multi
    ? { files: layout.map((f) => ({ length: f.length, path: f.path })), name, 'piece length': pieceLength, pieces: Buffer.concat(pieces) }
    : { length: data.length, name, 'piece length': pieceLength, pieces: Buffer.concat(pieces) };
  const infoBuffer = Buffer.from(bencode.encode(info));
  const infoHashBuffer = createHash('sha1').update(infoBuffer).digest();
  const meta: Record<string, unknown> = { info };
  if (options.announce) meta.announce = options.announce;
  if (options.urlList) meta['url-list'] = options.urlList;
  const torrentBuffer = Buffer.from(bencode.encode(meta));
  const torrentPath = path.join(dir, `${name}.torrent`);
  await writeFile(torrentPath, torrentBuffer);
  const parsed: ParsedTorrent = parseTorrent(torrentBuffer);
  if (!parsed.infoHashBuffer.equals(infoHashBuffer) || parsed.length !== data.length || parsed.files.length !== files.length) {
    throw new Error('parseTorrent disagrees with the fixture');
  }
  return { dir, torrentBuffer, torrentPath, parsed, data };
}
