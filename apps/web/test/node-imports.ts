/**
 * Finds the Node built-ins a browser bundle of a module would pull in: esbuild walks the module
 * graph as a bundler for a browser does (`browser` condition, so qemu-lite's `#platform/*` are
 * their browser variants) and every `node:*` or bare built-in import is recorded with the module
 * that made it, instead of failing at the first.
 */
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

export interface NodeImport {
  /** What was imported (`node:fs`, `worker_threads`, …). */
  path: string;
  /** The module that imported it, relative to the repository root. */
  importer: string;
}

const BUILTIN = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));

export async function nodeImportsOf(entry: string): Promise<NodeImport[]> {
  const found: NodeImport[] = [];
  const record: Plugin = {
    name: 'record-node-imports',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        const bare = args.path.split('/')[0]!;
        if (!args.path.startsWith('node:') && !BUILTIN.has(args.path) && !BUILTIN.has(bare)) return undefined;
        found.push({ path: args.path, importer: args.importer.replace(REPO, '') });
        return { path: args.path, external: true };
      });
    },
  };
  await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    plugins: [record],
    logLevel: 'silent',
  });
  return found;
}
