/**
 * QEMU's human monitor (HMP), the commands that fit qemu-lite, run in the machine's thread
 * (where the vCPU and guest RAM are). A table: command name → handler, as hmp-commands.hx.
 * Each returns the text to print; a bad command or argument is an error line in QEMU's words.
 */
import type { Vcpu } from '@kvm/core';
import { hostThreadId } from '../host-thread.js';
import { formatRegisters } from '../vcpu/registers.js';
import { disassemble } from './disassemble.js';
import { type DumpFormat, dumpMemory, parseFormat } from './memory-dump.js';
import { walkMappings } from './page-walk.js';
import type { MonitorSession } from './session-api.js';

interface Command {
  args: string;
  help: string;
  run(args: string[], m: MonitorSession): string;
}

/** A command that prints nothing. */
const done = (_: unknown): string => '';

/** The monitor's current vCPU. */
const currentVcpu = (s: MonitorSession): Vcpu => s.machine().vcpus[s.cpuIndex()];

const hex = (v: bigint | number, width = 16) => v.toString(16).padStart(width, '0');

/** The last `x`/`xp` format, the default for the next (QEMU keeps it too). */
let lastFormat: DumpFormat = { count: 1, format: 'x', size: 4 };

/**
 * An address as QEMU's HMP reads a number (monitor/hmp.c expr_unary: strtoull with base 0):
 * 0x… hex, a leading 0 octal, else decimal (`xp 16` is 0x10; it was read as 0x16).
 */
function parseAddress(text: string | undefined): bigint {
  if (text === undefined) throw new Error('missing address');
  const t = text.trim();
  if (/^0x[0-9a-f]+$/i.test(t)) return BigInt(t);
  if (/^0[0-7]*$/.test(t)) return BigInt(`0o${t.slice(1) || '0'}`);
  if (/^[1-9][0-9]*$/.test(t)) return BigInt(t);
  throw new Error(`invalid address '${text}'`);
}

function dump(args: string[], s: MonitorSession, physical: boolean): string {
  let format = lastFormat;
  let rest = args;
  if (args[0]?.startsWith('/')) {
    format = parseFormat(args[0], lastFormat);
    rest = args.slice(1);
  }
  lastFormat = format;
  const addr = parseAddress(rest[0]);
  if (format.format === 'i') {
    const sregs = currentVcpu(s).getSregs();
    const mode = { def32: sregs.cs.db === 1, long64: sregs.cs.l === 1 && (sregs.efer & 0x400n) !== 0n };
    return disassemble(addr, format.count, mode, (a, n) =>
      physical ? s.readPhysical(a, n) : s.readVirtual(a, n),
    );
  }
  return dumpMemory(addr, format, (a, n) => (physical ? s.readPhysical(a, n) : s.readVirtual(a, n)));
}

function infoTlb(s: MonitorSession): string {
  const sregs = currentVcpu(s).getSregs();
  let out = '';
  const mode = walkMappings(s.machine().ram, sregs, (m) => {
    const flags = `${m.nx ? 'X' : '-'}${m.user ? 'u' : 's'}${m.writable ? 'w' : 'r'}`;
    out += `${hex(m.va)}: ${hex(m.pa, 16)} ${m.size >= 0x200000 ? 'PS ' : ''}${flags}\n`;
  });
  return mode === null ? 'PG disabled\n' : out;
}

function infoMem(s: MonitorSession): string {
  const sregs = currentVcpu(s).getSregs();
  let out = '';
  let start = -1n;
  let end = 0n;
  let prot = '';
  const flush = () => {
    if (start >= 0n) out += `${hex(start)}-${hex(end)} ${hex(end - start)} ${prot}\n`;
  };
  const mode = walkMappings(s.machine().ram, sregs, (m) => {
    const p = `${m.user ? 'u' : '-'}r${m.writable ? 'w' : '-'}`;
    if (start >= 0n && m.va === end && p === prot) {
      end += BigInt(m.size);
      return;
    }
    flush();
    start = m.va;
    end = m.va + BigInt(m.size);
    prot = p;
  });
  flush();
  return mode === null ? 'PG disabled\n' : out;
}

function infoMtree(s: MonitorSession): string {
  const machine = s.machine();
  let out = 'address-space: memory\n';
  out += `  0000000000000000-${hex(machine.ram.length - 1)} (prio 0, ram): pc.ram\n`;
  if (machine.config.kernelIrqchip) {
    out += '  00000000fec00000-00000000fec00fff (prio 0, i/o): kvm-ioapic\n';
    out += '  00000000fee00000-00000000fee00fff (prio 4096, i/o): kvm-apic-msi\n';
  }
  if (machine.config.pcTestdev) out += '  00000000ff000000-00000000ff00ffff (prio 0, i/o): pc-testdev\n';
  out += '\naddress-space: I/O\n';
  let first = -1;
  let device: unknown;
  for (let port = 0; port <= 0x10000; port++) {
    const d = port < 0x10000 ? machine.bus.deviceAt(port) : undefined;
    if (d === device) continue;
    if (device !== undefined)
      out += `  ${hex(first, 4)}-${hex(port - 1, 4)} (prio 0, i/o): ${(device as object).constructor.name}\n`;
    first = port;
    device = d;
  }
  return out;
}

/** `info registers [-a]`: the current vCPU's, or (-a) every vCPU's, each under its CPU#. */
function infoRegisters(flag: string | undefined, s: MonitorSession): string {
  if (flag === undefined) return `${formatRegisters(currentVcpu(s))}\n`;
  if (flag !== '-a') throw new Error(`invalid option '${flag}' (-a: every CPU)`);
  let out = '';
  for (let i = 0; i < s.cpuCount(); i++) out += `\nCPU#${i}\n${formatRegisters(s.machine().vcpus[i])}\n`;
  return out;
}

/**
 * `info cpus`: every vCPU with its RIP and whether it is halted, the current one starred, as
 * QEMU's hmp_info_cpus printed it ("* CPU #0: pc=0x… (halted) thread_id=…"). thread_id is the
 * host's id of the machine's thread, as QEMU prints its vCPU threads' (the one every vCPU runs on
 * with vmx/svm, as under QEMU's single-threaded TCG; on the host engine the APs' own threads are
 * not tracked). "(stopped)": the debugger holds the machine.
 */
function infoCpus(s: MonitorSession): string {
  let out = '';
  const threadId = hostThreadId();
  for (let i = 0; i < s.cpuCount(); i++) {
    const rip = s.machine().vcpus[i].getRegs().rip;
    out += `${i === s.cpuIndex() ? '*' : ' '} CPU #${i}: pc=0x${hex(rip)}${s.isHalted(i) ? ' (halted)' : ''} thread_id=${threadId}${s.isStopped() ? ' (stopped)' : ''}\n`;
  }
  return out;
}

export const COMMANDS: Record<string, Command> = {
  help: {
    args: '[cmd]',
    help: 'show the help',
    // `help CMD`: that command's line only, as QEMU's help_cmd; an unknown one says so.
    run: (args) => {
      const named =
        args[0] === undefined ? Object.entries(COMMANDS) : [[args[0], COMMANDS[args[0]]] as const];
      if (named[0][1] === undefined) return `unknown command: '${args[0]}'\n`;
      return `${named.map(([name, c]) => `${`${name} ${c.args}`.trim()} -- ${c.help}`).join('\n')}\n`;
    },
  },
  info: {
    args: 'registers [-a]|cpus|mem|tlb|kvm|mtree',
    help: 'show information about the machine',
    run: (args, s) => {
      switch (args[0]) {
        case 'registers':
          return infoRegisters(args[1], s);
        case 'cpus':
          return infoCpus(s);
        case 'mem':
          return infoMem(s);
        case 'tlb':
          return infoTlb(s);
        case 'kvm':
          return `kvm support: enabled (engine: ${s.machine().config.engine})\n`;
        case 'mtree':
          return infoMtree(s);
        default:
          return `info: unknown or missing subcommand '${args[0] ?? ''}' (registers, cpus, mem, tlb, kvm, mtree)\n`;
      }
    },
  },
  cpu: {
    args: 'index',
    help: 'set the default CPU',
    run: (args, s) => {
      const index = /^\d+$/.test(args[0] ?? '') ? Number(args[0]) : Number.NaN;
      // QEMU's hmp_cpu says just this for an index it has no CPU for.
      return s.selectCpu(index) ? '' : 'invalid CPU index\n';
    },
  },
  x: { args: '/fmt addr', help: 'virtual memory dump starting at addr', run: (a, s) => dump(a, s, false) },
  xp: { args: '/fmt addr', help: 'physical memory dump starting at addr', run: (a, s) => dump(a, s, true) },
  stop: {
    args: '',
    help: 'stop emulation',
    run: (_a, s) => {
      s.pause();
      return '';
    },
  },
  c: { args: '', help: 'resume emulation', run: (_a, s) => done(s.resume()) },
  cont: { args: '', help: 'resume emulation', run: (_a, s) => done(s.resume()) },
  system_reset: { args: '', help: 'reset the system', run: (_a, s) => done(s.reset()) },
  system_powerdown: {
    args: '',
    help: 'send system power down event',
    run: (_a, s) => done(s.powerdown()),
  },
  quit: { args: '', help: 'quit the emulator', run: (_a, s) => done(s.quit()) },
  q: { args: '', help: 'quit the emulator', run: (_a, s) => done(s.quit()) },
};

/** Runs one monitor line; returns its output (an error line for a bad one, never a throw). */
export function runMonitorCommand(line: string, session: MonitorSession): string {
  const words = line.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return '';
  // `x/4x addr` is written without a space in QEMU too.
  const slash = words[0].indexOf('/');
  if (slash > 0) words.splice(0, 1, words[0].slice(0, slash), words[0].slice(slash));
  const command = COMMANDS[words[0]];
  if (!command) return `unknown command: '${words[0]}'\n`;
  try {
    return command.run(words.slice(1), session);
  } catch (error) {
    return `${words[0]}: ${(error as Error).message}\n`;
  }
}
