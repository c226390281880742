/**
 * `-kernel` with a PVH kernel (an ELF carrying Xen's PHYS32_ENTRY note: Linux's uncompressed
 * vmlinux, as QEMU boots it), end to end with our PVH guest (tools/guests/guest/tests/pvh.c):
 * entered at the note's address in flat 32-bit protected mode (CR0 = PE|ET, CR4 = 0, IF and TF
 * clear) with EBX = a version-1 hvm_start_info holding the command line, each module with its
 * bytes and its own command line, the RSDP and the e820 map; the guest checks each and prints
 * what it found. The host engine runs it in KVM's emulator on kvm-pvm (unpaged 32-bit code) and
 * is the referee for the software engines' output. Debian's vmlinux through the same loader:
 * tools/linux's bench (apps/qemu-lite/bench/linux-boot.mjs) boots it on -accel vmx and svm.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runGuest } from '../src/index.js';
import { hostSkipReason } from './helpers.js';

const image = fileURLToPath(new URL('../../../tools/guests/out/pvh.elf', import.meta.url));
const notBuilt = existsSync(image)
  ? undefined
  : 'tools/guests is not built (pnpm turbo run build --filter=@kvm/guests)';

const ENGINES: [accel: string, skip: string | undefined][] = [
  ['kvm', notBuilt ?? hostSkipReason],
  ['vmx', notBuilt],
  ['svm', notBuilt],
];

describe('-kernel with a PVH ELF', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pvh-'));
  const mod0 = join(dir, 'mod0');
  const mod1 = join(dir, 'mod1');
  writeFileSync(mod0, 'pvh-module-0: the initrd Linux would take\n');
  writeFileSync(mod1, `pvh-module-1 ${'x'.repeat(5000)}\n`);
  const referee = new Map<string, string>();

  for (const [accel, skip] of ENGINES) {
    it.skipIf(skip !== undefined)(
      `-accel ${accel}: the entry state, start_info, two modules, the RSDP and the memory map${skip ? ` (skipped: ${skip})` : ''}`,
      async () => {
        const result = await runGuest({
          kernel: image,
          accel,
          memory: '64M',
          append: 'pvh=1 modules=2',
          initrd: [
            { image: mod0, cmdline: 'mod0 root=initrd' },
            { image: mod1, cmdline: 'mod1' },
          ],
          timeoutMs: 60_000,
        });
        expect({ ending: result.exitReason, tail: result.serial.slice(-300) }).toMatchObject({
          ending: { kind: 'debug-exit', status: 1 },
        });
        expect(result.serial).not.toMatch(/^FAIL /m);
        expect(result.serial).toMatch(/^SUMMARY pvh: 19 passed, 0 failed, 0 skipped$/m);
        expect(result.serial).toContain('cmdline: "pvh=1 modules=2"\n');
        // The first module highest, each page-aligned below the one before, with its command line.
        const modules = [
          ...result.serial.matchAll(/^module (\d): (\d+) bytes at 0x([0-9a-f]+), cmdline "(.*)"$/gm),
        ];
        expect(modules.map((m) => [m[1], Number(m[2]), m[4]])).toEqual([
          ['0', 42, 'mod0 root=initrd'],
          ['1', 5014, 'mod1'],
        ]);
        const [at0, at1] = modules.map((m) => Number.parseInt(m[3], 16));
        expect(at0 + 42).toBeLessThanOrEqual(64 << 20);
        expect(at1 + 5014).toBeLessThanOrEqual(at0);
        if (accel === 'kvm') referee.set('pvh', result.serial);
        else if (referee.has('pvh')) expect(result.serial).toBe(referee.get('pvh'));
      },
      90_000,
    );
  }

  it('an ELF without the note (and no multiboot header) is refused, naming the formats it is not', async () => {
    // An i386 ELF executable: one PT_LOAD of a HLT at 1 MiB, no PT_NOTE.
    const elf = new Uint8Array(0x60);
    const dv = new DataView(elf.buffer);
    elf.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
    dv.setUint16(16, 2, true); // ET_EXEC
    dv.setUint16(18, 3, true); // EM_386
    dv.setUint32(20, 1, true);
    dv.setUint32(24, 0x100000, true); // e_entry
    dv.setUint32(28, 52, true); // e_phoff
    dv.setUint16(40, 52, true);
    dv.setUint16(42, 32, true); // e_phentsize
    dv.setUint16(44, 1, true); // e_phnum
    dv.setUint32(52, 1, true); // PT_LOAD
    dv.setUint32(56, 0x54, true); // p_offset
    dv.setUint32(60, 0x100000, true);
    dv.setUint32(64, 0x100000, true);
    dv.setUint32(68, 1, true);
    dv.setUint32(72, 1, true);
    elf[0x54] = 0xf4;
    await expect(runGuest({ kernel: elf, accel: 'vmx', memory: '64M' })).rejects.toThrow(
      /neither a Linux bzImage .*, a multiboot kernel .* nor a PVH ELF \(no Xen PHYS32_ENTRY note\)/,
    );
  });
});
