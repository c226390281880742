import { defineConfig } from 'vitest/config';

// `pnpm bench`: the page's benchmark (bench/), kept out of `pnpm test`.
export default defineConfig({
  test: {
    include: ['bench/**/*.bench.test.ts'],
    testTimeout: 900_000,
  },
});
