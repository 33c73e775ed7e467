// The long soak: the soak test of `npm test` (test/soak/soak.test.ts: a steady realistic mix of
// announces, completions, stops, scrapes and expiring peers against a standalone tracker on the
// memory store and on Redis at once) run for 30 minutes instead of 75 seconds. It prints RSS and
// heap at warm-up and at the end for both stores and fails if either grew by more than 10% or a
// handle leaked.
//   npm run bench -- --only soak              # 30 minutes
//   node bench/soak.js --seconds 600          # another length
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '1800' } } });
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const result = spawnSync('npx', ['vitest', 'run', 'test/soak/soak.test.ts'], {
  cwd: root,
  env: { ...process.env, SOAK_SECONDS: values.seconds },
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
