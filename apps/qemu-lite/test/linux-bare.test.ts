/**
 * Debian's kernel on a bare x86emu Cpu with qemu-lite's devices and bzImage loader
 * (tools/linux/bare: the early-warning harness, no hypervisor), for a bounded number of
 * instructions: the loader's entries against the real kernel, and the interpreter under them.
 *
 * - The default entry (payload decompressed on the host, vmlinux's startup_64 in long mode)
 *   reaches the kernel's banner through earlyprintk on the 8250.
 * - The 32-bit boot-protocol entry (startup_32, flat protected mode, paging off) reaches the
 *   decompressor's first words: the kernel built its page tables, turned on PAE and EFER.LME,
 *   enabled paging and ran 64-bit C code (extract_kernel) — on x86emu alone.
 *
 * Needs the fetched kernel (tools/linux/fetch.mjs) and x86emu's build; skips saying which is
 * missing. A few seconds each.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { KvmSregs } from '@kvm/core';
import { describe, expect, it } from 'vitest';
import { bootOnBareCpu } from '../../../tools/linux/bare/run.mjs';
import * as linux from '../../../tools/linux/boot-marker.mjs';
import * as ql from '../src/index.js';

const x86emuDist = fileURLToPath(new URL('../../../packages/x86emu/dist/index.js', import.meta.url));
const guestsDist = fileURLToPath(new URL('../../../tools/guests/dist/index.js', import.meta.url));

function whyNot(): string | undefined {
  const files = linux.linuxFiles();
  if (!files.ok) return files.why;
  if (!existsSync(x86emuDist)) return `${x86emuDist} is missing: build @kvm/x86emu`;
  if (!existsSync(guestsDist)) return `${guestsDist} is missing: build @kvm/guests (its entry-state helpers)`;
  return undefined;
}
const skip = whyNot();
if (skip !== undefined) console.warn(`linux-bare.test: SKIPPED: ${skip}`);

describe.skipIf(skip !== undefined)("Debian's kernel on a bare x86emu Cpu", () => {
  const image = () => new Uint8Array(readFileSync(linux.kernelPath));

  it("through vmlinux's startup_64 (the default entry) prints its banner on the 8250", async () => {
    const r = await bootOnBareCpu(ql, image(), {
      cmdline: linux.BARE_CMDLINE,
      load: linux.bareLoader(ql, 'kernel'),
      maxInstructions: 60e6,
      stopOn: /Linux version \d/,
    });
    expect(r.console, `${r.ending}: ${r.console.slice(-2000)}`).toMatch(
      new RegExp(`Linux version ${linux.linuxFiles().manifest!.kernelRelease.replace(/\./g, '\\.')}`),
    );
    expect(r.ending).toBe('console');
    expect(r.exceptions.filter((e) => e.name === '#UD')).toEqual([]);
  }, 120_000);

  it('through the 32-bit boot protocol (startup_32) turns long mode on itself and runs its decompressor', async () => {
    const r = await bootOnBareCpu(ql, image(), {
      cmdline: linux.BARE_CMDLINE,
      load: linux.bareLoader(ql, 'protocol32'),
      // startup_32 runs verify_cpu first, which halts unless CPUID has what an x86-64 kernel
      // requires (FPU, SSE, SSE2: until x86emu reports them, issue 11, the harness adds them).
      claimFeatures: true,
      maxInstructions: 60e6,
      stopOn: /KASLR disabled/,
    });
    expect(r.console, `${r.ending}: ${r.console.slice(-2000)}`).toContain(
      "KASLR disabled: 'nokaslr' on cmdline.",
    );
    expect(r.ending).toBe('console');
    // extract_kernel runs in 64-bit mode: EFER.LMA and CS.L.
    expect(r.sregs.efer & 0x400n).toBe(0x400n);
    expect(r.sregs.cs.l).toBe(1);
    expect(r.sregs.cr0 & 0x80000001n).toBe(0x80000001n);
  }, 120_000);
});

const noX86emu = existsSync(x86emuDist) ? '' : ` (skipped: ${x86emuDist} is missing: build @kvm/x86emu)`;
describe.skipIf(noX86emu !== '')(`the bare harness run loop${noX86emu}`, () => {
  /**
   * Real mode at 0x7c00: rdtsc; mov ebx, eax; sti; hlt (woken by the PIT's 18.2 Hz IRQ 0, whose
   * vector's IVT entry points at an IRET); cli; rdtsc; sub eax, ebx; print 'Y' on COM1 if at
   * least 50 M TSC ticks passed (the tick is 54.9 ms at the harness's 1 GHz), else 'N'; cli; hlt.
   */
  const code = [
    0x0f, 0x31, 0x66, 0x89, 0xc3, 0xfb, 0xf4, 0xfa, 0x0f, 0x31, 0x66, 0x29, 0xd8, 0x66, 0x3d, 0x80, 0xf0,
    0xfa, 0x02, 0xb0, 0x59, 0x73, 0x02, 0xb0, 0x4e, 0xba, 0xf8, 0x03, 0xee, 0xfa, 0xf4,
  ];
  const load = (_image: Uint8Array, m: { ram: Uint8Array }) => {
    m.ram.set(code, 0x7c00);
    m.ram[0x500] = 0xcf; // iret
    for (let v = 0; v < 256; v++) m.ram.set([0x00, 0x05, 0x00, 0x00], v * 4); // IVT: 0000:0500
    return {
      entry: {
        regs: { rip: 0x7c00n, rflags: 0x2n },
        sregs: (reset: KvmSregs) => ({
          ...reset,
          cs: { ...reset.cs, selector: 0, base: 0n },
        }),
      },
      description: 'real-mode TSC probe',
    };
  };

  it('advances the TSC over the time it skips while the CPU is halted (a kernel sleeps on it)', async () => {
    const r = await bootOnBareCpu(ql, new Uint8Array(0), {
      cmdline: '',
      load,
      ramSize: 4 << 20,
      maxInstructions: 1e6,
    });
    expect(r.ending).toBe('halted');
    expect(r.console).toBe('Y');
  });
});
