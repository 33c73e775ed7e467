/**
 * The package as its users get it: `npm pack`, then `npm install <tarball>` in an empty folder, then
 * the CLI through npx under the package's own name, `require()` and `import()` of the installed
 * package, and what the tarball holds (no source maps pointing at sources it does not ship, no tests).
 * The install needs the registry (or npm's cache) for the dependencies.
 */
import { execFile, type ExecFileException } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(path.join(tmpdir(), 'ett-pack-'));
const consumer = path.join(work, 'consumer');

/** The environment without what `npm test` sets for its own package (npm_package_*, npm_lifecycle_*, the prefixes). */
const env: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([key]) => !/^npm_/i.test(key) || /^npm_config_(registry|cache|userconfig|globalconfig|@.*:registry)$/i.test(key),
  ),
);
delete env.INIT_CWD;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function exec(file: string, args: string[], cwd: string, timeout = 60_000): Promise<Result> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env, timeout, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (error: ExecFileException | null, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

let tarball = '';
let entries: string[] = [];
let install: Result;

beforeAll(async () => {
  const packed = await exec('npm', ['pack', '--pack-destination', work, '--silent'], root, 120_000);
  expect(packed.code, packed.stderr).toBe(0);
  const name = readdirSync(work).find((file) => file.endsWith('.tgz'));
  expect(name, `npm pack wrote no tarball: ${packed.stdout}${packed.stderr}`).toBeDefined();
  tarball = path.join(work, name!);
  const list = await exec('tar', ['-tzf', tarball], work);
  entries = list.stdout.split('\n').filter((line) => line !== '');
  // An empty folder with a package.json of its own, as a user's project starts.
  mkdirSync(consumer);
  writeFileSync(path.join(consumer, 'package.json'), `${JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }, null, 2)}\n`);
  install = await exec('npm', ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline'], consumer, 120_000);
}, 240_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('holds the build, the CommonJS stub and the docs, and no source maps, sources, tests or build info', () => {
    expect(entries).toContain('package/dist/index.js');
    expect(entries).toContain('package/dist/index.d.ts');
    expect(entries).toContain('package/dist/cli.js');
    expect(entries).toContain('package/dist/admin/openapi.json');
    expect(entries).toContain('package/cjs/esm-only.cjs');
    expect(entries).toContain('package/README.md');
    expect(entries.filter((entry) => entry.endsWith('.map'))).toEqual([]);
    expect(entries.filter((entry) => /^package\/(src|test|bench|example-app)\//.test(entry))).toEqual([]);
    expect(entries.filter((entry) => /\.test\.|tsbuildinfo/.test(entry))).toEqual([]);
  });

  it('has no file pointing at a source map', () => {
    const dist = path.join(consumer, 'node_modules', 'express-torrent-tracker', 'dist');
    const pointing: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const file = path.join(dir, name);
        if (statSync(file).isDirectory()) walk(file);
        else if (readFileSync(file, 'utf8').includes('sourceMappingURL')) pointing.push(file);
      }
    };
    walk(dist);
    expect(pointing).toEqual([]);
  });
});

describe('installed from the tarball into an empty folder', () => {
  it('installs without any warning about install or prepare scripts', () => {
    expect(install.code, install.stdout + install.stderr).toBe(0);
    const output = install.stdout + install.stderr;
    expect(output).not.toMatch(/install-scripts|allowScripts|prepare/i);
    expect(output.split('\n').filter((line) => /npm warn/i.test(line) && /express-torrent-tracker/.test(line))).toEqual([]);
  });

  it('runs `npx express-torrent-tracker --help` (and the torrent-tracker alias), listing the commands', async () => {
    const help = await exec('npx', ['--no', '--', 'express-torrent-tracker', '--help'], consumer);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: express-torrent-tracker /m);
    for (const command of ['create', 'info', 'seed', 'serve']) expect(help.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    const alias = await exec('npx', ['--no', '--', 'torrent-tracker', 'serve', '--help'], consumer);
    expect(alias.code, alias.stderr).toBe(0);
    expect(alias.stdout).toMatch(/^Usage: torrent-tracker serve /m);
    expect(alias.stdout).toContain('npx express-torrent-tracker serve');
  });

  it('loads with require() (Node 20.19+) and import(), the same module either way', async () => {
    const script = `
      const m = require('express-torrent-tracker');
      const contract = require('express-torrent-tracker/store-contract');
      import('express-torrent-tracker').then((esm) => console.log(JSON.stringify({
        functions: Object.keys(m).filter((k) => typeof m[k] === 'function'),
        contract: Object.keys(contract).length,
        same: esm.trackerMiddleware === m.trackerMiddleware,
      })));`;
    const r = await exec(process.execPath, ['-e', script], consumer);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { functions: string[]; contract: number; same: boolean };
    expect(out.functions).toEqual(expect.arrayContaining(['trackerMiddleware', 'createTrackerServer', 'createTorrent', 'parseTorrent', 'createSeeder', 'trackerMetrics']));
    expect(out.contract).toBeGreaterThan(0);
    expect(out.same).toBe(true);
    const esm = await exec(process.execPath, ['--input-type=module', '-e', "const { trackerMiddleware } = await import('express-torrent-tracker'); console.log(typeof trackerMiddleware);"], consumer);
    expect(esm.stdout.trim(), esm.stderr).toBe('function');
  });

  it('says it is an ES module when require() cannot load ES modules (as on Node < 20.19)', async () => {
    const r = await exec(process.execPath, ['--no-experimental-require-module', '-e', "require('express-torrent-tracker')"], consumer);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('express-torrent-tracker is an ES module; on Node < 20.19');
  });

  it('serve --metrics without prom-client (an optional peer) fails with a clear line', async () => {
    const r = await exec('npx', ['--no', '--', 'express-torrent-tracker', 'serve', '--port', '0', '--host', '127.0.0.1', '--metrics'], consumer, 30_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^express-torrent-tracker: error: --metrics needs prom-client \(an optional peer dependency\): npm install prom-client/);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it.each([
    ['CommonJS, module node16', 'a.cts', 'node16'],
    ['CommonJS, module nodenext', 'a.cts', 'nodenext'],
    ['ES module, module node16', 'a.mts', 'node16'],
  ])('type-checks in a TypeScript project (%s)', async (_label, file, module) => {
    writeFileSync(
      path.join(consumer, file),
      "import { trackerMiddleware, type SwarmStore } from 'express-torrent-tracker';\nexport const router = trackerMiddleware();\nexport type Store = SwarmStore;\n",
    );
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = [tsc, '--noEmit', '--strict', '--skipLibCheck', '--module', module, '--moduleResolution', module, '--target', 'es2022'];
    const r = await exec(process.execPath, [...args, '--typeRoots', path.join(root, 'node_modules', '@types'), '--types', 'node', file], consumer);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
