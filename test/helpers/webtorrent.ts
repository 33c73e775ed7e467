/**
 * WebTorrent clients for interoperability tests: bittorrent-tracker's own client, `webtorrent` in
 * Node (one child process per peer, test/webtorrent-client/peer.mjs) and headless Chromium driven by
 * playwright-core. They live in test/webtorrent-client/ (its own package.json and lock, installed
 * with `npm ci --ignore-scripts --prefix test/webtorrent-client`, as .ci/run does, and by `npm test`
 * itself when missing: test/global-setup.ts), never in the project's dependencies: webtorrent's
 * install scripts break a plain `npm install`.
 *
 * Missing clients skip their tests with a visible reason on a laptop; under CI=true they fail.
 */
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, it } from 'vitest';
import { ClientProcess } from './clients.js';

export const CLIENT_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'webtorrent-client');
export const INSTALL_HINT = 'npm ci --ignore-scripts --no-audit --no-fund --prefix test/webtorrent-client';
/** A Chromium that playwright downloaded (`npx playwright install chromium`), or undefined. */
function playwrightChromium(): string | undefined {
  const root = process.env.PLAYWRIGHT_BROWSERS_PATH || join(homedir(), '.cache', 'ms-playwright');
  try {
    for (const dir of readdirSync(root).filter((d) => /^chromium-\d+$/.test(d)).sort().reverse()) {
      for (const file of ['chrome-linux64/chrome', 'chrome-linux/chrome']) if (existsSync(join(root, dir, file))) return join(root, dir, file);
    }
  } catch {
    /* no playwright browsers */
  }
  return undefined;
}
/** CHROMIUM_PATH, else Debian's chromium (apt-get install chromium), else one that playwright downloaded. */
export const CHROMIUM =
  process.env.CHROMIUM_PATH ?? (existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : (playwrightChromium() ?? '/usr/bin/chromium'));
export const CHROMIUM_HINT = 'apt-get install chromium, or: cd test/webtorrent-client && npx playwright-core install chromium; or set CHROMIUM_PATH';
/**
 * Chromium flags for tests on one machine: headless, no sandbox (root), nothing fetched from outside,
 * and local ICE candidates as plain addresses (headless Chromium hides them behind mDNS names that
 * nothing here resolves, and two loopback peers would never meet).
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

const PACKAGES = ['webtorrent', 'bittorrent-tracker', 'node-datachannel', 'playwright-core'];

/** What is missing for the WebTorrent tests (`needChromium`: the browser too); empty when all is there. */
export function missingWebTorrentTools(needChromium = false): string[] {
  const missing = PACKAGES.filter((name) => !existsSync(join(CLIENT_DIR, 'node_modules', name, 'package.json'))).map(
    (name) => `${name} (${INSTALL_HINT})`,
  );
  if (needChromium && !existsSync(CHROMIUM)) missing.push(`Chromium at ${CHROMIUM} (${CHROMIUM_HINT})`);
  return missing;
}

/**
 * `describe` when the WebTorrent test clients (and Chromium, with `needChromium`) are installed;
 * otherwise a skipped block naming what is missing, or under CI=true a failing test.
 */
export function describeWebTorrent(name: string, needChromium: boolean, body: () => void): void {
  const missing = missingWebTorrentTools(needChromium);
  if (missing.length === 0) {
    describe(name, body);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('has its WebTorrent test clients (required under CI)', () => {
        throw new Error(`missing under CI=true: ${missing.join('; ')}`);
      });
    });
  } else {
    console.warn(`[skip] ${name}: missing ${missing.join('; ')}`);
    describe.skip(`${name} — SKIPPED: missing ${missing.join('; ')} (set CI=true to make this a failure)`, body);
  }
}

/** Import a package of the test-client folder (ESM entry point). */
export async function importClientPackage<T = any>(name: string): Promise<T> {
  const require = createRequire(join(CLIENT_DIR, 'package.json'));
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch {
    // ESM-only packages without a `require` condition: their `exports['.']` or `main`.
    const pkgDir = join(CLIENT_DIR, 'node_modules', name);
    const pkg = require(join(pkgDir, 'package.json')) as { exports?: unknown; main?: string; module?: string };
    const exp = pkg.exports as Record<string, unknown> | string | undefined;
    const dot = typeof exp === 'string' ? exp : (exp?.['.'] as Record<string, string> | string | undefined);
    const target = typeof dot === 'string' ? dot : (dot?.import ?? dot?.default ?? pkg.module ?? pkg.main ?? 'index.js');
    entry = join(pkgDir, target);
  }
  return (await import(pathToFileURL(entry).href)) as T;
}

/** One line printed by peer.mjs. */
export interface PeerEvent {
  event: 'loaded' | 'ready' | 'announced' | 'wire' | 'done' | 'error' | 'warning';
  /** On `announced`: how many tracker answers so far. */
  count?: number;
  infoHash?: string;
  type?: string;
  message?: string;
  /** Bytes downloaded per wire type (`webrtc`, `webSeed`, `tcpOutgoing`…), on `done`. */
  wires?: Record<string, number>;
}

/** A `webtorrent` peer in its own Node process (test/webtorrent-client/peer.mjs), killed by PID. */
export class WebTorrentPeer extends ClientProcess {
  readonly events: PeerEvent[] = [];
  private partial = '';

  /**
   * `onSignal`: the process loads WebTorrent, prints `loaded` and waits for {@link start} before it
   * adds the torrent (Node needs seconds to load WebTorrent on a busy machine: do it in advance).
   */
  constructor(name: string, options: { torrent: string; dir: string; announce?: string[]; onSignal?: boolean }) {
    super(name, process.execPath, [join(CLIENT_DIR, 'peer.mjs'), JSON.stringify(options)]);
    this.child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (this.partial + chunk.toString()).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) {
        try {
          this.events.push(JSON.parse(line) as PeerEvent);
        } catch {
          /* not ours (a library printing): kept in `output` */
        }
      }
    });
  }

  /** Add the torrent now (a peer made with `onSignal`, once `loaded`). */
  async start(): Promise<void> {
    await this.next('loaded');
    process.kill(this.child.pid!, 'SIGUSR2');
  }

  /**
   * The first `event` line (that `match` accepts), waiting up to `timeoutMs`; throws at once when the
   * process exits.
   */
  async next(event: PeerEvent['event'], timeoutMs = 30_000, match: (e: PeerEvent) => boolean = () => true): Promise<PeerEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find((e) => e.event === event && match(e));
      if (found) return found;
      if (this.exited) throw new Error(`${this.name} exited before "${event}":\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${this.name} to print "${event}":\n${this.output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
