// `pnpm --filter web build` (or dev) from a fresh clone: the workspace packages the page imports
// resolve through their built dist/, so when one is missing, build them first with turbo (the
// page's dependencies only: --filter=web^...). Under `turbo run build` they exist already (the
// build task depends on ^build) and this does nothing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const root = new URL('../../../', import.meta.url);
const needed = [
  'packages/x86emu/dist/index.js',
  'packages/mmu/dist/index.js',
  'packages/core/dist/index.js',
  'packages/vmx/dist/index.js',
  'packages/svm/dist/index.js',
  'apps/qemu-lite/dist/browser/portable.js',
  'tools/guests/dist/index.js',
];
const missing = needed.filter((p) => !existsSync(new URL(p, root)));
if (missing.length > 0) {
  console.log(`web: building the packages the page needs (${missing.join(', ')} missing)`);
  const r = spawnSync(
    'pnpm',
    ['exec', 'turbo', 'run', 'build', '--filter=web^...', '--output-logs=errors-only'],
    {
      cwd: new URL('.', root),
      stdio: 'inherit',
    },
  );
  if (r.status !== 0) process.exit(r.status ?? 1);
}
