#!/usr/bin/env node
/**
 * The `express-torrent-tracker` command (also installed as `torrent-tracker`): a small dispatcher. Each subcommand lives in `src/cli/<name>.ts` and
 * exports `register(program: Command): void`; adding one is one line in {@link SUBCOMMANDS}.
 * Subcommand modules are imported on demand: `express-torrent-tracker create ...` loads only `create` (the
 * tracker, the seeder and their dependencies stay unloaded, a faster start); help and unknown
 * commands load them all.
 *
 * Program options are positional (`enablePositionalOptions`): `-V, --version` before a subcommand
 * prints the version, after it it is the subcommand's own option (`create PATH --version v2`).
 *
 * Subcommands print through `command.configureOutput()` (`writeOut` / `writeErr`), so tests can run
 * the whole command in-process with {@link run}. An action that throws gets a one-line
 * `express-torrent-tracker: error: <message>` on stderr and exit code 1.
 */
import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command, OutputConfiguration } from 'commander';

type Register = (program: Command) => void;

/** Subcommands in help order: name → loader of its `register` function. One line each. */
const SUBCOMMANDS: ReadonlyArray<readonly [string, () => Promise<Register>]> = [
  ['create', async () => (await import('./cli/create.js')).register],
  ['info', async () => (await import('./cli/info.js')).register],
  ['seed', async () => (await import('./cli/seed.js')).register],
  ['serve', async () => (await import('./cli/serve.js')).register],
];

/**
 * Build the program with every subcommand registered (or, with `only`, just the one named, when it
 * is a subcommand).
 * @param output where help, results and errors go (default: process stdout/stderr)
 * @param only register only this subcommand, if it is one
 */
export async function createProgram(output?: OutputConfiguration, only?: string): Promise<Command> {
  // Loaded on demand too: `create` starts its hashing workers before commander is even parsed.
  const { Command } = await import('commander');
  const program = new Command(programName())
    .description('BitTorrent tracker as Express middleware, .torrent creation and seeding')
    .version(packageVersion(), '-V, --version', 'print the version')
    .enablePositionalOptions();
  if (output !== undefined) program.configureOutput(output);
  const selected = SUBCOMMANDS.filter(([name]) => name === only);
  const registers = await Promise.all((selected.length > 0 ? selected : SUBCOMMANDS).map(([, load]) => load()));
  for (const register of registers) register(program);
  return program;
}

/**
 * Run the command line `argv` (without the `node` and script entries) and resolve to the exit code.
 * Never calls `process.exit`.
 * @param argv arguments, e.g. `['create', 'dir', '--announce', 'http://host/announce']`
 * @param output where help, results and errors go (default: process stdout/stderr)
 */
export async function run(argv: readonly string[], output?: OutputConfiguration): Promise<number> {
  // For `create`, get hashing going first: the file itself when the arguments name one (see
  // cli/create-early.ts), else the hashing workers, which take tens of milliseconds to boot. This
  // thread loads commander and the subcommand's modules meanwhile.
  let early = false;
  if (argv[0] === 'create' && !argv.some((arg) => arg === '-h' || arg === '--help')) {
    const [{ startCreateEarly }, { prestartHashWorkers }, { availableParallelism }] = await Promise.all([
      import('./cli/create-early.js'),
      import('./torrent/hash-pool.js'),
      import('node:os'),
    ]);
    early = startCreateEarly(argv);
    const at = argv.findIndex((arg) => arg === '-t' || arg === '--threads');
    const threads = at > 0 ? Number(argv[at + 1]) : Math.min(16, availableParallelism());
    if (!early && Number.isSafeInteger(threads) && threads > 1 && threads <= 64) prestartHashWorkers(threads - 1);
  }
  try {
    return await parse(argv, output);
  } finally {
    if (early) (await import('./torrent/early-hash.js')).cancelEarlyHash();
  }
}

/** The body of {@link run}: parse `argv` and run the subcommand. */
async function parse(argv: readonly string[], output: OutputConfiguration | undefined): Promise<number> {
  const program = await createProgram(output, argv[0]);
  program.exitOverride();
  for (const command of program.commands) command.exitOverride();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    const { CommanderError } = await import('commander');
    if (error instanceof CommanderError) return error.exitCode; // commander already printed it
    const message = error instanceof Error ? error.message : String(error);
    const write = program.configureOutput().writeErr ?? ((text: string) => process.stderr.write(text));
    write(`${program.name()}: error: ${message.split('\n')[0]}\n`);
    return typeof (error as { exitCode?: unknown }).exitCode === 'number' ? (error as { exitCode: number }).exitCode : 1;
  }
}

/**
 * The name the command was run by: `torrent-tracker` when started through that bin, else the
 * package's own name (`npx express-torrent-tracker ...`), which help and errors then show.
 */
function programName(): string {
  const script = process.argv[1];
  return script !== undefined && path.basename(script, path.extname(script)) === 'torrent-tracker' ? 'torrent-tracker' : 'express-torrent-tracker';
}

/** The version in the package's package.json (`unknown` if it cannot be read). */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** True when this module is the script node was started with (also through an npm bin symlink). */
function isMain(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isMain()) {
  const code = await run(process.argv.slice(2));
  process.exitCode = code;
  // A failed command has said why; should something it opened (a store reconnecting) still hold the
  // process, leave anyway. The timer itself keeps nothing alive.
  if (code !== 0) setTimeout(() => process.exit(code), 500).unref();
}
