/**
 * parseTorrent promises safe relative paths: names and path components must be safe on every
 * common operating system (the seeder's rule): no Windows separators, drive letters or device
 * names, no control characters. Error messages quote the offending text with every control
 * character escaped, so they can be printed as they are.
 */
import { createHash } from 'node:crypto';
import bencode from 'bencode';
import { describe, expect, it } from 'vitest';
import { TorrentParseError } from '../../src/torrent/errors.js';
import { parseTorrent } from '../../src/torrent/parse.js';
import { unsafeComponentReason } from '../../src/torrent/path-rules.js';

const pieces = createHash('sha1').update('x').digest();
const single = (name: string): Buffer => Buffer.from(bencode.encode({ info: { length: 1, name, 'piece length': 16_384, pieces } }));
const multi = (component: string): Buffer =>
  Buffer.from(bencode.encode({ info: { files: [{ length: 1, path: ['ok', component] }], name: 'root', 'piece length': 16_384, pieces } }));

const unsafe: Array<[string, RegExp]> = [
  ['..\\..\\Windows', /path separator/],
  ['a\\b', /path separator/],
  ['C:', /drive letter/],
  ['c:\\Windows', /path separator/],
  ['C:evil', /drive letter/],
  ['AUX', /reserved device name/],
  ['aux', /reserved device name/],
  ['Nul.txt', /reserved device name/],
  ['CON .txt', /reserved device name/],
  ['COM1', /reserved device name/],
  ['lpt9.log', /reserved device name/],
  ['COM¹', /reserved device name/],
  ['CONIN$', /reserved device name/],
  ['PRN.', /reserved device name/],
  ['AUX ', /reserved device name/],
  ['...', /only dots and spaces/],
  ['.. ', /only dots and spaces/],
  [' ', /only dots and spaces/],
  ['.', /it is "\."/],
  ['..', /it is "\.\."/],
  ['', /empty/],
  ['name\u001b]0;title\u0007', /control character/],
  ['hidden\u001b[8m', /control character/],
  ['c1\u009b31m', /control character/],
  ['del\u007f', /control character/],
  ['new\nline', /control character/],
  ['tab\there', /control character/],
  ['nul\u0000byte', /control character/],
];

const safe = ['auxiliary', 'con-fig', 'COM10', 'lpt', 'a.b.', '.hidden', 'ü n', '日本語', 'C', 'C-drive', '1:2', ':y', 'file.'];

describe('parseTorrent: names safe on every system', () => {
  it.each(unsafe)('refuses %j as the name and as a path component', (text, reason) => {
    for (const [input, field] of [
      [single(text), '"info.name"'],
      [multi(text), '"info.files[0].path[1]"'],
    ] as const) {
      let caught: unknown;
      try {
        parseTorrent(input);
      } catch (error) {
        caught = error;
      }
      expect(caught, `${field} ${JSON.stringify(text)}`).toBeInstanceOf(TorrentParseError);
      const message = (caught as Error).message;
      expect(message.startsWith(`${field} is not a safe path component`), message).toBe(true);
      expect(message).toMatch(reason);
      expect(message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/); // printable as is
    }
  });

  it.each(safe)('accepts %j', (text) => {
    expect(parseTorrent(single(text)).name).toBe(text);
    expect(parseTorrent(multi(text)).files[0].path).toEqual(['ok', text]);
  });

  it('uses one rule with the seeder', () => {
    for (const [text] of unsafe) expect(unsafeComponentReason(text), JSON.stringify(text)).toBeDefined();
    for (const text of safe) expect(unsafeComponentReason(text), text).toBeUndefined();
  });
});
