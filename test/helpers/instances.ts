/**
 * App instances as separate Node processes running a fixture against the built package (dist/):
 * build when needed, start (wait for the fixture's first JSON line), stop by PID.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Newest modification time under `dir` (recursive). */
function newest(dir: string): number {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return t;
}

/** The children run the built package: build it when dist/ is missing or older than src/. */
export function ensureBuilt(): void {
  const index = join(root, 'dist', 'index.js');
  const open = join(root, 'dist', 'swarm', 'open.js');
  if (existsSync(index) && existsSync(open) && Math.min(statSync(index).mtimeMs, statSync(open).mtimeMs) >= newest(join(root, 'src'))) return;
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'pipe' });
  } catch {
    // tsc still emits when some other file has a type error; the children fail loudly if not
  }
}

export interface Instance {
  child: ChildProcess;
  port: number;
  base: string;
  /** The Keyv store's instance id (null for Redis). */
  id: string | null;
  /** Everything the fixture printed in its first JSON line. */
  info: Record<string, unknown>;
}

/**
 * Every child still running. A test whose set-up times out never gets its instances back to stop
 * them: they are killed when the test process exits, so none outlives the run.
 */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Start `fixture` (a path under test/) with `env`; resolves once it printed its JSON line. */
export async function startInstance(fixture: string, env: Record<string, string>, nodeArgs: string[] = []): Promise<Instance> {
  const child = spawn(process.execPath, [...nodeArgs, join(root, 'test', fixture)], { cwd: root, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += String(d)));
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`instance did not start: ${stderr}`)), 20_000);
    createInterface({ input: child.stdout! }).once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    child.once('exit', (code) => reject(new Error(`instance exited (${code}): ${stderr}`)));
  });
  const info = JSON.parse(line) as { port: number; instance: string | null } & Record<string, unknown>;
  return { child, port: info.port, base: `http://127.0.0.1:${info.port}`, id: info.instance, info };
}

/** SIGTERM, then SIGKILL after 5 s. */
export async function stopInstance(instance: Instance): Promise<void> {
  const { child } = instance;
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid, 'SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  if (child.exitCode === null) process.kill(child.pid, 'SIGKILL');
}
