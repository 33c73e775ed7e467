/**
 * `express-torrent-tracker seed <data-path> --torrent <file.torrent>`: seed one torrent until interrupted.
 * Verifies the data, announces to the torrent's trackers, dials the peers they return and serves
 * everyone who connects. On a terminal a single status line is redrawn every second; otherwise
 * only the start and end are printed. SIGINT/SIGTERM stop it cleanly (trackers get `stopped`).
 * Text from the torrent or a tracker (name, URLs, failure reasons, errors) is printed through
 * {@link printable}.
 */
import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError } from 'commander';
import type { Seeder } from '../seeder/seeder.js';
import { TorrentParseError, fsReason } from '../torrent/errors.js';
import { parseTorrent } from '../torrent/parse.js';
import type { ParsedTorrent } from '../torrent/types.js';
import { formatBytes } from './create.js';
import { printable, withPrintableErrors } from './printable.js';

/** Options of {@link runSeed} (the parsed command-line options). */
export interface SeedCommandOptions {
  /** Path of the .torrent file. */
  torrent: string;
  /** Listening port (default 6881; 0 = any free port). */
  port?: number;
  /** Address to bind for listening, dialling and announcing. */
  bind?: string;
  /** Verify pieces before seeding (default true). */
  verify?: boolean;
  /** Regular upload slots. */
  slots?: number;
}

/** Where {@link runSeed} writes, and whether it may draw a live status line. */
export interface SeedCommandIO {
  /** Normal output. */
  writeOut: (text: string) => void;
  /** Errors. */
  writeErr: (text: string) => void;
  /** Draw a live, redrawn status line (a terminal). */
  live: boolean;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be an integer from 0 to 65535');
  return n;
}

function parseSlots(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new InvalidArgumentError('must be an integer from 1 to 1000');
  return n;
}

async function loadTorrent(file: string): Promise<ParsedTorrent> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new Error(`cannot read ${file}: ${fsReason(error)}`);
  }
  try {
    return parseTorrent(bytes);
  } catch (error) {
    if (error instanceof TorrentParseError) throw new TorrentParseError(`${file} is not a valid .torrent file: ${error.message}`);
    throw error;
  }
}

/** One status line: uploaded, rate, peers, swarm counts. */
export function statusLine(seeder: Seeder, rate: number): string {
  const s = seeder.stats();
  const t = s.torrents[0];
  const swarm = t && t.seeders !== undefined ? `  swarm ${t.seeders} seeding, ${t.leechers ?? 0} downloading` : '';
  const unchoked = t ? t.unchoked : 0;
  return `uploaded ${formatBytes(s.uploaded)}  ${formatBytes(Math.round(rate))}/s  peers ${s.peers} (${unchoked} receiving)${swarm}`;
}

/**
 * Seeds until `signal` aborts, then closes the seeder (sending `stopped`) and resolves. Throws
 * when the torrent cannot be read or the data does not match it.
 */
export function runSeed(dataPath: string, options: SeedCommandOptions, io: SeedCommandIO, signal: AbortSignal): Promise<void> {
  return withPrintableErrors(() => seed(dataPath, options, io, signal));
}

async function seed(dataPath: string, options: SeedCommandOptions, io: SeedCommandIO, signal: AbortSignal): Promise<void> {
  const torrent = await loadTorrent(options.torrent);
  // Loaded here, not at the top: other subcommands need not pay for the seeder.
  const { createSeeder } = await import('../seeder/seeder.js');
  const seeder = await createSeeder({ port: options.port ?? 6881, host: options.bind, uploadSlots: options.slots });
  let timer: NodeJS.Timeout | undefined;
  let failed = false;
  try {
    seeder.on('announce-error', (f: { url: string; error: Error }) => {
      if (io.live) io.writeErr('\r\x1b[K');
      io.writeErr(`announce to ${printable(f.url)} failed: ${printable(f.error.message)}\n`);
    });
    let lastDrawn = -1;
    try {
      await seeder.add(torrent, dataPath, {
        verify: options.verify ?? true,
        signal,
      onVerifyProgress: io.live
        ? (done, total) => {
            const pct = Math.floor((done / total) * 100);
            if (pct !== lastDrawn) io.writeOut(`\r\x1b[Kverifying ${pct}%`);
            lastDrawn = pct;
          }
        : undefined,
      });
    } catch (error) {
      if (signal.aborted) return; // interrupted while verifying: a clean stop
      throw error;
    }
    if (io.live) io.writeOut('\r\x1b[K');
    if (signal.aborted) return;
    const where = `${options.bind ?? '*'}:${seeder.port}`;
    io.writeOut(`seeding ${printable(torrent.name)} (${torrent.infoHash}, ${formatBytes(torrent.length)}) on ${printable(where)}\n`);
    if (torrent.announce.length === 0) io.writeErr('warning: the torrent has no trackers; peers must find this seeder another way\n');
    let lastBytes = 0;
    let lastAt = Date.now();
    if (io.live) {
      timer = setInterval(() => {
        const now = Date.now();
        const uploaded = seeder.stats().uploaded;
        const rate = ((uploaded - lastBytes) * 1000) / Math.max(1, now - lastAt);
        lastBytes = uploaded;
        lastAt = now;
        io.writeOut(`\r\x1b[K${statusLine(seeder, rate)}`);
      }, 1000);
    }
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
  } catch (error) {
    failed = true; // only the error is printed (by the caller), no "stopped" line before it
    throw error;
  } finally {
    clearInterval(timer);
    if (io.live) io.writeOut('\r\x1b[K');
    const uploaded = seeder.stats().uploaded;
    await seeder.close();
    if (!failed) io.writeOut(`stopped; uploaded ${formatBytes(uploaded)}\n`);
  }
}

/** Add the `seed` subcommand to `program`. */
export function register(program: Command): void {
  program
    .command('seed')
    .description('seed a torrent from local data until interrupted (announces to its trackers, dials and serves peers)')
    .argument('<data-path>', 'the downloaded file, or the directory holding the torrent content')
    .requiredOption('-t, --torrent <file>', '.torrent file describing the data')
    .option('-p, --port <port>', 'TCP port to listen on (0 = any free port)', parsePort, 6881)
    .option('-b, --bind <address>', 'local address for listening, dialling peers and announcing')
    .option('--no-verify', 'skip hashing the data first (only for data known to be good)')
    .option('--slots <n>', 'upload slots (peers served at once, plus one optimistic)', parseSlots)
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  npx express-torrent-tracker seed ./dataset --torrent dataset.torrent\n' +
        '  npx express-torrent-tracker seed big.iso -t big.iso.torrent --port 51413 --no-verify\n',
    )
    .action(async (dataPath: string, options: SeedCommandOptions, command: Command) => {
      const out = command.configureOutput();
      const io: SeedCommandIO = {
        writeOut: out.writeOut ?? ((text: string) => process.stdout.write(text)),
        writeErr: out.writeErr ?? ((text: string) => process.stderr.write(text)),
        live: process.stdout.isTTY === true && process.env.TERM !== 'dumb',
      };
      const controller = new AbortController();
      const stop = (): void => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        await runSeed(dataPath, options, io, controller.signal);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
}
