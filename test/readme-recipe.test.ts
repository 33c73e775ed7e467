/**
 * The README's recipe, run verbatim: the code block after `<!-- recipe -->` in README.md is written
 * to a temporary folder as site.mjs, next to a node_modules/ whose `express-torrent-tracker` is a
 * link to this repository (its package.json `exports`, so the built dist/) and whose `express` is
 * the repository's own. Nothing in the code is rewritten. It runs as a child process on PORT=0 and
 * prints its URL; then aria2 fetches the .torrent from the site, downloads the file (from the web
 * seed and the seeder, checking every piece), and the bytes are compared with the original.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { aria2Leecher, ClientProcess, freePort, haveBinary, sha1File, waitFor } from './helpers/clients.js';
import { tempDir } from './torrent/fixtures.js';

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));

/** The code block that follows the `<!-- recipe -->` marker in README.md. */
function readmeRecipe(readme: string): string {
  const marker = readme.indexOf('<!-- recipe -->');
  if (marker === -1) throw new Error('README.md has no <!-- recipe --> marker');
  const fence = /^```(?:js|javascript|mjs)\n([\s\S]*?)^```$/m.exec(readme.slice(marker));
  if (!fence) throw new Error('no ```js code block after <!-- recipe --> in README.md');
  return fence[1];
}

const available = haveBinary('aria2c');

describe.skipIf(!available)('the README recipe, verbatim, with aria2', () => {
  const tmp = tempDir('ett-recipe-');
  let site: ClientProcess | undefined;
  let aria2: ClientProcess | undefined;

  afterAll(async () => {
    await aria2?.stop('SIGTERM', 3000);
    await site?.stop('SIGTERM', 3000);
    tmp.cleanup();
  });

  it('publishes files/dataset.zip: aria2 downloads it from the .torrent the site serves', { timeout: 120_000 }, async () => {
    if (!existsSync(path.join(root, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` first');
    const code = readmeRecipe(readFileSync(path.join(root, 'README.md'), 'utf8'));
    expect(code).toContain("from 'express-torrent-tracker'");

    // A folder laid out like a site that ran `npm install express express-torrent-tracker`.
    const dir = tmp.dir;
    mkdirSync(path.join(dir, 'node_modules'));
    symlinkSync(root, path.join(dir, 'node_modules', 'express-torrent-tracker'), 'dir');
    const express = realpathSync(path.dirname(createRequire(path.join(root, 'package.json')).resolve('express/package.json')));
    symlinkSync(express, path.join(dir, 'node_modules', 'express'), 'dir');
    writeFileSync(path.join(dir, 'site.mjs'), code);
    mkdirSync(path.join(dir, 'files'));
    const data = randomBytes(6 * 1024 * 1024 + 12_345);
    writeFileSync(path.join(dir, 'files', 'dataset.zip'), data);

    site = new ClientProcess('README recipe', 'sh', ['-c', `cd "${dir}" && exec "${process.execPath}" site.mjs`], {
      ...process.env,
      PORT: '0',
      SEED_PORT: String(await freePort()),
    });
    const printed = await waitFor(
      'the recipe to print "listening on <url>"',
      () => (site?.exited ? { exited: true } : /listening on (http:\/\/\S+)/.exec(site?.output ?? '')?.[1]),
      30_000,
      100,
    );
    if (typeof printed !== 'string') throw new Error(`the recipe exited before it listened:\n${site.output}`);
    const url = printed;

    // aria2 from another loopback address (another host, as far as the tracker and seeder can tell).
    const dl = path.join(dir, 'download');
    aria2 = aria2Leecher({
      torrent: `${url}/dataset.torrent`,
      dataDir: dl,
      listenPort: await freePort(),
      iface: '127.0.0.2',
      extraArgs: ['--follow-torrent=mem'],
    });
    const exit = await Promise.race([aria2.exit, new Promise((r) => setTimeout(() => r('timeout'), 90_000))]);
    expect(exit, `aria2:\n${aria2.output}\nsite:\n${site.output}`).toBe(0);
    expect(readFileSync(path.join(dl, 'dataset.zip')).equals(data)).toBe(true);
    expect(await sha1File(path.join(dl, 'dataset.zip'))).toBe(await sha1File(path.join(dir, 'files', 'dataset.zip')));
    expect(site.exited, site.output).toBe(false);
  });
});
