/**
 * The head start of `express-torrent-tracker create` for a single file. Node takes about 80 ms to start,
 * and loading commander and the modules of `create` takes some 40 ms more; hashing a file takes
 * about half a second per GiB. So before any of that is loaded, {@link startCreateEarly} takes a
 * quick look at the arguments (Node's own `parseArgs`, not strict) and, when they name one regular
 * file to make a torrent of (v1, v2 or hybrid), starts hashing it (src/torrent/early-hash.ts). The
 * real parse follows; `createTorrent` takes over the running hash when it would hash exactly that,
 * and every other case (a directory, an error in the arguments) goes the ordinary way. `run()`
 * cancels an early hash nobody took.
 */
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startEarlyHash } from '../torrent/early-hash.js';
import { defaultPieceLength, validatePieceLength } from '../torrent/piece-length.js';

/** mktorrent's exponent form of the piece length: a bare integer in this range means 2^n bytes. */
export const PIECE_EXPONENTS = { min: 15, max: 28 } as const;

/**
 * A piece length as given on the command line → bytes: `262144` (bytes), `256K`, `256KiB`, `1M`,
 * `1MiB`, or mktorrent's exponent form, a bare integer from 15 to 28 meaning 2^n bytes (`18` =
 * 256 KiB). Undefined when it is not a size; a string (the reason) when a bare number is neither an
 * exponent nor a plausible byte count (under 16384). Range checks happen in createTorrent.
 */
export function pieceLengthInBytes(value: string): number | string | undefined {
  const match = /^(\d+)\s*(k|kib|m|mib)?$/i.exec(value.trim());
  if (match === null) return undefined;
  const n = Number(match[1]);
  const unit = (match[2] ?? '').toLowerCase();
  if (unit === '') {
    if (n >= PIECE_EXPONENTS.min && n <= PIECE_EXPONENTS.max) return 2 ** n;
    if (n < 16 * 1024) {
      return (
        `"${value}" is ambiguous: a bare number is either an exponent from ${PIECE_EXPONENTS.min} to ${PIECE_EXPONENTS.max} ` +
        `(2^n bytes, as mktorrent takes it: 18 = 256 KiB) or a byte count of at least 16384 (e.g. 262144); or use a suffix: 256K, 1M`
      );
    }
    return n;
  }
  return n * (unit.startsWith('k') ? 1024 : 1024 * 1024);
}

/**
 * Start hashing early if `argv` (`create` and its arguments) asks for a torrent of one regular
 * file. True when an early hash was started. Never throws: anything unexpected means no head start.
 */
export function startCreateEarly(argv: readonly string[]): boolean {
  try {
    const { values, positionals } = parseArgs({
      args: argv.slice(1),
      strict: false,
      allowPositionals: true,
      // Every option of `create` that takes a value, so that values are not taken for the path.
      options: {
        announce: { type: 'string', short: 'a', multiple: true },
        'piece-length': { type: 'string', short: 'l' },
        comment: { type: 'string', short: 'c' },
        'web-seed': { type: 'string', short: 'w', multiple: true },
        output: { type: 'string', short: 'o' },
        name: { type: 'string', short: 'n' },
        'created-by': { type: 'string' },
        threads: { type: 'string', short: 't' },
        version: { type: 'string' },
      },
    });
    const version = values.version === undefined ? 'v1' : String(values.version).trim().toLowerCase();
    if (positionals.length !== 1 || (version !== 'v1' && version !== 'v2' && version !== 'hybrid')) return false;
    const file = path.resolve(positionals[0]);
    const stats = statSync(file);
    if (!stats.isFile() || stats.size === 0) return false;
    const given = values['piece-length'];
    const pieceLength = given === undefined ? defaultPieceLength(stats.size) : pieceLengthInBytes(String(given));
    if (typeof pieceLength !== 'number') return false;
    validatePieceLength(pieceLength);
    const threadsText = values.threads;
    const threads = threadsText === undefined ? Math.min(16, availableParallelism()) : Number(threadsText);
    if (!Number.isSafeInteger(threads) || threads < 0 || threads > 64) return false;
    startEarlyHash({ absolutePath: file, length: stats.size, mtimeMs: stats.mtimeMs }, pieceLength, threads, version);
    return true;
  } catch {
    return false;
  }
}
