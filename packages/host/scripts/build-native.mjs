#!/usr/bin/env node
// Builds the native addon from source with node-gyp, against the headers of the Node that runs
// this script. Run by `pnpm install` (the package's `install` script) and by `build`.
//
//   KVM_HOST_NATIVE unset  build it; if it can't be built, say once why and exit 0 so that the
//                          rest of the install goes on (the package then reports the reason).
//   KVM_HOST_NATIVE=0      don't build it.
//   KVM_HOST_NATIVE=1      build it, and fail (exit 1) if it can't be.
//   --if-missing           do nothing when the addon exists and is newer than its sources.
//
// No prebuilt binaries are ever downloaded.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));
const addonPath = join(packageDir, 'build', 'Release', 'kvm_host.node');
const reasonPath = join(packageDir, 'build', 'native-unavailable.txt');
const mode = process.env.KVM_HOST_NATIVE ?? '';
const ifMissing = process.argv.includes('--if-missing');
const tag = '@kvm/host:';

function unavailable(reason) {
  mkdirSync(dirname(reasonPath), { recursive: true });
  writeFileSync(reasonPath, `${reason}\n`);
  if (mode === '1') {
    console.error(`${tag} native addon could not be built (KVM_HOST_NATIVE=1): ${reason}`);
    process.exit(1);
  }
  console.warn(
    `${tag} native addon unavailable: ${reason}\n` +
      `${tag} everything else installed; the host engine (/dev/kvm) will report this reason. ` +
      'Set KVM_HOST_NATIVE=1 to make this a hard error.',
  );
  process.exit(0);
}

function onPath(command) {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, command)));
}

function newestSource() {
  const files = [join(packageDir, 'binding.gyp')];
  for (const name of readdirSync(join(packageDir, 'native'))) files.push(join(packageDir, 'native', name));
  return Math.max(...files.map((file) => statSync(file).mtimeMs));
}

if (mode === '0') {
  mkdirSync(dirname(reasonPath), { recursive: true });
  writeFileSync(reasonPath, 'the build was switched off with KVM_HOST_NATIVE=0\n');
  console.warn(`${tag} native addon not built (KVM_HOST_NATIVE=0).`);
  process.exit(0);
}
if (mode !== '' && mode !== '1') {
  console.error(`${tag} KVM_HOST_NATIVE must be 0 or 1, not ${JSON.stringify(mode)}`);
  process.exit(1);
}
if (ifMissing && existsSync(addonPath) && statSync(addonPath).mtimeMs >= newestSource()) process.exit(0);

if (process.platform !== 'linux') unavailable(`/dev/kvm exists only on Linux (this is ${process.platform})`);

const require = createRequire(join(packageDir, 'package.json'));
let nodeGyp;
try {
  require.resolve('node-addon-api');
  nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
} catch {
  unavailable('node-addon-api or node-gyp is not installed (they are devDependencies of @kvm/host)');
}

const missing = [['python3'], ['make'], ['c++', 'g++']]
  .filter((alts) => !alts.some(onPath))
  .map((alts) => alts[0]);
if (missing.length > 0) {
  unavailable(`no ${missing.join(', ')} on PATH (Debian: apt-get install python3 make g++)`);
}

// Build against the headers that ship with this Node (…/include/node), so nothing is fetched.
// Only where there are none does node-gyp fall back to its own header download.
const args = [nodeGyp, 'rebuild'];
const env = { ...process.env };
const nodeDirs = [process.env.npm_config_nodedir, dirname(dirname(process.execPath))].filter(Boolean);
const nodeDir = nodeDirs.find((dir) => existsSync(join(dir, 'include', 'node', 'node_api.h')));
if (nodeDir) {
  args.push(`--nodedir=${nodeDir}`);
  env.npm_config_nodedir = nodeDir; // node-gyp lets this variable override the flag
}

const result = spawnSync(process.execPath, args, { cwd: packageDir, env, encoding: 'utf8' });
if (result.status !== 0 || !existsSync(addonPath)) {
  const log = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-25).join('\n');
  if (log) console.error(log);
  unavailable(
    `node-gyp failed (exit ${result.status ?? result.signal}${nodeDir ? '' : '; no local Node headers found'}); ` +
      'rebuild with `pnpm --filter @kvm/host run build:native` to see the whole log',
  );
}
rmSync(reasonPath, { force: true });
console.log(`${tag} native addon built (${addonPath})`);
