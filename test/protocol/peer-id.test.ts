import { describe, expect, it } from 'vitest';
import { clientName } from '../../src/protocol/peer-id.js';

/** A 20-byte peer id starting with `prefix` (the rest random-looking). */
const id = (prefix: string): Buffer => Buffer.concat([Buffer.from(prefix, 'latin1'), Buffer.from('x7Kq9zR2mP4wL8vN3tY6', 'latin1')]).subarray(0, 20);

describe('clientName', () => {
  it.each([
    ['-qB4650-', 'qBittorrent 4.6.5'],
    ['-qB5010-', 'qBittorrent 5.0.1'],
    ['-TR4060-', 'Transmission 4.0.6'],
    ['-TR2940-', 'Transmission 2.94'],
    ['-TR300Z-', 'Transmission 3.00'],
    ['-LT2090-', 'libtorrent 2.0.9'],
    ['-lt0D80-', 'rTorrent 0.13.8'],
    ['-DE211s-', 'Deluge 2.1.1'],
    ['-UT355W-', 'µTorrent 3.5.5'],
    ['-BT7A5B-', 'BitTorrent 7.10.5'],
    ['-WW0107-', 'WebTorrent 1.7'],
    ['-WD0011-', 'WebTorrent Desktop 0.11'],
    ['-AZ5770-', 'Vuze 5.7.7'],
    ['-AZ2503-', 'Vuze 2.5.0.3'],
    ['-BI3810-', 'BiglyBT 3.8.1'],
    ['-KT5100-', 'KTorrent 5.1.0'],
    ['-FW7000-', 'FrostWire 7.0.0'],
    ['-ET0100-', 'express-torrent-tracker 0.1.0'],
    ['TIX0291-', 'Tixati 2.91'],
    ['A2-1-37-0-', 'aria2 1.37.0'],
    ['M7-4-3--', 'BitTorrent 7.4.3'],
    ['T03I-----', 'BitTornado 0.3.18'],
    ['S587-----', 'Shadow 5.8.7'],
  ])('%s is %s', (prefix, name) => {
    expect(clientName(id(prefix))).toBe(name);
  });

  it('is undefined for unknown clients and random ids', () => {
    expect(clientName(id('-ZZ1234-'))).toBeUndefined();
    expect(clientName(Buffer.from('00112233445566778899aabbccddeeff00112233', 'hex'))).toBeUndefined();
    expect(clientName(Buffer.alloc(20))).toBeUndefined();
  });

  it('names a known client whose version characters it cannot read', () => {
    expect(clientName(id('-qB~~~~-'))).toBeUndefined(); // not Azureus style at all
    expect(clientName(id('-TR40a0-'))).toBe('Transmission');
  });
});
