import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeDict } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet } from '../helpers/http.js';
import { announcePacket, decodeAnnounce, UdpTestClient } from '../helpers/udp.js';

describe('torrent-tracker serve', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('runs the standalone tracker until SIGTERM, then stops cleanly', async () => {
    child = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', '0', '--host', '127.0.0.1', '--interval', '42'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const port = await new Promise<number>((resolve, reject) => {
      child!.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /port (\d+): announce URL http:\/\/127\.0\.0\.1:(\d+)\/announce/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child!.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    const q = `info_hash=${escapeAll(randomBytes(20))}&peer_id=${escapeAll(randomBytes(20))}&port=1&left=0`;
    const answer = decodeDict((await rawGet(port, `/announce?${q}`)).body);
    expect(answer).toMatchObject({ complete: 1 });
    // 42 s told within ±10 % (intervalJitter).
    expect(answer.interval).toBeGreaterThanOrEqual(38);
    expect(answer.interval).toBeLessThanOrEqual(46);
    const code = await new Promise<number | null>((resolve) => {
      child!.on('exit', (c) => resolve(c));
      child!.kill('SIGTERM');
    });
    expect(code).toBe(0);
    expect(out).toContain('tracker stopped');
  });

  it('--udp-port also answers UDP announces on the same swarms', async () => {
    child = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', '0', '--host', '127.0.0.1', '--udp-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const [httpPort, udpPort] = await new Promise<[number, number]>((resolve, reject) => {
      child!.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const http = /port (\d+): announce URL http:/.exec(out);
        const udp = /UDP tracker on 127\.0\.0\.1 port (\d+): announce URL udp:\/\/127\.0\.0\.1:(\d+)\/announce/.exec(out);
        if (http && udp) resolve([Number(http[1]), Number(udp[1])]);
      });
      child!.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    const ih = randomBytes(20);
    await rawGet(httpPort, `/announce?info_hash=${escapeAll(ih)}&peer_id=${escapeAll(randomBytes(20))}&port=4242&left=0`);
    const c = new UdpTestClient(4, '127.0.0.1', udpPort);
    await c.bind();
    try {
      const id = await c.connect();
      const answer = decodeAnnounce(await c.request(announcePacket({ connectionId: id, tx: 5, infoHash: ih, peerId: randomBytes(20), port: 4343 })), 4);
      expect(answer).toMatchObject({ seeders: 1, leechers: 1, peers: ['127.0.0.1:4242'] });
    } finally {
      await c.close();
    }
    const code = await new Promise<number | null>((resolve) => {
      child!.on('exit', (c) => resolve(c));
      child!.kill('SIGTERM');
    });
    expect(code).toBe(0);
  });

  it('rejects a bad port with a one-line error and a non-zero exit', async () => {
    const r = spawn(process.execPath, ['dist/cli.js', 'serve', '--port', '70000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    r.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => r.on('exit', resolve));
    expect(code).not.toBe(0);
    expect(err).toMatch(/port.*must be an integer from 0 to 65535/);
  });
});
