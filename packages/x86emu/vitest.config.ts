import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The random-stream and host-CPU comparison tests run thousands of guests: a loaded 2-core
    // machine stretches them past vitest's default 5 s. A hung guest still fails (the run budget
    // ends every guest; the timeout is the backstop, not the check).
    testTimeout: 30_000,
  },
});
