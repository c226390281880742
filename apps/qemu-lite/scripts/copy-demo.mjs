// Puts the demo guest (tools/guests, package @kvm/guests) into dist/guests so the published bin
// ships it. @kvm/guests depends on qemu-lite (its runner boots guests through our library), so
// turbo cannot also order @kvm/guests#build before ours (a cycle); instead, when the image is
// not built yet, we ask its Makefile for that one image. No @kvm/guests build runs at the same
// time: turbo starts it only after ours. With `--require` (prepack) a missing demo is an error.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const guests = fileURLToPath(new URL('../../../tools/guests/', import.meta.url));
const source = new URL('../../../tools/guests/out/demo.elf', import.meta.url);
const target = new URL('../dist/guests/demo.elf', import.meta.url);
const require = process.argv.includes('--require');

if (!existsSync(source) && existsSync(`${guests}Makefile`)) {
  const make = spawnSync('make', ['-s', '-C', guests, 'out/demo.elf'], { stdio: 'inherit' });
  if (make.status !== 0)
    console.warn('qemu-lite: could not build the demo guest (make, gcc and ld are needed)');
}
if (existsSync(source)) {
  mkdirSync(new URL('.', target), { recursive: true });
  copyFileSync(source, target);
} else {
  const message = 'qemu-lite: tools/guests/out/demo.elf is missing; the no-argument demo will not be shipped';
  if (require) {
    console.error(message);
    process.exit(1);
  }
  console.warn(message);
}
