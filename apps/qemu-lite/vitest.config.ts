import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The host engine is a native addon: keep it out of vitest's worker threads.
    pool: 'forks',
    testTimeout: 30_000,
  },
});
