import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/cli.ts', 'src/bench.ts', 'src/peer-v86-child.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  // make builds out/ first; tsup must not wipe it (dist only).
  clean: true,
  target: 'node20',
  external: ['qemu-lite'],
});
