/**
 * Slow and idle clients against the standalone server: connections that never send, slow headers
 * and piles of idle sockets are bounded by timeouts and a connection cap; real clients are served.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createTrackerServer, type TrackerServer } from '../../src/server.js';
import { decodeDict } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet } from '../helpers/http.js';
import { waitFor } from '../helpers/clients.js';

const sockets: net.Socket[] = [];
let server: TrackerServer | undefined;
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await server?.shutdown();
  server = undefined;
});

async function start(options: Parameters<typeof createTrackerServer>[0]): Promise<number> {
  server = createTrackerServer(options);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function open(port: number): Promise<net.Socket & { closedAt?: number }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.resume(); // read, so that the server's FIN is seen
    s.on('error', () => undefined);
    s.once('close', () => ((s as net.Socket & { closedAt?: number }).closedAt = Date.now()));
    s.once('error', reject);
    sockets.push(s);
  });
}

const announce = (port: number) =>
  rawGet(port, `/announce?info_hash=${escapeAll(randomBytes(20))}&peer_id=${escapeAll(randomBytes(20))}&port=1&left=0`);

describe('standalone server under slow and idle clients', () => {
  it('closes connections that never send and slow-header connections after headersTimeout', async () => {
    const port = await start({ headersTimeout: 400, storeTimeout: 200 });
    const silent = await Promise.all(Array.from({ length: 200 }, () => open(port)));
    const slow = await open(port);
    slow.write('GET /announce?info_hash=');
    const drip = setInterval(() => slow.writable && slow.write('a'), 50); // a byte at a time, never done
    try {
      // A real client is served while they hang on.
      expect(decodeDict((await announce(port)).body)).toMatchObject({ complete: 1 });
      await waitFor('silent and slow connections to be closed', () => [...silent, slow].every((s) => s.destroyed || s.closed), 5000, 50);
    } finally {
      clearInterval(drip);
    }
  });

  it('caps open connections: beyond maxConnections they are dropped, served again once idle ones go', async () => {
    const port = await start({ maxConnections: 50, headersTimeout: 600, storeTimeout: 200 });
    const idle = await Promise.all(Array.from({ length: 50 }, () => open(port)));
    const extra = await open(port);
    await waitFor('the 51st connection to be dropped', () => extra.destroyed || extra.closed, 2000, 20);
    await waitFor('idle connections to time out', () => idle.every((s) => s.destroyed || s.closed), 5000, 50);
    expect(decodeDict((await announce(port)).body)).toMatchObject({ complete: 1 });
  });

  it('idle keep-alive sockets are closed after keepAliveTimeout', async () => {
    const port = await start({ keepAliveTimeout: 300 });
    const s = await open(port);
    s.write(`GET /announce?info_hash=${escapeAll(randomBytes(20))}&peer_id=${escapeAll(randomBytes(20))}&port=1 HTTP/1.1\r\nHost: x\r\n\r\n`);
    await waitFor('the answer and then the close', () => s.destroyed || s.closed, 3000, 20);
  });
});
