/**
 * Helpers of the example site's browser tests: start example-app/server.js as `npm start` runs it (a
 * child process in its own process group, PORT=0, its port read from its first line), and headless
 * Chromium (Debian's chromium driven by playwright-core from test/webtorrent-client) with a fresh
 * profile. `guard()` saves a screenshot of every open page into the test's temporary folder when a
 * step fails, prints where, and keeps the folder.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ClientProcess, waitFor } from '../helpers/clients.js';
import { root } from '../helpers/instances.js';
import { CHROMIUM, CHROMIUM_ARGS, importClientPackage } from '../helpers/webtorrent.js';
import { tempDir } from '../torrent/fixtures.js';

/** The parts of playwright-core these tests use (the tests type-check without DOM types). */
export interface Download {
  saveAs(path: string): Promise<void>;
  suggestedFilename(): string;
}
export interface Page {
  goto(url: string): Promise<unknown>;
  reload(): Promise<unknown>;
  url(): string;
  click(selector: string): Promise<void>;
  fill(selector: string, value: string): Promise<void>;
  setInputFiles(selector: string, files: string): Promise<void>;
  waitForSelector(selector: string, options?: { state?: 'attached' | 'visible' | 'hidden'; timeout?: number }): Promise<unknown>;
  waitForFunction(expression: string, arg?: unknown, options?: { timeout?: number; polling?: number }): Promise<unknown>;
  waitForEvent(event: 'download', options?: { timeout?: number }): Promise<Download>;
  evaluate<T>(expression: string): Promise<T>;
  textContent(selector: string): Promise<string | null>;
  content(): Promise<string>;
  screenshot(options: { path: string; fullPage?: boolean }): Promise<unknown>;
  on(event: 'console', listener: (message: { text(): string }) => void): void;
  on(event: 'pageerror', listener: (error: Error) => void): void;
}
export interface BrowserContext {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}
export interface Browser {
  newContext(options?: { acceptDownloads?: boolean; viewport?: { width: number; height: number } }): Promise<BrowserContext>;
  close(): Promise<void>;
}
interface PlaywrightCore {
  chromium: {
    launch(options: { executablePath: string; args: string[]; headless: boolean }): Promise<Browser>;
  };
}

/** A running example site (example-app/server.js in a child process, killed by its process group id). */
export interface Site {
  process: ClientProcess;
  port: number;
  /** http://127.0.0.1:<port> */
  base: string;
}

/**
 * Start the example site with `env` (PORT=0: it picks its port and prints it) and wait until it has
 * published `published` (names of FILES_DIR entries).
 */
export async function startSite(env: Record<string, string>, published: string[] = []): Promise<Site> {
  const child = new ClientProcess('example site', process.execPath, [path.join(root, 'example-app', 'server.js')], {
    ...process.env,
    PORT: '0',
    ...env,
  });
  try {
    const port = (await waitFor(
      'the example site to listen',
      () => {
        if (child.exited) throw new Error(`example site exited:\n${child.output}`);
        const m = /localhost:(\d+)/.exec(child.output);
        return m ? Number(m[1]) : undefined;
      },
      20_000,
      50,
    )) as number;
    for (const name of published) {
      await waitFor(
        `the example site to publish ${name}`,
        () => {
          if (child.exited) throw new Error(`example site exited:\n${child.output}`);
          return child.output.includes(`published ${name}:`);
        },
        30_000,
        50,
      );
    }
    return { process: child, port, base: `http://127.0.0.1:${port}` };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

/** Headless Chromium, a temporary folder, and screenshots of every page when a step fails. */
export class BrowserSession {
  readonly tmp: { dir: string; cleanup: () => void };
  keep = false;
  browser: Browser | undefined;
  private readonly contexts: BrowserContext[] = [];
  private readonly pages: Array<{ label: string; page: Page; log: string[] }> = [];

  constructor(prefix: string) {
    this.tmp = tempDir(prefix);
    mkdirSync(path.join(this.tmp.dir, 'screenshots'));
  }

  async launch(): Promise<void> {
    const { chromium } = await importClientPackage<PlaywrightCore>('playwright-core');
    // playwright's launch() gives Chromium a fresh --user-data-dir of its own (a new temporary
    // profile, removed at close) and every context is a separate, empty cookie jar.
    this.browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS.filter((a) => a !== '--headless'), headless: true });
  }

  /** A page in a browser context of its own (its own cookies: one visitor). */
  async newPage(label: string): Promise<Page> {
    const context = await this.browser!.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 900 } });
    this.contexts.push(context);
    const page = await context.newPage();
    const log: string[] = [];
    page.on('console', (m) => log.push(m.text()));
    page.on('pageerror', (e) => log.push(`page error: ${e.message}`));
    this.pages.push({ label, page, log });
    return page;
  }

  /** Save a full-page screenshot of every open page; returns the files. */
  async screenshots(): Promise<string[]> {
    const files: string[] = [];
    for (const { label, page } of this.pages) {
      const file = path.join(this.tmp.dir, 'screenshots', `${label}.png`);
      if (await page.screenshot({ path: file, fullPage: true }).then(() => true, () => false)) files.push(file);
    }
    return files;
  }

  /** Run `fn`; on failure save screenshots, say where (and keep the folder), add the pages' consoles and `context()`. */
  async guard<T>(fn: () => Promise<T>, context: () => string = () => ''): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      this.keep = true;
      const shots = await this.screenshots();
      for (const shot of shots) console.warn(`[screenshot] ${shot}`);
      const consoles = this.pages.map(({ label, page, log }) => `--- ${label} (${page.url()}) console:\n${log.slice(-20).join('\n')}`).join('\n');
      const err = error as Error;
      err.message = `${err.message}\nscreenshots:\n${shots.join('\n')}\n${consoles}\n${context()}`;
      throw err;
    }
  }

  async close(): Promise<void> {
    for (const context of this.contexts) await context.close().catch(() => undefined);
    await this.browser?.close().catch(() => undefined);
    if (this.keep) console.warn(`[kept] ${this.tmp.dir} (screenshots of the failed steps)`);
    else this.tmp.cleanup();
  }
}
