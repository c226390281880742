/**
 * Bundles a module as the page's build would see it: esbuild with the `browser` export condition,
 * so `qemu-lite/portable` is its browser build (dist/browser/portable.js) and @kvm/* their dist.
 * Node's globals a page lacks (`process`, `Buffer`, `require`) are shadowed by undefined in the
 * bundle, so code that reaches for them unguarded fails here as it would in a browser.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, type Metafile } from 'esbuild';

export async function bundleForWorker(entry: string): Promise<string> {
  const outfile = join(mkdtempSync(join(tmpdir(), 'web-worker-')), 'worker.mjs');
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    conditions: ['browser'],
    banner: { js: 'const process = undefined, Buffer = undefined, require = undefined;' },
    logLevel: 'silent',
  });
  return outfile;
}

/** Every module a browser bundle of `entry` reaches; throws with esbuild's errors if it cannot bundle. */
export async function browserInputs(entry: string): Promise<Metafile> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    metafile: true,
    logLevel: 'silent',
  });
  return result.metafile;
}
