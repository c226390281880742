import { defineConfig } from 'tsup';

// The portable entry once more for browsers: esbuild resolves `#platform/*` with the `browser`
// condition here (src/platform/*.browser.ts), where the main build took `*.node.ts`. Types are
// the main build's (dist/portable.d.ts): both variants have one interface.
export default defineConfig({
  entry: { portable: 'src/portable.ts' },
  outDir: 'dist/browser',
  format: ['esm'],
  platform: 'browser',
  sourcemap: true,
  clean: false,
  target: 'es2022',
});
