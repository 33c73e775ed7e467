/**
 * `express-torrent-tracker info <file.torrent>`: a readable summary of a .torrent file (or JSON with `--json`).
 * Everything taken from the torrent is printed through {@link printable} (or {@link printableJson}):
 * a crafted name, comment or URL cannot drive the terminal.
 */
import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { TorrentParseError, fsReason } from '../torrent/errors.js';
import { magnetLink } from '../torrent/magnet.js';
import { parseTorrent } from '../torrent/parse.js';
import type { ParsedTorrent } from '../torrent/types.js';
import { formatBytes } from './create.js';
import { printable, printableJson, withPrintableErrors } from './printable.js';

/** Add the `info` subcommand to `program`. */
export function register(program: Command): void {
  program
    .command('info')
    .description('show what a .torrent file contains: name, info hash, magnet link, trackers, files')
    .argument('<file>', '.torrent file to read')
    .option('--json', 'print JSON instead of text')
    .addHelpText('after', '\nExamples:\n  npx express-torrent-tracker info dataset.torrent\n  npx express-torrent-tracker info dataset.torrent --json\n')
    .action((file: string, options: { json?: boolean }, command: Command) =>
      withPrintableErrors(async () => {
        const writeOut = command.configureOutput().writeOut ?? ((text: string) => process.stdout.write(text));
        let bytes: Buffer;
        try {
          bytes = await readFile(file);
        } catch (error) {
          throw new Error(`cannot read ${file}: ${fsReason(error)}`);
        }
        let torrent: ParsedTorrent;
        try {
          torrent = parseTorrent(bytes);
        } catch (error) {
          if (error instanceof TorrentParseError) throw new TorrentParseError(`${file} is not a valid .torrent file: ${error.message}`);
          throw error;
        }
        writeOut(options.json ? `${printableJson(JSON.stringify(toJson(torrent), null, 2))}\n` : summary(torrent));
      }),
    );
}

function magnetOf(torrent: ParsedTorrent): string {
  return magnetLink({
    infoHash: torrent.infoHash,
    infoHashV2: torrent.infoHashV2,
    version: torrent.version,
    name: torrent.name,
    announce: torrent.announce,
    urlList: torrent.urlList,
  });
}

function toJson(torrent: ParsedTorrent): Record<string, unknown> {
  return {
    name: torrent.name,
    version: torrent.version,
    infoHash: torrent.infoHash,
    infoHashV2: torrent.infoHashV2,
    magnet: magnetOf(torrent),
    length: torrent.length,
    pieceLength: torrent.pieceLength,
    pieces: torrent.pieces.length,
    lastPieceLength: torrent.lastPieceLength,
    multiFile: torrent.multiFile,
    private: torrent.private,
    announce: torrent.announce,
    urlList: torrent.urlList,
    comment: torrent.comment,
    createdBy: torrent.createdBy,
    creationDate: torrent.creationDate?.toISOString(),
    files: torrent.files.map((file) => ({
      path: file.path.join('/'),
      length: file.length,
      offset: file.offset,
      piecesRoot: file.piecesRoot?.toString('hex'),
    })),
  };
}

function summary(torrent: ParsedTorrent): string {
  const lines: string[] = [];
  const row = (label: string, value: string): void => {
    lines.push(`${(label === '' ? '' : `${label}:`).padEnd(14)}${printable(value)}`);
  };
  row('Name', torrent.name);
  row('Version', torrent.version === 'v1' ? 'BitTorrent v1' : torrent.version === 'v2' ? 'BitTorrent v2 (BEP 52)' : 'hybrid (v1 and v2)');
  if (torrent.version === 'v1') row('Info hash', torrent.infoHash);
  if (torrent.version === 'hybrid') row('Info hash v1', torrent.infoHash);
  if (torrent.infoHashV2 !== undefined) row('Info hash v2', torrent.infoHashV2);
  if (torrent.version === 'v2') row('Swarm hash', `${torrent.infoHash} (v2 hash truncated to 20 bytes)`);
  row('Magnet', magnetOf(torrent));
  row('Size', `${formatBytes(torrent.length)} (${torrent.length} bytes)`);
  if (torrent.version === 'v2') {
    const pieces = torrent.files.reduce((sum, file) => sum + Math.ceil(file.length / torrent.pieceLength), 0);
    row('Pieces', `${pieces} × ${formatBytes(torrent.pieceLength)} (each file starts a piece)`);
  } else {
    row(
      'Pieces',
      `${torrent.pieces.length} × ${formatBytes(torrent.pieceLength)}` +
        (torrent.pieces.length > 0 ? ` (last piece ${formatBytes(torrent.lastPieceLength)})` : ''),
    );
  }
  row('Private', torrent.private ? 'yes' : 'no');
  if (torrent.announce.length === 0) row('Trackers', 'none');
  torrent.announce.forEach((tier, i) => row(i === 0 ? 'Trackers' : '', `tier ${i + 1}: ${tier.join(', ')}`));
  torrent.urlList.forEach((url, i) => row(i === 0 ? 'Web seeds' : '', url));
  if (torrent.comment !== undefined) row('Comment', torrent.comment);
  if (torrent.createdBy !== undefined) row('Created by', torrent.createdBy);
  if (torrent.creationDate !== undefined) row('Created', torrent.creationDate.toISOString());
  row('Files', `${torrent.files.length}${torrent.multiFile ? '' : ' (single-file torrent)'}`);
  for (const file of torrent.files) {
    const where = torrent.multiFile ? [torrent.name, ...file.path].join('/') : file.path.join('/');
    lines.push(`  ${formatBytes(file.length).padStart(10)}  ${printable(where)}`);
  }
  return `${lines.join('\n')}\n`;
}
