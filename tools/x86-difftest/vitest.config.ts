import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The host engine's native addon is loaded: vitest's thread pool can crash with addons.
    pool: 'forks',
    // One file at a time: the host side gives each case a 100 ms wall-clock watchdog, and two
    // files racing for 2 cores can starve a case past it (a known entry such as
    // pm32/MOV_Zv,Iv/stop then ends as "runaway" instead of its listed outcome).
    fileParallelism: false,
    testTimeout: 120_000,
  },
});
