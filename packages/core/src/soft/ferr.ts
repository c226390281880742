/**
 * FERR#, the x87's error output with CR0.NE = 0 (SDM Vol. 1 8.7, "Handling x87 FPU Exceptions in
 * Software"): on a PC the chipset latches it onto IRQ 13 (the slave 8259's input 5) and an OUT to
 * port 0F0H clears the latch and asserts IGNNE# (SDM Vol. 1 8.7.1; QEMU's `cpu_set_ferr` and
 * `ioportF0_write`). KVM has no such line: VT-x and AMD-V run a guest with CR0.NE = 1 in the
 * hardware, so there an x87 error is #MF whatever the guest's CR0.NE. The software engine's
 * silicon does model it, and the backends bring it here after the entry on which it was raised.
 *
 * The latch is IRQ 13's level from KVM_USERSPACE_IRQ_SOURCE_ID, the source KVM_IRQ_LINE drives:
 * the VMM's port 0F0H (KVM_IRQ_LINE 13, 0) lowers what this raised, and the 8259's edge
 * detection makes one interrupt of each assertion, as on the PC.
 */
import { KVM_USERSPACE_IRQ_SOURCE_ID } from './irqchip/irqchip.js';
import type { SoftVcpu } from './vcpu.js';

/** The PC's FERR# interrupt line (ISA IRQ 13). */
export const FERR_IRQ = 13;

/**
 * FERR# asserted on `vcpu`'s processor: IRQ 13 raised on the VM's in-kernel irqchip. Without one
 * (the VMM's own PIC) there is nothing to raise: the x87 error stays pending, as on a board
 * whose FERR# goes nowhere.
 */
export function kvmFerr(vcpu: SoftVcpu): void {
  vcpu.vm.irqchip?.setIrq(KVM_USERSPACE_IRQ_SOURCE_ID, FERR_IRQ, 1);
}
