/**
 * The PVH loader (src/loaders/pvh.ts) on a bare Uint8Array: ELF32 and ELF64 kernels with a Xen
 * PHYS32_ENTRY note, the hvm_start_info it writes, every malformed image refused with a LoaderError
 * that says what is wrong (the guest end to end: test/pvh.engines.test.ts); and the ELF reader
 * every loader shares (elf.ts).
 */
import { describe, expect, it } from 'vitest';
import { readElf } from '../../src/loaders/elf.js';
import { kernelFormatOf } from '../../src/loaders/index.js';
import { loadPvh, PVH_CMDLINE_GPA, PVH_START_INFO_GPA, probePvh } from '../../src/loaders/pvh.js';
import { LoaderError, type LoaderMachine } from '../../src/loaders/types.js';
import { buildE820 } from '../../src/machine/memory-map.js';

const MiB = 1024 * 1024;

function machine(size = 16 * MiB): LoaderMachine {
  return { ram: new Uint8Array(size), ramSize: size, e820: buildE820(size), rsdpGpa: 0xf0000 };
}

interface Spec {
  elfClass?: 32 | 64;
  paddr?: number;
  code?: number[];
  bss?: number;
  /** The note's descriptor: the entry as 4 or 8 bytes, or raw bytes. */
  noteDesc?: number[];
  noteName?: string;
  noteType?: number;
  /** Bytes cut off the note segment's end (a truncated note). */
  noteCut?: number;
  entryDelta?: number;
}

/** An ELF executable: one PT_LOAD of `code` at `paddr`, one PT_NOTE with a single note. */
function pvhElf(spec: Spec = {}): Uint8Array {
  const is64 = spec.elfClass === 64;
  const paddr = spec.paddr ?? 0x100000;
  const code = spec.code ?? [0xf4];
  const name = `${spec.noteName ?? 'Xen'}\0`;
  const entry = paddr + (spec.entryDelta ?? 0);
  const desc = spec.noteDesc ?? (is64 ? [...le32(entry), 0, 0, 0, 0] : le32(entry));
  const pad = (n: number) => (n + 3) & ~3;
  const note = new Uint8Array(12 + pad(name.length) + pad(desc.length));
  const nv = new DataView(note.buffer);
  nv.setUint32(0, name.length, true);
  nv.setUint32(4, desc.length, true);
  nv.setUint32(8, spec.noteType ?? 18, true);
  note.set(
    [...name].map((c) => c.charCodeAt(0)),
    12,
  );
  note.set(desc, 12 + pad(name.length));
  const ehdr = is64 ? 64 : 52;
  const phdr = is64 ? 56 : 32;
  const codeOff = ehdr + 2 * phdr;
  const noteOff = codeOff + code.length;
  const image = new Uint8Array(noteOff + note.length);
  const dv = new DataView(image.buffer);
  image.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, 1, 1]);
  dv.setUint16(16, 2, true); // ET_EXEC
  dv.setUint16(18, is64 ? 62 : 3, true);
  dv.setUint32(20, 1, true);
  const word = (at: number, v: number) =>
    is64 ? dv.setBigUint64(at, BigInt(v), true) : dv.setUint32(at, v, true);
  word(24, entry);
  word(is64 ? 32 : 28, ehdr); // e_phoff
  dv.setUint16(is64 ? 52 : 40, ehdr, true);
  dv.setUint16(is64 ? 54 : 42, phdr, true);
  dv.setUint16(is64 ? 56 : 44, 2, true);
  const ph = (i: number, type: number, off: number, pa: number, filesz: number, memsz: number) => {
    const at = ehdr + i * phdr;
    dv.setUint32(at, type, true);
    if (is64) {
      word(at + 8, off);
      word(at + 16, pa);
      word(at + 24, pa);
      word(at + 32, filesz);
      word(at + 40, memsz);
    } else {
      word(at + 4, off);
      word(at + 8, pa);
      word(at + 12, pa);
      word(at + 16, filesz);
      word(at + 20, memsz);
    }
  };
  ph(0, 1, codeOff, paddr, code.length, code.length + (spec.bss ?? 0));
  ph(1, 4, noteOff, 0, note.length - (spec.noteCut ?? 0), note.length - (spec.noteCut ?? 0));
  image.set(code, codeOff);
  image.set(note, noteOff);
  return image;
}

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
}

const u32 = (ram: Uint8Array, gpa: number) => new DataView(ram.buffer).getUint32(gpa, true);
const u64 = (ram: Uint8Array, gpa: number) => u32(ram, gpa) + u32(ram, gpa + 4) * 2 ** 32;
const cstr = (ram: Uint8Array, gpa: number) =>
  new TextDecoder().decode(ram.subarray(gpa, ram.indexOf(0, gpa)));

describe('the PVH loader', () => {
  for (const elfClass of [32, 64] as const) {
    it(`loads an ELF${elfClass} kernel and writes a version-1 start_info`, () => {
      const m = machine();
      m.ram.fill(0xaa, 0x100000, 0x101000); // .bss must come out zero
      const image = pvhElf({ elfClass, code: [0x90, 0xf4], bss: 0x800 });
      expect(probePvh(image)).toBe(true);
      expect(kernelFormatOf(image).name).toBe('pvh');
      const initrd = new Uint8Array(0x1800).fill(7);
      const loaded = loadPvh(image, m, { cmdline: 'console=ttyS0', initrd, initrdName: 'initrd.img' });
      expect([...m.ram.subarray(0x100000, 0x100003)]).toEqual([0x90, 0xf4, 0]);
      expect(m.ram.subarray(0x100002, 0x100802).every((b) => b === 0)).toBe(true);
      const si = PVH_START_INFO_GPA;
      expect(u32(m.ram, si)).toBe(0x336ec578);
      expect(u32(m.ram, si + 4)).toBe(1);
      expect(u32(m.ram, si + 12)).toBe(1); // nr_modules
      expect(cstr(m.ram, u64(m.ram, si + 24))).toBe('console=ttyS0');
      expect(u64(m.ram, si + 24)).toBe(PVH_CMDLINE_GPA);
      expect(u64(m.ram, si + 32)).toBe(0xf0000); // rsdp_paddr
      // The module: at the top of RAM, page-aligned, its size and command line.
      const mod = u64(m.ram, si + 16);
      const at = u64(m.ram, mod);
      expect(at).toBe(16 * MiB - 0x2000);
      expect(u64(m.ram, mod + 8)).toBe(0x1800);
      expect(m.ram[at]).toBe(7);
      expect(cstr(m.ram, u64(m.ram, mod + 16))).toBe('initrd.img');
      // The memory map: the machine's e820, entry by entry.
      const map = u64(m.ram, si + 40);
      expect(u32(m.ram, si + 48)).toBe(m.e820.length);
      m.e820.forEach((e, i) => {
        expect([
          u64(m.ram, map + 24 * i),
          u64(m.ram, map + 24 * i + 8),
          u32(m.ram, map + 24 * i + 16),
        ]).toEqual([e.addr, e.size, e.type]);
      });
      // Entry: the note's address, EBX = start_info, flat 32-bit protected mode, CR0 = PE|ET.
      expect(loaded.entry.regs.rip).toBe(0x100000n);
      expect(loaded.entry.regs.rbx).toBe(BigInt(si));
      const reset = {
        cr0: 0x60000010n,
        cr4: 0n,
        efer: 0n,
        tr: {
          base: 0n,
          limit: 0xffff,
          selector: 0,
          type: 3,
          present: 1,
          dpl: 0,
          db: 0,
          s: 0,
          l: 0,
          g: 0,
          avl: 0,
          unusable: 0,
        },
      } as unknown as Parameters<typeof loaded.entry.sregs>[0];
      const sregs = loaded.entry.sregs(reset);
      expect(sregs.cr0).toBe(0x11n);
      expect(sregs.cr4).toBe(0n);
      expect([sregs.cs.db, sregs.cs.base, sregs.cs.limit, sregs.tr.limit, sregs.tr.type]).toEqual([
        1,
        0n,
        0xffffffff,
        0x67,
        11,
      ]);
      expect(loaded.description).toContain(`PVH ELF${elfClass}, entry 0x100000`);
    });
  }

  it('no initrd: no modules and a null module list', () => {
    const m = machine();
    loadPvh(pvhElf(), m, { cmdline: '' });
    expect(u32(m.ram, PVH_START_INFO_GPA + 12)).toBe(0);
    expect(u64(m.ram, PVH_START_INFO_GPA + 16)).toBe(0);
  });

  const refusals: [string, Spec | (() => Uint8Array), RegExp, number?][] = [
    ['no Xen note (another owner)', { noteName: 'Linux' }, /not a PVH kernel/],
    ['another Xen note type', { noteType: 6 }, /not a PVH kernel/],
    ['an 8-byte entry above 4 GiB', { noteDesc: [0, 0, 0x10, 0, 1, 0, 0, 0] }, /is not a 32-bit address/],
    ['a note cut short', { noteCut: 2 }, /runs past the end of its PT_NOTE segment/],
    [
      'the entry outside the segments',
      { entryDelta: 0x10000 },
      /entry 0x110000 is in none of the loaded segments/,
    ],
    ['a segment over the boot structures', { paddr: 0x1000 }, /overlaps the boot structures/],
    [
      'a segment past the end of RAM',
      { paddr: 15 * MiB, bss: 2 * MiB },
      /0xf00000..0x1100001\) is not in RAM: give the guest at least 18 MiB/,
    ],
    ['a truncated file', () => pvhElf().subarray(0, 100), /lie past the end of the 100-byte file/],
    [
      'an ELF for another machine',
      () => {
        const i = pvhElf();
        i[18] = 40; // EM_ARM
        return i;
      },
      /ELF machine 40 is not i386/,
    ],
  ];
  for (const [what, spec, message] of refusals) {
    it(`refuses ${what} with a LoaderError`, () => {
      const image = typeof spec === 'function' ? spec() : pvhElf(spec);
      const m = machine();
      const before = m.ram.slice();
      let error: unknown;
      try {
        loadPvh(image, m, { cmdline: 'x' });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(LoaderError);
      expect((error as Error).message).toMatch(message);
      // Nothing written before the checks passed.
      expect(Buffer.compare(m.ram, before)).toBe(0);
    });
  }

  it('refuses an initrd that does not fit above the kernel', () => {
    const m = machine(4 * MiB);
    expect(() => loadPvh(pvhElf(), m, { cmdline: '', initrd: new Uint8Array(3 * MiB + 0x1000) })).toThrow(
      /the modules do not fit between the kernel's end 0x100001 and the end of RAM 0x400000: give the guest at least 5 MiB/,
    );
  });

  it('the probe never throws on garbage, and takes no ELF without the note', () => {
    for (const bytes of [new Uint8Array(0), new Uint8Array([0x7f, 0x45, 0x4c, 0x46]), pvhElf({ noteCut: 5 })])
      expect(probePvh(bytes)).toBe(false);
    expect(probePvh(pvhElf({ noteType: 17 }))).toBe(false);
  });

  it('takes a note whose value is wrong, so that the load says what is wrong with it', () => {
    const image = pvhElf({ noteDesc: [0, 0, 0x10, 0, 1, 0, 0, 0] });
    expect(probePvh(image)).toBe(true);
    expect(kernelFormatOf(image).name).toBe('pvh');
  });
});

describe("readElf (the loaders' ELF reader)", () => {
  it('reads p_vaddr exactly in either class (a kernel linked high) and p_flags', () => {
    const elf64 = pvhElf({ elfClass: 64 });
    const dv64 = new DataView(elf64.buffer);
    dv64.setUint32(64 + 4, 5, true); // p_flags: PF_R | PF_X
    dv64.setBigUint64(64 + 16, 0xffffffff81000000n, true); // p_vaddr, beyond 2^53
    const a = readElf(elf64, 'test');
    expect(a.segments[0]).toMatchObject({ paddr: 0x100000, vaddr: 0xffffffff81000000n, flags: 5 });
    // Loading goes by p_paddr, so the high p_vaddr is no error.
    expect(() => loadPvh(elf64, machine(), { cmdline: '' })).not.toThrow();
    const elf32 = pvhElf();
    const dv32 = new DataView(elf32.buffer);
    dv32.setUint32(52 + 8, 0xc0100000, true);
    dv32.setUint32(52 + 24, 6, true);
    expect(readElf(elf32, 'test').segments[0]).toMatchObject({ vaddr: 0xc0100000n, flags: 6 });
  });

  it('names the file it reads when told (a payload inside another image)', () => {
    expect(() => readElf(new Uint8Array(8), 'bzImage', 'the decompressed kernel')).toThrow(
      'bzImage: the decompressed kernel: not an ELF file (no \\x7fELF magic)',
    );
  });
});
