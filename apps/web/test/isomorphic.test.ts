/**
 * The isomorphism check (issue 16): the portable modules — @kvm/core, @kvm/mmu, @kvm/x86emu,
 * @kvm/vmx, @kvm/svm, qemu-lite's machine/devices/loaders (`qemu-lite/portable`) and the page's
 * machine worker — reach no Node built-in when bundled for a browser. Each package is walked from
 * its source entry, so a `node:` import that creeps into any module they reach fails here, in
 * `pnpm test`, naming the importer. (biome's noNodejsModules flags the same files at lint time.)
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { nodeImportsOf } from './node-imports.js';

const root = (p: string) => fileURLToPath(new URL(`../../../${p}`, import.meta.url));

const PORTABLE: readonly [string, string][] = [
  ['@kvm/x86emu', 'packages/x86emu/src/index.ts'],
  ['@kvm/mmu', 'packages/mmu/src/index.ts'],
  ['@kvm/core', 'packages/core/src/index.ts'],
  ['@kvm/vmx', 'packages/vmx/src/index.ts'],
  ['@kvm/svm', 'packages/svm/src/index.ts'],
  ['qemu-lite/portable', 'apps/qemu-lite/src/portable.ts'],
  ["the page's machine worker", 'apps/web/src/machine/worker.ts'],
  ["the page's main module", 'apps/web/src/main.ts'],
];

describe('portable modules import nothing from node:', () => {
  it.each(PORTABLE)(
    '%s (%s) bundles for a browser without a Node built-in',
    async (_name, entry) => {
      const found = await nodeImportsOf(root(entry));
      expect(found.map((f) => `${f.importer} imports ${f.path}`)).toEqual([]);
    },
    60_000,
  );

  it('the check itself finds a node: import and a bare built-in two modules down, naming the importer', async () => {
    const found = await nodeImportsOf(fileURLToPath(new URL('./fixtures/imports-node.ts', import.meta.url)));
    expect(found.map((f) => f.path).sort()).toEqual(['node:fs', 'worker_threads']);
    expect(found.every((f) => f.importer.endsWith('fixtures/imports-node-deep.ts'))).toBe(true);
  });
});
