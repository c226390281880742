/**
 * `-smp` on an engine whose vCPUs share the machine's thread (the software engine): the vCPUs
 * take turns in index order, as QEMU's single-threaded TCG ran its vCPUs in turn. A turn lasts
 * until KVM_RUN returns EINTR or EAGAIN: the engine's instruction budget (counted over the whole
 * turn), a halt, a pause loop, a kick. An exit for userspace (port I/O, MMIO) is handled and the
 * same vCPU runs on, as a TCG vCPU keeps its slice through its I/O; passing the turn at every exit
 * starved a vCPU printing to the UART byte by byte. Turns end at instruction counts, so the order,
 * and with `-icount` the whole run, is deterministic. A LOCK'd instruction, XCHG or CMPXCHG of one vCPU
 * is atomic with respect to the others by construction: no other vCPU executes while it does.
 */
import { KVM_MP_STATE, type Vcpu } from '@kvm/core';

/** A vCPU with nothing to do until an interrupt, INIT or SIPI (KVM_GET_MP_STATE). */
function idle(vcpu: Vcpu): boolean {
  const state = vcpu.getMpState();
  return (
    state === KVM_MP_STATE.HALTED ||
    state === KVM_MP_STATE.UNINITIALIZED ||
    state === KVM_MP_STATE.INIT_RECEIVED
  );
}

export class VcpuTurns {
  /** More than one vCPU runs on this thread. */
  readonly shared: boolean;
  /** The vCPU whose turn it is. */
  current = 0;
  /** vCPUs in a row whose KVM_RUN was interrupted while idle. */
  private idleInARow = 0;

  constructor(private readonly machine: { vcpus: readonly Vcpu[]; apThreads?: unknown }) {
    this.shared = machine.vcpus.length > 1 && machine.apThreads === undefined;
  }

  /** Passes the turn on without running the current vCPU (the debugger holds it). */
  skip(): void {
    this.current = (this.current + 1) % this.machine.vcpus.length;
  }

  /**
   * After the current vCPU's KVM_RUN: an exit for userspace (`interrupted` false) keeps the turn;
   * EINTR/EAGAIN passes it on. True when a whole round found every vCPU idle, so the caller may
   * sleep.
   */
  next(interrupted: boolean): boolean {
    const vcpus = this.machine.vcpus;
    if (!interrupted) {
      this.idleInARow = 0;
      return false;
    }
    if (idle(vcpus[this.current])) this.idleInARow++;
    else this.idleInARow = 0;
    this.current = (this.current + 1) % vcpus.length;
    if (this.idleInARow < vcpus.length) return false;
    this.idleInARow = 0;
    return true;
  }
}
