import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { KvmSegment, KvmSregs } from '@kvm/core';
import { describe, expect, it } from 'vitest';
import { buildE820 } from '../machine/memory-map.js';
import {
  BOOT_CS,
  BOOT_DS,
  BOOT_GDT_GPA,
  CAN_USE_HEAP,
  CMDLINE_GPA,
  KERNEL_LOAD_GPA,
  LOADED_HIGH,
  longModeSregs,
  makeBzImageLoader,
  type PayloadDecompressor,
  PML4_GPA,
  parseBzImageHeader,
  parseVmlinux,
  payloadFormat,
  probeBzImage,
  XLF_KERNEL_64,
  ZERO_PAGE_GPA,
} from './bzimage.js';
import { E820_TYPE, type E820Entry, LoaderError, type LoaderMachine } from './types.js';

const MiB = 1024 * 1024;

interface FakeKernel {
  setupSects?: number;
  version?: number;
  headerEndJump?: number;
  loadflags?: number;
  xloadflags?: number;
  syssizeParagraphs?: number;
  kernelBytes?: number;
  truncateTo?: number;
  initrdAddrMax?: number;
  cmdlineSize?: number;
  initSize?: number;
  prefAddress?: number;
  /** The compressed kernel, placed at offset 0x400 of the protected-mode kernel. */
  payload?: Uint8Array;
  payloadLength?: number;
}

/**
 * A synthetic bzImage with the header fields boot.rst defines, at the offsets it gives (written
 * here with literal offsets, independently of the loader's HDR table).
 */
function fakeBzImage(o: FakeKernel = {}): Uint8Array {
  const setupSects = o.setupSects ?? 4;
  const setupSize = ((setupSects || 4) + 1) * 512;
  const kernelBytes = o.kernelBytes ?? Math.max(0x4000, 0x400 + (o.payload?.length ?? 0));
  const image = new Uint8Array(setupSize + kernelBytes);
  const v = new DataView(image.buffer);
  v.setUint8(0x1f1, setupSects);
  v.setUint32(0x1f4, o.syssizeParagraphs ?? kernelBytes / 16, true);
  v.setUint16(0x1fe, 0xaa55, true);
  v.setUint8(0x200, 0xeb); // jmp short
  v.setUint8(0x201, o.headerEndJump ?? 0x6a); // header ends at 0x26c, as in Linux 6.1
  v.setUint32(0x202, 0x53726448, true); // "HdrS"
  v.setUint16(0x206, o.version ?? 0x020f, true);
  v.setUint16(0x20e, 0x300, true); // kernel_version string at 0x300 + 0x200
  image.set(new TextEncoder().encode('6.1.0-test (fake) #1\0'), 0x500);
  v.setUint8(0x211, o.loadflags ?? LOADED_HIGH);
  v.setUint32(0x214, 0x100000, true);
  v.setUint32(0x22c, o.initrdAddrMax ?? 0x7fffffff, true);
  v.setUint32(0x230, 0x200000, true);
  v.setUint8(0x234, 1);
  v.setUint16(0x236, o.xloadflags ?? 0x7f, true);
  v.setUint32(0x238, o.cmdlineSize ?? 2047, true);
  v.setUint32(0x258, o.prefAddress ?? 0x1000000, true);
  v.setUint32(0x260, o.initSize ?? 0x800000, true);
  // The protected-mode kernel: a recognisable pattern, and the payload inside it.
  for (let i = 0; i < kernelBytes; i++) image[setupSize + i] = (i * 7 + 3) & 0xff;
  v.setUint32(0x248, 0x400, true);
  v.setUint32(0x24c, o.payloadLength ?? o.payload?.length ?? 0x100, true);
  // Without a payload of the test's, the gzip magic where one starts: the header check wants one.
  const payload = o.payload ?? [0x1f, 0x8b, 0x08, 0x00];
  if (kernelBytes >= 0x400 + payload.length) image.set(payload, setupSize + 0x400);
  return o.truncateTo !== undefined ? image.subarray(0, o.truncateTo) : image;
}

/** The boot protocol as written: the kernel decompresses itself. */
const loadBzImage = makeBzImageLoader({ entry: 'decompressor' });

function machine(ramSize = 64 * MiB, e820: E820Entry[] = buildE820(ramSize)): LoaderMachine {
  return { ram: new Uint8Array(ramSize), ramSize, e820 };
}

function isAllZero(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).equals(Buffer.alloc(bytes.length));
}

function loaderError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LoaderError);
    return (err as Error).message;
  }
  throw new Error('expected a LoaderError, nothing was thrown');
}

function resetSregs(): KvmSregs {
  const seg = (selector: number, type: number): KvmSegment => ({
    base: 0n,
    limit: 0xffff,
    selector,
    type,
    present: 1,
    dpl: 0,
    db: 0,
    s: 1,
    l: 0,
    g: 0,
    avl: 0,
    unusable: 0,
  });
  return {
    cs: { ...seg(0xf000, 0xb), base: 0xffff0000n },
    ds: seg(0, 3),
    es: seg(0, 3),
    fs: seg(0, 3),
    gs: seg(0, 3),
    ss: seg(0, 3),
    tr: { ...seg(0, 0xb), s: 0 },
    ldt: { ...seg(0, 2), s: 0 },
    gdt: { base: 0n, limit: 0xffff },
    idt: { base: 0n, limit: 0xffff },
    cr0: 0x60000010n,
    cr2: 0n,
    cr3: 0n,
    cr4: 0n,
    cr8: 0n,
    efer: 0n,
    apicBase: 0xfee00900n,
    interruptBitmap: [0n, 0n, 0n, 0n],
  };
}

/** A 4-level walk (SDM Vol. 3A 4.5) over guest RAM, written apart from the loader's writer. */
function walk(ram: Uint8Array, cr3: number, gva: number): number | undefined {
  const v = new DataView(ram.buffer, ram.byteOffset);
  const entry = (table: number, index: number): number => {
    const lo = v.getUint32(table + index * 8, true);
    const hi = v.getUint32(table + index * 8 + 4, true);
    return hi * 0x100000000 + lo;
  };
  const frame = (e: number): number => Math.floor(e / 0x1000) * 0x1000 - Math.floor(e / 2 ** 52) * 2 ** 52;
  const pml4e = entry(cr3, Math.floor(gva / 2 ** 39) % 512);
  if ((pml4e & 1) === 0) return undefined;
  const pdpte = entry(frame(pml4e), Math.floor(gva / 2 ** 30) % 512);
  if ((pdpte & 1) === 0) return undefined;
  if (pdpte & 0x80) return frame(pdpte) - (frame(pdpte) % 2 ** 30) + (gva % 2 ** 30);
  const pde = entry(frame(pdpte), Math.floor(gva / 2 ** 21) % 512);
  if ((pde & 1) === 0) return undefined;
  if (pde & 0x80) return frame(pde) - (frame(pde) % 2 ** 21) + (gva % 2 ** 21);
  const pte = entry(frame(pde), Math.floor(gva / 2 ** 12) % 512);
  if ((pte & 1) === 0) return undefined;
  return frame(pte) + (gva % 4096);
}

describe('probeBzImage', () => {
  it('recognises the "HdrS" magic and nothing else', () => {
    expect(probeBzImage(fakeBzImage())).toBe(true);
    expect(probeBzImage(new Uint8Array(4096))).toBe(false);
    expect(probeBzImage(new Uint8Array(10))).toBe(false);
  });
});

describe('parseBzImageHeader', () => {
  it('reads the setup header fields', () => {
    const hdr = parseBzImageHeader(fakeBzImage());
    expect(hdr.version).toBe(0x020f);
    expect(hdr.setupSize).toBe(5 * 512);
    expect(hdr.kernelSize).toBe(0x4000);
    expect(hdr.headerEnd).toBe(0x26c);
    expect(hdr.xloadflags & XLF_KERNEL_64).toBe(XLF_KERNEL_64);
    expect(hdr.cmdlineSize).toBe(2047);
    expect(hdr.prefAddress).toBe(0x1000000);
    expect(hdr.kernelVersion).toBe('6.1.0-test (fake) #1');
  });

  it('takes setup_sects 0 to mean 4', () => {
    expect(parseBzImageHeader(fakeBzImage({ setupSects: 0 })).setupSize).toBe(5 * 512);
    expect(parseBzImageHeader(fakeBzImage({ setupSects: 30 })).setupSize).toBe(31 * 512);
  });

  const cases: [string, FakeKernel | Uint8Array, string][] = [
    [
      'a file too short for the header',
      new Uint8Array(0x100),
      'bzImage: image is 256 bytes: too short to hold the setup header ("HdrS" is at 0x202)',
    ],
    [
      'a file without the magic',
      new Uint8Array(0x1000),
      'bzImage: no "HdrS" magic at 0x202 (found 0x0): not a Linux kernel image',
    ],
    [
      'a kernel older than protocol 2.12',
      { version: 0x020b },
      'bzImage: boot protocol 2.11 is older than 2.12, the first with a 64-bit entry point',
    ],
    [
      'a header that ends too early',
      { headerEndJump: 0x30 },
      'bzImage: setup header ends at 0x232, but protocol 2.15 has fields up to 0x264',
    ],
    [
      'a file cut inside the header',
      { truncateTo: 0x240 },
      'bzImage: image is 576 bytes: truncated inside the setup header, which ends at 0x26c',
    ],
    [
      'a zImage',
      { loadflags: 0 },
      'bzImage: loadflags.LOADED_HIGH is clear: a zImage (loaded at 0x10000), not a bzImage',
    ],
    [
      'a 32-bit kernel',
      { xloadflags: 0x2 },
      'bzImage: xloadflags 0x2 lacks XLF_KERNEL_64: a 32-bit kernel, which has no 64-bit entry point',
    ],
    [
      'a file cut inside the setup code',
      { setupSects: 30, kernelBytes: 0, syssizeParagraphs: 1, truncateTo: 0x1000 },
      'bzImage: image is 4096 bytes: truncated inside the real-mode setup, which setup_sects 30 says is 15872 bytes',
    ],
    [
      'a zero syssize',
      { syssizeParagraphs: 0 },
      'bzImage: syssize is 0: the header does not say how big the protected-mode kernel is',
    ],
    [
      'a file cut inside the kernel',
      { truncateTo: 5 * 512 + 0x1000 },
      'bzImage: truncated: syssize says the protected-mode kernel is 16384 bytes, the image has 4096 after the 2560-byte setup (setup_sects 4)',
    ],
    [
      'a kernel too small for startup_64',
      { kernelBytes: 0x100 },
      'bzImage: the protected-mode kernel is 256 bytes: too small to contain startup_64 at 0x200',
    ],
  ];
  for (const [what, input, message] of cases) {
    it(`rejects ${what} with a message that says so`, () => {
      const image = input instanceof Uint8Array ? input : fakeBzImage(input);
      expect(loaderError(() => parseBzImageHeader(image))).toBe(message);
      // And the loader gives the same error, having written nothing.
      const m = machine();
      expect(loaderError(() => loadBzImage(image, m, { cmdline: '' }))).toBe(message);
      expect(isAllZero(m.ram)).toBe(true);
    });
  }

  it('rejects a version that is no boot protocol', () => {
    expect(loaderError(() => parseBzImageHeader(fakeBzImage({ version: 0x0300 })))).toBe(
      'bzImage: version at 0x206 is 0x300: no boot protocol 3.00 exists (2.x)',
    );
  });

  it('rejects a setup_sects that is 0 or off by one, naming it (the payload is then not where it says)', () => {
    // These once booted: the loader copied the wrong bytes and the guest ended with status 0.
    for (const [value, shown, setupSize] of [
      [0, '0 (read as 4)', 0xa00],
      [29, '29', 0x3c00],
      [31, '31', 0x4000],
    ] as const) {
      // 1 KiB more than syssize covers, as a signed kernel has (Debian's: its signature).
      const image = fakeBzImage({ setupSects: 30, kernelBytes: 0x4400, syssizeParagraphs: 0x400 });
      image[0x1f1] = value;
      const message = loaderError(() => parseBzImageHeader(image));
      expect(message).toMatch(
        new RegExp(
          `^bzImage: no compressed kernel at payload_offset 0x400 \\(found [0-9a-f ]+, the magic of no gzip, xz, zstd, bzip2, lzma, lzo or lz4 stream\\): setup_sects ${shown.replace(/[()]/g, '\\$&')} puts the protected-mode kernel at 0x${setupSize.toString(16)}, and setup_sects or payload_offset is wrong$`,
        ),
      );
    }
  });

  it('rejects a payload_offset that does not point at a compressed kernel', () => {
    const image = fakeBzImage();
    new DataView(image.buffer).setUint32(0x248, 0x300, true);
    expect(loaderError(() => parseBzImageHeader(image))).toMatch(
      /^bzImage: no compressed kernel at payload_offset 0x300 \(found ([0-9a-f]{2} ?){6}, /,
    );
  });

  it('rejects a wrong boot_flag', () => {
    const image = fakeBzImage();
    image[0x1fe] = 0;
    expect(loaderError(() => parseBzImageHeader(image))).toBe(
      'bzImage: boot_flag at 0x1fe is 0xaa00, not 0xaa55',
    );
  });

  it('throws only LoaderError, whatever the header bytes say', () => {
    // Corrupt each header byte in turn with a few values; the loader either loads or refuses.
    const base = fakeBzImage();
    const m = machine(32 * MiB);
    for (let off = 0x1f1; off < 0x26c; off++) {
      for (const value of [0x00, 0x01, 0x7f, 0xff]) {
        const image = base.slice();
        image[off] = value;
        try {
          loadBzImage(image, m, { cmdline: 'console=ttyS0', initrd: new Uint8Array(100) });
        } catch (err) {
          expect(err, `byte 0x${off.toString(16)} = ${value}`).toBeInstanceOf(LoaderError);
        }
      }
    }
  });
});

describe('loadBzImage', () => {
  const image = fakeBzImage();
  const initrd = new Uint8Array(0x3001).map((_, i) => (i * 13) & 0xff);
  const cmdline = 'console=ttyS0 root=/dev/ram0 qemu_lite_test=1';
  const m = machine(64 * MiB);
  const loaded = loadBzImage(image, m, { cmdline, initrd });
  const bp = new DataView(m.ram.buffer, ZERO_PAGE_GPA, 0x1000);
  const ram = new DataView(m.ram.buffer);

  it('copies the protected-mode kernel to 1 MiB', () => {
    expect(KERNEL_LOAD_GPA).toBe(0x100000);
    expect(m.ram.subarray(0x100000, 0x100000 + 0x4000)).toEqual(image.subarray(5 * 512));
  });

  it('enters startup_64 at load address + 0x200 with RSI = boot_params and interrupts off', () => {
    expect(loaded.entry.regs.rip).toBe(0x100200n);
    expect(loaded.entry.regs.rsi).toBe(BigInt(ZERO_PAGE_GPA));
    expect(loaded.entry.regs.rflags).toBe(0x2n);
    expect(loaded.entry.regs.rbp).toBe(0n);
    expect(loaded.entry.regs.rdi).toBe(0n);
    expect(loaded.entry.regs.rbx).toBe(0n);
    expect(loaded.description).toContain('boot protocol 2.15');
    expect(loaded.description).toContain('kernel 6.1.0-test');
  });

  it('copies the setup header into boot_params at 0x1f1 up to its end', () => {
    // Fields the loader does not touch come straight from the image.
    expect(bp.getUint32(0x202, true)).toBe(0x53726448);
    expect(bp.getUint16(0x206, true)).toBe(0x020f);
    expect(bp.getUint32(0x1f4, true)).toBe(0x4000 / 16);
    expect(bp.getUint16(0x236, true)).toBe(0x7f);
    expect(bp.getUint32(0x260, true)).toBe(0x800000);
    // Nothing of the image past the header end, nor the boot sector before 0x1f1 (sentinel 0x1ef).
    expect(bp.getUint8(0x1ef)).toBe(0);
    expect(m.ram.subarray(ZERO_PAGE_GPA + 0x26c, ZERO_PAGE_GPA + 0x2d0).every((b) => b === 0)).toBe(true);
  });

  it('fills type_of_loader, loadflags, heap_end_ptr', () => {
    expect(bp.getUint8(0x210)).toBe(0xff);
    expect(bp.getUint8(0x211)).toBe(LOADED_HIGH | CAN_USE_HEAP);
    expect(bp.getUint16(0x224, true)).toBe(0xfe00);
  });

  it('points cmd_line_ptr (0x228) at the NUL-terminated command line', () => {
    const ptr = bp.getUint32(0x228, true);
    expect(ptr).toBe(CMDLINE_GPA);
    const bytes = m.ram.subarray(ptr, ptr + cmdline.length + 1);
    expect(new TextDecoder().decode(bytes.subarray(0, cmdline.length))).toBe(cmdline);
    expect(bytes[cmdline.length]).toBe(0);
    expect(bp.getUint32(0x0c8, true)).toBe(0); // ext_cmd_line_ptr
  });

  it('puts the initrd high, page-aligned, clear of the kernel, and says where (0x218, 0x21c)', () => {
    const gpa = bp.getUint32(0x218, true);
    expect(bp.getUint32(0x21c, true)).toBe(initrd.length);
    expect(gpa % 4096).toBe(0);
    expect(gpa + initrd.length).toBeLessThanOrEqual(64 * MiB);
    expect(64 * MiB - (gpa + initrd.length)).toBeLessThan(4096);
    expect(gpa).toBeGreaterThanOrEqual(0x1000000 + 0x800000); // pref_address + init_size
    expect(m.ram.subarray(gpa, gpa + initrd.length)).toEqual(initrd);
  });

  it('keeps the initrd below initrd_addr_max', () => {
    const m2 = machine(128 * MiB);
    const img = fakeBzImage({ initrdAddrMax: 0x3ffffff });
    loadBzImage(img, m2, { cmdline: '', initrd });
    const v = new DataView(m2.ram.buffer, ZERO_PAGE_GPA);
    const gpa = v.getUint32(0x218, true);
    expect(gpa + initrd.length - 1).toBeLessThanOrEqual(0x3ffffff);
    expect(gpa).toBeGreaterThan(0x3ffffff - 0x5000);
  });

  it('reports the e820 map at 0x1e8 (count) and 0x2d0 (20-byte entries), and the memory sizes', () => {
    expect(bp.getUint8(0x1e8)).toBe(m.e820.length);
    m.e820.forEach((e, i) => {
      const at = 0x2d0 + i * 20;
      expect(bp.getUint32(at, true) + bp.getUint32(at + 4, true) * 2 ** 32).toBe(e.addr);
      expect(bp.getUint32(at + 8, true) + bp.getUint32(at + 12, true) * 2 ** 32).toBe(e.size);
      expect(bp.getUint32(at + 16, true)).toBe(e.type);
    });
    expect(bp.getUint32(0x1e0, true)).toBe((64 * MiB - MiB) / 1024); // alt_mem_k
    expect(bp.getUint16(0x002, true)).toBe((64 * MiB - MiB) / 1024); // ext_mem_k
  });

  it('identity-maps the first 4 GiB and nothing above', () => {
    for (const gva of [
      0,
      0x7000,
      0x100200,
      0x1234567,
      64 * MiB - 1,
      0x7fffffff,
      0xc0000000,
      0xfffff000,
      2 ** 32 - 1,
    ]) {
      expect(walk(m.ram, PML4_GPA, gva), `gva 0x${gva.toString(16)}`).toBe(gva);
    }
    expect(walk(m.ram, PML4_GPA, 2 ** 32)).toBeUndefined();
    expect(walk(m.ram, PML4_GPA, 2 ** 39)).toBeUndefined();
  });

  it('writes a GDT with a 64-bit __BOOT_CS (0x10) and a flat __BOOT_DS (0x18)', () => {
    const desc = (sel: number) => ({
      lo: ram.getUint32(BOOT_GDT_GPA + sel, true),
      hi: ram.getUint32(BOOT_GDT_GPA + sel + 4, true),
    });
    const cs = desc(BOOT_CS);
    // SDM 3.4.5: P (bit 15 of hi), S (12), type (11:8), L (21), D (22), G (23).
    expect((cs.hi >> 15) & 1).toBe(1);
    expect((cs.hi >> 8) & 0xf).toBe(0xb);
    expect((cs.hi >> 21) & 1).toBe(1);
    expect((cs.hi >> 22) & 1).toBe(0);
    const ds = desc(BOOT_DS);
    expect((ds.hi >> 8) & 0xf).toBe(0x3);
    expect((ds.hi >> 15) & 1).toBe(1);
    expect(ds.lo & 0xffff).toBe(0xffff); // limit 15:0
    expect((ds.hi >> 16) & 0xf).toBe(0xf); // limit 19:16
  });

  it('enters long mode: CR0.PE|PG, CR4.PAE, EFER.LME|LMA, CS.L, CR3 at the PML4', () => {
    const s = loaded.entry.sregs(resetSregs());
    expect(s.cr0 & 0x80000001n).toBe(0x80000001n);
    expect(s.cr0 & 0x60000000n).toBe(0n); // caches on
    expect(s.cr4 & 0x20n).toBe(0x20n);
    expect(s.efer & 0x500n).toBe(0x500n);
    expect(s.cr3).toBe(BigInt(PML4_GPA));
    expect(s.cs).toMatchObject({ selector: BOOT_CS, l: 1, db: 0, present: 1, s: 1 });
    for (const seg of [s.ds, s.es, s.ss])
      expect(seg).toMatchObject({ selector: BOOT_DS, type: 3, present: 1 });
    expect(s.gdt).toEqual({ base: BigInt(BOOT_GDT_GPA), limit: 31 });
    expect(s.tr).toEqual(resetSregs().tr);
    expect(longModeSregs(resetSregs())).toEqual(s);
  });
});

describe('the 32-bit boot protocol entry (protocol32)', () => {
  const image = fakeBzImage();
  const initrd = new Uint8Array(0x2000).fill(0x5a);
  const cmdline = 'console=ttyS0';
  const m = machine(64 * MiB);
  const loaded = makeBzImageLoader({ entry: 'protocol32' })(image, m, { cmdline, initrd });
  const ram = new DataView(m.ram.buffer);
  const bp = new DataView(m.ram.buffer, ZERO_PAGE_GPA, 0x1000);

  it('enters code32_start (1 MiB) with ESI = boot_params, EBP/EDI/EBX zero and interrupts off', () => {
    expect(loaded.entry.regs).toMatchObject({
      rip: 0x100000n,
      rsi: BigInt(ZERO_PAGE_GPA),
      rbp: 0n,
      rdi: 0n,
      rbx: 0n,
      rflags: 0x2n,
    });
    expect(bp.getUint32(0x214, true)).toBe(0x100000); // code32_start
    expect(loaded.description).toContain('32-bit entry 0x100000');
  });

  it('copies the protected-mode kernel to 1 MiB and fills the zero page as the 64-bit entry does', () => {
    expect(m.ram.subarray(0x100000, 0x100000 + 0x4000)).toEqual(image.subarray(5 * 512));
    const m64 = machine(64 * MiB);
    loadBzImage(image, m64, { cmdline, initrd });
    expect(m.ram.subarray(ZERO_PAGE_GPA, ZERO_PAGE_GPA + 0x1000)).toEqual(
      m64.ram.subarray(ZERO_PAGE_GPA, ZERO_PAGE_GPA + 0x1000),
    );
    expect(bp.getUint32(0x218, true)).not.toBe(0); // ramdisk_image
    expect(bp.getUint32(0x21c, true)).toBe(initrd.length);
  });

  it('is in flat 32-bit protected mode with paging off: __BOOT_CS 0x10, __BOOT_DS 0x18', () => {
    const s = loaded.entry.sregs(resetSregs());
    expect(s.cr0 & 1n).toBe(1n);
    expect(s.cr0 & 0x80000000n).toBe(0n);
    expect(s.cr4).toBe(0n);
    expect(s.efer).toBe(0n);
    expect(s.cs).toMatchObject({ selector: BOOT_CS, base: 0n, limit: 0xffffffff, type: 0xb, l: 0, db: 1 });
    for (const seg of [s.ds, s.es, s.ss])
      expect(seg).toMatchObject({ selector: BOOT_DS, base: 0n, limit: 0xffffffff, type: 3, db: 1 });
    expect(s.gdt).toEqual({ base: BigInt(BOOT_GDT_GPA), limit: 31 });
  });

  it('writes a GDT whose __BOOT_CS is 32-bit code (D=1, L=0), and no page tables', () => {
    const hi = ram.getUint32(BOOT_GDT_GPA + BOOT_CS + 4, true);
    expect((hi >> 8) & 0xf).toBe(0xb);
    expect((hi >> 21) & 1).toBe(0);
    expect((hi >> 22) & 1).toBe(1);
    expect(ram.getUint32(BOOT_GDT_GPA + BOOT_DS + 4, true)).toBe(0x00cf9300);
    expect(isAllZero(m.ram.subarray(PML4_GPA, PML4_GPA + 0x1000))).toBe(true);
  });

  it('QEMU_LITE_BZIMAGE_ENTRY selects it, and an unknown value is refused by name', async () => {
    const { loadBzImage: fromEnv } = await import('./bzimage.js');
    const saved = process.env.QEMU_LITE_BZIMAGE_ENTRY;
    try {
      process.env.QEMU_LITE_BZIMAGE_ENTRY = 'protocol32';
      expect(fromEnv(image, machine(64 * MiB), { cmdline }).entry.regs.rip).toBe(0x100000n);
      process.env.QEMU_LITE_BZIMAGE_ENTRY = 'real-mode';
      expect(loaderError(() => fromEnv(image, machine(64 * MiB), { cmdline }))).toBe(
        'bzImage: QEMU_LITE_BZIMAGE_ENTRY=real-mode is no entry: kernel, decompressor, protocol32',
      );
    } finally {
      if (saved === undefined) delete process.env.QEMU_LITE_BZIMAGE_ENTRY;
      else process.env.QEMU_LITE_BZIMAGE_ENTRY = saved;
    }
  });
});

describe('loadBzImage refuses what cannot work', () => {
  it('says how much RAM the kernel needs', () => {
    const msg = loaderError(() => loadBzImage(fakeBzImage(), machine(16 * MiB), { cmdline: '' }));
    expect(msg).toBe(
      'bzImage: the kernel needs RAM up to 0x1800000 (loaded at 0x100000, init_size 0x800000) but RAM ends at 0x1000000: give the guest at least 24 MiB',
    );
  });

  it('says when the initrd does not fit', () => {
    const msg = loaderError(() =>
      loadBzImage(fakeBzImage(), machine(32 * MiB), { cmdline: '', initrd: new Uint8Array(9 * MiB) }),
    );
    expect(msg).toBe(
      "bzImage: the 9437184-byte initrd does not fit between the kernel's end 0x1800000 and 0x2000000 (end of RAM or initrd_addr_max): give the guest at least 34 MiB",
    );
  });

  it('refuses a command line longer than cmdline_size', () => {
    const msg = loaderError(() =>
      loadBzImage(fakeBzImage({ cmdlineSize: 10 }), machine(), { cmdline: 'console=ttyS0' }),
    );
    expect(msg).toBe('bzImage: the command line is 13 bytes; this kernel accepts at most 10 (cmdline_size)');
    // Exactly cmdline_size bytes is fine.
    expect(() =>
      loadBzImage(fakeBzImage({ cmdlineSize: 13 }), machine(), { cmdline: 'console=ttyS0' }),
    ).not.toThrow();
  });

  it('refuses a memory map longer than boot_params holds', () => {
    const e820: E820Entry[] = [];
    for (let i = 0; i < 129; i++) e820.push({ addr: i * 0x1000, size: 0x1000, type: E820_TYPE.RAM });
    e820.push({ addr: 0x100000, size: 63 * MiB, type: E820_TYPE.RAM });
    const msg = loaderError(() => loadBzImage(fakeBzImage(), machine(64 * MiB, e820), { cmdline: '' }));
    expect(msg).toBe('bzImage: the memory map has 130 entries; boot_params holds at most 128');
  });

  it('accepts RAM described by adjacent e820 entries', () => {
    const e820: E820Entry[] = [];
    for (let i = 0; i < 9; i++) e820.push({ addr: i * 0x10000, size: 0x10000, type: E820_TYPE.RAM });
    e820.push({ addr: 0x90000, size: 0xf000, type: E820_TYPE.RAM });
    e820.push(
      { addr: 0x100000, size: 31 * MiB, type: E820_TYPE.RAM },
      { addr: 32 * MiB, size: 32 * MiB, type: E820_TYPE.RAM },
    );
    const m = machine(64 * MiB, e820);
    loadBzImage(fakeBzImage(), m, { cmdline: '', initrd: new Uint8Array(0x1000) });
    expect(new DataView(m.ram.buffer).getUint32(ZERO_PAGE_GPA + 0x218, true)).toBe(64 * MiB - 0x1000);
    expect(m.ram[ZERO_PAGE_GPA + 0x1e8]).toBe(12);
  });

  it('refuses a memory map with no RAM under the boot structures', () => {
    const e820: E820Entry[] = [{ addr: 0x100000, size: 63 * MiB, type: E820_TYPE.RAM }];
    const msg = loaderError(() => loadBzImage(fakeBzImage(), machine(64 * MiB, e820), { cmdline: '' }));
    expect(msg).toBe(
      'bzImage: the memory map has no conventional RAM below 640 KiB for the zero page and page tables',
    );
  });
});

const debianKernel = fileURLToPath(new URL('../../../../tools/linux/cache/vmlinuz', import.meta.url));
describe.skipIf(!existsSync(debianKernel))("Debian's kernel (tools/linux/fetch.mjs)", () => {
  it('parses and loads with the 64-bit entry', () => {
    const image = new Uint8Array(readFileSync(debianKernel));
    const hdr = parseBzImageHeader(image);
    expect(hdr.version).toBeGreaterThanOrEqual(0x020c);
    expect(hdr.kernelVersion).toMatch(/^\d+\.\d+\.\d+-\d+-amd64 /);
    const m = machine(256 * MiB);
    const loaded = loadBzImage(image, m, { cmdline: 'console=ttyS0' });
    expect(loaded.entry.regs.rip).toBe(0x100200n);
    // startup_64 is the protected-mode kernel's byte 0x200: the same bytes in RAM as in the file.
    expect(m.ram.subarray(0x100200, 0x100210)).toEqual(
      image.subarray(hdr.setupSize + 0x200, hdr.setupSize + 0x210),
    );
  });

  it("loads with the 32-bit entry at its startup_32 (cld; cli), which the header's code32_start names", () => {
    const image = new Uint8Array(readFileSync(debianKernel));
    const hdr = parseBzImageHeader(image);
    expect(new DataView(image.buffer).getUint32(0x214, true)).toBe(0x100000); // code32_start
    expect(hdr.xloadflags & XLF_KERNEL_64).toBe(XLF_KERNEL_64);
    const m = machine(256 * MiB);
    const loaded = makeBzImageLoader({ entry: 'protocol32' })(image, m, { cmdline: 'console=ttyS0' });
    expect(loaded.entry.regs.rip).toBe(0x100000n);
    // arch/x86/boot/compressed/head_64.S: startup_32 and startup_64 both begin cld; cli.
    expect([...m.ram.subarray(0x100000, 0x100002)]).toEqual([0xfc, 0xfa]);
    expect([...m.ram.subarray(0x100200, 0x100202)]).toEqual([0xfc, 0xfa]);
    expect(loaded.entry.sregs(resetSregs()).cr0 & 0x80000000n).toBe(0n);
  });

  it('decompresses its xz payload in process, byte for byte as xz does, and enters vmlinux at LOAD_PHYSICAL_ADDR', async () => {
    const { loadBzImage: loadDefault, hostDecompress } = await import('./bzimage.js');
    const image = new Uint8Array(readFileSync(debianKernel));
    const hdr = parseBzImageHeader(image);
    const payload = image.subarray(hdr.payloadOffset, hdr.payloadOffset + hdr.payloadLength);
    expect(payloadFormat(payload)).toBe('xz');
    const bytes = hostDecompress('xz', payload)!;
    const xz = spawnSync('xz', ['-dc', '--single-stream'], { input: payload, maxBuffer: 1 << 30 });
    if (xz.status === 0) {
      expect(Buffer.compare(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), xz.stdout)).toBe(0);
    } else {
      console.warn(
        'bzimage.test: xz (XZ Utils) absent: the decompressed kernel is not compared with its output',
      );
    }
    const vmlinux = parseVmlinux(bytes);
    expect(vmlinux.entry).toBe(hdr.prefAddress); // phys_startup_64 = LOAD_PHYSICAL_ADDR
    const m = machine(256 * MiB);
    const loaded = loadDefault(image, m, { cmdline: 'console=ttyS0' });
    expect(loaded.entry.regs.rip).toBe(BigInt(vmlinux.entry));
    expect(loaded.description).toContain('xz payload decompressed on the host');
    const first = vmlinux.segments[0]!;
    expect(first.paddr).toBe(vmlinux.entry);
  }, 60_000);

  it('refuses it with setup_sects 0 or off by one, naming setup_sects', () => {
    const image = new Uint8Array(readFileSync(debianKernel));
    const setupSects = image[0x1f1]!;
    for (const value of [0, setupSects - 1, setupSects + 1]) {
      const bad = image.slice();
      bad[0x1f1] = value;
      const m = machine(256 * MiB);
      expect(loaderError(() => loadBzImage(bad, m, { cmdline: '' }))).toMatch(
        new RegExp(
          `setup_sects ${value}\\b.*(setup_sects or payload_offset is wrong|\\(setup_sects ${value}\\))`,
        ),
      );
      expect(isAllZero(m.ram.subarray(0, 0x200000))).toBe(true);
    }
  });

  it('refuses it with a corrupt xz payload, blaming the payload', async () => {
    const { loadBzImage: loadDefault } = await import('./bzimage.js');
    const image = new Uint8Array(readFileSync(debianKernel));
    const hdr = parseBzImageHeader(image);
    const bad = image.slice();
    bad[hdr.payloadOffset + (hdr.payloadLength >> 1)] ^= 0x5a;
    expect(loaderError(() => loadDefault(bad, machine(256 * MiB), { cmdline: '' }))).toMatch(
      /^bzImage: kernel payload is corrupt \(xz: .+\)$/,
    );
  }, 60_000);
});
if (!existsSync(debianKernel)) {
  console.log(
    `bzimage.test: skipping the Debian kernel case: ${debianKernel} absent (run node tools/linux/fetch.mjs)`,
  );
}

/** A small vmlinux: ELF64 x86-64 executable with a code segment at 16 MiB and a .bss-like tail. */
function fakeVmlinux(o: { entry?: number; machine?: number; lowSegment?: boolean } = {}): Uint8Array {
  const elf = new Uint8Array(0x1300);
  const v = new DataView(elf.buffer);
  elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, o.machine ?? 62, true); // EM_X86_64
  v.setUint32(24, o.entry ?? 0x1000040, true); // e_entry
  v.setUint32(32, 64, true); // e_phoff
  v.setUint16(54, 56, true); // e_phentsize
  v.setUint16(56, 3, true); // e_phnum
  const phdr = (i: number, type: number, offset: number, paddr: number, filesz: number, memsz: number) => {
    const at = 64 + i * 56;
    v.setUint32(at, type, true);
    v.setUint32(at + 8, offset, true);
    v.setUint32(at + 16, paddr, true); // p_vaddr (the kernel's is 0xffffffff8...; unused)
    v.setUint32(at + 24, paddr, true); // p_paddr
    v.setUint32(at + 32, filesz, true);
    v.setUint32(at + 40, memsz, true);
  };
  phdr(0, 1, 0x1000, o.lowSegment ? 0x8000 : 0x1000000, 0x200, 0x200);
  phdr(1, 4, 0x1100, 0, 0x10, 0x10); // PT_NOTE: read, and no note of the loader's
  phdr(2, 1, 0x1200, 0x1200000, 0x100, 0x3000);
  for (let i = 0x1000; i < 0x1300; i++) elf[i] = (i * 5 + 1) & 0xff;
  // One note (namesz 4, descsz 0, type 3: NT_GNU_BUILD_ID's owner and type, no descriptor).
  v.setUint32(0x1100, 4, true);
  v.setUint32(0x1104, 0, true);
  v.setUint32(0x1108, 3, true);
  elf.set([0x47, 0x4e, 0x55, 0], 0x110c);
  return elf;
}

describe('payload decompressed on the host (vmlinux entry)', () => {
  const vmlinux = fakeVmlinux();
  const image = fakeBzImage({ payload: gzipSync(vmlinux) });
  const loadKernel = makeBzImageLoader({ entry: 'kernel', decompress: hostDecompressForTest() });

  function hostDecompressForTest(): PayloadDecompressor {
    return (format, payload) => {
      if (format !== 'gzip') return undefined;
      return new Uint8Array(gunzipSync(payload));
    };
  }

  it('recognises the payload formats by their magic', () => {
    expect(payloadFormat(gzipSync(new Uint8Array(10)))).toBe('gzip');
    expect(payloadFormat(new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1]))).toBe('xz');
    expect(payloadFormat(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd]))).toBe('zstd');
    expect(payloadFormat(new Uint8Array([1, 2, 3, 4]))).toBe('unknown');
  });

  it('copies each PT_LOAD segment to its physical address, zeroes the rest, enters e_entry', () => {
    const m = machine(64 * MiB);
    m.ram.fill(0xcc, 0x1200000, 0x1204000); // the .bss must be zeroed, not left as found
    const loaded = loadKernel(image, m, { cmdline: 'console=ttyS0' });
    expect(m.ram.subarray(0x1000000, 0x1000200)).toEqual(vmlinux.subarray(0x1000, 0x1200));
    expect(m.ram.subarray(0x1200000, 0x1200100)).toEqual(vmlinux.subarray(0x1200, 0x1300));
    expect(isAllZero(m.ram.subarray(0x1200100, 0x1203000))).toBe(true);
    expect(m.ram[0x1203000]).toBe(0xcc); // nothing past p_memsz
    expect(loaded.entry.regs.rip).toBe(0x1000040n);
    expect(loaded.entry.regs.rsi).toBe(BigInt(ZERO_PAGE_GPA));
    expect(loaded.description).toContain('gzip payload decompressed on the host');
    // The same boot_params and long-mode state as the protocol entry.
    expect(m.ram[ZERO_PAGE_GPA + 0x210]).toBe(0xff);
    expect(loaded.entry.sregs(resetSregs()).efer & 0x500n).toBe(0x500n);
  });

  it('names a compression it does not decompress instead of booting something else', async () => {
    const { hostDecompress } = await import('./bzimage.js');
    const load = makeBzImageLoader({ entry: 'kernel', decompress: hostDecompress });
    const magics: [string, number[]][] = [
      ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
      ['lz4', [0x02, 0x21, 0x4c, 0x18]],
      ['lzma', [0x5d, 0x00, 0x00]],
      ['bzip2', [0x42, 0x5a, 0x68]],
      ['lzo', [0x89, 0x4c, 0x5a, 0x4f]],
    ];
    for (const [format, magic] of magics) {
      const m = machine(64 * MiB);
      const payload = new Uint8Array(0x100).map((_, i) => i);
      payload.set(magic);
      expect(loaderError(() => load(fakeBzImage({ payload }), m, { cmdline: '' }))).toBe(
        `bzImage: unsupported compression ${format} in the kernel payload (qemu-lite decompresses gzip and xz; QEMU_LITE_BZIMAGE_ENTRY=decompressor lets the kernel decompress itself)`,
      );
      expect(isAllZero(m.ram)).toBe(true);
    }
    // The protocol entry leaves decompression to the kernel, whatever the format.
    const zstd = new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4]);
    const loaded = loadBzImage(fakeBzImage({ payload: zstd }), machine(64 * MiB), { cmdline: '' });
    expect(loaded.description).toContain('the kernel decompresses itself');
  });

  it('refuses a payload that does not lie inside the kernel', () => {
    const bad = fakeBzImage({ payloadLength: 0x10000 });
    expect(loaderError(() => parseBzImageHeader(bad))).toBe(
      'bzImage: payload_offset 0x400 + payload_length 0x10000 do not lie inside the 16384-byte protected-mode kernel',
    );
  });

  it('refuses a corrupt gzip payload with the reason', async () => {
    const { hostDecompress } = await import('./bzimage.js');
    const corrupt = gzipSync(vmlinux);
    corrupt.fill(0x55, 20, 60);
    const msg = loaderError(() =>
      makeBzImageLoader({ entry: 'kernel', decompress: hostDecompress })(
        fakeBzImage({ payload: corrupt }),
        machine(),
        {
          cmdline: '',
        },
      ),
    );
    expect(msg).toMatch(/^bzImage: kernel payload is corrupt \(gzip: .+\)$/);
  });

  const elfCases: [string, Uint8Array, string][] = [
    ['not ELF', new Uint8Array(100), 'bzImage: the decompressed kernel: not an ELF file (no \\x7fELF magic)'],
    [
      'too short',
      new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0]),
      'bzImage: the decompressed kernel: ELF header truncated: the file has 10 bytes',
    ],
    [
      'another machine',
      fakeVmlinux({ machine: 3 }),
      'bzImage: the decompressed kernel: ELF machine 3 is not x86-64 (EM_X86_64 = 62)',
    ],
    [
      'an entry outside the segments',
      fakeVmlinux({ entry: 0x2000000 }),
      'bzImage: the decompressed kernel: entry point 0x2000000 is in none of its segments',
    ],
    [
      'a truncated segment',
      fakeVmlinux().subarray(0, 0x1250),
      'bzImage: the decompressed kernel: segment 2: file bytes 0x1200..0x1300 lie past the end of the 4688-byte file (truncated?)',
    ],
  ];
  for (const [what, elf, message] of elfCases) {
    it(`refuses a decompressed kernel that is ${what}`, () => {
      expect(loaderError(() => parseVmlinux(elf))).toBe(message);
    });
  }

  it('refuses a segment below 1 MiB', () => {
    const img = fakeBzImage({ payload: gzipSync(fakeVmlinux({ lowSegment: true, entry: 0x8000 })) });
    expect(loaderError(() => loadKernel(img, machine(), { cmdline: '' }))).toBe(
      'bzImage: the decompressed kernel has a segment at 0x8000, below 1 MiB where the boot structures live',
    );
  });
});
