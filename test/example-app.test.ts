import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeDict } from './helpers/bdecode.js';
import { escapeAll } from './helpers/escape.js';
import { rawGet } from './helpers/http.js';

/** Start example-app/server.js (built dist/ is made by `pretest`) and read its port from stdout. */
async function startExample(env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['example-app/server.js'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`example app did not start: ${out}`)), 15_000);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /localhost:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (code) => reject(new Error(`example app exited with ${code}: ${out}`)));
  });
  return { child, port };
}

describe('example app', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    child?.kill('SIGTERM');
    child = undefined;
  });

  it('serves a home page with the announce URL and the tracker at /tracker', async () => {
    const started = await startExample({ PORT: '0' });
    child = started.child;
    const home = await rawGet(started.port, '/', { headers: { Host: 'files.example.org' } });
    expect(home.body.toString()).toContain('http://files.example.org/tracker/announce');
    const ih = randomBytes(20);
    const q = `info_hash=${escapeAll(ih)}&peer_id=${escapeAll(randomBytes(20))}&port=6881&left=0`;
    const d = decodeDict((await rawGet(started.port, `/tracker/announce?${q}`)).body);
    expect(d).toMatchObject({ complete: 1, incomplete: 0 });
    const again = await rawGet(started.port, '/');
    expect(again.body.toString()).toContain(ih.toString('hex'));
  });
});
