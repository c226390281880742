// The kernel modules the initramfs loads: Debian builds the virtio transport and drivers and
// ext4 as modules (CONFIG_VIRTIO_PCI=m, CONFIG_VIRTIO_BLK=m, CONFIG_VIRTIO_NET=m,
// CONFIG_HW_RANDOM_VIRTIO=m, CONFIG_VIRTIO_CONSOLE=m, CONFIG_EXT4_FS=m), so /dev/vda exists
// only once /init has loaded them. The kernel package carries no modules.dep (depmod writes it
// at install time), so the dependencies are read from each module's own `.modinfo` strings
// ("depends=virtio,virtio_ring"), which is what depmod itself reads, and the modules are put in
// an order where each comes after what it depends on (busybox insmod does no resolving).

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The modules asked for, by name; their dependencies come along. crc32c_generic is not a
 * symbol dependency of ext4 but what its crypto_alloc_shash("crc32c") finds: without it (and
 * no modprobe for the kernel's request_module) mounting a metadata_csum ext4 fails.
 */
export const WANTED_MODULES = [
  'virtio_pci',
  'virtio_blk',
  'virtio_net',
  'virtio_rng',
  'virtio_console',
  'crc32c_generic',
  'ext4',
];

/** A module's name as the kernel knows it: the file name without `.ko`, '-' read as '_'. */
export function moduleName(file) {
  return file.replace(/\.ko$/, '').replace(/-/g, '_');
}

/** The `key=value` strings of a module's .modinfo for `key` (they are NUL-separated). */
export function modinfo(bytes, key) {
  const text = Buffer.from(bytes).toString('latin1');
  const out = [];
  const needle = `\0${key}=`;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) {
    const end = text.indexOf('\0', at + needle.length);
    out.push(text.slice(at + needle.length, end < 0 ? undefined : end));
  }
  return out;
}

/** Every `.ko` under dir (a kernel package's lib/modules/<release>/kernel), by module name. */
export function indexModules(dir) {
  const byName = new Map();
  const walk = (d) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (e.endsWith('.ko')) byName.set(moduleName(e), p);
    }
  };
  walk(dir);
  return byName;
}

/**
 * The wanted modules and their dependencies in load order (dependencies first), each
 * `{ name, bytes }`. `read(name)` gives a module's bytes, or undefined if there is none;
 * a missing module is an error naming who needs it.
 */
export function resolveModules(wanted, read) {
  const order = [];
  const state = new Map(); // name → 'visiting' | 'done'
  const visit = (name, neededBy) => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') throw new Error(`module dependency loop through ${name}`);
    const bytes = read(name);
    if (bytes === undefined)
      throw new Error(
        `module ${name}${neededBy ? ` (needed by ${neededBy})` : ''} is not in the kernel package`,
      );
    state.set(name, 'visiting');
    const deps = (modinfo(bytes, 'depends')[0] ?? '').split(',').filter((d) => d !== '');
    for (const dep of deps) visit(dep, name);
    state.set(name, 'done');
    order.push({ name, bytes });
  };
  for (const name of wanted) visit(name, undefined);
  return order;
}

/** Reads the modules a cache directory holds (`order` lists them, one name a line). */
export function readCachedModules(dir) {
  const order = readFileSync(join(dir, 'order'), 'utf8')
    .split('\n')
    .filter((l) => l !== '');
  return order.map((name) => ({ name, bytes: readFileSync(join(dir, `${name}.ko`)) }));
}
