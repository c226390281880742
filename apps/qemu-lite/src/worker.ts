/**
 * The machine's thread: builds the machine from the config it is given, runs its vCPU, and
 * reports back. Messages to the parent:
 * - `{ type: 'started', kickHandle, kickHandles, description }` once the vCPUs exist (and after a
 *   reboot): vCPU 0's kick handle, and those of every vCPU this thread runs;
 * - `{ type: 'serial', data }` serial output, when the caller asked for it;
 * - `{ type: 'done', stop, stats, registers? }` when the machine stopped;
 * - `{ type: 'error', name, message, format?, errno? }` when it could not be built or the engine
 *   threw (a LoaderError's `format`, a KvmError's `errno`);
 * - `{ type: 'gdb', data }` bytes for the gdb socket, `{ type: 'monitor', text }` monitor output;
 * - `{ type: 'net-tx', nic, data }` a frame the guest sent on a `-netdev socket` NIC.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { type MessagePort, parentPort } from 'node:worker_threads';
import { exitReasonName } from '@kvm/core';
import { ApThreads } from './ap-threads.js';
import type { MachineConfig } from './config.js';
import { engineByName } from './engines.js';
import { DebugSession, engineTrapsInt3 } from './gdbstub/session.js';
import { yieldBackgroundThreads } from './host-thread.js';
import { Machine } from './machine/machine.js';
import { runMachine } from './machine/run-machine.js';
import { ExitStats, formatEngineStats, formatExitStats } from './stats.js';
import type { StopReason } from './vcpu/exit-handler.js';
import { formatRegisters } from './vcpu/registers.js';
import { SerialBuffer } from './vcpu/serial-buffer.js';
import { openSharedControl, STATE, STATE_DONE, sharedClock } from './vcpu/shared.js';

export interface WorkerInput {
  config: MachineConfig;
  sab: SharedArrayBuffer;
  epochMs: number;
  /** The debug channel (`-s`/`-gdb`/`-monitor`): its port, and whether the vCPU starts held (`-S`). */
  debug?: { port: MessagePort; startStopped: boolean };
}

export type WorkerMessage =
  | { type: 'started'; kickHandle: unknown; kickHandles: unknown[]; description: string }
  | { type: 'serial'; data: Uint8Array }
  | { type: 'done'; stop: StopReason; stats: ReturnType<ExitStats['snapshot']>; registers?: string }
  | { type: 'error'; name: string; message: string; format?: string; errno?: number }
  | { type: 'gdb'; data: string }
  | { type: 'monitor'; text: string }
  | { type: 'net-tx'; nic: number; data: Uint8Array };

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes all of `bytes` to `fd` from this thread. The main thread's stdout handle may have put
 * the descriptor in non-blocking mode (libuv does for pipes and ttys it opens), so a full pipe
 * is EAGAIN, not a wait: back off a millisecond and try again (the guest waits, as on a slow line).
 */
function writeAll(fd: number, bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) {
    try {
      written += writeSync(fd, bytes, written);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

/** `-d trace`: one line per exit with RIP and the interrupt-injection state (slow: a KVM_GET_REGS each). */
function traceExit(machine: Machine, log: (item: string, line: string) => void): (reason: number) => void {
  const { vcpu, run, pic } = machine;
  return (reason) => {
    const rip = vcpu.getRegs().rip.toString(16);
    log(
      'trace',
      `${exitReasonName(reason)} rip=${rip} if=${run.ifFlag} ready=${run.readyForInterruptInjection} window=${run.requestInterruptWindow}${pic ? ` intr=${pic.hasInterrupt() ? 1 : 0}` : ''}`,
    );
  };
}

function main(input: WorkerInput): void {
  const port = parentPort!;
  const { config, sab, epochMs, debug } = input;
  // This thread runs the guest: V8's compiler threads wait for a core, not it (host-thread.ts).
  yieldBackgroundThreads();
  const control = openSharedControl(sab, epochMs);
  const clock = sharedClock(epochMs);
  const post = (m: WorkerMessage) => port.postMessage(m);

  const logFd = config.logFile ? openSync(config.logFile, 'a') : 2;
  const log = (item: string, line: string) => writeSync(logFd, `[${item}] ${line}\n`);

  // Serial output, held while the guest runs (vcpu/serial-buffer.ts) and written before it waits.
  const serial = new SerialBuffer((chunk) => {
    if (config.serialToStdout) writeAll(1, chunk);
    if (config.serialToCaller) post({ type: 'serial', data: chunk.slice() });
  }, clock);
  const serialOut = serial.put;
  const flush = (running?: boolean) => serial.flush(running);

  let machine: Machine | undefined;
  try {
    const engine = engineByName(config.engine);
    if (!engine) throw new Error(`unknown engine ${config.engine}`);
    const kvm = engine.open({
      icountShift: config.icountShift ?? null,
      cpus: config.cpus,
      jit: config.jit,
      jitBackend: config.jitBackend,
      randomSeed: config.randomSeed,
      ramSize: config.ramSize,
      npt: config.npt,
      ept: config.ept,
    });
    const stats = new ExitStats();
    machine = new Machine(kvm, config, clock, {
      serialOut,
      log,
      netOut: (nic, data) => post({ type: 'net-tx', nic, data }),
      vcpuThreads: engine.threadPerVcpu ? (vcpus) => new ApThreads(vcpus, (h) => engine.kick(h)) : undefined,
    });
    const started = (m: Machine) => {
      // Every vCPU this thread runs: -smp's turns on the software engine, else vCPU 0 alone (the
      // host engine's APs have threads of their own, which the machine stops itself).
      const here = engine.threadPerVcpu ? [m.vcpu] : m.vcpus;
      post({
        type: 'started',
        kickHandle: m.vcpu.kickHandle(),
        kickHandles: here.map((v) => v.kickHandle()),
        description: m.loaded.description,
      });
      if (config.log.includes('cpu_reset'))
        log('cpu_reset', `start: ${m.loaded.description}\n${formatRegisters(m.vcpu)}`);
    };
    started(machine);
    const session = debug
      ? new DebugSession(
          machine,
          control,
          debug.port,
          {
            gdb: (data) => post({ type: 'gdb', data }),
            monitor: (text) => post({ type: 'monitor', text }),
            flush,
          },
          debug.startStopped,
          engineTrapsInt3(config.engine),
        )
      : undefined;
    let vcpuOfLastStart = machine.vcpu;
    const ended = runMachine(machine, control, stats, {
      loopHooks: (m) => ({
        flush,
        logInterrupt: config.log.includes('int')
          ? (v) => log('int', `inject vector 0x${v.toString(16)}`)
          : undefined,
        traceExit: config.log.includes('trace') ? traceExit(m, log) : undefined,
        debug: session,
      }),
      onReboot: (m, reset) => {
        session?.setMachine(m);
        if (config.log.includes('cpu_reset') && reset.kind === 'reset')
          log('cpu_reset', `reset (${reset.cause}): rebooting`);
        // The kick handle changes only when the reboot made a new vCPU (in-kernel irqchip).
        if (m.vcpu !== vcpuOfLastStart) {
          vcpuOfLastStart = m.vcpu;
          started(m);
        } else if (config.log.includes('cpu_reset')) {
          log('cpu_reset', `start: ${m.loaded.description}\n${formatRegisters(m.vcpu)}`);
        }
      },
    });
    machine = ended.machine;
    const stop = ended.stop;
    const registers =
      stop.kind === 'failure' || config.log.includes('cpu_reset') ? formatRegisters(machine.vcpu) : undefined;
    if (config.log.includes('unimp')) {
      for (const [p, n] of [...machine.bus.unclaimed].sort((a, b) => a[0] - b[0])) {
        log('unimp', `port 0x${p.toString(16)}: ${n} access${n === 1 ? '' : 'es'}`);
      }
    }
    const snapshot = stats.snapshot();
    if (config.log.includes('exits')) {
      writeSync(logFd, `${formatExitStats(snapshot)}\n`);
      // The software engine counts every guest instruction (Vm.getStats); the host's KVM cannot.
      const engineStats = machine.vm.getStats();
      const counters = formatEngineStats(engineStats);
      if (counters !== '') writeSync(logFd, `${counters}\n`);
      const instructions = engineStats.instructions;
      if (instructions !== undefined) writeSync(logFd, ` guest instructions retired ${instructions}\n`);
    }
    machine.close();
    kvm.close();
    session?.machineEnded(stop.kind === 'debug-exit' ? stop.status : 0);
    post({ type: 'done', stop, stats: snapshot, registers });
  } catch (error) {
    flush();
    const e = error as Error;
    const detail = error as { format?: unknown; errno?: unknown };
    post({
      type: 'error',
      name: e?.name ?? 'Error',
      message: e?.message ?? String(error),
      format: typeof detail?.format === 'string' ? detail.format : undefined,
      errno: typeof detail?.errno === 'number' ? detail.errno : undefined,
    });
    try {
      machine?.close();
    } catch {
      // the VM is going away with the thread anyway
    }
  } finally {
    Atomics.store(control.cells, STATE, STATE_DONE);
    if (logFd !== 2) closeSync(logFd);
  }
}

// The thread may start before its machine is known (machine-thread.ts): the input is the first
// message, and the only one this port gets.
parentPort!.once('message', (input: WorkerInput) => main(input));
