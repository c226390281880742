#!/usr/bin/env node
/**
 * Benchmark of the software engine on the context-switch guest (tools/guests `ctxswitch`, the
 * 32-bit build: 2, 8 and 32 address spaces switched by CR3 writes for 64 rounds, touching memory
 * in each; the `bench-ctxsw` guest needs long mode, which the engine does not have yet), run
 * through the KVM ABI with a minimal multiboot loader:
 *
 *   - shadow pages created and exits per CR3 switch, with the shadow-page cache on and off
 *     (off = the first KVM release: every CR3 load drops every shadow page);
 *   - guest MIPS on vmx, svm and the host engine. The guest is deterministic, so the instruction
 *     count the software engine measures is also the host's; the host's MIPS is that count over
 *     its wall time.
 *
 * Usage: pnpm bench   (in packages/svm; builds nothing: run `pnpm turbo run build` first)
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { KVM_EXIT, KvmError } from '@kvm/core';
import { flatSegment, protectedModeGuest } from '@kvm/core/testing/guests';
import { createVmxKvm } from '@kvm/vmx';
import { createSvmKvm } from '../dist/index.js';

const ELF = fileURLToPath(new URL('../../../tools/guests/out/ctxswitch.elf', import.meta.url));
const RAM = 64 << 20;

/** Loads a 32-bit multiboot ELF and runs it to its debug exit; returns what it printed and counters. */
function runGuest(kvm) {
  const elf = readFileSync(ELF);
  const vm = kvm.createVm();
  const mem = vm.allocateMemory(RAM);
  vm.setUserMemoryRegion({
    slot: 0,
    flags: 0,
    guestPhysAddr: 0n,
    memorySize: BigInt(RAM),
    userspaceAddr: mem.userspaceAddr,
  });
  const ram = new Uint8Array(mem.buffer);
  const dv = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  const phoff = dv.getUint32(28, true);
  const phnum = dv.getUint16(44, true);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + 32 * i;
    if (dv.getUint32(ph, true) !== 1) continue; // PT_LOAD
    const off = dv.getUint32(ph + 4, true);
    const paddr = dv.getUint32(ph + 12, true);
    const filesz = dv.getUint32(ph + 16, true);
    ram.set(elf.subarray(off, off + filesz), paddr);
  }
  // Multiboot information (Multiboot Spec 3.3): memory (flag 0) and the command line (flag 2).
  const mbi = 0x9000;
  const mdv = new DataView(mem.buffer);
  mdv.setUint32(mbi, 1 | 4, true);
  mdv.setUint32(mbi + 4, 640, true);
  mdv.setUint32(mbi + 8, (RAM >> 10) - 1024, true);
  const cmd = new TextEncoder().encode('\0');
  ram.set(cmd, 0x9100);
  mdv.setUint32(mbi + 16, 0x9100, true);
  const vcpu = vm.createVcpu(0);
  vcpu.setCpuid2(kvm.getSupportedCpuid());
  const s = vcpu.getSregs();
  vcpu.setSregs({
    ...s,
    cs: flatSegment(11, 8),
    ds: flatSegment(3, 16),
    es: flatSegment(3, 16),
    ss: flatSegment(3, 16),
    fs: flatSegment(3, 16),
    gs: flatSegment(3, 16),
    cr0: s.cr0 | 0x11n,
    cr4: 0n,
    efer: 0n,
  });
  vcpu.setRegs({
    ...vcpu.getRegs(),
    rax: 0x2badb002n,
    rbx: BigInt(mbi),
    rip: BigInt(dv.getUint32(24, true)),
    rflags: 2n,
  });
  const run = vcpu.kvmRun;
  let out = '';
  let exits = 0;
  const t0 = performance.now();
  for (;;) {
    let reason;
    try {
      reason = vcpu.run();
    } catch (e) {
      if (e instanceof KvmError && e.code === 'EINTR') continue;
      throw e;
    }
    exits++;
    if (reason === KVM_EXIT.IO) {
      const io = run.io;
      if (io.direction === 1 && io.port === 0x3f8) out += String.fromCharCode(io.data[0]);
      else if (io.direction === 1 && io.port === 0xf4) break;
      else if (io.direction === 0) io.data.fill(io.port === 0x3fd ? 0x60 : 0xff);
    } else if (reason === KVM_EXIT.HLT || reason === KVM_EXIT.SHUTDOWN) {
      if (process.env.BENCH_DEBUG) console.log('stop', reason, vcpu.getRegs().rip.toString(16), exits);
      break;
    } else throw new Error(`unexpected exit ${reason}`);
  }
  const ms = performance.now() - t0;
  const stats = vm.getStats();
  vm.close();
  return { out, ms, exits, stats };
}

/** The guest's verdict: its SUMMARY line. */
function verdict(out) {
  const m = /SUMMARY[^\n]*/.exec(out);
  if (!m) throw new Error(`the guest did not finish: ${out.slice(-300)}`);
  return m[0].trim();
}

/** The host engine (real /dev/kvm) for the baselines, or null with the reason printed once. */
async function openHostOrNull() {
  try {
    const { hostKvmAvailability, openHostKvm } = await import('@kvm/host');
    const a = hostKvmAvailability();
    if (!a.available) throw new Error(a.reason);
    return openHostKvm;
  } catch (e) {
    console.log(`host engine skipped: ${e instanceof Error ? e.message : e}`);
    return null;
  }
}
const openHost = await openHostOrNull();

const rows = [];
function soft(name, open) {
  const r = runGuest(open());
  const summary = verdict(r.out);
  if (process.env.BENCH_DEBUG)
    console.log(
      name,
      r.out
        .split('\n')
        .filter((l) => l.startsWith('FAIL'))
        .join('\n'),
    );
  const st = r.stats;
  const switches = st.mmu_cr3Switches;
  const crExits = st.exit_cr_access ?? (st.exit_0x13 ?? 0) + (st.exit_0x3 ?? 0);
  const totalExits = Object.entries(st)
    .filter(([k]) => k.startsWith('exit_'))
    .reduce((a, [, v]) => a + v, 0);
  rows.push({
    engine: name,
    summary,
    'CR3 switches': switches,
    'shadow pages created': st.mmu_shadowPagesCreated,
    'shadow pages / switch': (st.mmu_shadowPagesCreated / switches).toFixed(2),
    'exits / switch': (totalExits / switches).toFixed(2),
    'CR exits / switch': (crExits / switches).toFixed(2),
    'guest instructions': st.instructions,
    'wall ms': r.ms.toFixed(0),
    MIPS: (st.instructions / r.ms / 1000).toFixed(2),
  });
  return { instructions: st.instructions, switches };
}

const { instructions, switches } = soft('vmx (cache on)', () => createVmxKvm());
soft('vmx (cache off)', () => createVmxKvm({ mmuOptions: { shadowCache: false } }));
soft('svm (cache on)', () => createSvmKvm());
soft('svm (cache off)', () => createSvmKvm({ mmuOptions: { shadowCache: false } }));

// Baseline in the same run: the host engine (real /dev/kvm), when usable.
if (openHost !== null) {
  const r = runGuest(openHost());
  const failed = r.out.split('\n').filter((l) => l.startsWith('FAIL'));
  if (failed.length > 0) {
    console.log(`host engine skipped: the guest failed under this minimal loader on it: ${failed[0]}`);
  } else {
    rows.push({
      engine: 'host (/dev/kvm, baseline)',
      summary: verdict(r.out),
      'CR3 switches': `${switches} (from vmx)`,
      'shadow pages created': '-',
      'shadow pages / switch': '-',
      'exits / switch': `${(r.exits / switches).toFixed(2)} (to userspace)`,
      'CR exits / switch': '-',
      'guest instructions': `${instructions} (from vmx)`,
      'wall ms': r.ms.toFixed(1),
      MIPS: (instructions / r.ms / 1000).toFixed(1),
    });
  }
}

// Raw execution speed: a 32-bit protected-mode ALU loop with no exits (N iterations of 4
// instructions; protected mode so that a nested host without unrestricted guest runs it natively).
const N = 2_500_000;
function computeMips(name, kvm) {
  // mov ecx, N ; l: add eax, ecx ; xor ebx, eax ; dec ecx ; jnz l ; hlt   (CR0.CD = 0: caches on)
  const code = [
    0xb9,
    N & 0xff,
    (N >> 8) & 0xff,
    (N >> 16) & 0xff,
    N >>> 24,
    0x01,
    0xc8,
    0x31,
    0xc3,
    0x49,
    0x75,
    0xf9,
    0xf4,
  ];
  const { vm, vcpu } = protectedModeGuest(kvm, code);
  const t0 = performance.now();
  for (;;) {
    try {
      if (vcpu.run() === KVM_EXIT.HLT) break;
    } catch (e) {
      if (!(e instanceof KvmError && e.code === 'EINTR')) throw e;
    }
  }
  const ms = performance.now() - t0;
  vm.close();
  const instructions = 4 * N + 2;
  return {
    engine: name,
    'guest instructions': instructions,
    'wall ms': ms.toFixed(1),
    MIPS: (instructions / ms / 1000).toFixed(1),
  };
}
const compute = [computeMips('vmx', createVmxKvm()), computeMips('svm', createSvmKvm())];
if (openHost !== null) compute.push(computeMips('host (/dev/kvm, baseline)', openHost()));
console.log('ALU loop without exits (32-bit protected mode)');
console.table(compute);

console.log('ctxswitch guest (32-bit, PAE and 2-level paging)');
console.table(rows);
