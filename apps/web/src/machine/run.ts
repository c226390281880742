/**
 * The machine's thread, for any host that has workers and SharedArrayBuffer (a browser's Web
 * Worker, Node's worker_threads): builds qemu-lite's PC from a `StartRequest`, runs its vCPU with
 * qemu-lite's loop, and reports through `post`. It never throws: a bad request, a loader error or
 * an engine failure is one `error` (with the registers when there is a vCPU) or `done` event.
 *
 * Pause: the loop calls `flush` before every KVM_RUN; while the page's PAGE_PAUSE cell is set it
 * waits there (Atomics.wait, allowed in workers). The page kicks the vCPU so that a running guest
 * reaches that point within one exit.
 */
import type { VcpuKickHandle } from '@kvm/core';
import {
  ExitStats,
  formatRegisters,
  Machine,
  type MachineConfig,
  openSharedControl,
  QUIT,
  runMachine,
  SerialBuffer,
  STATE,
  STATE_DONE,
  sharedClock,
} from 'qemu-lite/portable';
import { openEngine } from './engines.js';
import {
  checkStartRequest,
  type LiveStats,
  PAGE_PAUSE,
  type StartRequest,
  type WorkerEvent,
} from './protocol.js';

export type Post = (event: WorkerEvent, transfer?: Transferable[]) => void;

/** The qemu-lite configuration a page request stands for: a serial console, nothing on disk. */
export function machineConfig(r: StartRequest): MachineConfig {
  return {
    engine: r.accel,
    ramSize: r.ramSize,
    cpus: 1,
    kernel: r.kernel,
    modules: r.initrd ? [{ name: r.initrd.name, cmdline: r.initrd.name, image: r.initrd.image }] : [],
    cmdline: r.cmdline,
    debugExit: r.debugExit,
    noReboot: false,
    kernelIrqchip: true,
    icountShift: null,
    serialToStdout: false,
    serialToCaller: true,
    log: [],
  };
}

export function runWebMachine(message: unknown, post: Post): void {
  const problem = checkStartRequest(message);
  if (problem !== undefined) {
    post({ type: 'error', name: 'TypeError', message: `bad start request: ${problem}` });
    return;
  }
  const r = message as StartRequest;
  const control = openSharedControl(r.control, r.epochMs);
  const page = new Int32Array(r.page);
  const now = () => performance.now();
  const start = now();
  let pausedMs = 0;

  // Serial output, held while the guest runs (qemu-lite's SerialBuffer) and posted before it waits.
  const serial = new SerialBuffer(
    (chunk) => post({ type: 'serial', data: chunk.slice() }),
    sharedClock(r.epochMs),
  );
  const serialOut = serial.put;

  let machine: Machine | undefined;
  const exitStats = new ExitStats();
  const live = (): LiveStats => ({
    instructions: machine?.vm.getStats().instructions ?? 0,
    elapsedMs: now() - start,
    pausedMs,
    exits: exitStats.snapshot(),
  });
  let nextStats = start + r.statsIntervalMs;
  const flush = (running?: boolean) => {
    let held = serial.flush(running);
    if (Atomics.load(page, PAGE_PAUSE) !== 0) {
      held = serial.flush();
      const from = now();
      post({ type: 'stats', stats: live() });
      // Until the page clears the cell (resume) or asks to quit (stop while paused).
      while (Atomics.load(page, PAGE_PAUSE) !== 0 && Atomics.load(control.cells, QUIT) === 0) {
        Atomics.wait(page, PAGE_PAUSE, 1, 250);
      }
      pausedMs += now() - from;
    }
    const t = now();
    if (t >= nextStats) {
      nextStats = t + r.statsIntervalMs;
      post({ type: 'stats', stats: live() });
    }
    return held;
  };

  let kvm: ReturnType<typeof openEngine> | undefined;
  try {
    kvm = openEngine(r.accel, r.jit, r.ramSize);
    machine = new Machine(kvm, machineConfig(r), sharedClock(r.epochMs), {
      serialOut,
      log: () => {},
    });
    const started = (m: Machine) => {
      const buffer = m.ram.buffer;
      post({
        type: 'started',
        kickHandle: m.vcpu.kickHandle() as VcpuKickHandle,
        description: m.loaded.description,
        ram: buffer instanceof SharedArrayBuffer ? buffer : undefined,
        ramOffset: m.ram.byteOffset,
      });
    };
    started(machine);
    let vcpu = machine.vcpu;
    const ended = runMachine(machine, control, exitStats, {
      loopHooks: () => ({ flush }),
      onReboot: (m) => {
        // A reboot that built a new vCPU has a new kick handle.
        if (m.vcpu !== vcpu) {
          vcpu = m.vcpu;
          started(m);
        }
      },
    });
    machine = ended.machine;
    flush();
    const registers = ended.stop.kind === 'failure' ? formatRegisters(machine.vcpu) : undefined;
    const stats = live();
    machine.close();
    kvm.close();
    post({ type: 'done', stop: ended.stop, stats, registers });
  } catch (error) {
    serial.flush();
    const e = error as Error;
    let registers: string | undefined;
    try {
      registers = machine ? formatRegisters(machine.vcpu) : undefined;
    } catch {
      registers = undefined; // the engine cannot say
    }
    post({ type: 'error', name: e?.name ?? 'Error', message: e?.message ?? String(error), registers });
    try {
      machine?.close();
      kvm?.close();
    } catch {
      // the VM goes away with the worker anyway
    }
  } finally {
    Atomics.store(control.cells, STATE, STATE_DONE);
  }
}
