/**
 * withTrackers(): a member's .torrent with their own trackers and web seed, byte-identical otherwise.
 * For v1, v2 and hybrid torrents (whose `piece layers` are keyed by binary roots) the info hashes
 * stay the same and parseTorrent reads the new URLs; a general bencode round trip would damage the
 * binary keys (checked here too, so the test shows why the function exists).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import bencode from 'bencode';
import { afterAll, describe, expect, it } from 'vitest';
import { createTorrent } from '../../src/torrent/create.js';
import { TorrentCreateError, TorrentParseError } from '../../src/torrent/errors.js';
import { parseTorrent } from '../../src/torrent/parse.js';
import { withTrackers } from '../../src/torrent/trackers.js';
import { bytes, tempDir } from './fixtures.js';

const tmp = tempDir('ett-withtrackers-');
afterAll(() => tmp.cleanup());

describe('withTrackers', () => {
  for (const version of ['v1', 'v2', 'hybrid'] as const) {
    it(`${version}: new trackers and web seeds, the same info hashes and info bytes`, async () => {
      const file = path.join(tmp.dir, `${version}.bin`);
      writeFileSync(file, bytes(300_000, 5));
      const made = await createTorrent(file, { version, pieceLength: 32_768, announce: 'http://site/tracker/announce', webSeeds: 'http://site/webseed/x.bin', comment: 'keep me' });
      const personal = withTrackers(made.torrent, {
        announce: [['udp://site:6969/abc/announce'], ['http://site/tracker/abc/announce']],
        webSeeds: ['http://site/webseed/abc/x.bin'],
      });
      const t = parseTorrent(personal);
      expect(t.infoHash).toBe(made.infoHash);
      expect(t.infoHashV2).toBe(made.infoHashV2);
      expect(t.announce).toEqual([['udp://site:6969/abc/announce'], ['http://site/tracker/abc/announce']]);
      expect(t.urlList).toEqual(['http://site/webseed/abc/x.bin']);
      expect(t.comment).toBe('keep me');
      // Only the URLs changed: the rest of the file is the same bytes.
      const infoStart = made.torrent.indexOf('4:info');
      const infoAndLayers = made.torrent.subarray(infoStart, made.torrent.lastIndexOf('8:url-list'));
      expect(personal.includes(infoAndLayers)).toBe(true);
      if (version !== 'v1') {
        // Why it exists: a text-keyed bencode round trip breaks the binary `piece layers` keys.
        const roundTrip = Buffer.from(bencode.encode(bencode.decode(made.torrent)));
        expect(() => parseTorrent(roundTrip)).toThrow(TorrentParseError);
      }
    });
  }

  it('an empty list removes the entries; a missing option keeps them; bad URLs and non-torrents are refused', async () => {
    const file = path.join(tmp.dir, 'keep.bin');
    writeFileSync(file, bytes(1000, 6));
    const made = await createTorrent(file, { announce: ['http://a/announce', 'http://b/announce'], webSeeds: 'http://w/keep.bin' });
    const none = parseTorrent(withTrackers(made.torrent, { announce: [] }));
    expect(none.announce).toEqual([]);
    expect(none.urlList).toEqual(['http://w/keep.bin']);
    expect(parseTorrent(withTrackers(made.torrent, { webSeeds: [] })).urlList).toEqual([]);
    expect(withTrackers(made.torrent, {}).equals(made.torrent)).toBe(true);
    expect(() => withTrackers(made.torrent, { announce: 'ftp://x/announce' })).toThrow(TorrentCreateError);
    expect(() => withTrackers(Buffer.from('le'), {})).toThrow(TorrentParseError);
    expect(() => withTrackers(Buffer.from('d3:fooi1ee'), {})).toThrow('the torrent has no "info" dictionary');
  });
});
