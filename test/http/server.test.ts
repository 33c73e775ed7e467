import net from 'node:net';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createTrackerServer, type TrackerServer } from '../../src/server.js';
import { compactPeers, decodeDict, failureOf } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet } from '../helpers/http.js';

async function start(options: Parameters<typeof createTrackerServer>[0] = {}): Promise<{ server: TrackerServer; port: number }> {
  const server = createTrackerServer(options);
  await new Promise<void>((resolve) => server.listen(0, '::', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

const announce = (ih: Buffer, pid: Buffer, extra = ''): string =>
  `/announce?info_hash=${escapeAll(ih)}&peer_id=${escapeAll(pid)}&port=6881&left=5${extra}`;

describe('createTrackerServer (node:http, same core)', () => {
  let running: { server: TrackerServer; port: number } | undefined;
  afterEach(async () => {
    await running?.server.shutdown();
    running = undefined;
  });

  it('serves /announce and /scrape at its root with the same answers as the middleware', async () => {
    running = await start({ interval: 60, intervalJitter: 0 });
    const ih = randomBytes(20);
    const first = await rawGet(running.port, announce(ih, randomBytes(20)));
    expect(first.body.toString('latin1')).toBe('d8:completei0e10:downloadedi0e10:incompletei1e8:intervali60e12:min intervali30e5:peers0:e');
    const second = decodeDict((await rawGet(running.port, announce(ih, randomBytes(20)), { localAddress: '127.0.0.3' })).body);
    expect(compactPeers(second.peers, 4)).toEqual(['127.0.0.1:6881']);
    const six = decodeDict((await rawGet(running.port, announce(ih, randomBytes(20)), { host: '::1' })).body);
    expect(compactPeers(six.peers, 4)).toHaveLength(2);
    const scrape = decodeDict((await rawGet(running.port, `/scrape?info_hash=${escapeAll(ih)}`)).body);
    expect(Object.values(scrape.files as object)[0]).toEqual({ complete: 0, incomplete: 3, downloaded: 0, downloaders: 3 });
    expect((await rawGet(running.port, '/elsewhere')).status).toBe(404);
  });

  it('answers bad input and over-long request lines with a failure reason and HTTP 200', async () => {
    running = await start();
    const bad = await rawGet(running.port, '/announce?info_hash=abc');
    expect(bad.status).toBe(200);
    expect(failureOf(bad.body)).toBe('info_hash must be exactly 20 bytes (got 3)');
    const port = running.port;
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      let out = '';
      socket.on('data', (c) => (out += c.toString('latin1')));
      socket.on('close', () => resolve(out));
      socket.on('error', reject);
      socket.write(`GET /announce?pad=${'x'.repeat(40_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(reply).toContain('d14:failure reason16:request too longe');
  });

  it('takes the address from X-Forwarded-For only when trustProxy is set', async () => {
    running = await start({ trustProxy: true });
    const ih = randomBytes(20);
    await rawGet(running.port, announce(ih, randomBytes(20)), { headers: { 'X-Forwarded-For': '10.1.1.1, 198.51.100.20' } });
    const d = decodeDict((await rawGet(running.port, announce(ih, randomBytes(20)))).body);
    expect(compactPeers(d.peers, 4)).toEqual(['198.51.100.20:6881']);
  });
});
