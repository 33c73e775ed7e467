import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Installs test/webtorrent-client when it is missing (see the file).
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Real clients and real databases: keep file-level parallelism modest on 2 cores.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
