#!/usr/bin/env node
// The host package's tests with the native addon built under AddressSanitizer: a double free,
// a use after free or a write past a buffer in native/ fails the run, even where the process
// would otherwise carry on. Used by CI; run it by hand with `pnpm --filter @kvm/host test:asan`.
//
//  1. Finds gcc's libasan (installs libasan8 with apt-get when it is missing and we are root;
//     otherwise says why and skips, exit 0).
//  2. Builds the addon with -fsanitize=address in build/asan/ (a copy of binding.gyp and
//     native/), so the normal build in build/Release is untouched.
//  3. Builds dist (worker fixtures load it), then runs vitest with libasan preloaded (ASan must come first in the library list, and node is
//     not linked against it), KVM_HOST_ADDON pointing at the ASan build, leak detection off
//     (node itself does not free everything at exit) and every report written to a log file.
//  4. Fails when vitest fails or when any ASan report was written, and prints the reports.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const tag = '@kvm/host asan:';
const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));
const stageDir = join(packageDir, 'build', 'asan');
const logDir = join(stageDir, 'reports');
const addon = join(stageDir, 'build', 'Release', 'kvm_host.node');
const started = Date.now();

function run(command, args, options = {}) {
  return spawnSync(command, args, { encoding: 'utf8', ...options });
}

function skip(reason) {
  console.warn(`${tag} SKIPPED: ${reason}`);
  process.exit(0);
}

function fail(message) {
  console.error(`${tag} FAILED: ${message}`);
  process.exit(1);
}

if (process.platform !== 'linux') skip(`the addon exists only on Linux (this is ${process.platform})`);

/** gcc's libasan.so, or undefined (gcc prints the bare name when it has no such file). */
function findLibasan() {
  const result = run('gcc', ['-print-file-name=libasan.so']);
  const path = result.status === 0 ? result.stdout.trim() : '';
  return path.startsWith('/') && existsSync(path) ? path : undefined;
}

let libasan = findLibasan();
if (libasan === undefined) {
  if (run('gcc', ['--version']).status !== 0) skip('no gcc on PATH (Debian: apt-get install g++)');
  if (process.getuid?.() !== 0 || run('apt-get', ['--version']).status !== 0) {
    skip("gcc's libasan is not installed and this user cannot apt-get it (Debian: apt-get install libasan8)");
  }
  // libasan8 is gcc 12's and 13's runtime; gcc's own libgcc-N-dev names the one that matches.
  const major = run('gcc', ['-dumpversion']).stdout.trim().split('.')[0];
  console.log(`${tag} installing libasan8 (libgcc-${major}-dev) with apt-get`);
  const install = run(
    'apt-get',
    ['install', '-y', '--no-install-recommends', 'libasan8', `libgcc-${major}-dev`],
    {
      stdio: 'inherit',
    },
  );
  libasan = findLibasan();
  if (install.status !== 0 || libasan === undefined) skip('apt-get could not install libasan8');
}

// 2. The ASan build, kept apart from build/Release.
rmSync(stageDir, { recursive: true, force: true });
mkdirSync(logDir, { recursive: true });
cpSync(join(packageDir, 'native'), join(stageDir, 'native'), { recursive: true });
const gyp = JSON.parse(readFileSync(join(packageDir, 'binding.gyp'), 'utf8'));
for (const target of gyp.targets) {
  const asan = ['-fsanitize=address', '-fno-omit-frame-pointer', '-g', '-O1'];
  target.cflags = [...(target.cflags ?? []), ...asan];
  target.cflags_cc = [...(target.cflags_cc ?? []), ...asan];
  target.ldflags = [...(target.ldflags ?? []), '-fsanitize=address'];
}
writeFileSync(join(stageDir, 'binding.gyp'), JSON.stringify(gyp, null, 2));

const require = createRequire(join(packageDir, 'package.json'));
const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
const nodeDir = dirname(dirname(process.execPath));
const gypArgs = [nodeGyp, 'rebuild'];
if (existsSync(join(nodeDir, 'include', 'node', 'node_api.h'))) gypArgs.push(`--nodedir=${nodeDir}`);
const build = run(process.execPath, gypArgs, { cwd: stageDir });
if (build.status !== 0 || !existsSync(addon)) {
  console.error(`${build.stdout}${build.stderr}`.trim().split('\n').slice(-30).join('\n'));
  fail('node-gyp could not build the ASan addon');
}
console.log(`${tag} built ${addon} (${((Date.now() - started) / 1000).toFixed(1)} s)`);

// 3. The package's tests against it. Worker-thread tests load the built package (dist), which
// must honour KVM_HOST_ADDON too: two different addons in one process would keep two kick
// registries, and a kick through one would never reach a vCPU run through the other.
// tsup is the workspace root's devDependency (as every package's build uses it).
const rootRequire = createRequire(join(packageDir, '..', '..', 'package.json'));
const tsup = run(
  process.execPath,
  [join(dirname(rootRequire.resolve('tsup/package.json')), 'dist', 'cli-default.js')],
  {
    cwd: packageDir,
  },
);
if (tsup.status !== 0) fail(`tsup could not build dist:\n${tsup.stdout}${tsup.stderr}`);
const vitest = join(dirname(require.resolve('vitest/package.json')), 'vitest.mjs');
const env = {
  ...process.env,
  LD_PRELOAD: [libasan, process.env.LD_PRELOAD].filter(Boolean).join(':'),
  ASAN_OPTIONS: [
    'detect_leaks=0',
    // Stop at the first report; the log file is what the verdict reads.
    'halt_on_error=1',
    `log_path=${join(logDir, 'asan')}`,
    // V8 reserves large address ranges; let ASan's own mmap failures be errors, not aborts.
    'allocator_may_return_null=1',
  ].join(':'),
  KVM_HOST_ADDON: addon,
  // KVM_HOST_NATIVE=0 would switch the addon off and turn every test into a skip.
  KVM_HOST_NATIVE: '',
};
const tests = run(process.execPath, [vitest, 'run'], { cwd: packageDir, env, stdio: 'inherit' });

// 4. The verdict: vitest passed and ASan said nothing.
const reports = readdirSync(logDir).filter((name) => name.startsWith('asan'));
for (const name of reports) {
  console.error(`${tag} report ${name}:\n${readFileSync(join(logDir, name), 'utf8')}`);
}
const seconds = ((Date.now() - started) / 1000).toFixed(1);
if (reports.length > 0) fail(`${reports.length} AddressSanitizer report(s) (${seconds} s)`);
if (tests.status !== 0) fail(`vitest exited with ${tests.status ?? tests.signal} under ASan (${seconds} s)`);
console.log(`${tag} passed: no AddressSanitizer reports (${seconds} s)`);
