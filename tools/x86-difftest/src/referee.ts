/**
 * Who referees each mode on this host, said plainly in every report. On kvm-pvm (this project's
 * sandboxes) real mode and unpaged protected mode never reach the CPU: KVM's instruction emulator
 * runs them, so "the host" there is that emulator, not silicon. CPL-3 code in 64-bit mode runs
 * natively. Whether compatibility mode does is probed, not assumed.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { HostSide } from './host-side.js';
import { CODE, type Mode, STACK_TOP } from './layout.js';
import { baseState64, buildImage64, type LongMode, STUBS64, writeHarnessFrame } from './layout64.js';

export type HostFlavor = 'kvm' | 'kvm-pvm';

export function hostKvmFlavor(): HostFlavor {
  return existsSync('/sys/module/kvm_pvm') ? 'kvm-pvm' : 'kvm';
}

let vendor: string | undefined;

/**
 * The host CPU's vendor, CPUID.0's string (`vendor_id` of /proc/cpuinfo): `AuthenticAMD`,
 * `GenuineIntel`…, or 'unknown'. In long64 the CPU referees, and where the manuals leave a result
 * undefined or to the implementation the two vendors answer differently: a cited mismatch may
 * hold for one vendor only (`KnownMismatch.hosts`).
 */
export function hostCpuVendor(): string {
  if (vendor === undefined) {
    try {
      vendor = /vendor_id\s*:\s*(\S+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
    } catch {
      vendor = 'unknown';
    }
  }
  return vendor;
}

export interface CompatProbe {
  native: boolean;
  /** What was measured. */
  detail: string;
}

let compatProbe: CompatProbe | undefined;

/** Runs `code` (then HLT) at CPL 3 in `mode`; returns the vector it ended in, EAX, and the time. */
function runUser(host: HostSide, mode: LongMode, code: number[], regs: [number, number][]) {
  const init = baseState64();
  for (const [r, v] of regs) init.gpr[r] = v;
  const image = buildImage64();
  image.set([...code, 0xf4], CODE);
  writeHarnessFrame(image, { mode, rip: CODE, ripHigh: 0, rsp: STACK_TOP, rspHigh: 0, rflags: 0x202 });
  const t0 = performance.now();
  const o = host.run(init, image, true);
  const ms = performance.now() - t0;
  const vector = o.kind === 'hlt' ? o.state.eip - 1 - STUBS64 : -1;
  return { vector, eax: o.state.gpr[0], ms, kind: o.kind };
}

/**
 * Does the host run compatibility-mode code at CPL 3 on the CPU? Two measurements: POPCNT (which
 * KVM's emulator does not implement, so an emulating host raises #UD, while the CPU computes it),
 * and a 20000-iteration DEC/JNZ loop timed against the same loop in 64-bit mode.
 */
export function probeCompatNative(host: HostSide): CompatProbe {
  const popcnt = runUser(host, 'compat32', [0xf3, 0x0f, 0xb8, 0xc3], [[3, 0xff]]);
  const loop = (mode: LongMode) =>
    runUser(
      host,
      mode,
      [0xb9, 0x20, 0x4e, 0, 0, ...(mode === 'long64' ? [0xff, 0xc9] : [0x49]), 0x75, 0xfd],
      [],
    );
  const l64 = loop('long64');
  const l32 = loop('compat32');
  const popOk = popcnt.vector === 13 && popcnt.eax === 8;
  const native = popOk && l32.ms < 10 * Math.max(l64.ms, 1);
  compatProbe = {
    native,
    detail: `POPCNT ${popOk ? 'computed' : `ended in vector ${popcnt.vector}`}, a 20000-iteration loop took ${l32.ms.toFixed(1)} ms against ${l64.ms.toFixed(1)} ms in 64-bit mode`,
  };
  return compatProbe;
}

/** The referee of `mode` in a few words, for each reproducer's host line. */
export function refereeLabel(mode: Mode, compat: CompatProbe | undefined = compatProbe): string {
  if (hostKvmFlavor() === 'kvm') return 'real CPU';
  if (mode === 'long64' || (mode === 'compat32' && compat?.native)) return 'real CPU';
  return "KVM's instruction emulator on this host";
}

/** The referee of `mode` on this host, with the evidence, for the start of every run. */
export function refereeOf(mode: Mode, compat: CompatProbe | undefined = compatProbe): string {
  if (hostKvmFlavor() === 'kvm') return 'the real CPU';
  if (mode === 'long64') return 'the real CPU (kvm-pvm runs CPL-3 64-bit code natively)';
  if (mode === 'compat32') {
    if (!compat) return 'kvm-pvm (compatibility mode not probed)';
    return compat.native
      ? `the real CPU (kvm-pvm runs compatibility mode natively: ${compat.detail})`
      : `KVM's instruction emulator on this host (kvm-pvm does not run compatibility mode natively: ${compat.detail})`;
  }
  return "KVM's instruction emulator on this host (kvm-pvm emulates real mode and unpaged protected mode)";
}
