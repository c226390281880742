import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The host engine's native addon is loaded: vitest's thread pool can crash with addons.
    pool: 'forks',
    testTimeout: 120_000,
  },
});
