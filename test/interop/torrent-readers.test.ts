/**
 * Other implementations read the torrents we make: transmission-show (libtransmission) and
 * `aria2c --show-files` agree with us on the info hash, name, piece size, files and flags.
 * Without the tools the tests skip with a visible reason; under CI=true they fail.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createTorrent, type CreatedTorrent } from '../../src/torrent/create.js';
import { parseTorrent } from '../../src/torrent/parse.js';
import { haveBinary } from '../helpers/clients.js';
import { bytes, sampleTree, tempDir } from '../torrent/fixtures.js';

const haveTransmission = haveBinary('transmission-show');
const haveAria2 = haveBinary('aria2c');
const haveTransmissionCreate = haveBinary('transmission-create');

function tool(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${r.status}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

describe('our torrents in other readers', () => {
  // Made in beforeAll, not while collecting, so a skipped suite leaves nothing behind.
  let tmp: ReturnType<typeof tempDir>;
  let tree: string;
  let single: string;
  beforeAll(() => {
    tmp = tempDir('ett-readers-');
    tree = path.join(tmp.dir, 'Tree ü');
    sampleTree(tree);
    single = path.join(tmp.dir, 'single file.bin');
    writeFileSync(single, bytes(200_000, 21));
  });
  afterAll(() => tmp?.cleanup());
  const made: Record<string, { torrent: string; result: CreatedTorrent }> = {};

  async function make(key: string, target: string, options: Parameters<typeof createTorrent>[1]): Promise<{ torrent: string; result: CreatedTorrent }> {
    if (made[key] === undefined) {
      const result = await createTorrent(target, options);
      const torrent = path.join(tmp.dir, `${key}.torrent`);
      writeFileSync(torrent, result.torrent);
      made[key] = { torrent, result };
    }
    return made[key];
  }
  const multi = () =>
    make('multi', tree, {
      announce: [['http://127.0.0.1:1/announce', 'http://127.0.0.1:2/announce'], ['udp://127.0.0.1:3']],
      pieceLength: 32_768,
      private: true,
      comment: 'readers test',
      webSeeds: 'http://127.0.0.1:4/files/',
    });
  const one = () => make('single', single, { announce: 'http://127.0.0.1:1/announce', pieceLength: 16_384 });

  it.skipIf(!haveTransmission)('transmission-show reads a multi-file private torrent', async () => {
    const { torrent, result } = await multi();
    const out = tool('transmission-show', [torrent]);
    expect(out).toContain(`Hash: ${result.infoHash}`);
    expect(out).toContain('Name: Tree ü');
    expect(out).toContain('Piece Size: 32.00 KiB');
    expect(out).toContain(`Piece Count: ${Math.ceil(result.length / 32_768)}`);
    expect(out).toContain('Privacy: Private torrent');
    expect(out).toContain('Comment: readers test');
    expect(out).toMatch(/Tier #1\s+http:\/\/127\.0\.0\.1:1\/announce\s+http:\/\/127\.0\.0\.1:2\/announce\s+Tier #2\s+udp:\/\/127\.0\.0\.1:3/);
    expect(out).toContain('http://127.0.0.1:4/files/');
    const listed = out
      .slice(out.indexOf('FILES'))
      .split('\n')
      .map((line) => /^\s+(.+) \([\d.]+ [kMG]?B\)$/.exec(line)?.[1])
      .filter((name): name is string => name !== undefined);
    expect(listed).toEqual(result.files.map((file) => ['Tree ü', ...file.path].join('/')));
  });

  it.skipIf(!haveTransmission)('transmission-show reads a single-file torrent', async () => {
    const { torrent, result } = await one();
    const out = tool('transmission-show', [torrent]);
    expect(out).toContain(`Hash: ${result.infoHash}`);
    expect(out).toContain('Privacy: Public torrent');
    expect(out).toMatch(/FILES\s+single file\.bin \(/);
  });

  it.skipIf(!haveTransmissionCreate || !haveTransmission)('we parse torrents made by transmission-create, with the same info hash', async () => {
    const output = path.join(tmp.dir, 'by-transmission.torrent');
    tool('transmission-create', ['-o', output, '-t', 'http://127.0.0.1:1/announce', '-s', '32', '-p', '-c', 'from transmission', tree]);
    const parsed = parseTorrent(readFileSync(output));
    const shown = tool('transmission-show', [output]);
    expect(shown).toContain(`Hash: ${parsed.infoHash}`);
    expect(parsed.name).toBe('Tree ü');
    expect(parsed.pieceLength).toBe(32_768);
    expect(parsed.private).toBe(true);
    expect(parsed.comment).toBe('from transmission');
    expect(parsed.createdBy).toMatch(/^Transmission/);
    expect(parsed.announce).toEqual([['http://127.0.0.1:1/announce']]);
    // transmission-create leaves hidden and empty files out (mktorrent and we keep them);
    // everything else is there with its size.
    const ours = (await multi()).result.files.filter((file) => !file.path[0].startsWith('.') && file.length > 0);
    const key = (file: { path: string[]; length: number }): string => `${file.path.join('/')} ${file.length}`;
    expect(parsed.files.map(key).sort()).toEqual(ours.map(key).sort());
    expect(ours.length).toBeGreaterThan(5);
  });

  it.skipIf(!haveAria2)('aria2c --show-files reads both', async () => {
    const { torrent, result } = await multi();
    const out = tool('aria2c', ['--show-files', torrent]);
    expect(out).toContain(`Info Hash: ${result.infoHash}`);
    expect(out).toContain('Mode: multi');
    expect(out).toContain('Piece Length: 32KiB');
    const number = (text: string): number => Number(text.replaceAll(',', ''));
    expect(number(/Total Length: .*\(([\d,]+)\)/.exec(out)?.[1] ?? '')).toBe(result.length);
    const paths = [...out.matchAll(/^\s*\d+\|\.\/(.+)$/gm)].map((match) => match[1]);
    expect(paths).toEqual(result.files.map((file) => ['Tree ü', ...file.path].join('/')));
    const lengths = [...out.matchAll(/^\s+\|.*\(([\d,]+)\)$/gm)].map((match) => number(match[1]));
    expect(lengths).toEqual(result.files.map((file) => file.length));
    expect(out).toContain(`magnet:?xt=urn:btih:${result.infoHash.toUpperCase()}`);

    const single = await one();
    const singleOut = tool('aria2c', ['--show-files', single.torrent]);
    expect(singleOut).toContain(`Info Hash: ${single.result.infoHash}`);
    expect(singleOut).toContain('Mode: single');
    expect(singleOut).toContain('./single file.bin');
    expect(singleOut).toMatch(/\(200,?000\)/);
  });
});
