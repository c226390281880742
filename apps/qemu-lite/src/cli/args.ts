/**
 * The command line, in QEMU's spelling for everything QEMU has (`-m 256M`, `-kernel`,
 * `-initrd`, `-append`, `-smp`, `-nographic`, `-serial stdio`, `-no-reboot`, `-accel`,
 * `-device isa-debug-exit,…`, `-device loader,…`, `-d`, `-D`), each also accepted with two
 * dashes as QEMU does. Options are a table: name → whether it takes an argument and what it
 * does. Anything else is a `UsageError` naming the flag, in QEMU's words.
 */
import { LOG_ITEMS } from '../config.js';
import type { DebugExitConfig } from '../devices/debug-exit.js';
import { parseGdbDevice } from '../gdbstub/channel.js';
import { CpuFeatureError, parseCpuArg } from '../machine/cpu-features.js';
import { MAX_RAM_SIZE, MIN_RAM_SIZE } from '../machine/memory-map.js';
import { parseSmpArg, resolveSmp, SmpError } from '../machine/smp.js';
import type { RunGuestOptions } from '../run-guest.js';
import { parseSize } from '../size.js';
import {
  type CliNet,
  chardevArg,
  consoleDevice,
  isNetUsageError,
  netDevice,
  netdevArg,
  nicArg,
  resolveNet,
  rngDevice,
} from './net-args.js';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ParsedArgs {
  /** What to run (absent when only help/version was asked). */
  options: RunGuestOptions;
  /** Print the usage text and exit 0. */
  help: boolean;
  version: boolean;
  /** `-d help`: list log items and exit 0. */
  logHelp: boolean;
  /** `-device help`. */
  deviceHelp: boolean;
  /** No -kernel and no -device loader: the bundled demo guest, with exit statistics. */
  demo: boolean;
  /** `-device isa-debugcon,…` properties and the `-debugcon` output, joined at the end. */
  debugconDevice?: { iobase: number; readback: number };
  /** `-debugcon`: where its bytes go, or null for `none`/`null` (no device). */
  debugconOutput?: 'stdio' | { file: string } | null;
  /** `-drive` options in command-line order, joined with `-device virtio-blk-pci` at the end. */
  drives?: CliDrive[];
  /** `-device virtio-blk-pci,drive=ID[,serial=…][,logical_block_size=…]`. */
  blkDevices?: { drive: string; serial?: string; logicalBlockSize?: 512 | 4096 }[];
  /** `-monitor stdio`: the monitor on the terminal (else Ctrl-A c switches to it). */
  monitorStdio?: boolean;
  /** `-netdev`, `-nic`, `-device virtio-net-pci`, `-device virtio-rng-pci` (cli/net-args.ts). */
  net?: CliNet;
  /** `-device virtconsole,chardev=ID` with `-chardev stdio,id=ID`: the terminal types into hvc0. */
  consoleStdin?: boolean;
}

type Handler = (value: string, out: ParsedArgs) => void;

interface CliDrive {
  id?: string;
  file: string;
  if: 'virtio' | 'none';
  readonly: boolean;
  serial?: string;
}

/**
 * `-drive file=IMG,format=raw,if=virtio|none[,id=ID][,readonly=on][,serial=S][,media=disk]
 * [,cache=…]` (QEMU's spelling). Raw images only; `if=` has no default here (QEMU's is ide,
 * which qemu-lite does not have), so it must be said.
 */
function drive(value: string, out: ParsedArgs): void {
  const { first, props } = parseKeyValues(value);
  // QEMU takes `-drive FILE` as file=FILE (its implied first key).
  if (first !== '' && !first.includes('=')) props.set('file', first);
  else if (first.includes('='))
    props.set(first.slice(0, first.indexOf('=')), first.slice(first.indexOf('=') + 1));
  rejectUnknownProps(props, ['file', 'format', 'if', 'id', 'readonly', 'serial', 'media', 'cache'], '-drive');
  const file = props.get('file');
  if (!file) throw new UsageError('-drive: needs file=IMAGE');
  const format = props.get('format');
  if (format !== undefined && format !== 'raw')
    throw new UsageError(`-drive format=${format}: only raw images are supported`);
  const media = props.get('media');
  if (media !== undefined && media !== 'disk')
    throw new UsageError(`-drive media=${media}: only disk exists`);
  const cache = props.get('cache');
  // Every write goes to the file at once and a flush is an fdatasync, which is what each of
  // QEMU's modes promises at least (unsafe's ignored flushes are not copied).
  if (cache !== undefined && !['writeback', 'none', 'writethrough', 'directsync', 'unsafe'].includes(cache))
    throw new UsageError(
      `-drive cache=${cache}: not a cache mode (writeback, none, writethrough, directsync, unsafe)`,
    );
  const iface = props.get('if');
  if (iface !== 'virtio' && iface !== 'none')
    throw new UsageError(
      `-drive if=${iface ?? '(ide)'}: qemu-lite has virtio disks only: give if=virtio, or if=none with -device virtio-blk-pci`,
    );
  const serial = props.get('serial');
  if (serial !== undefined && serial.length > 20)
    throw new UsageError(`-drive serial=${serial}: at most 20 characters (VIRTIO_BLK_ID_BYTES)`);
  const id = props.get('id');
  if (id !== undefined && out.drives?.some((d) => d.id === id))
    throw new UsageError(`-drive id=${id}: Duplicate ID '${id}' for drive`);
  if (iface === 'none' && id === undefined)
    throw new UsageError('-drive if=none needs id=ID for -device … drive=ID');
  out.drives = out.drives ?? [];
  out.drives.push({
    id,
    file,
    if: iface,
    readonly: onOff(props.get('readonly') ?? 'off', '-drive readonly'),
    serial,
  });
}

/** The drives the machine gets: `if=virtio` ones, then each `-device virtio-blk-pci`'s. */
function resolveDrives(out: ParsedArgs): void {
  const drives = out.drives ?? [];
  const result: { file: string; readonly: boolean; serial?: string; logicalBlockSize?: 512 | 4096 }[] = [];
  for (const d of drives)
    if (d.if === 'virtio') result.push({ file: d.file, readonly: d.readonly, serial: d.serial });
  const used = new Set<string>();
  for (const dev of out.blkDevices ?? []) {
    const d = drives.find((x) => x.id === dev.drive);
    if (!d) throw new UsageError(`-device virtio-blk-pci,drive=${dev.drive}: no -drive with id=${dev.drive}`);
    if (d.if !== 'none')
      throw new UsageError(
        `-device virtio-blk-pci,drive=${dev.drive}: that drive is if=${d.if}; give it if=none`,
      );
    if (used.has(dev.drive))
      throw new UsageError(`-device virtio-blk-pci,drive=${dev.drive}: the drive is already in use`);
    used.add(dev.drive);
    result.push({
      file: d.file,
      readonly: d.readonly,
      serial: dev.serial ?? d.serial,
      logicalBlockSize: dev.logicalBlockSize,
    });
  }
  if (result.length > 0) out.options.drives = result;
}

/** QEMU's number syntax for device properties: decimal, 0x hex, 0 octal. */
function parseNumber(text: string, what: string): number {
  const value = /^0x[0-9a-f]+$/i.test(text)
    ? Number.parseInt(text, 16)
    : /^0[0-7]+$/.test(text)
      ? Number.parseInt(text, 8)
      : /^\d+$/.test(text)
        ? Number.parseInt(text, 10)
        : Number.NaN;
  if (!Number.isSafeInteger(value)) throw new UsageError(`${what}: '${text}' is not a number`);
  return value;
}

/** Splits `driver,key=value,…` (QEMU's option syntax; `,,` is a literal comma). */
export function parseKeyValues(text: string): { first: string; props: Map<string, string> } {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] === ',' && text[i + 1] === ',') {
      current += ',';
      i++;
    } else if (text[i] === ',') {
      parts.push(current);
      current = '';
    } else {
      current += text[i];
    }
  }
  parts.push(current);
  const props = new Map<string, string>();
  for (const part of parts.slice(1)) {
    const eq = part.indexOf('=');
    if (eq < 0) props.set(part, 'on');
    else props.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return { first: parts[0], props };
}

/**
 * `kernel-irqchip=on|off|split`. `split` is QEMU's local APICs in the kernel with the PIC,
 * I/O APIC and PIT in userspace (KVM_CAP_SPLIT_IRQCHIP); qemu-lite has no userspace I/O APIC.
 */
function kernelIrqchip(value: string): boolean {
  if (value === 'split') {
    throw new UsageError(
      "kernel-irqchip=split: qemu-lite has no userspace I/O APIC for the split irqchip; use 'on' (the default) or 'off'",
    );
  }
  return onOff(value, 'kernel-irqchip');
}

function onOff(value: string, what: string): boolean {
  return onOffOr(value, what, 'on or off');
}

function onOffOr(value: string, what: string, expected: string): boolean {
  if (value === 'on' || value === 'true' || value === 'yes') return true;
  if (value === 'off' || value === 'false' || value === 'no') return false;
  throw new UsageError(`${what}: '${value}' is not ${expected}`);
}

function rejectUnknownProps(props: Map<string, string>, known: string[], what: string): void {
  for (const key of props.keys()) {
    if (!known.includes(key))
      throw new UsageError(`${what}: unknown property '${key}' (known: ${known.join(', ')})`);
  }
}

function device(value: string, out: ParsedArgs): void {
  const { first, props } = parseKeyValues(value);
  switch (first) {
    case 'help':
      out.deviceHelp = true;
      return;
    case 'isa-debug-exit': {
      rejectUnknownProps(props, ['iobase', 'iosize'], '-device isa-debug-exit');
      const config: DebugExitConfig = {
        iobase: parseNumber(props.get('iobase') ?? '0x501', 'isa-debug-exit iobase'),
        iosize: parseNumber(props.get('iosize') ?? '1', 'isa-debug-exit iosize'),
      };
      if (![1, 2, 4].includes(config.iosize))
        throw new UsageError(`isa-debug-exit iosize must be 1, 2 or 4, not ${config.iosize}`);
      if (config.iobase + config.iosize > 0x10000)
        throw new UsageError('isa-debug-exit iobase is outside the I/O space');
      out.options.debugExit = config;
      return;
    }
    case 'isa-debugcon': {
      // QEMU's properties; its `chardev` is what -debugcon gives here (no -chardev).
      rejectUnknownProps(props, ['iobase', 'readback'], '-device isa-debugcon');
      const iobase = parseNumber(props.get('iobase') ?? '0xe9', 'isa-debugcon iobase');
      const readback = parseNumber(props.get('readback') ?? '0xe9', 'isa-debugcon readback');
      if (iobase > 0xffff) throw new UsageError('isa-debugcon iobase is outside the I/O space');
      if (readback > 0xffffffff) throw new UsageError('isa-debugcon readback must fit in 32 bits');
      out.debugconDevice = { iobase, readback };
      return;
    }
    case 'virtio-blk-pci':
    case 'virtio-blk': {
      rejectUnknownProps(
        props,
        ['drive', 'serial', 'logical_block_size', 'physical_block_size'],
        `-device ${first}`,
      );
      const id = props.get('drive');
      if (!id) throw new UsageError(`-device ${first}: needs drive=ID (a -drive if=none,id=ID)`);
      const serial = props.get('serial');
      if (serial !== undefined && serial.length > 20)
        throw new UsageError(`-device ${first}: serial is at most 20 characters`);
      // QEMU's block-size properties; 512 and 4096 only (physical must equal logical here).
      const logical = props.get('logical_block_size') ?? '512';
      const physical = props.get('physical_block_size') ?? logical;
      if ((logical !== '512' && logical !== '4096') || physical !== logical)
        throw new UsageError(
          `-device ${first}: logical_block_size is 512 or 4096, and physical_block_size the same`,
        );
      out.blkDevices = out.blkDevices ?? [];
      out.blkDevices.push({ drive: id, serial, logicalBlockSize: logical === '4096' ? 4096 : undefined });
      return;
    }
    case 'virtio-net-pci':
    case 'virtio-net':
      netFlag(() => netDevice(first, props, out));
      return;
    case 'virtio-rng-pci':
    case 'virtio-rng':
      netFlag(() => rngDevice(first, props, out));
      return;
    case 'virtio-serial-pci':
    case 'virtio-serial':
    case 'virtconsole':
      netFlag(() => consoleDevice(first, props, out));
      return;
    case 'pc-testdev':
      rejectUnknownProps(props, [], '-device pc-testdev');
      out.options.pcTestdev = true;
      return;
    case 'loader': {
      rejectUnknownProps(props, ['file', 'addr', 'cpu-num', 'force-raw'], '-device loader');
      const file = props.get('file');
      const addr = props.get('addr');
      if (!file || !addr) throw new UsageError('-device loader needs file=FILE and addr=ADDR');
      const cpu = props.get('cpu-num');
      if (cpu !== undefined && cpu !== '0') throw new UsageError('-device loader: only cpu-num=0 exists');
      const loadAddr = parseNumber(addr, 'loader addr');
      out.options.flat = { image: file, loadAddr, entry: loadAddr };
      return;
    }
    default:
      throw new UsageError(`-device ${first}: no such device here (try -device help)`);
  }
}

/** cli/net-args.ts's errors as this file's UsageError. */
function netFlag(parse: () => void): void {
  try {
    parse();
  } catch (error) {
    if (isNetUsageError(error)) throw new UsageError(error.message);
    throw error;
  }
}

function accel(value: string, out: ParsedArgs): void {
  const { first, props } = parseKeyValues(value);
  rejectUnknownProps(props, ['kernel-irqchip', 'jit', 'npt', 'ept'], `-accel ${first}`);
  out.options.accel = first;
  const jit = props.get('jit');
  if (jit === 'wasm' || jit === 'js') {
    // The compiler on, with that code generator (x86emu's JitTuning.backend).
    out.options.jit = true;
    out.options.jitBackend = jit;
  } else if (jit !== undefined) {
    out.options.jit = onOffOr(jit, `-accel ${first},jit`, 'on, off, js or wasm');
  }
  const npt = props.get('npt');
  if (npt !== undefined) out.options.npt = onOff(npt, `-accel ${first},npt`);
  const ept = props.get('ept');
  if (ept !== undefined) out.options.ept = onOff(ept, `-accel ${first},ept`);
  const irqchip = props.get('kernel-irqchip');
  if (irqchip !== undefined) out.options.kernelIrqchip = kernelIrqchip(irqchip);
}

function machine(value: string, out: ParsedArgs): void {
  const { first, props } = parseKeyValues(value);
  // `-machine pc`, `-machine kernel-irqchip=on`, `-machine pc,kernel-irqchip=off`
  if (first.includes('=')) {
    const [k, v] = first.split('=');
    props.set(k, v);
  } else if (first !== 'pc' && first !== '' && first !== 'type=pc') {
    throw new UsageError(`-machine ${first}: only the 'pc' machine exists here`);
  }
  rejectUnknownProps(props, ['kernel-irqchip', 'type', 'accel', 'hpet'], '-machine');
  const irqchip = props.get('kernel-irqchip');
  if (irqchip !== undefined) out.options.kernelIrqchip = kernelIrqchip(irqchip);
  // QEMU's pc machine property (on by default).
  const hpet = props.get('hpet');
  if (hpet !== undefined) out.options.hpet = onOff(hpet, 'hpet');
  const a = props.get('accel');
  if (a !== undefined) out.options.accel = a;
}

const withArg: Record<string, Handler> = {
  m: (v, out) => {
    // -m 256M, -m size=256M
    const size = v.startsWith('size=') ? v.slice(5) : v;
    let bytes: number;
    try {
      bytes = parseSize(size);
    } catch (error) {
      throw new UsageError(`-m: ${(error as Error).message}`);
    }
    if (bytes % 4096 !== 0 || bytes < MIN_RAM_SIZE || bytes > MAX_RAM_SIZE)
      throw new UsageError(`-m ${v}: guest RAM is a multiple of 4 KiB from 2M to 3G`);
    out.options.memory = bytes;
  },
  kernel: (v, out) => {
    out.options.kernel = v;
  },
  initrd: (v, out) => {
    // QEMU's multiboot spelling: "file args,file2 args"; for Linux a single file.
    const modules = v.split(',').map((spec) => {
      const space = spec.indexOf(' ');
      const file = space < 0 ? spec : spec.slice(0, space);
      return { image: file, cmdline: spec };
    });
    out.options.initrd = modules;
  },
  append: (v, out) => {
    out.options.append = v;
  },
  smp: (v, out) => {
    // Resolved here too, so that a topology QEMU would refuse is a usage error before anything starts.
    try {
      const smp = parseSmpArg(v);
      resolveSmp(smp);
      out.options.smp = smp;
    } catch (error) {
      if (error instanceof SmpError) throw new UsageError(error.message);
      throw error;
    }
  },
  serial: (v, out) => {
    if (v === 'stdio' || v === 'mon:stdio') out.options.serialToStdout = true;
    else if (v === 'none' || v === 'null') out.options.serialToStdout = false;
    else throw new UsageError(`-serial ${v}: only stdio, mon:stdio, none and null are supported`);
  },
  debugcon: (v, out) => {
    // QEMU's -debugcon takes a character device; the chardev-free spellings are these.
    if (v === 'stdio') out.debugconOutput = 'stdio';
    else if (v === 'none' || v === 'null') out.debugconOutput = null;
    else if (v.startsWith('file:') && v.length > 5) out.debugconOutput = { file: v.slice(5) };
    else throw new UsageError(`-debugcon ${v}: only stdio, file:PATH, none and null are supported`);
  },
  icount: (v, out) => {
    // QEMU: `-icount [shift=]N|auto[,align=on|off,sleep=on|off,rr=…]`; shift only (auto: sleep=on).
    const { first, props } = parseKeyValues(v);
    if (first.includes('=')) {
      const [k, val] = first.split('=');
      props.set(k, val);
    } else if (first !== '') {
      props.set('shift', first);
    }
    rejectUnknownProps(props, ['shift'], '-icount');
    const shift = props.get('shift');
    if (shift === 'auto') {
      // QEMU's adaptive clock (core's icount.ts): the TSC counts virtual ns, so the shift may move.
      out.options.icount = { shift: 'auto' };
      return;
    }
    if (shift === undefined || !/^\d+$/.test(shift) || Number(shift) > 10) {
      throw new UsageError(`-icount ${v}: shift must be an integer from 0 to 10`);
    }
    out.options.icount = { shift: Number(shift) };
  },
  cpu: (v, out) => {
    try {
      out.options.cpuFeatures = parseCpuArg(v);
    } catch (error) {
      if (error instanceof CpuFeatureError) throw new UsageError(error.message);
      throw error;
    }
  },
  seed: (v, out) => {
    // QEMU: `-seed NUMBER`, a deterministic generator for the guest's random bits (RDRAND here).
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v)))
      throw new UsageError(`-seed ${v}: the seed must be an integer from 0 to 2^53 - 1`);
    out.options.seed = Number(v);
  },
  accel,
  machine,
  M: machine,
  device,
  drive,
  netdev: (v, out) => {
    const { first, props } = parseKeyValues(v);
    netFlag(() => netdevArg(first, props, out, v));
  },
  nic: (v, out) => {
    const { first, props } = parseKeyValues(v);
    netFlag(() => nicArg(first, props, out, v));
  },
  chardev: (v, out) => {
    const { first, props } = parseKeyValues(v);
    netFlag(() => chardevArg(first, props, out));
  },
  d: (v, out) => {
    const items = v.split(',').filter(Boolean);
    if (items.includes('help')) {
      out.logHelp = true;
      return;
    }
    for (const item of items) {
      if (!(item in LOG_ITEMS)) throw new UsageError(`-d ${item}: unknown log item (try -d help)`);
    }
    out.options.log = [...new Set([...(out.options.log ?? []), ...items])];
  },
  D: (v, out) => {
    out.options.logFile = v;
  },
  display: (v) => {
    if (v !== 'none') throw new UsageError(`-display ${v}: qemu-lite has no display (only -display none)`);
  },
  monitor: (v, out) => {
    if (v === 'stdio') out.monitorStdio = true;
    else if (v !== 'none' && v !== 'null')
      throw new UsageError(`-monitor ${v}: only stdio and none are supported`);
  },
  gdb: (v, out) => {
    try {
      parseGdbDevice(v);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    out.options.gdb = v;
  },
};

const noArg: Record<string, (out: ParsedArgs) => void> = {
  nographic: (out) => {
    out.options.serialToStdout = true;
  },
  'no-reboot': (out) => {
    out.options.noReboot = true;
  },
  // QEMU's shorthand for -gdb tcp::1234.
  s: (out) => {
    out.options.gdb = 'tcp::1234';
  },
  S: (out) => {
    out.options.startStopped = true;
  },
  'enable-kvm': (out) => {
    out.options.accel = 'kvm';
  },
  h: (out) => {
    out.help = true;
  },
  help: (out) => {
    out.help = true;
  },
  version: (out) => {
    out.version = true;
  },
};

/** Parses argv (without node and the script). Throws `UsageError` for anything it cannot take. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const out: ParsedArgs = {
    options: { serialToStdout: true, noReboot: false, debugExit: false },
    help: false,
    version: false,
    logHelp: false,
    deviceHelp: false,
    demo: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('-') || arg === '-' || arg === '--') {
      throw new UsageError(`${arg}: unexpected argument (a kernel is given with -kernel FILE)`);
    }
    const name = arg.replace(/^--?/, '');
    const takes = withArg[name];
    if (takes) {
      if (i + 1 >= argv.length) throw new UsageError(`${arg}: requires an argument`);
      takes(argv[++i], out);
      continue;
    }
    const flag = noArg[name];
    if (flag) {
      flag(out);
      continue;
    }
    throw new UsageError(`${arg}: invalid option`);
  }
  if (out.debugconDevice && !out.debugconOutput) {
    // QEMU: "Can't create debugcon device, empty char device".
    throw new UsageError('-device isa-debugcon needs an output: -debugcon stdio|file:PATH');
  }
  if (out.debugconOutput) {
    out.options.debugcon = { output: out.debugconOutput, ...(out.debugconDevice ?? {}) };
  }
  resolveDrives(out);
  netFlag(() => {
    const { consoleStdin, ...net } = resolveNet(out.net);
    Object.assign(out.options, net);
    out.consoleStdin = consoleStdin;
  });
  // QEMU: "cannot use stdio by multiple character devices".
  if (out.consoleStdin && out.monitorStdio)
    throw new UsageError(
      '-chardev stdio: stdio is already the monitor (-monitor stdio); give the console or the monitor stdio, not both',
    );
  if (out.options.kernel !== undefined && out.options.flat !== undefined) {
    throw new UsageError('-kernel and -device loader both give a guest: choose one');
  }
  // No guest given: qemu-lite runs the demo it ships, whatever other flags say (-accel kvm,
  // -d int, …). The demo ends by writing to isa-debug-exit at 0xf4 (iosize 4); without that
  // device its final write is an unclaimed port and the guest halts for ever, so it is always
  // added, and a user's -device isa-debug-exit elsewhere would be that same hang: refuse it.
  out.demo = out.options.kernel === undefined && out.options.flat === undefined;
  if (out.demo) {
    const demoExit = { iobase: 0xf4, iosize: 4 };
    // debugExit starts false: an object here is the user's -device isa-debug-exit.
    const asked = out.options.debugExit;
    if (asked && (asked.iobase !== demoExit.iobase || asked.iosize !== demoExit.iosize)) {
      throw new UsageError(
        '-device isa-debug-exit: the bundled demo (no -kernel) reports through iobase=0xf4,iosize=4',
      );
    }
    out.options.debugExit = demoExit;
    out.options.log = [...new Set(['exits', ...(out.options.log ?? [])])];
  }
  return out;
}

export const USAGE = `usage: qemu-lite [options]
With no -kernel (nor -device loader), boots the demo guest it ships and prints exit statistics.

Machine:
  -m SIZE                 guest RAM (256M, 1G; a bare number is MiB); default 128M, max 3G
  -smp [cpus=]N[,sockets=S][,cores=C][,threads=T][,maxcpus=M]
                          vCPUs (1 to 16; the APs wait for INIT/SIPI), QEMU's topology rules;
                          N > 1 needs the in-kernel irqchip
  -accel kvm|host|vmx|svm engine: the host's /dev/kvm, or the software engine's VMX/SVM backend
  -accel vmx,jit=on|off   x86emu's block compiler for the guest CPU (hot code compiled, the
                          same results; the default) or its interpreter
  -accel vmx,jit=wasm|js  the compiler with that code generator: wasm (the default where
                          WebAssembly exists) puts guest RAM in one WebAssembly.Memory that
                          compiled code reaches inline (v86's model); js compiles to JavaScript
  -accel svm,npt=on|off   AMD nested paging: the guest pages on its own tables, the MMU keeps
                          a guest-physical map (no shadow pages, no #PF/CR3 exits); default on,
                          off runs the shadow MMU
  -accel vmx,ept=on|off   Intel EPT (with VPID): the guest pages on its own tables, the MMU
                          keeps a guest-physical map in EPT format (no shadow pages, no
                          #PF/CR3/INVLPG exits); default on, off runs the shadow MMU
  -enable-kvm             same as -accel kvm
  -icount [shift=]N|auto  virtual time: 2^N ns per guest instruction for the TSC, PIT and PM
                          timer, halts skip ahead; two runs are identical (vmx/svm only);
                          auto moves N to keep virtual time near real time
  -cpu host|max[,+FEAT][,-FEAT]…
                          the engine's CPU (its KVM_GET_SUPPORTED_CPUID), with features taken
                          out of the guest's CPUID (-rdrand, -serialize, -sse4.2, -pdpe1gb…)
  -seed N                 RDRAND and RDSEED give a reproducible sequence from seed N instead
                          of the host's random bits (vmx/svm only; with -icount, runs of a
                          guest that reads them, such as Linux, are identical too)
  -machine kernel-irqchip=on|off
                          on (default): the engine's in-kernel PIC, IOAPIC and local APIC (and
                          PIT where it has one), as QEMU with KVM; off: userspace i8259/i8254,
                          interrupts injected by qemu-lite, and no local APIC in CPUID
  -no-reboot              a guest reset ends qemu-lite with status 0 instead of rebooting

Boot:
  -kernel FILE            a multiboot v1 kernel (ELF or a.out kludge) or a Linux bzImage
  -initrd FILE            Linux initrd; multiboot modules as "FILE args,FILE2 args"
  -append CMDLINE         kernel command line
  -device loader,file=FILE,addr=ADDR[,cpu-num=0]
                          a raw binary at ADDR, entered there in 32-bit protected mode

Devices:
  -device isa-debug-exit[,iobase=0x501][,iosize=1]
                          a guest write of v ends qemu-lite with status (v << 1) | 1
  -debugcon stdio|file:PATH|none
                          QEMU's isa-debugcon (Bochs port 0xe9): bytes written go there
  -device isa-debugcon[,iobase=0xe9][,readback=0xe9]
                          its port and what reads of it return (needs -debugcon)
  -drive file=IMG,format=raw,if=virtio|none[,id=ID][,readonly=on][,serial=S]
                          a raw disk image as a virtio-blk PCI device (if=virtio), or for
                          -device virtio-blk-pci,drive=ID[,serial=S][,logical_block_size=4096]
                          (if=none)
  -netdev user,id=ID[,hostfwd=tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]…
                          QEMU's user network (gateway 10.0.2.2: DHCP, ping, TCP/UDP NAT to the
                          host, DNS at 10.0.2.3; hostfwd= forwards a host port into the guest)
  -netdev socket,id=ID,listen=[HOST]:PORT|connect=HOST:PORT|mcast=ADDR:PORT[,localaddr=A]
                          QEMU's socket network: to another qemu-lite (or QEMU) over TCP or
                          UDP multicast
  -netdev tap,id=ID,ifname=NAME[,script=no,downscript=no]
                          the host's tap interface NAME (no scripts run: set it up beforehand)
  -device virtio-net-pci,netdev=ID[,mac=52:54:00:12:34:56]
                          a virtio-net PCI NIC on that netdev
  -nic user[,model=virtio-net-pci][,mac=M]   the two at once; -nic none: no NIC
  -device virtio-rng-pci  a virtio entropy device fed from the host's random numbers
  -device virtio-serial-pci -device virtconsole[,chardev=ID]
                          a virtio console (Linux's /dev/hvc0), output with the serial port's;
                          with -chardev stdio,id=ID the terminal's input goes to it
  -device pc-testdev      QEMU's test device: scratch ports 0xe0-0xeb, IRQ lines at
                          0x2000-0x2017, 64 KiB of I/O memory at 0xff000000
  -serial stdio|mon:stdio|none   the 16550 UART on 0x3f8 (IRQ 4); stdio is the default
  -nographic              serial on stdio (there is no display either way)

Debugging:
  -s                      the GDB stub on tcp::1234 (gdb: target remote :1234)
  -gdb tcp:[HOST]:PORT|unix:PATH
                          the GDB stub there (loopback when HOST is empty)
  -S                      start with the vCPU stopped (gdb's continue, or the monitor's cont)
  -monitor stdio|none     QEMU's monitor (HMP) on the terminal; also Ctrl-A c on the console

Logging:
  -d ITEM[,ITEM]          exits, unimp, int, cpu_reset, trace (-d help lists them)
  -D FILE                 write the -d output to FILE instead of stderr

Console keys: Ctrl-A x quits, Ctrl-A c switches to the monitor, Ctrl-A h helps, Ctrl-A Ctrl-A sends Ctrl-A.
Exit status: (v << 1) | 1 after a debug-exit write of v; 0 after a shutdown, a reset with
-no-reboot or Ctrl-A x; 2 when the engine fails; 1 when qemu-lite cannot start.`;
