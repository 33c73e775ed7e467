/**
 * `express-torrent-tracker create <path>`: make a .torrent file, print its info hash and magnet link.
 *
 * The output is written to a temporary file next to the target and moved into place only when
 * complete, so a failure or Ctrl-C never leaves a partial .torrent behind. An existing output file
 * is not replaced unless `--force` is given.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { createTorrent } from '../torrent/create.js';
import { pieceLengthInBytes } from './create-early.js';
import { TorrentCreateError, fsReason } from '../torrent/errors.js';
import type { TorrentVersion } from '../torrent/v2-info.js';

interface CreateCommandOptions {
  announce?: string[];
  pieceLength?: number;
  private?: boolean;
  comment?: string;
  webSeed?: string[];
  output?: string;
  name?: string;
  date: boolean;
  createdBy?: string;
  threads?: number;
  force?: boolean;
  quiet?: boolean;
  version?: TorrentVersion;
}

/** Add the `create` subcommand to `program`. */
export function register(program: Command): void {
  program
    .command('create')
    .description('create a .torrent file from a file or a directory and print its info hash and magnet link')
    .argument('<path>', 'file or directory to share')
    .option(
      '-a, --announce <url>',
      'tracker announce URL; repeat for backup tiers, separate URLs of one tier with commas',
      collect,
    )
    .option(
      '-l, --piece-length <size>',
      'bytes per piece: a power of two from 16K to 16M, as bytes (262144), with a suffix (256K, 1M) or as mktorrent\'s exponent 15..24 (18 = 2^18 = 256 KiB); default from the total size',
      parseSize,
    )
    .option('-p, --private', 'set the private flag (BEP 27): peers only from the tracker')
    .option('-c, --comment <text>', 'comment stored in the torrent')
    .option('-w, --web-seed <url>', 'web seed URL (BEP 19 url-list); repeat or separate with commas for more', collect)
    .option('-o, --output <file>', 'where to write the .torrent (default: <name>.torrent in the current directory)')
    .option('-n, --name <name>', 'torrent name (default: the base name of <path>)')
    .option('--no-date', 'omit the creation date (reproducible output)')
    .option('--created-by <text>', 'the "created by" field (default: express-torrent-tracker/<version>)')
    .option('-t, --threads <n>', 'hashing threads (default: one per CPU core)', parseCount)
    .option('--version <version>', 'v1 (default; as mktorrent makes them), v2 (BEP 52) or hybrid (v1 and v2 in one torrent)', parseVersion)
    .option('-f, --force', 'overwrite the output file if it exists')
    .option('-q, --quiet', 'no progress bar')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  npx express-torrent-tracker create ./dataset --announce http://tracker.example.com/announce\n' +
        '  npx express-torrent-tracker create big.iso -a udp://tracker.example.com:6969/announce -l 22 -w https://example.com/files/\n',
    )
    .action(async (target: string, options: CreateCommandOptions, command: Command) => {
      await createCommand(target, options, command);
    });
}

async function createCommand(target: string, options: CreateCommandOptions, command: Command): Promise<void> {
  const output = command.configureOutput();
  const writeOut = output.writeOut ?? ((text: string) => process.stdout.write(text));
  const writeErr = output.writeErr ?? ((text: string) => process.stderr.write(text));
  const announce = splitLists(options.announce);
  const webSeeds = splitLists(options.webSeed).flat();
  const name = options.name ?? path.basename(path.resolve(target));
  const outFile = path.resolve(options.output ?? `${name}.torrent`);
  if (!options.force && (await exists(outFile))) {
    throw new TorrentCreateError(`${outFile} already exists (use --force to overwrite)`);
  }

  // The bar is drawn on stderr, only when both stdout and stderr are terminals.
  const showBar = !options.quiet && process.stderr.isTTY === true && process.stdout.isTTY === true;
  // cli-progress is loaded only when a bar is shown: a faster start for scripts.
  const bar = showBar
    ? new (await import('cli-progress')).SingleBar({
        format: 'hashing [{bar}] {percentage}% | {done} of {size} | ETA {eta_formatted}',
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: true,
      })
    : undefined;
  const controller = new AbortController();
  // Ctrl-C or SIGTERM while hashing: stop the workers, write nothing, exit 130 (see run() in cli.ts).
  const interrupt = (): void => controller.abort(Object.assign(new TorrentCreateError('interrupted'), { exitCode: 130 }));
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  let started = false;
  let result: Awaited<ReturnType<typeof createTorrent>>;
  try {
    result = await createTorrent(target, {
      announce,
      pieceLength: options.pieceLength,
      private: options.private === true,
      comment: options.comment,
      webSeeds,
      name: options.name,
      creationDate: options.date ? undefined : false,
      createdBy: options.createdBy,
      threads: options.threads,
      version: options.version,
      signal: controller.signal,
      onProgress: (done, total) => {
        if (bar === undefined) return;
        if (!started) {
          bar.start(total, 0, { done: formatBytes(0), size: formatBytes(total) });
          started = true;
        }
        bar.update(done, { done: formatBytes(done) });
      },
    });
  } finally {
    if (started) bar?.stop();
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }

  for (const skipped of result.skipped) writeErr(`warning: skipped ${skipped}: not a regular file or directory\n`);
  await writeAtomically(outFile, result.torrent, options.force === true);
  if (announce.length === 0) {
    writeErr('warning: no tracker (--announce) given: clients can only find peers through DHT/PEX or web seeds\n');
  }
  const pieces =
    result.version === 'v1'
      ? Math.ceil(result.length / result.pieceLength)
      : result.files.reduce((sum, file) => sum + Math.ceil(file.length / result.pieceLength), 0);
  const hashes =
    result.version === 'v1'
      ? [`Info hash: ${result.infoHash}`]
      : result.version === 'v2'
        ? [`Info hash v2: ${result.infoHashV2}`, `  (tracker swarm: ${result.infoHash})`]
        : [`Info hash v1: ${result.infoHash}`, `Info hash v2: ${result.infoHashV2}`];
  writeOut(
    [
      `Created ${outFile}${result.version === 'v1' ? '' : ` (${result.version === 'v2' ? 'BitTorrent v2' : 'hybrid v1 + v2'})`}`,
      `  ${result.files.length} file${result.files.length === 1 ? '' : 's'}, ${formatBytes(result.length)} (${result.length} bytes), ` +
        `${pieces} piece${pieces === 1 ? '' : 's'} of ${formatBytes(result.pieceLength)}`,
      ...hashes,
      `Magnet: ${result.magnet}`,
      '',
    ].join('\n'),
  );
}

/**
 * Write `data` to a temporary file beside `file`, then move it into place (never a partial file).
 * Synchronous calls: a command-line tool has nothing else to do meanwhile, and each asynchronous
 * call would be a thread-pool round trip (slow to come back on a busy machine).
 */
async function writeAtomically(file: string, data: Buffer, overwrite: boolean): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    writeFileSync(temp, data, { flag: 'wx' });
  } catch (error) {
    throw new TorrentCreateError(`cannot write ${file}: ${fsReason(error)}`, { path: file, cause: error });
  }
  try {
    if (overwrite) {
      renameSync(temp, file);
      return;
    }
    try {
      linkSync(temp, file); // fails if the file appeared meanwhile: never replaces it
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new TorrentCreateError(`${file} already exists (use --force to overwrite)`);
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV' && code !== 'ENOSYS') throw error;
      if (await exists(file)) throw new TorrentCreateError(`${file} already exists (use --force to overwrite)`);
      renameSync(temp, file); // a file system without hard links
    }
  } catch (error) {
    if (error instanceof TorrentCreateError) throw error;
    throw new TorrentCreateError(`cannot write ${file}: ${fsReason(error)}`, { path: file, cause: error });
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      /* already moved */
    }
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    statSync(file);
    return true;
  } catch {
    return false;
  }
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Each option occurrence is one tier; commas separate URLs within it. */
function splitLists(values: string[] | undefined): string[][] {
  return (values ?? []).map((value) =>
    value
      .split(',')
      .map((url) => url.trim())
      .filter((url) => url !== ''),
  ).filter((tier) => tier.length > 0);
}

/** `262144`, `256K`, `256KiB`, `1M`, `1MiB`, or an exponent 15..28 (`18` = 2^18) → bytes. Range checks happen in createTorrent. */
function parseSize(value: string): number {
  const bytes = pieceLengthInBytes(value);
  if (typeof bytes === 'string') throw new InvalidArgumentError(bytes);
  if (bytes === undefined) throw new InvalidArgumentError(`"${value}" is not a piece length (e.g. 18 for 2^18 bytes, 256K, 1M, 262144)`);
  return bytes;
}

function parseVersion(value: string): TorrentVersion {
  const version = value.trim().toLowerCase();
  if (version !== 'v1' && version !== 'v2' && version !== 'hybrid') throw new InvalidArgumentError('expected v1, v2 or hybrid');
  return version;
}

function parseCount(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 64) throw new InvalidArgumentError('expected a whole number from 0 to 64');
  return Number(value);
}

/** `1.5 MiB`-style sizes for people. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1).replace(/\.?0+$/, '')} ${units[unit]}`;
}
