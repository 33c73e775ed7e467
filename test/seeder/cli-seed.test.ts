import bencode from 'bencode';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli.js';
import { runSeed, type SeedCommandIO } from '../../src/cli/seed.js';
import type { AnnounceEventInfo } from '../../src/tracker.js';
import { startApp, type RunningApp } from '../helpers/http.js';
import { waitFor } from '../helpers/clients.js';
import { makeTorrent } from './helpers/torrent.js';

let tracker: RunningApp;
const announces: AnnounceEventInfo[] = [];

beforeAll(async () => {
  tracker = await startApp({ interval: 5 });
  tracker.router.tracker.on('announce', (a: AnnounceEventInfo) => announces.push(a));
});
afterAll(async () => {
  await tracker?.close();
});

function capture(live = false): SeedCommandIO & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    live,
    writeOut: (t: string) => void (io.out += t),
    writeErr: (t: string) => void (io.err += t),
  };
  return io;
}

describe('torrent-tracker seed', () => {
  it('is registered with its options', async () => {
    let out = '';
    const code = await run(['seed', '--help'], { writeOut: (t) => void (out += t), writeErr: (t) => void (out += t) });
    expect(code).toBe(0);
    for (const flag of ['<data-path>', '--torrent', '--port', '--bind', '--no-verify', '--slots']) expect(out).toContain(flag);
  });

  it('fails with one clear line for a missing or invalid torrent file and bad options', async () => {
    let err = '';
    const output = { writeOut: () => undefined, writeErr: (t: string) => void (err += t) };
    expect(await run(['seed', '/tmp', '--torrent', '/nonexistent/x.torrent', '--port', '0'], output)).toBe(1);
    expect(err).toMatch(/cannot read \/nonexistent\/x.torrent: no such file or directory/);
    const fx = await makeTorrent({ size: 1000 });
    const junk = path.join(fx.dir, 'junk.torrent');
    await writeFile(junk, 'not bencode');
    err = '';
    expect(await run(['seed', fx.dir, '--torrent', junk, '--port', '0'], output)).toBe(1);
    expect(err).toMatch(/junk.torrent is not a valid .torrent file/);
    err = '';
    expect(await run(['seed', fx.dir, '--torrent', fx.torrentPath, '--port', '70000'], output)).not.toBe(0);
    expect(err).toMatch(/must be an integer from 0 to 65535/);
  });

  it('prints only the error, and exits non-zero, when the data path does not exist', async () => {
    const fx = await makeTorrent({ size: 1000 });
    let out = '';
    let err = '';
    const code = await run(['seed', path.join(fx.dir, 'missing'), '--torrent', fx.torrentPath, '--port', '0', '--bind', '127.0.0.1'], {
      writeOut: (t) => void (out += t),
      writeErr: (t) => void (err += t),
    });
    expect(code).not.toBe(0);
    expect(out).toBe('');
    expect(err.trimEnd().split('\n')).toHaveLength(1);
    expect(err).toMatch(/^express-torrent-tracker: error: .*missing/);
  });

  it('seeds until aborted, announcing started and then stopped, printing start and end lines only when not live', { timeout: 20_000 }, async () => {
    const fx = await makeTorrent({ size: 300_000, announce: `http://127.0.0.1:${tracker.port}/tracker/announce` });
    const io = capture(false);
    const controller = new AbortController();
    const running = runSeed(fx.dir, { torrent: fx.torrentPath, port: 0, bind: '127.0.0.3' }, io, controller.signal);
    await waitFor('started', () => announces.some((a) => a.infoHash === fx.parsed.infoHash && a.event === 'started'), 10_000);
    const started = announces.find((a) => a.infoHash === fx.parsed.infoHash)!;
    expect(started.ip).toBe('127.0.0.3');
    controller.abort();
    await running;
    expect(announces.filter((a) => a.infoHash === fx.parsed.infoHash).at(-1)?.event).toBe('stopped');
    expect(io.out).toMatch(new RegExp(`^seeding data.bin \\(${fx.parsed.infoHash}, 293 KiB\\) on 127.0.0.3:\\d+\\nstopped; uploaded 0 B\\n$`));
    expect(io.out).not.toContain('\r');
  });

  it('refuses data that does not match', async () => {
    const fx = await makeTorrent({ size: 40_000 });
    await writeFile(path.join(fx.dir, 'data.bin'), Buffer.alloc(40_000));
    const io = capture();
    await expect(runSeed(fx.dir, { torrent: fx.torrentPath, port: 0, bind: '127.0.0.1' }, io, new AbortController().signal)).rejects.toThrow(
      /pieces do not match/,
    );
  });
});

describe('torrent-tracker seed as a process (dist/cli.js, built by pretest)', () => {
  it('seeds until SIGTERM, then announces stopped and exits 0', { timeout: 30_000 }, async () => {
    const { spawn } = await import('node:child_process');
    const fx = await makeTorrent({ size: 100_000, announce: `http://127.0.0.1:${tracker.port}/tracker/announce` });
    const child = spawn(process.execPath, ['dist/cli.js', 'seed', fx.dir, '--torrent', fx.torrentPath, '--port', '0', '--bind', '127.0.0.4'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await waitFor(`started announce (output: ${out})`, () => announces.some((a) => a.infoHash === fx.parsed.infoHash && a.ip === '127.0.0.4' && a.event === 'started'), 15_000);
      expect(out).toMatch(/^seeding data.bin/);
      expect(out).not.toContain('\r'); // not a terminal: no live status line
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(out).toMatch(/stopped; uploaded 0 B\n$/);
      expect(announces.filter((a) => a.infoHash === fx.parsed.infoHash).at(-1)?.event).toBe('stopped');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('live status line', () => {
  it('redraws one line in place on a terminal', { timeout: 20_000 }, async () => {
    const fx = await makeTorrent({ size: 50_000 });
    const io = capture(true);
    const controller = new AbortController();
    const running = runSeed(fx.dir, { torrent: fx.torrentPath, port: 0, bind: '127.0.0.1' }, io, controller.signal);
    await waitFor('a status line', () => /\r\x1b\[Kuploaded 0 B {2}0 B\/s {2}peers 0 \(0 receiving\)/.test(io.out), 10_000);
    controller.abort();
    await running;
    expect(io.out).toContain('verifying 100%');
    expect(io.err).toContain('no trackers');
    expect(io.out.split('\n').length).toBeLessThanOrEqual(3); // start line, end line: status never adds lines
  });
});

describe('torrent-tracker seed prints nothing a terminal would act on', () => {
  it('escapes control characters in tracker failure reasons, URLs and the torrent name', { timeout: 20_000 }, async () => {
    const ESC = '\u001b';
    const reason = `go away ${ESC}]0;pwned\u0007${ESC}[2J${ESC}[8mhidden \u009b31m`;
    const server = http.createServer((_req, res) => res.end(Buffer.from(bencode.encode({ 'failure reason': reason }))));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const fx = await makeTorrent({ name: 'gpj.\u202eexe', size: 20_000, announce: `http://127.0.0.1:${port}/announce?x=${ESC}[5m` });
      const io = capture(false);
      const controller = new AbortController();
      const running = runSeed(fx.dir, { torrent: fx.torrentPath, port: 0, bind: '127.0.0.1' }, io, controller.signal);
      await waitFor('the announce failure line', () => io.err.includes('announce to'), 10_000, 50);
      controller.abort();
      await running;
      const all = io.out + io.err;
      expect(all).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
      expect(io.err).toContain('go away \\x1b]0;pwned\\x07\\x1b[2J\\x1b[8mhidden \\x9b31m');
      expect(io.out).toContain('seeding gpj.\\u202eexe (');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
