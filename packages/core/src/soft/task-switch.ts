/**
 * `kvm_task_switch` (x86.c): a hardware task switch the vendor exit handler could not let the
 * processor do (VMX exits on every task switch, SDM Vol. 3 26.4.2; KVM asks SVM to intercept
 * them, since a task switch loads CR3 behind the shadow MMU's back). Both vendors' handlers
 * decode their exit into a `TaskSwitchRequest` and call this; x86emu's emulator does the switch
 * on the guest's state (`emulator_task_switch`), then the new CR3 goes through the MMU.
 */
import { EmulateResultKind } from '@kvm/x86emu';
import { KVM_EXIT, KVM_INTERNAL_ERROR } from '../abi/exit-reasons.js';
import type { KvmRunView } from '../abi/run.js';
import { ExitResult } from './arch-ops.js';
import { type TaskSwitchRequest, vcpuEmulator } from './emulate.js';
import { kvmQueueException } from './exceptions.js';
import type { SoftVcpu } from './vcpu.js';
import { kvmSetCr3, PF_VECTOR } from './x86.js';

export type { TaskSwitchRequest } from './emulate.js';

/** The `reason` numbers of kvm_host.h (equal to the VMX exit qualification's bits 31:30). */
export const TASK_SWITCH_CALL = 0;
export const TASK_SWITCH_IRET = 1;
export const TASK_SWITCH_JMP = 2;
export const TASK_SWITCH_GATE = 3;

/**
 * Performs the task switch and says what KVM_RUN does next: Reenter (switched, or a fault of
 * the switch injected: before the commit point in the old task, after it in the new one), or
 * Userspace with KVM_EXIT_INTERNAL_ERROR (suberror EMULATION, no data, as KVM) when the TSS or
 * a descriptor is not in RAM.
 */
export function kvmTaskSwitch(vcpu: SoftVcpu, run: KvmRunView, req: TaskSwitchRequest): ExitResult {
  const e = vcpuEmulator(vcpu);
  const cr3 = vcpu.cr3 >>> 0;
  const kind = e.taskSwitch(req);
  if (kind !== EmulateResultKind.Ok && kind !== EmulateResultKind.Exception) {
    run.exitReason = KVM_EXIT.INTERNAL_ERROR;
    run.internal.suberror = KVM_INTERNAL_ERROR.EMULATION;
    run.internal.ndata = 0;
    vcpu.vm.count('emulation_failures');
    return ExitResult.Userspace;
  }
  // A 32-bit TSS with paging on carries the new task's CR3 (SDM 7.2.1): through the MMU.
  if (e.newCr3 !== cr3) kvmSetCr3(vcpu, e.newCr3);
  vcpu.vm.count('task_switches');
  if (kind === EmulateResultKind.Exception) {
    const r = e.result;
    if (r.vector === PF_VECTOR) vcpu.ops.setCr2(vcpu, r.faultAddress);
    kvmQueueException(vcpu, r.vector, r.errorCode, r.hasErrorCode);
  }
  return ExitResult.Reenter;
}
