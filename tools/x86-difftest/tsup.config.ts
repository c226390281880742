import { defineConfig } from 'tsup';

// A private tool: no declaration files (nothing imports its types), one entry per face.
export default defineConfig({
  entry: ['src/index.ts', 'src/cli.ts'],
  format: ['esm'],
  dts: false,
  sourcemap: true,
  clean: true,
  target: 'node20',
});
