// Installs the WebTorrent clients of this folder (webtorrent, bittorrent-tracker, node-datachannel,
// playwright-core) when they are missing or not at the locked versions; does nothing otherwise.
// The example site serves the browser bundle from here (webtorrent/dist/webtorrent.min.js), and the
// WebTorrent and browser tests drive these clients.
//
//   node test/webtorrent-client/install.mjs [--optional]
//
// `npm test` runs it (vitest's globalSetup, test/global-setup.ts) and so does `npm start`
// (--optional: the site starts without the in-browser download when the install fails).
//
// Why a folder of its own, installed with --ignore-scripts, rather than root dependencies: webtorrent's
// dependency ip-set has `preinstall: npx only-allow pnpm`, which fails a non-interactive `npm ci`, and
// its WebRTC dependency node-datachannel 0.32 builds from source with a download outside the npm
// registry; this folder's lock pins node-datachannel 0.33.4 (prebuilt, shipped inside the npm package)
// and none of these packages needs its install script. webtorrent 3 declares node >= 22 but runs on
// Node 20 (the tests prove it), so npm's EBADENGINE warnings are not shown (--loglevel=error).
//
// Exit code 0 when the clients are there (installed now or before), 1 when the install failed (0 with
// --optional).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const PACKAGES = Object.keys(JSON.parse(readFileSync(path.join(here, 'package.json'), 'utf8')).dependencies);

/** The packages that are missing or at another version than the lock's. */
export function outdatedClients() {
  const lock = JSON.parse(readFileSync(path.join(here, 'package-lock.json'), 'utf8'));
  return PACKAGES.filter((name) => {
    const file = path.join(here, 'node_modules', name, 'package.json');
    if (!existsSync(file)) return true;
    return JSON.parse(readFileSync(file, 'utf8')).version !== lock.packages[`node_modules/${name}`]?.version;
  });
}

/** Install when needed; true when the clients are there afterwards. */
export function installClients({ log = console.log } = {}) {
  const outdated = outdatedClients();
  if (outdated.length === 0) return true;
  log(`installing the WebTorrent clients into test/webtorrent-client (${outdated.join(', ')}): npm ci --ignore-scripts`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', '--prefix', here], {
    stdio: ['ignore', 'inherit', 'inherit'],
    shell: process.platform === 'win32',
  });
  if (result.status !== 0 || outdatedClients().length > 0) {
    log(`could not install the WebTorrent clients (npm ci exited with ${result.status ?? result.error?.message})`);
    return false;
  }
  return true;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exit(installClients() || process.argv.includes('--optional') ? 0 : 1);
}
