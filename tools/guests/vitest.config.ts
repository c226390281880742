import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The host engine is a native addon: run in forks (STYLE.md, known traps).
    pool: 'forks',
    testTimeout: 120_000,
  },
});
