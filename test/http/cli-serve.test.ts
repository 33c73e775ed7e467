import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeDict } from '../helpers/bdecode.js';
import { escapeAll } from '../helpers/escape.js';
import { rawGet } from '../helpers/http.js';

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
    expect(decodeDict((await rawGet(port, `/announce?${q}`)).body)).toMatchObject({ interval: 42, complete: 1 });
    const code = await new Promise<number | null>((resolve) => {
      child!.on('exit', (c) => resolve(c));
      child!.kill('SIGTERM');
    });
    expect(code).toBe(0);
    expect(out).toContain('tracker stopped');
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
