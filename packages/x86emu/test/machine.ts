/** Test helper: a bare CPU with flat RAM, a recorded debug port and exception capture. */
import {
  Cpu,
  type CpuOptions,
  type ExitInfo,
  FlatPhysicalMemory,
  type Intercepts,
  type PortIoOps,
  StopReason,
  WasmGuestMemory,
} from '../src/index.js';
import { asm } from './asm.js';

export interface Machine {
  cpu: Cpu;
  mem: FlatPhysicalMemory;
  out: number[];
  /** Exceptions seen by the capture hook (vector, error code). */
  exceptions: { vector: number; errorCode: number; faultAddress: number }[];
  intercepts: Intercepts;
}

/**
 * The I/O and intercepts every test machine uses: bytes written to port 0xE9 are recorded in
 * `out`, reads see an empty bus (0xFF); with `captureExceptions` every exception stops the run
 * and is recorded instead of going through the IDT. `overrides` replace intercepts fields.
 */
export function debugPortAndCapture(
  captureExceptions = false,
  overrides?: Partial<Intercepts>,
): Pick<Machine, 'out' | 'exceptions' | 'intercepts'> & { io: PortIoOps } {
  const out: number[] = [];
  const io: PortIoOps = {
    portIn: () => 0xff,
    portOut: (port, _size, value) => {
      if (port === 0xe9) out.push(value);
    },
  };
  const exceptions: Machine['exceptions'] = [];
  const intercepts: Intercepts = {
    mask: 0,
    exceptionMask: captureExceptions ? 0xffffffff : 0,
    exception: (vector, errorCode, _has, x: ExitInfo) => {
      exceptions.push({ vector, errorCode, faultAddress: x.faultAddress });
      return true;
    },
    ...overrides,
  };
  return { out, io, exceptions, intercepts };
}

/**
 * Real-mode machine with `code` assembled at physical `origin` (CS = 0, IP = origin, SS:SP = 0:0x7000).
 * With `captureExceptions`, every exception stops the run instead of going through the IDT.
 */
export function realMode(
  source: string,
  opts: { origin?: number; captureExceptions?: boolean; memSize?: number; bits?: 16 | 32 } = {},
  extra: Partial<CpuOptions> = {},
): Machine {
  const origin = opts.origin ?? 0x1000;
  const mem = new FlatPhysicalMemory(opts.memSize ?? 4 << 20);
  mem.bytes.set(asm(source, { bits: opts.bits ?? 16, origin }), origin);
  const { out, io, exceptions, intercepts } = debugPortAndCapture(opts.captureExceptions);
  const cpu = new Cpu({ memory: mem, io, intercepts, ...extra });
  const s = cpu.state;
  s.segSel[1] = 0;
  s.segBase[1] = 0;
  s.rip[0] = origin;
  s.gpr[4] = 0x7000;
  cpu.stateChanged();
  return { cpu, mem, out, exceptions, intercepts };
}

/** Runs until HLT (or another stop); fails loudly on anything else than `expect`. */
export function runTo(m: Machine, expect: number = StopReason.Hlt, budget = 1_000_000): void {
  const r = m.cpu.run(budget);
  if (r !== expect) {
    const s = m.cpu.state;
    throw new Error(
      `stopped with ${r}, expected ${expect}; eip=${s.rip[0].toString(16)} cs=${s.segSel[1].toString(16)} exceptions=${JSON.stringify(m.exceptions)}`,
    );
  }
}

/**
 * `m` moved onto RAM in a WebAssembly.Memory (the same bytes, state, devices and intercepts), its
 * CPU new and with the compiler off: the wasm backend's tests give it one (`jit` options) after.
 * `shared`: a shared WebAssembly.Memory (its buffer a SharedArrayBuffer).
 */
export function inWasmMemory(m: Machine, shared = false): Machine {
  const w = new WasmGuestMemory(m.mem.bytes.length, shared);
  w.bytes.set(m.mem.bytes);
  const cpu = new Cpu({
    memory: w,
    io: m.cpu.io,
    intercepts: m.cpu.intercepts ?? undefined,
    state: m.cpu.state,
    jit: false,
  });
  return { ...m, cpu, mem: w as unknown as FlatPhysicalMemory };
}
