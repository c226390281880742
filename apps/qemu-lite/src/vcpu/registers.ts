/** The vCPU's registers as text, QEMU `info registers` style, for failure messages and `-d cpu_reset`. */
import type { KvmSegment, Vcpu } from '@kvm/core';

const h = (v: bigint | number, width = 16): string => v.toString(16).padStart(width, '0');

function segment(name: string, s: KvmSegment): string {
  const attrs = `type=${s.type.toString(16)} dpl=${s.dpl} p=${s.present} s=${s.s} db=${s.db} l=${s.l} g=${s.g}`;
  return `${name.padEnd(3)}=${h(s.selector, 4)} base=${h(s.base)} limit=${h(s.limit, 8)} ${attrs}${s.unusable ? ' unusable' : ''}`;
}

export function formatRegisters(vcpu: Vcpu): string {
  try {
    const r = vcpu.getRegs();
    const s = vcpu.getSregs();
    return [
      `RAX=${h(r.rax)} RBX=${h(r.rbx)} RCX=${h(r.rcx)} RDX=${h(r.rdx)}`,
      `RSI=${h(r.rsi)} RDI=${h(r.rdi)} RBP=${h(r.rbp)} RSP=${h(r.rsp)}`,
      `R8 =${h(r.r8)} R9 =${h(r.r9)} R10=${h(r.r10)} R11=${h(r.r11)}`,
      `R12=${h(r.r12)} R13=${h(r.r13)} R14=${h(r.r14)} R15=${h(r.r15)}`,
      `RIP=${h(r.rip)} RFL=${h(r.rflags, 8)}`,
      segment('CS', s.cs),
      segment('SS', s.ss),
      segment('DS', s.ds),
      segment('ES', s.es),
      segment('FS', s.fs),
      segment('GS', s.gs),
      segment('TR', s.tr),
      segment('LDT', s.ldt),
      `GDT=${h(s.gdt.base)} ${h(s.gdt.limit, 4)}  IDT=${h(s.idt.base)} ${h(s.idt.limit, 4)}`,
      `CR0=${h(s.cr0, 8)} CR2=${h(s.cr2)} CR3=${h(s.cr3)} CR4=${h(s.cr4, 8)} EFER=${h(s.efer, 8)}`,
    ].join('\n');
  } catch (error) {
    return `(registers unavailable: ${(error as Error).message})`;
  }
}
