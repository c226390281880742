/**
 * Which engines can run guests here, and what the host engine is. The host's /dev/kvm is the
 * referee, but on a host whose /dev/kvm is kvm-pvm (a paravirtual KVM that runs guests
 * without VMX/SVM, found in some sandboxes) some architectural behaviour is missing or
 * different; HOST_QUIRKS records exactly what, so the suite asserts it rather than hiding it.
 */
import { existsSync } from 'node:fs';
import type { Need } from './manifest.js';
import { loadQemuLite } from './qemu-lite.js';

export const ACCELS = ['kvm', 'vmx', 'svm'] as const;
export type Accel = (typeof ACCELS)[number];

/** Whether qemu-lite can use an engine here, and if not, why. */
export async function engineAvailability(accel: string): Promise<{ available: boolean; reason?: string }> {
  try {
    const { engineByName } = await loadQemuLite();
    const entry = engineByName(accel);
    if (!entry) return { available: false, reason: `qemu-lite has no engine named ${accel}` };
    return entry.availability();
  } catch (error) {
    return { available: false, reason: `qemu-lite cannot be loaded: ${String(error)}` };
  }
}

/** 'kvm-pvm' when the host's KVM module is PVM; 'kvm' otherwise. */
export function hostKvmFlavor(): 'kvm' | 'kvm-pvm' {
  return existsSync('/sys/module/kvm_pvm') ? 'kvm-pvm' : 'kvm';
}

export interface EngineQuirks {
  /** Needs the engine cannot meet: guests with them are skipped, with this reason. */
  readonly unsupported: Partial<Record<Need, string>>;
  /** Per guest, the checks that fail on this engine although real hardware passes them. */
  readonly deviations: Readonly<Record<string, readonly string[]>>;
}

/**
 * KVM has no FERR#: VT-x and AMD-V run a guest with CR0.NE = 1 in the hardware (VMX's CR0 fixed
 * bits; the guest's NE = 0 is only its read shadow), so an x87 error is #MF whatever the guest's
 * CR0.NE, and nothing raises IRQ 13. The software engine's silicon models the pin.
 */
const FERR_ON_KVM =
  "KVM does not model FERR#: the hardware runs the guest with CR0.NE = 1, so an x87 error is #MF whatever the guest's CR0.NE, and no IRQ 13";

/** Measured on kvm-pvm (kernel 6.18 "-fc" sandboxes) through qemu-lite; see README. */
export const HOST_QUIRKS: Readonly<Record<'kvm' | 'kvm-pvm', EngineQuirks>> = {
  kvm: { unsupported: { ferr: FERR_ON_KVM }, deviations: {} },
  'kvm-pvm': {
    unsupported: {
      ferr: FERR_ON_KVM,
      'legacy-paging': 'kvm-pvm refuses CR0.PG in 32-bit protected mode (#GP): it pages only in long mode',
      'unpaged-sse':
        "kvm-pvm emulates unpaged protected mode instruction by instruction, and KVM's emulator has no packed SSE2 integer forms (PXOR: emulation failure)",
      'unpaged-exceptions':
        'kvm-pvm emulates unpaged protected mode instruction by instruction, without IDT delivery or IRET (KVM_EXIT_INTERNAL_ERROR)',
      'software-interrupts': 'kvm-pvm cannot emulate INT n / INT3 at CPL 0 (KVM_EXIT_INTERNAL_ERROR)',
      'data-breakpoints':
        "kvm-pvm's instruction emulator, where CPL-0 code runs, checks no data breakpoints (no #DB on a watched write or read)",
    },
    deviations: {
      // CPL-3 code reads back the host's user selectors (0x33/0x2b), not the guest's.
      exceptions64: ['iret-to-cpl3.cs', 'iret-to-cpl3.ss'],
      // No #GP for a reserved PAT memory type; a TSC write does not move RDTSC.
      cpu64: ['msr.pat.reserved-type.gp', 'msr.tsc.write-moves-rdtsc'],
      // A pending IRQ is not delivered at the end of the STI shadow (nor within the next few
      // instructions): the interrupt window opens late. HLT wake-up and the rest are exact.
      interrupts64: ['irq0.delivered-after-sti', 'irq0.sti-shadow-delivers-after-next-insn'],
      // Its paravirtual event path delivers an APIC interrupt without setting ISR (so PPR stays
      // 0 and the in-service vector does not block its class); TPR masking and EOI are exact.
      apic64: ['ipi.in-isr-while-serviced', 'ipi.blocked-by-in-service', 'ppr.follows-in-service-class'],
      // An NMI the guest sends itself through the APIC's ICR (an emulated MMIO write) goes in only
      // at a later exit, not right after the write; blocking until IRET and no nesting are exact.
      nmi64: ['nmi.blocked-in-handler-across-exits', 'nmi.held-delivered-at-iret', 'nmi.taken-with-if-clear'],
      // The same path ends a level-triggered I/O APIC interrupt at delivery: remote IRR is already
      // clear in the handler, and a line still asserted then is delivered once more.
      ioapic64: [
        'level.remote-irr-set-in-handler',
        'level.once-when-source-cleared-before-eoi',
        'level.stops-when-deasserted',
      ],
    },
  },
};

export function hostQuirks(): EngineQuirks {
  return HOST_QUIRKS[hostKvmFlavor()];
}

/**
 * What the software engine (vmx, svm) cannot run: nothing any more. Its silicon models have long
 * mode (issue 12), so the 64-bit guests run there too and pass every check.
 */
export const SOFT_ENGINE_QUIRKS: EngineQuirks = {
  unsupported: {},
  deviations: {},
};

/**
 * The VMX backend, as KVM on Intel hardware: VMX operation requires CR0.NE = 1 (the
 * IA32_VMX_CR0_FIXED0 MSR, SDM Vol. 3D A.7; KVM keeps it set under the guest's read shadow), so the
 * processor raises #MF for an x87 error whatever the guest's CR0.NE and FERR# is never asserted.
 * The SVM backend, as AMD-V, runs the guest's CR0.NE as it is.
 */
export const VMX_ENGINE_QUIRKS: EngineQuirks = {
  unsupported: {},
  deviations: {
    fpuerr: [
      'ne0.no-mf-at-fwait',
      'ne0.irq13-delivered',
      'ne0.irq13-handler-sees-es-ze',
      'ne0.second-error-no-mf',
      'ne0.second-error-second-irq13',
    ],
  },
};

/**
 * The SVM backend with AMD nested paging (`-accel svm,npt=on`), as AMD-V: under nested paging the
 * processor keeps no PAE PDPTE registers (APM Vol. 2 15.25, legacy PAE under nested paging; KVM's
 * svm_cache_reg reads the PDPTEs back from guest memory when it needs them), so MOV to CR3 with a
 * reserved bit in a present PDPTE loads without #GP, and the walk faults at the first access
 * through that entry: #PF with P | RSVD. cr3oob reports that outcome then (its walk-pf checks
 * pass), and skips the PDPT beyond memory, which would end in a triple fault the guest cannot
 * report. Shadow paging (npt=off) and VMX (which loads PDPTEs, with or without EPT) give the #GP.
 */
export const SVM_NPT_ENGINE_QUIRKS: EngineQuirks = {
  unsupported: {},
  deviations: {
    cr3oob: ['cr3oob.pae.reserved-pdpte-gp'],
  },
};

/**
 * The quirks of an engine by -accel name: the host's KVM flavour, or the software engine's. For
 * svm, `npt` is the paging the run used: nested paging or the shadow MMU (qemu-lite's default
 * when the run did not choose is its `SVM_NPT_DEFAULT`: `svmNptDefault()`).
 */
export function engineQuirks(accel: string, npt = false): EngineQuirks {
  if (accel === 'kvm') return hostQuirks();
  if (accel === 'vmx') return VMX_ENGINE_QUIRKS;
  return accel === 'svm' && npt ? SVM_NPT_ENGINE_QUIRKS : SOFT_ENGINE_QUIRKS;
}

/** Whether qemu-lite's `-accel svm` pages with nested paging when `npt=` is not given. */
export async function svmNptDefault(): Promise<boolean> {
  return (await loadQemuLite()).SVM_NPT_DEFAULT;
}
