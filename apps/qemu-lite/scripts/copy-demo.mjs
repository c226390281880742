// Copies the demo guest (built by @kvm/guests) into dist/guests so the published bin ships it.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';

const source = new URL('../../../tools/guests/out/demo.elf', import.meta.url);
const target = new URL('../dist/guests/demo.elf', import.meta.url);
if (existsSync(source)) {
  mkdirSync(new URL('.', target), { recursive: true });
  copyFileSync(source, target);
} else {
  console.warn('qemu-lite: tools/guests/out/demo.elf is not built; the no-argument demo will be missing');
}
