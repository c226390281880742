/**
 * The kernel modules the test initramfs carries (tools/linux/modules.mjs): dependencies read
 * from each module's .modinfo, load order with dependencies first, a missing one named; the
 * initramfs puts them in /lib/modules with /etc/modules, which /init loads.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readNewcArchive } from '../../../tools/linux/cpio.mjs';
import { buildInitramfs, paths } from '../../../tools/linux/fetch.mjs';
import {
  modinfo,
  moduleName,
  readCachedModules,
  resolveModules,
  WANTED_MODULES,
} from '../../../tools/linux/modules.mjs';

/** A stand-in .ko: only its .modinfo strings matter here (NUL-separated, as the section is). */
const fakeKo = (name: string, depends: string) =>
  Buffer.from(`\x7fELF junk\0license=GPL\0depends=${depends}\0retpoline=Y\0name=${name}\0vermagic=6.1\0`);

describe('kernel modules for the initramfs', () => {
  it('reads depends= and name= from .modinfo, and names modules as the kernel does', () => {
    const ko = fakeKo('virtio_pci', 'virtio_ring,virtio');
    expect(modinfo(ko, 'depends')).toEqual(['virtio_ring,virtio']);
    expect(modinfo(ko, 'name')).toEqual(['virtio_pci']);
    expect(modinfo(ko, 'alias')).toEqual([]);
    expect(moduleName('virtio-rng.ko')).toBe('virtio_rng');
  });

  it('orders dependencies before their users, each module once', () => {
    const kos: Record<string, Buffer> = {
      virtio: fakeKo('virtio', ''),
      virtio_ring: fakeKo('virtio_ring', ''),
      virtio_pci: fakeKo('virtio_pci', 'virtio_ring,virtio'),
      virtio_blk: fakeKo('virtio_blk', 'virtio,virtio_ring'),
      ext4: fakeKo('ext4', 'jbd2,crc16'),
      jbd2: fakeKo('jbd2', ''),
      crc16: fakeKo('crc16', ''),
    };
    const order = resolveModules(['virtio_pci', 'virtio_blk', 'ext4'], (n) => kos[n]).map((m) => m.name);
    expect(order).toEqual(['virtio_ring', 'virtio', 'virtio_pci', 'virtio_blk', 'jbd2', 'crc16', 'ext4']);
  });

  it('names a missing dependency and who needs it, and refuses a loop', () => {
    const kos: Record<string, Buffer> = { virtio_blk: fakeKo('virtio_blk', 'virtio') };
    expect(() => resolveModules(['virtio_blk'], (n) => kos[n])).toThrow(
      'module virtio (needed by virtio_blk) is not in the kernel package',
    );
    const loop: Record<string, Buffer> = { a: fakeKo('a', 'b'), b: fakeKo('b', 'a') };
    expect(() => resolveModules(['a'], (n) => loop[n])).toThrow('module dependency loop through a');
  });

  it('the initramfs holds them in /lib/modules and their order in /etc/modules, which /init loads', () => {
    const modules = [
      { name: 'virtio', bytes: fakeKo('virtio', '') },
      { name: 'virtio_blk', bytes: fakeKo('virtio_blk', 'virtio') },
    ];
    const init = readFileSync(new URL('../../../tools/linux/init.sh', import.meta.url));
    const entries = readNewcArchive(gunzipSync(buildInitramfs(Buffer.from('bb'), init, modules)));
    const byName = new Map(entries.map((e) => [e.name, e]));
    expect(Buffer.from(byName.get('lib/modules/virtio_blk.ko')!.data)).toEqual(modules[1]!.bytes);
    expect(Buffer.from(byName.get('etc/modules')!.data).toString()).toBe('virtio\nvirtio_blk\n');
    expect(entries.findIndex((e) => e.name === 'lib')).toBeLessThan(
      entries.findIndex((e) => e.name === 'lib/modules/virtio.ko'),
    );
    expect(init.toString()).toMatch(/insmod \/lib\/modules\/\$m\.ko/);
    // Without modules, no /etc/modules (and /init loads nothing).
    const bare = readNewcArchive(gunzipSync(buildInitramfs(Buffer.from('bb'), init)));
    expect(bare.some((e) => e.name === 'etc/modules')).toBe(false);
  });

  it.skipIf(!existsSync(join(paths.modules, 'order')))(
    "the cached set (fetch.mjs) is Debian's virtio and ext4 modules, each after its dependencies",
    () => {
      const cached = readCachedModules(paths.modules);
      const names = cached.map((m) => m.name);
      for (const w of WANTED_MODULES) expect(names).toContain(w);
      for (const [i, m] of cached.entries()) {
        expect(modinfo(m.bytes, 'name')).toEqual([m.name]);
        const deps = (modinfo(m.bytes, 'depends')[0] ?? '').split(',').filter((d) => d !== '');
        for (const d of deps) expect(names.indexOf(d), `${d} before ${m.name}`).toBeLessThan(i);
      }
    },
  );
});
