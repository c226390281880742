import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The native addon is loaded by these tests; vitest's thread pool can crash with addons.
    pool: 'forks',
    // device.kvm.test.ts collects garbage on purpose, to show slot memory stays mapped.
    poolOptions: { forks: { execArgv: ['--expose-gc'] } },
  },
});
