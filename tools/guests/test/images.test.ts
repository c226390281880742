import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEVICE_GUESTS, GUESTS, imagePath } from '../src/index.js';

const MB_MAGIC = 0x1badb002;

/** The multiboot v1 header: 4-byte aligned, in the first 8 KiB, magic + flags + checksum = 0. */
function findMultibootHeader(image: Uint8Array): number {
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  for (let off = 0; off + 12 <= Math.min(image.length, 8192); off += 4) {
    if (view.getUint32(off, true) !== MB_MAGIC) continue;
    const flags = view.getUint32(off + 4, true);
    const sum = (MB_MAGIC + flags + view.getUint32(off + 8, true)) >>> 0;
    if (sum === 0) return off;
  }
  return -1;
}

describe('built images', () => {
  for (const g of GUESTS) {
    it(`${g.name}: a 32-bit x86 ELF with a multiboot header whose address fields match its load segment`, () => {
      const image = new Uint8Array(readFileSync(imagePath(g.name)));
      const view = new DataView(image.buffer);
      expect([...image.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]);
      expect(image[4]).toBe(1); // ELFCLASS32: QEMU's and qemu-lite's multiboot loaders take ELF32
      expect(view.getUint16(18, true)).toBe(3); // EM_386
      const off = findMultibootHeader(image);
      expect(off).toBeGreaterThanOrEqual(0);
      // One PT_LOAD: its file offset/address must agree with the a.out-kludge fields.
      const phoff = view.getUint32(28, true);
      const phnum = view.getUint16(44, true);
      const loads = [];
      for (let i = 0; i < phnum; i++) {
        const p = phoff + 32 * i;
        if (view.getUint32(p, true) === 1)
          loads.push({ offset: view.getUint32(p + 4, true), paddr: view.getUint32(p + 12, true) });
      }
      expect(loads.length).toBe(1);
      const headerAddr = view.getUint32(off + 12, true);
      const loadAddr = view.getUint32(off + 16, true);
      expect(loads[0].paddr).toBe(loadAddr);
      expect(headerAddr - loadAddr).toBe(off - loads[0].offset);
      expect(view.getUint32(off + 28, true)).toBe(view.getUint32(24, true)); // entry_addr = e_entry
    });
  }

  it('every image the build makes is in the manifest (or a device guest run by its own tests)', () => {
    const dir = fileURLToPath(new URL('../out/', import.meta.url));
    const built = readdirSync(dir)
      .filter((f) => f.endsWith('.elf'))
      .map((f) => f.slice(0, -4))
      .sort();
    expect(built).toEqual([...GUESTS.map((g) => g.name), ...DEVICE_GUESTS].sort());
  });
});
