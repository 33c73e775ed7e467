/**
 * parseTorrent against hostile path shapes: very deep paths, very wide directories, long names.
 * The work done is measured in path components visited (FileTree.add), not in time: it must equal
 * the number of components in the input, whatever the shape. A seeded fuzzer compares the parser's
 * verdict on random deep and wide trees with a naive reference model.
 */
import { createHash } from 'node:crypto';
import bencode from 'bencode';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TorrentParseError } from '../../src/torrent/errors.js';
import { FileTree } from '../../src/torrent/file-tree.js';
import { parseTorrent } from '../../src/torrent/parse.js';
import { PATH_LIMITS } from '../../src/torrent/path-rules.js';
import { prng } from '../helpers/prng.js';

const piece = createHash('sha1').update('x').digest();

/** A multi-file torrent with the given paths (every file 1 byte, one piece hash per 16 KiB). */
function torrentWith(paths: Array<Array<string | Buffer>>, name: string | Buffer = 'root'): Buffer {
  const pieces = Buffer.concat(Array.from({ length: Math.ceil(paths.length / 16_384) }, () => piece));
  return Buffer.from(
    bencode.encode({ info: { files: paths.map((path) => ({ length: 1, path })), name, 'piece length': 16_384, pieces } }),
  );
}

/** The error parseTorrent throws for `input` (fails the test if it parses). */
function parseError(input: Buffer): TorrentParseError {
  try {
    parseTorrent(input);
  } catch (error) {
    expect(error).toBeInstanceOf(TorrentParseError);
    return error as TorrentParseError;
  }
  throw new Error('expected parseTorrent to throw');
}

/** Counts the components FileTree visits while `run` works. */
function countVisits(run: () => void): number {
  let visited = 0;
  const add = FileTree.prototype.add;
  const spy = vi.spyOn(FileTree.prototype, 'add').mockImplementation(function (this: FileTree, path: readonly string[]) {
    const before = this.visited;
    const result = add.call(this, path);
    visited += this.visited - before;
    return result;
  });
  try {
    run();
  } finally {
    spy.mockRestore();
  }
  return visited;
}

afterEach(() => vi.restoreAllMocks());

describe('parseTorrent path limits', () => {
  it.each([20_000, 40_000])('refuses one path of %i components at once, naming the limit', (n) => {
    const input = torrentWith([Array.from({ length: n }, (_, i) => (i === n - 1 ? 'f' : 'ab'))]);
    let error: TorrentParseError | undefined;
    const visited = countVisits(() => {
      error = parseError(input);
    });
    expect(error!.message).toBe(`"info.files[0].path" has ${n} components; the limit is ${PATH_LIMITS.components}`);
    expect(visited).toBe(0); // refused from the list's length, before any component is read
  });

  it('accepts paths right at each limit and refuses one past it', () => {
    const deep = Array.from({ length: PATH_LIMITS.components }, () => 'd');
    expect(parseTorrent(torrentWith([deep])).files[0].path).toHaveLength(256);
    expect(parseError(torrentWith([[...deep, 'x']])).message).toMatch(/has 257 components; the limit is 256/);

    const longName = 'n'.repeat(PATH_LIMITS.componentBytes);
    expect(parseTorrent(torrentWith([[longName]])).files[0].path).toEqual([longName]);
    expect(parseError(torrentWith([[`${longName}n`]])).message).toBe('"info.files[0].path[0]" is longer than 255 bytes');
    // Bytes, not characters: 128 two-byte characters are 256 bytes.
    expect(parseError(torrentWith([['é'.repeat(128)]])).message).toMatch(/path\[0\]" is longer than 255 bytes/);
    expect(parseError(torrentWith([['a']], 'n'.repeat(256))).message).toBe('"info.name" is longer than 255 bytes');

    // 17 components of 15 × 255 + 254 + 1 bytes and 16 separators: 4096 bytes, the limit. One more byte is over.
    const w = Array.from({ length: 15 }, () => 'w'.repeat(255));
    expect(parseTorrent(torrentWith([[...w, 'w'.repeat(254), 'y']])).files[0].path).toHaveLength(17);
    expect(parseError(torrentWith([[...w, 'w'.repeat(255), 'y']])).message).toBe('"info.files[0].path" is longer than 4096 bytes');
  });

  it('visits each path component once, whatever the shape (deep, wide, shared prefixes)', () => {
    const shapes: Array<[string, string[][]]> = [
      // 300 files, each 256 components deep, all sharing the first 255 components.
      ['deep, shared prefix', Array.from({ length: 300 }, (_, f) => [...Array.from({ length: 255 }, () => 'd'), `f${f}`])],
      // 300 files, each 256 components deep, nothing shared.
      ['deep, distinct', Array.from({ length: 300 }, (_, f) => Array.from({ length: 256 }, (_, i) => `${f}.${i}`))],
      // 20 000 files in one directory.
      ['wide', Array.from({ length: 20_000 }, (_, f) => ['dir', `f${f}`])],
    ];
    for (const [label, paths] of shapes) {
      const components = paths.reduce((n, p) => n + p.length, 0);
      const input = torrentWith(paths);
      let files = 0;
      const visited = countVisits(() => {
        files = parseTorrent(input).files.length;
      });
      expect(files, label).toBe(paths.length);
      expect(visited, label).toBe(components);
    }
  });

  it('finds a conflict deep in a wide tree after visiting no more than the components before it', () => {
    const paths = Array.from({ length: 5000 }, (_, f) => ['a', 'b', `f${f}`]);
    paths.push(['a', 'b', 'f17', 'under']); // a file under the file a/b/f17
    let error: TorrentParseError | undefined;
    const visited = countVisits(() => {
      error = parseError(torrentWith(paths));
    });
    expect(error!.message).toBe('"info.files[5000].path" puts a file under "a/b/f17", which is a file');
    expect(visited).toBe(5000 * 3 + 3);
  });
});

describe('parseTorrent fuzzed with deep and wide paths (seeded)', () => {
  /** Components the fuzzer plants that must be refused (every other generated name is safe). */
  const UNSAFE = new Set(['', '.', '..', '...', 'a/b', '..\\..\\Windows', 'C:', 'AUX', 'nul.txt', 'e\u001b[2Jx', 'c1\u009b']);

  /** The verdict of a naive model of the path rules: undefined, or the first bad file and why. */
  function reference(paths: string[][]): { file: number; kind: 'components' | 'path' | 'component' | 'unsafe' | 'repeats' | 'under' } | undefined {
    const files = new Set<string>();
    const dirs = new Set<string>();
    for (let f = 0; f < paths.length; f++) {
      const path = paths[f];
      if (path.length > 256) return { file: f, kind: 'components' };
      let bytes = path.length - 1;
      for (const component of path) {
        bytes += Buffer.byteLength(component);
        if (bytes > 4096) return { file: f, kind: 'path' };
        if (Buffer.byteLength(component) > 255) return { file: f, kind: 'component' };
        if (UNSAFE.has(component)) return { file: f, kind: 'unsafe' };
      }
      const key = path.join('\0');
      if (files.has(key) || dirs.has(key)) return { file: f, kind: 'repeats' };
      for (let i = 1; i < path.length; i++) {
        const prefix = path.slice(0, i).join('\0');
        if (files.has(prefix)) return { file: f, kind: 'under' };
        dirs.add(prefix);
      }
      files.add(key);
    }
    return undefined;
  }

  const messages = {
    components: /has \d+ components; the limit is 256/,
    path: /path" is longer than 4096 bytes/,
    component: /path\[\d+\]" is longer than 255 bytes/,
    unsafe: /is not a safe path component/,
    repeats: /repeats or conflicts with the path/,
    under: /puts a file under .*, which is a file/,
  };

  it('agrees with a naive model on 3000 random trees, and visits each component at most once', () => {
    const random = prng(0x70a7);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
    const names = ['a', 'b', 'c', 'dir', 'ü', '日本', 'x y', '.hidden', 'a.b'];
    const hostile = [...UNSAFE, 'n'.repeat(256), 'é'.repeat(128), 'm'.repeat(255)];
    const component = (): string => (random() < 0.2 ? pick(names) : `${pick(names)}${Math.floor(random() * 100_000)}`);
    let accepted = 0;
    const kinds = new Set<string>();
    for (let round = 0; round < 3000; round++) {
      const shape = round % 3; // 0 deep, 1 wide, 2 mixed
      const count = shape === 1 ? 1 + Math.floor(random() * 400) : 1 + Math.floor(random() * 12);
      const paths: string[][] = [];
      // Some trees get one conflicting file at a random place.
      const conflictAt = random() < 0.3 ? Math.floor(random() * count) : -1;
      const hostileAt = random() < 0.2 ? Math.floor(random() * count) : -1; // and a fifth one hostile component
      for (let f = 0; f < count; f++) {
        if (f === conflictAt && paths.length > 0) {
          const p = pick(paths);
          const r = random();
          if (r < 0.33) paths.push([...p]); // a duplicate
          else if (r < 0.66) paths.push([...p, component()]); // a file under a file
          else paths.push(p.slice(0, Math.max(1, p.length - 1))); // a directory named again as a file (or a duplicate)
          continue;
        }
        const depth =
          shape === 0 ? (random() < 0.3 ? 250 + Math.floor(random() * 10) : 1 + Math.floor(random() * 60)) : shape === 1 ? 1 + Math.floor(random() * 3) : 1 + Math.floor(random() * 20);
        // Share a directory (a proper prefix) with an earlier file half of the time.
        const earlier = paths.length > 0 && random() < 0.5 ? pick(paths) : [];
        const path = earlier.slice(0, Math.min(Math.floor(random() * 4), earlier.length - 1));
        do path.push(component());
        while (path.length < depth);
        if (f === hostileAt && random() < 0.2) path.push(...Array.from({ length: 17 }, (_, i) => `${i}`.padEnd(250, 'p'))); // over 4096 bytes
        else if (f === hostileAt) path[Math.floor(random() * path.length)] = pick(hostile);
        paths.push(path);
      }
      const expected = reference(paths);
      const input = torrentWith(paths);
      let outcome: ReturnType<typeof parseTorrent> | TorrentParseError | undefined;
      const visited = countVisits(() => {
        try {
          outcome = parseTorrent(input);
        } catch (error) {
          if (!(error instanceof TorrentParseError)) throw error;
          outcome = error;
        }
      });
      const components = paths.reduce((n, p) => n + p.length, 0);
      expect(visited, `round ${round}`).toBeLessThanOrEqual(components);
      if (expected === undefined) {
        expect(outcome, `round ${round}`).not.toBeInstanceOf(TorrentParseError);
        expect((outcome as ReturnType<typeof parseTorrent>).files.map((f) => f.path)).toEqual(paths);
        accepted++;
      } else {
        kinds.add(expected.kind);
        expect(outcome, `round ${round}: expected ${expected.kind} at file ${expected.file}`).toBeInstanceOf(TorrentParseError);
        const message = (outcome as TorrentParseError).message;
        expect(message, `round ${round}`).toMatch(messages[expected.kind]);
        expect(message.startsWith(`"info.files[${expected.file}].path`), `round ${round}: ${message}`).toBe(true);
      }
    }
    expect(accepted).toBeGreaterThan(1000); // and most trees are fine
    expect([...kinds].sort()).toEqual(['component', 'components', 'path', 'repeats', 'under', 'unsafe']); // every rule was hit
  });
});
