import { describe, expect, it } from 'vitest';
import { loadFlat } from '../../src/loaders/flat.js';
import { loadMultiboot, MB_INFO_GPA } from '../../src/loaders/multiboot.js';
import { LoaderError, type LoaderMachine } from '../../src/loaders/types.js';
import { buildE820 } from '../../src/machine/memory-map.js';

const MiB = 1024 * 1024;

function machine(size = 16 * MiB): LoaderMachine {
  return { ram: new Uint8Array(size), ramSize: size, e820: buildE820(size) };
}

/** An a.out-kludge image: header at file offset 0 describing load at 1 MiB. */
function aoutImage(opts: {
  code: number[];
  bss?: number;
  flags?: number;
  entryDelta?: number;
  checksumDelta?: number;
}) {
  const flags = opts.flags ?? 0x00010003;
  const image = new Uint8Array(32 + opts.code.length);
  const dv = new DataView(image.buffer);
  const base = 0x100000;
  dv.setUint32(0, 0x1badb002, true);
  dv.setUint32(4, flags, true);
  dv.setUint32(8, (-(0x1badb002 + flags) + (opts.checksumDelta ?? 0)) >>> 0, true);
  dv.setUint32(12, base, true); // header_addr
  dv.setUint32(16, base, true); // load_addr
  dv.setUint32(20, base + image.length, true); // load_end_addr
  dv.setUint32(24, base + image.length + (opts.bss ?? 0), true); // bss_end_addr
  dv.setUint32(28, base + 32 + (opts.entryDelta ?? 0), true); // entry_addr
  image.set(opts.code, 32);
  return image;
}

/** A minimal ELF32 i386 executable: one PT_LOAD of `code` at `paddr`, multiboot header without flag 16. */
function elfImage(code: number[], paddr = 0x200000, memExtra = 0x100): Uint8Array {
  const mbOff = 0x54;
  const codeOff = mbOff + 12;
  const image = new Uint8Array(codeOff + code.length);
  const dv = new DataView(image.buffer);
  image.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1], 0);
  dv.setUint16(16, 2, true); // ET_EXEC
  dv.setUint16(18, 3, true); // EM_386
  dv.setUint32(20, 1, true);
  dv.setUint32(24, paddr + 12, true); // entry at the code
  dv.setUint32(28, 52, true); // phoff
  dv.setUint16(40, 52, true);
  dv.setUint16(42, 32, true);
  dv.setUint16(44, 1, true);
  // PT_LOAD covering the multiboot header and the code
  dv.setUint32(52, 1, true);
  dv.setUint32(56, mbOff, true);
  dv.setUint32(60, paddr, true);
  dv.setUint32(64, paddr, true);
  dv.setUint32(68, 12 + code.length, true);
  dv.setUint32(72, 12 + code.length + memExtra, true);
  dv.setUint32(76, 5, true);
  dv.setUint32(mbOff, 0x1badb002, true);
  dv.setUint32(mbOff + 4, 0x3, true);
  dv.setUint32(mbOff + 8, -(0x1badb002 + 3) >>> 0, true);
  image.set(code, codeOff);
  return image;
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LoaderError);
    return (e as Error).message;
  }
  throw new Error('expected a LoaderError');
}

describe('multiboot loader', () => {
  it('loads through the header address fields, zeroes bss and enters with EAX magic, EBX info', () => {
    const m = machine();
    m.ram.fill(0xcc, 0x100000, 0x100100);
    const image = aoutImage({ code: [0xf4, 0xeb, 0xfd], bss: 16 });
    const loaded = loadMultiboot(image, m, { cmdline: 'hello world' });
    expect(Array.from(m.ram.subarray(0x100020, 0x100023))).toEqual([0xf4, 0xeb, 0xfd]);
    expect(Array.from(m.ram.subarray(0x100023, 0x100033))).toEqual(new Array(16).fill(0));
    expect(m.ram[0x100033]).toBe(0xcc);
    expect(loaded.entry.regs.rax).toBe(0x2badb002n);
    expect(loaded.entry.regs.rbx).toBe(BigInt(MB_INFO_GPA));
    expect(loaded.entry.regs.rip).toBe(0x100020n);
    expect(loaded.entry.regs.rflags).toBe(2n);
  });

  it('builds the info structure: memory sizes, e820 map, command line, loader name', () => {
    const m = machine(16 * MiB);
    loadMultiboot(aoutImage({ code: [0xf4] }), m, { cmdline: 'console=ttyS0 x' });
    const dv = new DataView(m.ram.buffer);
    const flags = dv.getUint32(MB_INFO_GPA, true);
    expect(flags & 0x245).toBe(0x245); // mem, cmdline, mmap, loader name
    expect(dv.getUint32(MB_INFO_GPA + 4, true)).toBe(639);
    expect(dv.getUint32(MB_INFO_GPA + 8, true)).toBe(15 * 1024);
    const cstr = (gpa: number) => {
      let end = gpa;
      while (m.ram[end] !== 0) end++;
      return new TextDecoder().decode(m.ram.subarray(gpa, end));
    };
    expect(cstr(dv.getUint32(MB_INFO_GPA + 16, true))).toBe('console=ttyS0 x');
    expect(cstr(dv.getUint32(MB_INFO_GPA + 64, true))).toBe('qemu-lite');
    const mmapLength = dv.getUint32(MB_INFO_GPA + 44, true);
    const mmapAddr = dv.getUint32(MB_INFO_GPA + 48, true);
    expect(mmapLength).toBe(3 * 24);
    const entries = [];
    for (let at = mmapAddr; at < mmapAddr + mmapLength; at += dv.getUint32(at, true) + 4) {
      entries.push([
        Number(dv.getBigUint64(at + 4, true)),
        Number(dv.getBigUint64(at + 12, true)),
        dv.getUint32(at + 20, true),
      ]);
    }
    expect(entries).toEqual([
      [0, 0x9fc00, 1],
      [0x9fc00, 0x100000 - 0x9fc00, 2],
      [0x100000, 15 * MiB, 1],
    ]);
  });

  it('loads an ELF kernel from its program headers when flag 16 is clear', () => {
    const m = machine();
    const loaded = loadMultiboot(elfImage([0x90, 0xf4]), m, { cmdline: '' });
    expect(loaded.entry.regs.rip).toBe(0x20000cn);
    expect(Array.from(m.ram.subarray(0x20000c, 0x20000e))).toEqual([0x90, 0xf4]);
    expect(loaded.description).toContain('ELF, 1 segment');
  });

  it('places modules page-aligned after the kernel with their strings', () => {
    const m = machine();
    loadMultiboot(aoutImage({ code: [0xf4] }), m, {
      cmdline: '',
      modules: [
        { data: new Uint8Array([1, 2, 3]), cmdline: 'one' },
        { data: new Uint8Array([4]), cmdline: 'two' },
      ],
    });
    const dv = new DataView(m.ram.buffer);
    expect(dv.getUint32(MB_INFO_GPA + 20, true)).toBe(2);
    const mods = dv.getUint32(MB_INFO_GPA + 24, true);
    expect(dv.getUint32(mods, true)).toBe(0x101000);
    expect(dv.getUint32(mods + 4, true)).toBe(0x101003);
    expect(dv.getUint32(mods + 16, true)).toBe(0x102000);
    expect(Array.from(m.ram.subarray(0x101000, 0x101003))).toEqual([1, 2, 3]);
  });

  it('rejects an image without a header', () => {
    expect(errorOf(() => loadMultiboot(new Uint8Array(100), machine(), { cmdline: '' }))).toBe(
      'multiboot: no multiboot header (magic 0x1badb002) in the first 8192 bytes',
    );
  });

  it('rejects a bad checksum, naming the header offset', () => {
    const image = aoutImage({ code: [0xf4], checksumDelta: 1 });
    expect(errorOf(() => loadMultiboot(image, machine(), { cmdline: '' }))).toBe(
      'multiboot: header at offset 0x0: magic + flags + checksum is 0x1, not 0',
    );
  });

  it('boots a kernel that sets requirement bits it does not implement, as QEMU does, and says so', () => {
    const image = aoutImage({ code: [0xf4], flags: 0x00010009 });
    const loaded = loadMultiboot(image, machine(), { cmdline: '' });
    expect(loaded.entry.regs.rip).toBe(0x100020n);
    expect(loaded.description).toMatch(/, header requirement bits 0x8 ignored \(as QEMU\)$/);
  });

  it('rejects a truncated image whose load_end_addr reaches past the file', () => {
    const image = aoutImage({ code: [0xf4, 0xf4, 0xf4, 0xf4] }).subarray(0, 34);
    expect(errorOf(() => loadMultiboot(image, machine(), { cmdline: '' }))).toBe(
      'multiboot: load_end_addr 0x100024 needs file bytes up to 0x24, but the file has 34 (truncated?)',
    );
  });

  it('rejects an entry point outside the loaded kernel', () => {
    const image = aoutImage({ code: [0xf4], entryDelta: 0x1000 });
    expect(errorOf(() => loadMultiboot(image, machine(), { cmdline: '' }))).toBe(
      'multiboot: entry point 0x101020 is not inside the loaded kernel',
    );
  });

  it('rejects a truncated ELF segment', () => {
    const image = elfImage([0x90, 0x90, 0x90, 0xf4]).subarray(0, 0x62);
    expect(errorOf(() => loadMultiboot(image, machine(), { cmdline: '' }))).toBe(
      'multiboot: segment 0: file bytes 0x54..0x64 lie past the end of the 98-byte file (truncated?)',
    );
  });

  it('rejects a 64-bit ELF', () => {
    const image = elfImage([0xf4]);
    image[4] = 2;
    expect(errorOf(() => loadMultiboot(image, machine(), { cmdline: '' }))).toBe(
      'multiboot: a 64-bit ELF (ELFCLASS64); multiboot v1 loads 32-bit ELF kernels only',
    );
  });

  it('rejects a kernel larger than RAM', () => {
    const image = elfImage([0xf4], 0x200000, 0x2000000);
    expect(errorOf(() => loadMultiboot(image, machine(), { cmdline: '' }))).toBe(
      'multiboot: the kernel occupies 0x200000..0x220000d, beyond the 16 MiB of RAM',
    );
  });
});

describe('flat loader', () => {
  it('copies the bytes and enters in 32-bit protected mode at the entry', () => {
    const m = machine();
    const loaded = loadFlat(new Uint8Array([0xf4, 0xeb, 0xfe]), m, { loadAddr: 0x100000, entry: 0x100001 });
    expect(m.ram[0x100001]).toBe(0xeb);
    expect(loaded.entry.regs.rip).toBe(0x100001n);
  });

  it('enters real mode with CS:IP covering the entry', () => {
    const m = machine();
    const loaded = loadFlat(new Uint8Array([0xf4]), m, { loadAddr: 0x7c00, mode: 'real' });
    expect(loaded.entry.regs.rip).toBe(0x7c00n);
  });

  it('refuses an image that does not fit, or an entry outside it', () => {
    expect(errorOf(() => loadFlat(new Uint8Array(16), machine(), { loadAddr: 16 * MiB - 8 }))).toBe(
      'flat: 16 bytes at 0xfffff8 do not fit in 16777216 bytes of RAM',
    );
    expect(
      errorOf(() => loadFlat(new Uint8Array(16), machine(), { loadAddr: 0x100000, entry: 0x100010 })),
    ).toBe('flat: entry 0x100010 is outside the image (0x100000..0x100010)');
  });

  it('passes the kernel file name, then -append, as the command line (QEMU, GRUB)', () => {
    const cstr = (ram: Uint8Array, gpa: number) =>
      new TextDecoder().decode(ram.subarray(gpa, ram.indexOf(0, gpa)));
    const m = machine();
    loadMultiboot(aoutImage({ code: [0xf4] }), m, { cmdline: 'a b', kernelName: 'k.elf' });
    const dv = new DataView(m.ram.buffer);
    expect(cstr(m.ram, dv.getUint32(MB_INFO_GPA + 16, true))).toBe('k.elf a b');
    const m2 = machine();
    loadMultiboot(aoutImage({ code: [0xf4] }), m2, { cmdline: '', kernelName: 'k.elf' });
    // QEMU's "%s %s": the name and one space when there is no -append.
    expect(cstr(m2.ram, new DataView(m2.ram.buffer).getUint32(MB_INFO_GPA + 16, true))).toBe('k.elf ');
  });

  it('accepts a kernel linked at 0x8000 and puts its boot information after it and its modules', () => {
    const cstr = (ram: Uint8Array, gpa: number) =>
      new TextDecoder().decode(ram.subarray(gpa, ram.indexOf(0, gpa)));
    const m = machine();
    const code = [0x90, 0xf4];
    const loaded = loadMultiboot(elfImage(code, 0x8000), m, {
      cmdline: 'x',
      kernelName: 'low.elf',
      modules: [{ data: new Uint8Array(5000).fill(7), cmdline: 'mod' }],
    });
    // The kernel's bytes are where it asked (header + code at 0x8000).
    expect(m.ram[0x8000 + 12]).toBe(0x90);
    const info = Number(loaded.entry.regs.rbx);
    // Module at 1 MiB (two pages), then the boot information.
    expect(info).toBeGreaterThanOrEqual(0x102000);
    const dv = new DataView(m.ram.buffer);
    expect(dv.getUint32(info, true) & 0x24d).toBe(0x24d); // mem, cmdline, mods, mmap, loader name
    expect(cstr(m.ram, dv.getUint32(info + 16, true))).toBe('low.elf x');
    const mods = dv.getUint32(info + 24, true);
    expect(dv.getUint32(mods, true)).toBe(0x100000);
    expect(cstr(m.ram, dv.getUint32(mods + 8, true))).toBe('mod');
    const mmapAddr = dv.getUint32(info + 48, true);
    expect(dv.getUint32(mmapAddr, true)).toBe(20);
    // Nothing of the loader's lies in the low area the kernel owns.
    expect(mmapAddr).toBeGreaterThan(0x100000);
    const sregs = loaded.entry.sregs({ cr0: 0n } as never);
    expect(Number(sregs.gdt.base)).toBeGreaterThanOrEqual(0x102000);
    expect(Number(sregs.gdt.base)).toBeLessThan(info);
  });

  it('enters a higher-half ELF (linked at 0xc0200000, loaded at 0x200000) at the physical entry, as QEMU', () => {
    const image = elfImage([0x90, 0xf4]);
    const dv = new DataView(image.buffer);
    dv.setUint32(60, 0xc0200000, true); // p_vaddr
    dv.setUint32(24, 0xc020000c, true); // e_entry: virtual
    const m = machine();
    const loaded = loadMultiboot(image, m, { cmdline: '' });
    expect(loaded.entry.regs.rip).toBe(0x20000cn);
    expect(m.ram[0x20000c]).toBe(0x90);
  });
});
