import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import bencode from 'bencode';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli.js';
import { createTorrent } from '../../src/torrent/create.js';
import { parseTorrent } from '../../src/torrent/parse.js';
import { bytes, sampleTree, tempDir } from './fixtures.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const tree = path.join(tmp.dir, 'my tree');
sampleTree(tree);
const outDir = path.join(tmp.dir, 'out');
mkdirSync(outDir);

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, { writeOut: (text) => (out += text), writeErr: (text) => (err += text) });
  return { code, out, err };
}

/** No temporary or partial files may be left in the output directory. */
function leftovers(): string[] {
  return readdirSync(outDir).filter((name) => name.endsWith('.tmp'));
}

describe('torrent-tracker create', () => {
  it('writes the torrent and prints its info hash and magnet link', async () => {
    const file = path.join(outDir, 'tree.torrent');
    const { code, out, err } = await cli(
      'create', tree, '--announce', 'http://t1/announce,http://t1b/announce', '--announce', 'http://t2/announce',
      '--piece-length', '32K', '--private', '--comment', 'hello', '--web-seed', 'http://ws/', '--no-date', '-o', file,
    );
    expect(err).toBe('');
    expect(code).toBe(0);
    const parsed = parseTorrent(readFileSync(file));
    const expected = await createTorrent(tree, {
      announce: [['http://t1/announce', 'http://t1b/announce'], ['http://t2/announce']],
      pieceLength: 32 * 1024,
      private: true,
      comment: 'hello',
      webSeeds: ['http://ws/'],
      creationDate: false,
    });
    expect(readFileSync(file).equals(expected.torrent)).toBe(true);
    expect(out).toContain(`Info hash: ${parsed.infoHash}\n`);
    expect(out).toContain(`Magnet: ${expected.magnet}\n`);
    expect(out).toContain(`Created ${file}\n`);
    expect(parsed.announce).toEqual([['http://t1/announce', 'http://t1b/announce'], ['http://t2/announce']]);
    expect(parsed.creationDate).toBeUndefined();
    expect(leftovers()).toEqual([]);
  });

  it('refuses to overwrite an existing file unless --force', async () => {
    const file = path.join(outDir, 'exists.torrent');
    writeFileSync(file, 'keep me');
    const refused = await cli('create', tree, '-a', 'http://t/announce', '-o', file);
    expect(refused.code).toBe(1);
    expect(refused.err).toBe(`express-torrent-tracker: error: ${file} already exists (use --force to overwrite)\n`);
    expect(readFileSync(file, 'utf8')).toBe('keep me');
    const forced = await cli('create', tree, '-a', 'http://t/announce', '-o', file, '--force');
    expect(forced.code).toBe(0);
    expect(parseTorrent(readFileSync(file)).name).toBe('my tree');
    expect(leftovers()).toEqual([]);
  });

  const bad: Array<[string, string[], RegExp]> = [
    ['a missing path argument', ['create'], /error: missing required argument 'path'/],
    ['a path that does not exist', ['create', path.join(tmp.dir, 'nope'), '-a', 'http://t/a'], /^express-torrent-tracker: error: cannot read .*nope: no such file or directory\n$/],
    ['an empty directory', ['create', path.join(tmp.dir, 'empty'), '-a', 'http://t/a'], /^express-torrent-tracker: error: .*empty contains no files\n$/],
    ['a piece length that is not a power of two', ['create', tree, '-l', '100000'], /^express-torrent-tracker: error: invalid piece length 100000: it must be a power of two/],
    ['a piece length that is not a number', ['create', tree, '-l', 'big'], /error: option .*piece-length.* argument 'big' is invalid/],
    ['an invalid announce URL', ['create', tree, '-a', 'tracker.example'], /^express-torrent-tracker: error: invalid announce URL "tracker.example"/],
    ['an invalid web seed URL', ['create', tree, '-w', 'nope://x'], /^express-torrent-tracker: error: invalid web seed URL "nope:\/\/x"/],
    ['an unknown option', ['create', tree, '--bogus'], /error: unknown option '--bogus'/],
    ['a path that is not a file or directory', ['create', '/dev/null'], /^express-torrent-tracker: error: \/dev\/null is neither a regular file nor a directory\n$/],
  ];
  it.each(bad)('fails with one clear line and no output file on %s', async (_label, argv, message) => {
    mkdirSync(path.join(tmp.dir, 'empty'), { recursive: true });
    const file = path.join(outDir, 'should-not-exist.torrent');
    const { code, out, err } = await cli(...argv, '-o', file);
    expect(code).not.toBe(0);
    expect(err).toMatch(message);
    expect(err.trimEnd().split('\n')).toHaveLength(1); // one line
    expect(out).toBe('');
    expect(existsSync(file)).toBe(false);
    expect(leftovers()).toEqual([]);
  });

  it('fails when a file changes size while it is hashed, leaving no file behind', async () => {
    const growing = path.join(tmp.dir, 'growing.bin');
    writeFileSync(growing, bytes(24 * 1024 * 1024, 42));
    const file = path.join(outDir, 'growing.torrent');
    const timer = setInterval(() => appendFileSync(growing, 'x'), 1);
    try {
      const { code, err } = await cli('create', growing, '-l', '16K', '-t', '1', '-o', file);
      expect(code).toBe(1);
      expect(err).toMatch(/^express-torrent-tracker: error: .*growing\.bin changed while it was being hashed: .*\n$/);
    } finally {
      clearInterval(timer);
    }
    expect(existsSync(file)).toBe(false);
    expect(leftovers()).toEqual([]);
  });

  it('warns on stderr when the torrent lists no tracker, and still writes it', async () => {
    const file = path.join(outDir, 'trackerless.torrent');
    const { code, out, err } = await cli('create', tree, '-o', file, '--no-date');
    expect(code).toBe(0);
    expect(err).toBe('warning: no tracker (--announce) given: clients can only find peers through DHT/PEX or web seeds\n');
    expect(out).toContain(`Created ${file}\n`);
    expect(parseTorrent(readFileSync(file)).announce).toEqual([]);
  });

  it.each([
    ['18', 262_144],
    ['15', 32_768],
    ['262144', 262_144],
    ['256K', 262_144],
    ['1M', 1_048_576],
  ])('takes -l %s as a piece length of %i bytes (mktorrent exponent, bytes or suffix)', async (given, bytes) => {
    const file = path.join(outDir, `piece-${given}.torrent`);
    const { code, err } = await cli('create', tree, '-a', 'http://t/announce', '-l', given, '-o', file);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(parseTorrent(readFileSync(file)).pieceLength).toBe(bytes);
  });

  it.each([['14'], ['29'], ['1000'], ['16383']])('refuses the ambiguous bare piece length %s with a clear message', async (given) => {
    const file = path.join(outDir, `ambiguous-${given}.torrent`);
    const { code, err } = await cli('create', tree, '-a', 'http://t/announce', '-l', given, '-o', file);
    expect(code).not.toBe(0);
    expect(err).toMatch(new RegExp(`"${given}" is ambiguous: a bare number is either an exponent from 15 to 28 .* or a byte count of at least 16384`));
    expect(existsSync(file)).toBe(false);
  });

  it('has --help on the program and on each subcommand', async () => {
    const top = await cli('--help');
    expect(top.code).toBe(0);
    expect(top.out).toMatch(/Usage: express-torrent-tracker/);
    expect(top.out).toMatch(/create .*<path>/);
    expect(top.out).toMatch(/info .*<file>/);
    const create = await cli('create', '--help');
    expect(create.code).toBe(0);
    for (const flag of ['--announce', '--piece-length', '--private', '--comment', '--web-seed', '--output', '--no-date']) {
      expect(create.out).toContain(flag);
    }
    const version = await cli('--version');
    expect(version.code).toBe(0);
    expect(version.out).toBe(`${JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version}\n`);
    const info = await cli('info', '--help');
    expect(info.code).toBe(0);
    expect(info.out).toMatch(/Usage: express-torrent-tracker info \[options\] <file>/);
  });
});

describe('torrent-tracker info', () => {
  it('prints a readable summary and JSON', async () => {
    const made = await createTorrent(tree, { announce: 'http://t/announce', webSeeds: 'http://ws/', comment: 'c', pieceLength: 16_384 });
    const file = path.join(outDir, 'info.torrent');
    writeFileSync(file, made.torrent);
    const { code, out } = await cli('info', file);
    expect(code).toBe(0);
    expect(out).toContain('Name:         my tree\n');
    expect(out).toContain(`Info hash:    ${made.infoHash}\n`);
    expect(out).toContain(`Magnet:       ${made.magnet}\n`);
    expect(out).toContain('Trackers:     tier 1: http://t/announce\n');
    expect(out).toContain('Web seeds:    http://ws/\n');
    expect(out).toContain('Files:        9\n');
    expect(out).toContain('my tree/sub dir/ä/ö file.bin\n');
    const json = JSON.parse((await cli('info', '--json', file)).out) as { infoHash: string; files: { path: string }[] };
    expect(json.infoHash).toBe(made.infoHash);
    expect(json.files.map((f) => f.path)[0]).toBe('.hidden');
  });

  it('explains what is wrong with a bad file', async () => {
    const file = path.join(outDir, 'bad.torrent');
    writeFileSync(file, 'd4:infoi1ee');
    const bad = await cli('info', file);
    expect(bad.code).toBe(1);
    expect(bad.err).toBe(`express-torrent-tracker: error: ${file} is not a valid .torrent file: "info" must be a dictionary, got an integer\n`);
    const missing = await cli('info', path.join(outDir, 'missing.torrent'));
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^express-torrent-tracker: error: cannot read .*missing\.torrent: no such file or directory\n$/);
  });
});

describe('torrent-tracker info prints nothing a terminal would act on', () => {
  /** Control characters a terminal acts on (newlines between lines are the output's own). */
  const TERMINAL_CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
  const ESC = '\u001b';
  const hostile = {
    announce: `http://t.example/announce${ESC}]0;pwned\u0007`,
    'announce-list': [[`http://t.example/announce${ESC}]0;pwned\u0007`], [`udp://b.example:80${ESC}[2J`]],
    comment: `hello ${ESC}[2J${ESC}[H cleared ${ESC}[8mhidden${ESC}[0m \u009b31m C1 CSI, new\nline, \u202eevil.exe`,
    'created by': `maker${ESC}]0;title\u0007`,
    'url-list': [`http://ws.example/${ESC}[5m`],
    info: {
      files: [{ length: 1, path: ['dir', 'gpj.\u202eexe'] }],
      name: 'root',
      'piece length': 16_384,
      pieces: Buffer.alloc(20),
    },
  };

  it('escapes control characters from the torrent in the summary', async () => {
    const file = path.join(outDir, 'hostile.torrent');
    writeFileSync(file, bencode.encode(hostile));
    const { code, out, err } = await cli('info', file);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).not.toMatch(TERMINAL_CONTROLS);
    expect(out).toContain('hello \\x1b[2J\\x1b[H cleared \\x1b[8mhidden\\x1b[0m \\x9b31m C1 CSI, new\\nline, \\u202eevil.exe');
    expect(out).toContain('maker\\x1b]0;title\\x07');
    expect(out).toContain('root/dir/gpj.\\u202eexe');
  });

  it('keeps --json output valid and exact while escaping what JSON leaves raw (C1, bidi)', async () => {
    const file = path.join(outDir, 'hostile.torrent');
    const { code, out } = await cli('info', '--json', file);
    expect(code).toBe(0);
    expect(out).not.toMatch(TERMINAL_CONTROLS);
    const json = JSON.parse(out) as { comment: string; files: Array<{ path: string }> };
    expect(json.comment).toBe(hostile.comment);
    expect(json.files[0].path).toBe('dir/gpj.\u202eexe');
  });

  it('escapes them in error messages too (a name with an escape sequence is refused)', async () => {
    const file = path.join(outDir, `evil${ESC}[2J.torrent`);
    writeFileSync(file, bencode.encode({ ...hostile, info: { ...hostile.info, name: `name${ESC}]0;title\u0007` } }));
    const { code, err } = await cli('info', file);
    expect(code).toBe(1);
    expect(err).not.toMatch(TERMINAL_CONTROLS);
    expect(err.slice(0, -1)).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(err).toMatch(/evil\\x1b\[2J\.torrent is not a valid \.torrent file: "info.name" is not a safe path component \(it contains a control character\)/);
  });
});
