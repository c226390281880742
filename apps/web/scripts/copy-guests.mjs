// Puts the guest images the page offers into public/guests (served as /guests/…) with an index:
// the demo and every tools/guests image (package @kvm/guests, built before us by turbo), each
// with its description and RAM from the guests' manifest. Without the images (no C toolchain)
// the index is empty and the page says so; the page still boots what a user drops on it.
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';

const target = new URL('../public/guests/', import.meta.url);
rmSync(target, { recursive: true, force: true });
mkdirSync(target, { recursive: true });

let guests = [];
try {
  ({ GUESTS: guests } = await import('@kvm/guests'));
} catch (error) {
  console.warn(`web: no guest manifest (@kvm/guests not built: ${error.message})`);
}
const index = [];
for (const g of guests) {
  if (!existsSync(g.image)) continue;
  copyFileSync(g.image, new URL(basename(g.image), target));
  index.push({
    name: g.name,
    file: basename(g.image),
    kind: g.kind,
    bits: g.bits,
    memory: g.memory,
    expect: g.expect,
    description: g.description,
  });
}
// The demo first, then the benchmarks and tests, each group by name.
const order = { demo: 0, bench: 1, test: 2 };
index.sort((a, b) => order[a.kind] - order[b.kind] || a.name.localeCompare(b.name));
writeFileSync(new URL('index.json', target), `${JSON.stringify(index, null, 1)}\n`);
console.log(`web: ${index.length} guest images in public/guests`);
