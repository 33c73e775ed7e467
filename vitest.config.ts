import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Real clients and real databases: keep file-level parallelism modest on 2 cores.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
