/**
 * `-smp [cpus=]N[,sockets=S][,cores=C][,threads=T][,maxcpus=M]`: the vCPUs and their topology,
 * resolved as QEMU's `machine_parse_smp_config` (hw/core/machine-smp.c) does for a pc machine of
 * today (cores preferred over sockets when one is left out), and each vCPU's initial APIC ID
 * laid out as QEMU's `x86_apicid_from_cpu_idx` lays it out: thread, core and socket fields, each
 * as many bits as its count needs (SDM Vol. 3A 10.4.8 / 9.9.1, "hierarchical mapping of shared
 * resources"), so `-smp 6,cores=3` has APIC IDs 0 1 2 4 5 6.
 */

/** The most vCPUs a qemu-lite machine has (issue 14: 1 ≤ N ≤ 16). */
export const SMP_MAX_CPUS = 16;

/** What `-smp` (or `runGuest({ smp })`) may give; every count ≥ 1 when given. */
export interface SmpOptions {
  cpus?: number;
  sockets?: number;
  cores?: number;
  threads?: number;
  maxcpus?: number;
}

/** A resolved topology: every field known, sockets × cores × threads = maxcpus ≥ cpus. */
export interface SmpTopology {
  /** vCPUs present at power-on (vCPU 0 the BSP). */
  cpus: number;
  sockets: number;
  cores: number;
  threads: number;
  /** vCPUs the machine could have; those past `cpus` are listed as disabled in the MADT. */
  maxcpus: number;
}

export const SMP_UNIPROCESSOR: SmpTopology = { cpus: 1, sockets: 1, cores: 1, threads: 1, maxcpus: 1 };

/** An invalid `-smp`, in QEMU's words where QEMU has them. */
export class SmpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SmpError';
  }
}

const PROPS = ['cpus', 'sockets', 'cores', 'threads', 'maxcpus'] as const;

/** Parses the `-smp` argument text (`4`, `cpus=4,threads=2`, `2,maxcpus=4`, …). */
export function parseSmpArg(text: string): SmpOptions {
  const out: SmpOptions = {};
  const parts = text.split(',');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    const eq = part.indexOf('=');
    // QEMU's implied key: a bare first value is `cpus`.
    const key = eq < 0 && i === 0 ? 'cpus' : part.slice(0, eq);
    const value = eq < 0 ? part : part.slice(eq + 1);
    if (!(PROPS as readonly string[]).includes(key))
      throw new SmpError(`-smp: unknown property '${key}' (known: ${PROPS.join(', ')})`);
    if (!/^[0-9]+$/.test(value)) throw new SmpError(`-smp: ${key}=${value} is not a number`);
    out[key as keyof SmpOptions] = Number(value);
  }
  return out;
}

/** QEMU's rules for the parameters left out, then its checks; throws SmpError. */
export function resolveSmp(o: SmpOptions): SmpTopology {
  for (const key of PROPS) {
    const v = o[key];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 1)
      throw new SmpError(
        `Invalid CPU topology: CPU topology parameters must be greater than zero (${key}=${v})`,
      );
  }
  let { cpus = 0, sockets = 0, cores = 0, threads = 0, maxcpus = 0 } = o;
  if (cpus === 0 && maxcpus === 0) {
    sockets ||= 1;
    cores ||= 1;
    threads ||= 1;
  } else {
    maxcpus ||= cpus;
    // Current pc machines prefer cores: a missing count is 1, except cores, which takes the rest.
    sockets ||= 1;
    threads ||= 1;
    cores ||= Math.max(1, Math.floor(maxcpus / (sockets * threads)));
  }
  const total = sockets * cores * threads;
  maxcpus ||= total;
  cpus ||= maxcpus;
  const shape = `sockets (${sockets}) * cores (${cores}) * threads (${threads})`;
  if (total !== maxcpus)
    throw new SmpError(
      `Invalid CPU topology: product of the hierarchy must match maxcpus: ${shape} != maxcpus (${maxcpus})`,
    );
  if (maxcpus < cpus)
    throw new SmpError(
      `Invalid CPU topology: maxcpus must be equal to or greater than smp: ${shape} == maxcpus (${maxcpus}) < smp_cpus (${cpus})`,
    );
  if (maxcpus > SMP_MAX_CPUS)
    throw new SmpError(
      `Invalid SMP CPUs ${maxcpus}. The max CPUs supported by machine 'pc' is ${SMP_MAX_CPUS}`,
    );
  return { cpus, sockets, cores, threads, maxcpus };
}

/** Bits a field of `count` values takes in the APIC ID (`apicid_bitwidth_for_count`). */
export function bitsFor(count: number): number {
  return count <= 1 ? 0 : 32 - Math.clz32(count - 1);
}

/** The APIC ID's field widths: SMT (threads) and core; the package field starts at their sum. */
export function apicIdWidths(t: SmpTopology): { threadBits: number; coreBits: number } {
  return { threadBits: bitsFor(t.threads), coreBits: bitsFor(t.cores) };
}

/** The initial APIC ID of vCPU `index` (0 … maxcpus − 1), `x86_apicid_from_cpu_idx`. */
export function apicIdOf(t: SmpTopology, index: number): number {
  const { threadBits, coreBits } = apicIdWidths(t);
  const thread = index % t.threads;
  const core = Math.floor(index / t.threads) % t.cores;
  const socket = Math.floor(index / (t.threads * t.cores));
  return (socket << (coreBits + threadBits)) | (core << threadBits) | thread;
}

/** The APIC IDs of vCPUs 0 … n − 1. */
export function apicIds(t: SmpTopology, n = t.cpus): number[] {
  return Array.from({ length: n }, (_, i) => apicIdOf(t, i));
}

/** A machine configuration's topology: its `smp`, or `cpus` cores of one socket. */
export function topologyOf(config: { cpus: number; smp?: SmpTopology }): SmpTopology {
  return (
    config.smp ?? { cpus: config.cpus, sockets: 1, cores: config.cpus, threads: 1, maxcpus: config.cpus }
  );
}
