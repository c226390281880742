/**
 * The run loop's fast path (KVM's EXIT_FASTPATH_REENTER_GUEST): an exit handler returning
 * `ExitResult.ReenterFast` is followed by another entry at once, for what is left of the entry's
 * instructions, without the loop's per-entry work (the interrupt and timer checks, the window
 * controls); a request, a queued interrupt or NMI, or a used-up slice send it through that work
 * as before, and a plain `Reenter` always does; so do FASTPATH_MAX fast entries in a row.
 */
import { describe, expect, it } from 'vitest';
import { EntryResult, ExitResult } from '../../src/soft/arch-ops.js';
import { HvaSpace } from '../../src/soft/hva-space.js';
import { ENTRY_SLICE, FASTPATH_MAX, kvmVcpuRun } from '../../src/soft/run-loop.js';
import { KvmRequest, type SoftVcpu } from '../../src/soft/vcpu.js';
import { SoftVm } from '../../src/soft/vm.js';
import { fakeArch } from './fake-arch.js';

/** One entry of a scripted guest: instructions it runs, then what its exit's handler does. */
interface Step {
  ran: number;
  result: ExitResult;
  after?: (v: SoftVcpu) => void;
}

/** Runs KVM_RUN over `script` (its last step must return Userspace); what the backend saw. */
function runScript(script: Step[]) {
  const arch = fakeArch();
  const log: string[] = [];
  let at = 0;
  arch.run = (v: SoftVcpu, budget: number) => {
    log.push(`enter ${budget}`);
    v.instructions += script[at].ran;
    return EntryResult.Exit;
  };
  arch.handleExit = (v: SoftVcpu) => {
    const step = script[at++];
    step.after?.(v);
    return step.result;
  };
  // The loop's per-entry preparation calls these: they mark the full path.
  arch.setIrqWindow = () => {
    log.push('prepare');
  };
  arch.injectIrq = (_v: SoftVcpu, irq: number) => {
    log.push(`irq ${irq}`);
  };
  arch.flushTlb = () => {
    log.push('flush');
  };
  const vm = new SoftVm(arch, new HvaSpace(), 12288, null);
  const vcpu = vm.createVcpu(0);
  expect(kvmVcpuRun(vcpu)).toBe(0);
  expect(at).toBe(script.length);
  return { log, stats: vm.getStats() as Record<string, number | undefined> };
}

const { Reenter, ReenterFast, Userspace } = ExitResult;

describe('the run loop after an exit handled on the fast path', () => {
  it('enters again at once for the rest of the slice, without the per-entry work', () => {
    const { log, stats } = runScript([
      { ran: 1000, result: ReenterFast },
      { ran: 500, result: ReenterFast },
      { ran: 10, result: Reenter },
      { ran: 0, result: Userspace },
    ]);
    expect(log).toEqual([
      'prepare',
      `enter ${ENTRY_SLICE}`,
      `enter ${ENTRY_SLICE - 1000}`,
      `enter ${ENTRY_SLICE - 1500}`,
      // A plain Reenter: the full path, and a new slice.
      'prepare',
      `enter ${ENTRY_SLICE}`,
    ]);
    expect(stats.exits_fastpath).toBe(2);
  });

  it('takes the full path when the handler queued an interrupt (it is injected first)', () => {
    const { log } = runScript([
      {
        ran: 100,
        result: ReenterFast,
        after: (v) => {
          v.interruptQueued = 0x30;
        },
      },
      { ran: 0, result: Userspace },
    ]);
    expect(log).toEqual(['prepare', `enter ${ENTRY_SLICE}`, 'irq 48', 'prepare', `enter ${ENTRY_SLICE}`]);
  });

  it('takes the full path for a request (a TLB flush another vCPU asked for is served first)', () => {
    const { log } = runScript([
      {
        ran: 100,
        result: ReenterFast,
        after: (v) => {
          v.requests |= KvmRequest.TLB_FLUSH;
        },
      },
      { ran: 0, result: Userspace },
    ]);
    expect(log).toEqual(['prepare', `enter ${ENTRY_SLICE}`, 'flush', 'prepare', `enter ${ENTRY_SLICE}`]);
  });

  it('takes the full path after FASTPATH_MAX fast entries in a row (the host-clock timers are looked at)', () => {
    const script: Step[] = [];
    for (let i = 0; i < FASTPATH_MAX + 3; i++) script.push({ ran: 10, result: ReenterFast });
    script.push({ ran: 0, result: Userspace });
    const { log, stats } = runScript(script);
    // One full entry and FASTPATH_MAX fast ones, then the full path again.
    expect(log.indexOf('prepare', 1)).toBe(FASTPATH_MAX + 2);
    expect(log[FASTPATH_MAX + 1]).toBe(`enter ${ENTRY_SLICE - 10 * FASTPATH_MAX}`);
    expect(log[FASTPATH_MAX + 3]).toBe(`enter ${ENTRY_SLICE}`);
    expect(stats.exits_fastpath).toBe(FASTPATH_MAX + 2);
  });

  it('takes the full path when the entry used its whole slice', () => {
    const { log, stats } = runScript([
      { ran: ENTRY_SLICE, result: ReenterFast },
      { ran: 0, result: Userspace },
    ]);
    expect(log).toEqual(['prepare', `enter ${ENTRY_SLICE}`, 'prepare', `enter ${ENTRY_SLICE}`]);
    expect(stats.exits_fastpath).toBeUndefined();
  });

  it('ends KVM_RUN at the budget as before (EINTR): the slice it bounded bounds the fast entries too', () => {
    const arch = fakeArch();
    let entries = 0;
    arch.run = (v: SoftVcpu, budget: number) => {
      entries++;
      v.instructions += Math.min(budget, 30_000);
      return EntryResult.Exit;
    };
    arch.handleExit = () => ReenterFast;
    const vm = new SoftVm(arch, new HvaSpace(), 12288, null);
    const vcpu = vm.createVcpu(0);
    expect(() => kvmVcpuRun(vcpu, 100_000)).toThrow(/run budget used up/);
    // 30,000 three times, then the 10,000 left of the budget's 100,000-instruction slice.
    expect(vcpu.instructions).toBe(100_000);
    expect(entries).toBe(4);
  });
});
