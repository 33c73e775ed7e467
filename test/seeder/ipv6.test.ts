import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import bencode from 'bencode';
import { createSeeder, type Seeder } from '../../src/seeder/seeder.js';
import { encode } from '../../src/seeder/wire.js';
import { FakePeer } from './helpers/fake-peer.js';
import { makeTorrent } from './helpers/torrent.js';

let seeder: Seeder | undefined;
afterAll(async () => {
  await seeder?.close();
});

describe('seeder over IPv6', () => {
  it('listens on ::1, serves blocks and tells the peer its 16-byte address', async () => {
    const fx = await makeTorrent({ size: 40_000 });
    seeder = await createSeeder({ port: 0, host: '::1', announce: false });
    await seeder.add(fx.torrentBuffer, fx.dir);
    const p = await FakePeer.connect(seeder.port, '::1');
    p.handshake(fx.parsed.infoHashBuffer, Buffer.concat([Buffer.from('-TS0001-'), randomBytes(12)]), { extended: true, fast: true });
    await p.waitFor(() => p.ofType('extended').length === 1 && p.ofType('have-all').length === 1);
    const ext = bencode.decode(p.ofType('extended')[0].payload) as Record<string, unknown>;
    expect([...(ext.yourip as Uint8Array)]).toEqual([...Buffer.alloc(15), 1]);
    expect(p.ofType('allowed-fast')).toHaveLength(0); // BEP 6 defines the set for IPv4 only
    p.send(encode.interested());
    await p.waitFor(() => p.ofType('unchoke').length === 1);
    p.send(encode.request({ index: 2, begin: 0, length: 40_000 - 32768 }));
    await p.waitFor(() => p.ofType('piece').length === 1);
    expect(p.ofType('piece')[0].block).toEqual(fx.data.subarray(32768));
    p.destroy();
  });
});
