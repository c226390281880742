/**
 * QEMU's `-cpu MODEL,+feature,-feature`: the guest's CPUID with features taken out (or asked for)
 * by the names QEMU and Linux's /proc/cpuinfo use. qemu-lite has one CPU model per engine, what
 * KVM_GET_SUPPORTED_CPUID offers (`host` and `max` both name it, as `-cpu host` does under QEMU
 * with KVM), so `+feature` only insists on a bit the engine already offers: asking for one it
 * lacks is an error that says so, where QEMU warns and goes on without it. `-feature` clears the
 * bit in every vCPU's table (KVM_SET_CPUID2); the engine then behaves as for a CPU without it
 * where it can (the VMX engine exits on RDRAND/RDSEED and gives #UD; elsewhere the instruction
 * may still run, as on hardware whose hypervisor hides it).
 */
import type { KvmCpuidEntry2 } from '@kvm/core';

/** Where a feature's bit is: CPUID leaf, sub-leaf, register (0 EAX … 3 EDX) and bit. */
interface FeatureBit {
  leaf: number;
  subleaf: number;
  reg: 0 | 1 | 2 | 3;
  bit: number;
}

const l1ecx = (bit: number): FeatureBit => ({ leaf: 1, subleaf: 0, reg: 2, bit });
const l7ebx = (bit: number): FeatureBit => ({ leaf: 7, subleaf: 0, reg: 1, bit });
const l7edx = (bit: number): FeatureBit => ({ leaf: 7, subleaf: 0, reg: 3, bit });
const ext1ecx = (bit: number): FeatureBit => ({ leaf: 0x80000001, subleaf: 0, reg: 2, bit });
const ext1edx = (bit: number): FeatureBit => ({ leaf: 0x80000001, subleaf: 0, reg: 3, bit });

/**
 * The features `-cpu` can name (SDM Vol. 2A CPUID, Tables 3-8 to 3-11; QEMU's feature words),
 * with QEMU's spellings and Linux's where they differ (`sse4_1`, `pni`, `lahf_lm`).
 */
export const CPU_FEATURES: Readonly<Record<string, FeatureBit>> = {
  sse3: l1ecx(0),
  pni: l1ecx(0),
  ssse3: l1ecx(9),
  cx16: l1ecx(13),
  'sse4.1': l1ecx(19),
  sse4_1: l1ecx(19),
  'sse4.2': l1ecx(20),
  sse4_2: l1ecx(20),
  x2apic: l1ecx(21),
  popcnt: l1ecx(23),
  'tsc-deadline': l1ecx(24),
  tsc_deadline_timer: l1ecx(24),
  xsave: l1ecx(26),
  rdrand: l1ecx(30),
  hypervisor: l1ecx(31),
  rdseed: l7ebx(18),
  serialize: l7edx(14),
  'spec-ctrl': l7edx(26),
  'arch-capabilities': l7edx(29),
  arch_capabilities: l7edx(29),
  'lahf-lm': ext1ecx(0),
  lahf_lm: ext1ecx(0),
  syscall: ext1edx(11),
  nx: ext1edx(20),
  pdpe1gb: ext1edx(26),
  rdtscp: ext1edx(27),
  lm: ext1edx(29),
};

/** The CPU models `-cpu` accepts: the engine's one. */
export const CPU_MODELS: readonly string[] = ['host', 'max'];

/** A `-cpu` or `cpuFeatures` problem, in words a person can act on. */
export class CpuFeatureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CpuFeatureError';
  }
}

function unknownFeature(name: string): CpuFeatureError {
  const known = Object.keys(CPU_FEATURES).join(', ');
  return new CpuFeatureError(`-cpu: no feature '${name}' (qemu-lite knows ${known})`);
}

/** The register `f` names in `e` (EAX … EDX). */
const REGS = ['eax', 'ebx', 'ecx', 'edx'] as const;

function entryOf(entries: readonly KvmCpuidEntry2[], f: FeatureBit): KvmCpuidEntry2 | undefined {
  return entries.find((e) => e.function === f.leaf && (!(e.flags & 1) || e.index === f.subleaf));
}

/**
 * `entries` (a vCPU's table) with `features` applied: each `false` clears its bit, each `true`
 * checks that it is set. Throws `CpuFeatureError` for a name `CPU_FEATURES` does not know or a
 * feature asked for that the table does not have.
 */
export function applyCpuFeatures(
  entries: readonly KvmCpuidEntry2[],
  features: Readonly<Record<string, boolean>>,
): KvmCpuidEntry2[] {
  const out = entries.map((e) => ({ ...e }));
  for (const [name, on] of Object.entries(features)) {
    const f = CPU_FEATURES[name];
    if (f === undefined) throw unknownFeature(name);
    const e = entryOf(out, f);
    const reg = REGS[f.reg];
    const has = e !== undefined && ((e[reg] >>> f.bit) & 1) === 1;
    if (on && !has) throw new CpuFeatureError(`-cpu: +${name}: this engine's CPU does not have ${name}`);
    if (!on && e !== undefined) e[reg] = (e[reg] & ~(1 << f.bit)) >>> 0;
  }
  return out;
}

/**
 * QEMU's `-cpu MODEL[,+feature][,-feature][,feature=on|off]…` as { name: on }. Throws
 * `CpuFeatureError` for another model, a malformed item or an unknown feature.
 */
export function parseCpuArg(value: string): Record<string, boolean> {
  const [model, ...items] = value.split(',');
  if (!CPU_MODELS.includes(model))
    throw new CpuFeatureError(
      `-cpu ${model}: qemu-lite has one CPU model per engine, what it offers (KVM_GET_SUPPORTED_CPUID): -cpu host or -cpu max`,
    );
  const features: Record<string, boolean> = {};
  for (const item of items) {
    let name: string;
    let on: boolean;
    if (item.startsWith('+') || item.startsWith('-')) {
      name = item.slice(1);
      on = item[0] === '+';
    } else {
      const m = /^([^=]+)=(on|off|true|false)$/.exec(item);
      if (m === null)
        throw new CpuFeatureError(`-cpu ${value}: '${item}' is not +feature, -feature or feature=on|off`);
      name = m[1];
      on = m[2] === 'on' || m[2] === 'true';
    }
    if (CPU_FEATURES[name] === undefined) throw unknownFeature(name);
    features[name] = on;
  }
  return features;
}
