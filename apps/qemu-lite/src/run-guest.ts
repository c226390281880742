/**
 * `runGuest`: the library entry point the CLI, the guest suite and the Linux test share. The
 * calling (main) thread resolves options into a `MachineConfig`, starts the machine's worker,
 * and runs the timer service: it waits on the deadline the vCPU publishes and kicks the vCPU
 * out of KVM_RUN when it passes, as it does for input and quit requests.
 */

import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { KvmError, type VcpuKickHandle } from '@kvm/core';
import type { MachineConfig } from './config.js';
import { DEFAULT_DEBUG_EXIT, type DebugExitConfig } from './devices/debug-exit.js';
import { DEBUGCON_IOBASE, DEBUGCON_READBACK } from './devices/debugcon.js';
import {
  createFrameRing,
  FRAME_RING_MAX_FRAME,
  frameRingWrite,
  openFrameRing,
} from './devices/net/frame-ring.js';
import { releaseDriveLocks } from './devices/virtio/drive.js';
import type { HostFwd, SocketNetdevSpec } from './devices/virtio/net.js';
import {
  ACCEL_NAMES,
  defaultEngine,
  type EngineEntry,
  EngineUnavailableError,
  engineByName,
} from './engines.js';
import { type DebugInput, type GdbListen, parseGdbDevice } from './gdbstub/channel.js';
import { type GdbServer, startGdbServer } from './gdbstub/server.js';
import { MAX_INITRD_BYTES, MAX_KERNEL_BYTES, readImageFile } from './loaders/read-image.js';
import { LoaderError } from './loaders/types.js';
import type { SmpOptions } from './machine/smp.js';
import { machineThread } from './machine-thread.js';
import { HostNetdevs } from './netdev/host-netdevs.js';
import { resolveSmpOption, validateRunGuestOptions } from './run-guest-options.js';
import { parseSize } from './size.js';
import type { ExitStatsSnapshot } from './stats.js';
import type { StopReason } from './vcpu/exit-handler.js';
import {
  createSharedControl,
  DEADLINE_GEN,
  DEBUG_GEN,
  QUIT,
  QUIT_SIGNAL,
  QUIT_TIMEOUT,
  QUIT_USER,
  ringWrite,
  type SharedControl,
  STATE,
  STATE_DONE,
  STATE_HALTED,
  sharedClock,
  wakeMachine,
} from './vcpu/shared.js';
import type { WorkerInput, WorkerMessage } from './worker.js';

export interface RunGuestOptions {
  /** The kernel: a path or the image bytes (multiboot ELF or bzImage). Default: the demo guest. */
  kernel?: string | Uint8Array;
  /** A raw binary instead of `kernel` (QEMU: -device loader,file=…,addr=…,cpu-num=0). */
  flat?: { image: string | Uint8Array; loadAddr: number; entry?: number; mode?: 'protected32' | 'real' };
  /** `-accel`: 'kvm'/'host', 'vmx', 'svm'. Default: the host engine where /dev/kvm is usable. */
  accel?: string;
  /** Guest RAM: bytes, or QEMU's spelling ('256M', '1G'). Default 128 MiB. */
  memory?: number | string;
  /** Kernel command line (`-append`). */
  append?: string;
  /** `-initrd`: a path or bytes; for multiboot and PVH also a list of modules. */
  initrd?: string | Uint8Array | { image: string | Uint8Array; cmdline?: string }[];
  /** Ends the guest (status 124, exitReason quit/timeout) after this long. */
  timeoutMs?: number;
  /** Write serial output to this process's stdout (default false: capture only). */
  serialToStdout?: boolean;
  /** Keep serial output for `GuestResult.serial` (default true). */
  captureSerial?: boolean;
  /** Called with each chunk of serial output as it is produced. */
  onSerial?: (chunk: Uint8Array) => void;
  /** The debug-exit device; false for none. Default iobase 0xf4, iosize 4. */
  debugExit?: DebugExitConfig | false;
  /** Use the in-kernel irqchip (and the kernel's PIT where the engine has one). Default true. */
  kernelIrqchip?: boolean;
  /** `-machine hpet=on|off`: QEMU's HPET (and its ACPI table). Default true, as QEMU's pc. */
  hpet?: boolean;
  /**
   * QEMU's isa-debugcon (port 0xe9 unless `iobase`): bytes written go to the process's stdout or
   * to a file (truncated when the run starts); reads return `readback` (default 0xe9).
   */
  debugcon?: { output: 'stdio' | { file: string }; iobase?: number; readback?: number };
  /** QEMU's pc-testdev (ports 0xe0–0xeb, IRQ lines at 0x2000, I/O memory at 0xff000000). */
  pcTestdev?: boolean;
  /**
   * Raw disk images, each a virtio-blk PCI device (`-drive file=…,format=raw,if=virtio`), in
   * slot order from 00:02.0. The image is opened and locked by the machine's thread.
   */
  drives?: { file: string; readonly?: boolean; serial?: string; logicalBlockSize?: 512 | 4096 }[];
  /**
   * NICs, each a virtio-net PCI device after the disks, on `-netdev user` (`netdev: 'user'`: the
   * virtual gateway 10.0.2.2 answers ARP, DHCP and ping, and NATs TCP and UDP to the host's
   * sockets; `hostfwd: [{ protocol: 'tcp', hostAddr: '', hostPort, guestPort }]` forwards host
   * ports into the guest) or `-netdev socket`
   * (`netdev: 'socket'`, `socket: { mode: 'listen' | 'connect' | 'mcast', host, port }`: QEMU's
   * framing, opened before the guest starts) or `-netdev tap` (`netdev: 'tap'`, `tap: { ifname }`:
   * the host's tap interface, netdev/tap-netdev.ts), with QEMU's default MACs
   * (52:54:00:12:34:56, then …:57) unless `mac` is given.
   */
  nics?: {
    netdev: 'user' | 'socket' | 'tap';
    mac?: string;
    socket?: SocketNetdevSpec;
    tap?: { ifname: string };
    hostfwd?: HostFwd[];
  }[];
  /** How many virtio-rng PCI devices (`-device virtio-rng-pci`), after the NICs; default none. */
  virtioRng?: number;
  /**
   * A virtio console (`-device virtio-serial-pci -device virtconsole`), after the rng devices: its
   * output goes where the serial port's goes (Linux's /dev/hvc0), and `GuestSession.sendConsoleInput`
   * gives it input; default none.
   */
  virtioConsole?: boolean;
  /**
   * QEMU's `-icount shift=N|auto`: virtual time, 2^N ns per retired instruction, for the TSC (in
   * ns, 1 GHz), the PIT, the PM timer, the HPET and the halts (which skip ahead), so that two runs
   * of a guest are identical; `'auto'` moves N to keep virtual time near real time (and a halt
   * then waits for real time instead of running ahead of it). Software engines only.
   */
  icount?: { shift: number | 'auto' };
  /**
   * QEMU's `-seed N`: the software engine's RDRAND and RDSEED give a reproducible sequence from
   * this seed (an integer from 0 to 2^53 - 1) instead of the host's random bits, so that with
   * `icount` two runs of a guest that reads them (Linux seeds its CRNG from them at boot) are
   * identical too. Software engines only.
   */
  seed?: number;
  /**
   * QEMU's `-cpu host|max,+feature,-feature`: CPUID features taken out of every vCPU's table
   * (false) or required of the engine (true), by QEMU's or /proc/cpuinfo's name (`rdrand`,
   * `serialize`, `sse4.2`, `pdpe1gb`…: machine/cpu-features.ts `CPU_FEATURES`). Default: the
   * engine's CPUID (KVM_GET_SUPPORTED_CPUID, less what the machine lacks).
   */
  cpuFeatures?: Record<string, boolean>;
  /**
   * `-accel vmx,jit=on|off`: x86emu's block compiler in the software engine, or its interpreter
   * (the compiler is the default unless `X86EMU_JIT=0`: x86emu's `engineJitDefault`). Software
   * engines only.
   */
  jit?: boolean;
  /**
   * `-accel vmx,jit=wasm|js`: the compiler's code generator (x86emu's `JitTuning.backend`);
   * 'wasm' also puts guest RAM in the engine's wasm arena, where compiled code reaches it inline.
   * Needs the compiler (`jit` not false); software engines only.
   */
  jitBackend?: 'js' | 'wasm';
  /**
   * `-accel svm,npt=on|off`: AMD nested paging on the SVM software engine (`createSvmKvm({ npt })`):
   * the guest pages on its own tables and the MMU keeps a guest-physical map instead of shadow
   * pages. Default on (kvm-amd's `npt=1`; `SVM_NPT_DEFAULT`); off runs the shadow MMU. `-accel svm`
   * only.
   */
  npt?: boolean;
  /**
   * `-accel vmx,ept=on|off`: Intel EPT with VPID on the VMX software engine
   * (`createVmxKvm({ ept })`): the guest pages on its own tables and the MMU keeps a
   * guest-physical map in EPT format instead of shadow pages. Default `VMX_EPT_DEFAULT` (off).
   * `-accel vmx` only.
   */
  ept?: boolean;
  /**
   * `-smp`: the number of vCPUs, or QEMU's topology (`{ cpus, sockets, cores, threads, maxcpus }`,
   * resolved by QEMU's rules, `src/machine/smp.ts`). Default 1. More than one needs the in-kernel
   * irqchip (the APs are started by INIT/SIPI through their local APICs).
   */
  smp?: number | SmpOptions;
  /** A guest reset ends the run with status 0 instead of rebooting. Default true for the library. */
  noReboot?: boolean;
  /** `-d` items and `-D` file. */
  log?: string[];
  logFile?: string;
  /** Called once the guest runs, with a handle to type into its console or stop it. */
  onStart?: (session: GuestSession) => void;
  /** `-gdb`/`-s`: the GDB stub's socket (QEMU's `tcp::1234`, `tcp:HOST:PORT`, `unix:PATH`). */
  gdb?: string | GdbListen;
  /** `-S`: the vCPU waits, held, until gdb (or the monitor's `cont`) lets it run. */
  startStopped?: boolean;
  /** Called with the address the GDB stub listens on, before the guest starts. */
  onGdbListening?: (address: string) => void;
  /** The monitor: called with its output; commands go in through `GuestSession.monitor`. */
  onMonitorOutput?: (text: string) => void;
}

export interface GuestSession {
  /** Bytes typed on the guest's serial console. */
  sendInput(bytes: Uint8Array): void;
  /**
   * Bytes for the virtio console (`virtioConsole`), what the guest reads from its /dev/hvc0; up
   * to 64 KiB waits for a guest that is not reading, more is dropped. Ignored without the console.
   */
  sendConsoleInput(bytes: Uint8Array): void;
  /** Stops the guest as Ctrl-A x does (or for a signal). */
  quit(cause?: 'user' | 'signal'): void;
  /** What the loader said about the kernel. */
  readonly description: string;
  /** One monitor command line (with `onMonitorOutput` or `-S`/`-gdb` set; otherwise ignored). */
  monitor(line: string): void;
}

export interface GuestResult {
  /** The process exit status qemu-lite gives this outcome (see `statusOf`). */
  status: number;
  /** All serial output, decoded as latin1 (bytes preserved one to one). */
  serial: string;
  stats: ExitStatsSnapshot;
  exitReason: StopReason;
  /** The loader's description of the kernel. */
  description: string;
  /** The vCPU's registers, for an engine failure (or with -d cpu_reset). */
  registers?: string;
}

/** Exit status for an engine failure (even, so it never looks like a debug-exit status). */
export const STATUS_ENGINE_FAILURE = 2;
/** Exit status when `timeoutMs` ended the guest (as timeout(1)). */
export const STATUS_TIMEOUT = 124;

/**
 * The process status for how a guest ended: debug-exit's (v << 1) | 1; 0 for a power-off, a
 * reset with -no-reboot, Ctrl-A x or a signal (QEMU's: a signal is a shutdown request, and
 * `main_loop_should_exit` leaves with EXIT_SUCCESS); 2 for an engine failure; 124 for a timeout.
 */
export function statusOf(stop: StopReason): number {
  switch (stop.kind) {
    case 'debug-exit':
      return stop.status;
    case 'reset':
    case 'poweroff':
      return 0;
    case 'failure':
      return STATUS_ENGINE_FAILURE;
    case 'quit':
      return stop.cause === 'timeout' ? STATUS_TIMEOUT : 0;
  }
}

/** Where the demo guest is: shipped next to dist (copied at build), or built in the repository. */
export function demoGuestPath(): string {
  const candidates = [
    new URL('./guests/demo.elf', import.meta.url),
    new URL('../dist/guests/demo.elf', import.meta.url),
    new URL('../../../tools/guests/out/demo.elf', import.meta.url),
  ];
  for (const url of candidates) {
    const path = fileURLToPath(url);
    if (existsSync(path)) return path;
  }
  throw new LoaderError(
    'kernel',
    'no -kernel given and the demo guest is missing (build it: pnpm turbo run build --filter=@kvm/guests)',
  );
}

/** The bytes of an image option: given as bytes, or read (bounded, regular files only) from a path. */
async function bytesOf(
  source: string | Uint8Array,
  what: string,
  maxBytes: number,
): Promise<{ name: string; image: Uint8Array }> {
  if (typeof source !== 'string') return { name: `(${what} bytes)`, image: source };
  return { name: source, image: await readImageFile(source, what, maxBytes) };
}

/**
 * Resolves options into the worker's `MachineConfig` and the engine, reading the image files.
 * Rejects with TypeError/RangeError for bad options (see run-guest-options.ts), LoaderError for
 * a file that cannot be read, EngineUnavailableError for an engine that cannot run.
 */
export async function resolveConfig(
  options: RunGuestOptions,
): Promise<{ config: MachineConfig; engine: EngineEntry }> {
  validateRunGuestOptions(options);
  let engine: EngineEntry;
  if (options.accel !== undefined) {
    const found = engineByName(options.accel);
    if (!found) {
      throw new EngineUnavailableError(
        `unknown accelerator '${options.accel}' (choose ${ACCEL_NAMES.join(', ')})`,
      );
    }
    const availability = found.availability();
    if (!availability.available)
      throw new EngineUnavailableError(`-accel ${options.accel}: ${availability.reason}`);
    engine = found;
  } else {
    engine = defaultEngine();
  }
  const smp = resolveSmpOption(options.smp);
  const ramSize = typeof options.memory === 'number' ? options.memory : parseSize(options.memory ?? '128M');
  const config: MachineConfig = {
    engine: engine.name,
    ramSize,
    cpus: smp.cpus,
    smp,
    modules: [],
    cmdline: options.append ?? '',
    debugExit: options.debugExit === false ? null : (options.debugExit ?? DEFAULT_DEBUG_EXIT),
    noReboot: options.noReboot ?? true,
    // On by default, as QEMU's with KVM (`-machine kernel-irqchip=on`).
    kernelIrqchip: options.kernelIrqchip ?? true,
    serialToStdout: options.serialToStdout ?? false,
    serialToCaller: (options.captureSerial ?? true) || options.onSerial !== undefined,
    log: options.log ?? [],
    logFile: options.logFile,
    pcTestdev: options.pcTestdev ?? false,
    hpet: options.hpet ?? true,
    drives: options.drives?.map((d) => ({
      file: d.file,
      readonly: d.readonly ?? false,
      serial: d.serial,
      logicalBlockSize: d.logicalBlockSize,
    })),
    nics: options.nics?.map((n) => ({
      netdev: n.netdev,
      mac: n.mac,
      socket: n.socket,
      tap: n.tap,
      hostfwd: n.hostfwd,
    })),
    virtioRng: options.virtioRng,
    virtioConsole: options.virtioConsole,
    icountShift: options.icount?.shift ?? null,
    jit: options.jit,
    jitBackend: options.jitBackend,
    randomSeed: options.seed,
    cpuFeatures: options.cpuFeatures,
    npt: options.npt,
    ept: options.ept,
  };
  if (smp.cpus > 1 && !config.kernelIrqchip) {
    throw new TypeError(
      `runGuest: -smp ${smp.cpus} needs the in-kernel irqchip: the APs are started by INIT/SIPI through their local APICs`,
    );
  }
  if (config.icountShift !== null && !config.kernelIrqchip) {
    throw new TypeError(
      'runGuest: -icount needs the in-kernel irqchip, whose halts skip ahead in virtual time',
    );
  }
  if (config.jit !== undefined && engine.name === 'host') {
    throw new EngineUnavailableError(
      "jit= selects the software engine's CPU (-accel vmx or svm): the host engine runs the guest on the host's CPU",
    );
  }
  if (config.jitBackend !== undefined && (engine.name === 'host' || config.jit === false)) {
    throw new EngineUnavailableError(
      `jit=${config.jitBackend} is the code generator of the software engine's compiler (-accel vmx or svm, jit not off)`,
    );
  }
  if (config.npt !== undefined && engine.name !== 'svm') {
    throw new EngineUnavailableError(
      `npt= is AMD nested paging on the software engine's SVM backend (-accel svm,npt=on), not -accel ${engine.name}`,
    );
  }
  if (config.ept !== undefined && engine.name !== 'vmx') {
    throw new EngineUnavailableError(
      `ept= is Intel EPT on the software engine's VMX backend (-accel vmx,ept=on), not -accel ${engine.name}`,
    );
  }
  if (config.randomSeed !== undefined && engine.name === 'host') {
    throw new EngineUnavailableError(
      "-seed seeds the software engine's RDRAND and RDSEED (-accel vmx or svm): on the host engine the host's CPU generates them",
    );
  }
  if (config.icountShift !== null && engine.name === 'host') {
    throw new EngineUnavailableError(
      "-icount needs a software engine (-accel vmx or svm): the host's CPU does not count the guest's instructions",
    );
  }
  if (options.debugcon) {
    const { output } = options.debugcon;
    if (typeof output === 'object') {
      // Truncated once here (a machine rebuilt by a reset appends), and a path that cannot be
      // written is a start-up error, not a silent loss of the guest's output.
      try {
        writeFileSync(output.file, '');
      } catch (error) {
        throw new Error(`-debugcon file:${output.file}: ${(error as Error).message}`);
      }
    }
    config.debugcon = {
      iobase: options.debugcon.iobase ?? DEBUGCON_IOBASE,
      readback: options.debugcon.readback ?? DEBUGCON_READBACK,
      output: typeof output === 'object' ? { kind: 'file', path: output.file } : { kind: 'stdio' },
    };
  }
  if (options.flat) {
    const { name, image } = await bytesOf(options.flat.image, 'loader', MAX_KERNEL_BYTES);
    config.flat = {
      name,
      image,
      loadAddr: options.flat.loadAddr,
      entry: options.flat.entry,
      mode: options.flat.mode ?? 'protected32',
    };
  } else {
    config.kernel = await bytesOf(options.kernel ?? demoGuestPath(), 'kernel', MAX_KERNEL_BYTES);
  }
  if (options.initrd !== undefined) {
    const list = Array.isArray(options.initrd) ? options.initrd : [{ image: options.initrd }];
    for (const m of list) {
      const { name, image } = await bytesOf(m.image, 'initrd', MAX_INITRD_BYTES);
      config.modules.push({ name, image, cmdline: m.cmdline ?? name });
    }
  }
  return { config, engine };
}

/** Atomics.waitAsync (Node ≥ 16; ES2024 in the type library, which we do not target). */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      a: Int32Array,
      i: number,
      v: number,
      t: number,
    ): { async: false; value: string } | { async: true; value: Promise<string> };
  }
).waitAsync;

/** Kicks the vCPU when the published timer deadline passes; ends when the machine is done. */
async function timerService(control: SharedControl, kick: () => void, done: () => boolean): Promise<void> {
  const clock = sharedClock(control.epochMs);
  const cells = control.cells;
  let kickedFor = Number.NaN;
  while (!done()) {
    const gen = Atomics.load(cells, DEADLINE_GEN);
    const deadline = control.deadline[0];
    const now = clock();
    let waitMs: number;
    if (deadline <= now) {
      const state = Atomics.load(cells, STATE);
      if (deadline !== kickedFor && state !== STATE_HALTED && state !== STATE_DONE) {
        kickedFor = deadline;
        kick();
      }
      waitMs = 20; // the vCPU publishes the next deadline once it has fired this one
    } else {
      waitMs = Math.min(1000, Math.max(0.05, (deadline - now) / 1e6));
    }
    const result = waitAsync(cells, DEADLINE_GEN, gen, waitMs);
    if (result.async) await result.value;
  }
}

/**
 * The images `resolveConfig` read from files for `options` (not bytes the caller gave, which stay
 * the caller's): sent to the machine's thread by transfer, each buffer once.
 */
function readImages(config: MachineConfig, options: RunGuestOptions): ArrayBuffer[] {
  const given = new Set<Uint8Array>();
  const note = (source: string | Uint8Array | undefined) => {
    if (source instanceof Uint8Array) given.add(source);
  };
  note(options.kernel);
  note(options.flat?.image);
  const initrd = options.initrd;
  if (Array.isArray(initrd)) for (const m of initrd) note(m.image);
  else note(initrd);
  const images = [config.kernel?.image, config.flat?.image, ...config.modules.map((m) => m.image)];
  const out = new Set<ArrayBuffer>();
  for (const image of images) {
    if (image === undefined || given.has(image) || !(image.buffer instanceof ArrayBuffer)) continue;
    // readImageFile's bytes fill their own buffer; anything else is not ours to hand over.
    if (image.byteOffset === 0 && image.byteLength === image.buffer.byteLength) out.add(image.buffer);
  }
  return [...out];
}

/**
 * Boots a guest and resolves when it ends. Rejects if it cannot start (TypeError/RangeError for
 * bad options, LoaderError, KvmError, …), or with the error an `onSerial`/`onStart` callback threw
 * (the machine is stopped first).
 */
export async function runGuest(options: RunGuestOptions = {}): Promise<GuestResult> {
  const { config, engine } = await resolveConfig(options);
  // -netdev socket: connected (or listening) before the guest starts, as QEMU's net_init_socket.
  const netdevs = await HostNetdevs.open(config.nics);
  config.nics = netdevs.nics;
  const control = createSharedControl();
  // The virtio console's input: bytes from sendConsoleInput, read by the vCPU loop's PCI poll.
  const consoleIn = config.virtioConsole ? createFrameRing() : undefined;
  config.consoleInRing = consoleIn;
  const input: WorkerInput = { config, sab: control.sab, epochMs: control.epochMs };
  const debugging =
    options.gdb !== undefined || options.startStopped === true || options.onMonitorOutput !== undefined;
  const channel = debugging ? new MessageChannel() : undefined;
  let gdbServer: GdbServer | undefined;
  if (channel) {
    input.debug = { port: channel.port2, startStopped: options.startStopped ?? false };
    if (options.gdb !== undefined) {
      const where = typeof options.gdb === 'string' ? parseGdbDevice(options.gdb) : options.gdb;
      gdbServer = await startGdbServer(where, (m) => postDebug(m));
      options.onGdbListening?.(gdbServer.address);
    }
  }
  const worker = machineThread(input, [...(channel ? [channel.port2] : []), ...readImages(config, options)]);
  const chunks: Uint8Array[] = [];
  let kickHandle: VcpuKickHandle | undefined;
  /** Every vCPU the machine's thread runs (-smp's turns on the software engine). */
  let kickHandles: VcpuKickHandle[] = [];
  let description = '';
  let finished = false;
  const kick = () => {
    if (kickHandle && Atomics.load(control.cells, STATE) !== STATE_DONE) {
      for (const handle of kickHandles) {
        try {
          engine.kick(handle);
        } catch {
          // the vCPU is already gone
        }
      }
    }
  };
  // Debug input: posted, then DEBUG_GEN bumped so the vCPU loop looks; woken and kicked out of
  // KVM_RUN so that Ctrl-C stops a running guest at once.
  function postDebug(m: DebugInput): void {
    if (!channel || finished) return;
    channel.port1.postMessage(m);
    Atomics.add(control.cells, DEBUG_GEN, 1);
    wakeMachine(control);
    kick();
  }
  // A frame for the guest waits in its NIC's ring: wake the vCPU loop, which polls the rings.
  netdevs.setWake(() => {
    wakeMachine(control);
    kick();
  });
  const requestQuit = (code: number) => {
    Atomics.compareExchange(control.cells, QUIT, 0, code);
    wakeMachine(control);
    kick();
  };

  return new Promise<GuestResult>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      finished = true;
      if (timer) clearTimeout(timer);
      Atomics.add(control.cells, DEADLINE_GEN, 1);
      Atomics.notify(control.cells, DEADLINE_GEN);
    };
    // A caller's callback that throws ends the run: the machine is told to quit, its thread is
    // terminated (the `finally` below) and the timers stop, and runGuest rejects with that error,
    // where a throw escaping a worker 'message' listener would kill node as an uncaught exception.
    const abort = (error: unknown) => {
      if (finished) return;
      finish();
      requestQuit(QUIT_USER);
      reject(error);
    };
    if (options.timeoutMs !== undefined)
      timer = setTimeout(() => requestQuit(QUIT_TIMEOUT), options.timeoutMs);
    void timerService(control, kick, () => finished);

    worker.on('message', (m: WorkerMessage) => {
      if (finished) return; // aborted: what the thread still sends until it is terminated
      switch (m.type) {
        case 'started': {
          const first = kickHandle === undefined;
          kickHandle = m.kickHandle as VcpuKickHandle;
          kickHandles = m.kickHandles.length > 0 ? (m.kickHandles as VcpuKickHandle[]) : [kickHandle];
          description = m.description;
          if (first) {
            try {
              options.onStart?.({
                description,
                sendInput: (bytes) => {
                  let offset = 0;
                  // The ring holds 4 KiB; a bigger paste goes in as the guest drains it.
                  const push = () => {
                    offset += ringWrite(control, bytes.subarray(offset));
                    wakeMachine(control);
                    kick();
                    if (offset < bytes.length && !finished) setTimeout(push, 5);
                  };
                  push();
                },
                sendConsoleInput: (bytes) => {
                  if (!consoleIn || finished) return;
                  const ring = openFrameRing(consoleIn);
                  for (let at = 0; at < bytes.length; at += FRAME_RING_MAX_FRAME)
                    frameRingWrite(ring, bytes.subarray(at, at + FRAME_RING_MAX_FRAME));
                  wakeMachine(control);
                  kick();
                },
                quit: (cause) => requestQuit(cause === 'signal' ? QUIT_SIGNAL : QUIT_USER),
                monitor: (line) => postDebug({ kind: 'monitor', line }),
              });
            } catch (error) {
              abort(error);
            }
          }
          break;
        }
        case 'gdb':
          gdbServer?.write(m.data);
          break;
        case 'net-tx':
          netdevs.send(m.nic, m.data);
          break;
        case 'monitor':
          try {
            options.onMonitorOutput?.(m.text);
          } catch (error) {
            abort(error);
          }
          break;
        case 'serial':
          chunks.push(m.data);
          try {
            options.onSerial?.(m.data);
          } catch (error) {
            abort(error);
          }
          break;
        case 'done':
          finish();
          resolve({
            status: statusOf(m.stop),
            serial: Buffer.concat(chunks).toString('latin1'),
            stats: m.stats,
            exitReason: m.stop,
            description,
            registers: m.registers,
          });
          break;
        case 'error': {
          finish();
          // Rebuild the thread's error as the same kind: LoaderError keeps its format, KvmError its errno.
          let error: Error;
          if (m.name === 'LoaderError') error = new LoaderError(m.format ?? 'kernel', '');
          else if (m.name === 'KvmError' && m.errno !== undefined) error = new KvmError('machine', m.errno);
          else error = new Error(m.message);
          error.message = m.message;
          error.name = m.name;
          reject(error);
          break;
        }
      }
    });
    worker.on('error', (error) => {
      finish();
      reject(error);
    });
    worker.on('exit', (code) => {
      if (!finished) {
        finish();
        reject(new Error(`the machine's thread exited (code ${code}) without a result`));
      }
    });
  }).finally(async () => {
    gdbServer?.close();
    netdevs.close();
    channel?.port1.close();
    await worker.terminate();
    // A thread stopped mid-run (a timeout, a callback's error) could not close its drives.
    releaseDriveLocks(config.drives ?? []);
  });
}
