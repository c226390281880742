/**
 * `runGuest`'s options, checked before anything starts: each one against its type and range,
 * so a caller's mistake is a `TypeError` (wrong kind of value, unknown or conflicting option)
 * or a `RangeError` (right kind, value out of range) that names the option, never a machine that
 * starts with a default the caller did not ask for, a timer that fires at once, or a failure
 * deep in the machine's thread.
 */
import { LOG_ITEMS } from './config.js';
import { parseMac } from './devices/virtio/net.js';
import { ACCEL_NAMES, engineByName } from './engines.js';
import { CPU_FEATURES } from './machine/cpu-features.js';
import { MAX_RAM_SIZE, MIN_RAM_SIZE } from './machine/memory-map.js';
import { resolveSmp, SMP_UNIPROCESSOR, SmpError, type SmpOptions, type SmpTopology } from './machine/smp.js';
import type { RunGuestOptions } from './run-guest.js';
import { parseSize } from './size.js';

/** Every option `runGuest` takes; anything else is a typo the caller should hear about. */
const KNOWN = new Set<string>([
  'kernel',
  'flat',
  'accel',
  'memory',
  'append',
  'initrd',
  'timeoutMs',
  'serialToStdout',
  'captureSerial',
  'onSerial',
  'debugExit',
  'kernelIrqchip',
  'hpet',
  'jit',
  'jitBackend',
  'npt',
  'ept',
  'noReboot',
  'log',
  'logFile',
  'onStart',
  'debugcon',
  'pcTestdev',
  'gdb',
  'startStopped',
  'onGdbListening',
  'onMonitorOutput',
  'icount',
  'seed',
  'cpuFeatures',
  'drives',
  'nics',
  'virtioRng',
  'virtioConsole',
  'smp',
]);

/** `cpuFeatures`: feature names `CPU_FEATURES` knows, each true or false. */
function checkCpuFeatures(features: unknown): void {
  if (!isPlainObject(features))
    throw new TypeError(`runGuest: options.cpuFeatures must be { name: boolean, … }, not ${shown(features)}`);
  for (const [name, on] of Object.entries(features)) {
    if (CPU_FEATURES[name] === undefined)
      throw new RangeError(`runGuest: options.cpuFeatures: no feature '${name}' (machine/cpu-features.ts)`);
    if (typeof on !== 'boolean')
      throw new TypeError(`runGuest: options.cpuFeatures.${name} must be true or false, not ${shown(on)}`);
  }
}

/** `smp`: a count, or QEMU's topology, every member a positive integer and the whole consistent. */
function checkSmp(smp: unknown): void {
  if (typeof smp !== 'number' && !isPlainObject(smp))
    throw new TypeError(
      `runGuest: options.smp must be a number or { cpus, sockets, cores, threads, maxcpus }, not ${shown(smp)}`,
    );
  if (isPlainObject(smp)) {
    for (const key of Object.keys(smp)) {
      if (!['cpus', 'sockets', 'cores', 'threads', 'maxcpus'].includes(key))
        throw new TypeError(`runGuest: options.smp.${key} is not a topology parameter`);
    }
  }
  try {
    resolveSmpOption(smp as number | SmpOptions);
  } catch (error) {
    if (error instanceof SmpError) throw new RangeError(`runGuest: options.smp: ${error.message}`);
    throw error;
  }
}

/** `runGuest`'s `smp` resolved (a bare number is `cpus`); SmpError when QEMU would refuse it. */
export function resolveSmpOption(smp: number | SmpOptions | undefined): SmpTopology {
  if (smp === undefined) return SMP_UNIPROCESSOR;
  return resolveSmp(typeof smp === 'number' ? { cpus: smp } : smp);
}

/** setTimeout's largest delay (2^31 - 1 ms); a larger one fires at once, with only a warning. */
const MAX_TIMEOUT_MS = 0x7fffffff;

/** A value as an error message shows it: its kind and, for small ones, itself. */
function shown(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${typeof value} ${String(value)}`;
    case 'function':
      return 'a function';
    default:
      return `${typeof value === 'object' ? 'an object' : typeof value}`;
  }
}

function typeError(name: string, expected: string, value: unknown): never {
  throw new TypeError(`runGuest: options.${name} must be ${expected}, not ${shown(value)}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

function checkImage(name: string, value: unknown): void {
  if (value instanceof Uint8Array) return;
  if (typeof value === 'string' && value.length > 0 && !value.includes('\0')) return;
  typeError(name, 'a path (a non-empty string) or the image bytes (a Uint8Array)', value);
}

function checkDrives(drives: unknown): void {
  const what = 'an array of { file, readonly?, serial?, logicalBlockSize?: 512 | 4096 }';
  if (!Array.isArray(drives)) typeError('drives', what, drives);
  for (const drive of drives as unknown[]) {
    if (!isPlainObject(drive) || typeof drive.file !== 'string' || drive.file.length === 0)
      typeError('drives', what, drive);
    for (const key of Object.keys(drive))
      if (!['file', 'readonly', 'serial', 'logicalBlockSize'].includes(key)) typeError('drives', what, drive);
    if (drive.readonly !== undefined && typeof drive.readonly !== 'boolean') typeError('drives', what, drive);
    if (drive.serial !== undefined && typeof drive.serial !== 'string') typeError('drives', what, drive);
    if (
      drive.logicalBlockSize !== undefined &&
      drive.logicalBlockSize !== 512 &&
      drive.logicalBlockSize !== 4096
    )
      typeError('drives', what, drive);
  }
}

const isPort = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535;

/** `hostfwd`: TCP rules with ports and IPv4 addresses ('' for the host's: every address). */
function validHostFwds(rules: unknown): boolean {
  const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
  return (
    Array.isArray(rules) &&
    rules.every(
      (r: unknown) =>
        isPlainObject(r) &&
        Object.keys(r).every((k) =>
          ['protocol', 'hostAddr', 'hostPort', 'guestAddr', 'guestPort'].includes(k),
        ) &&
        r.protocol === 'tcp' &&
        typeof r.hostAddr === 'string' &&
        (r.hostAddr === '' || ipv4.test(r.hostAddr)) &&
        isPort(r.hostPort) &&
        (r.guestAddr === undefined || (typeof r.guestAddr === 'string' && ipv4.test(r.guestAddr))) &&
        isPort(r.guestPort) &&
        (r.guestPort as number) > 0,
    )
  );
}

function checkNics(nics: unknown): void {
  const what =
    "an array of { netdev: 'user' | 'socket' | 'tap', mac?: '52:54:00:12:34:56', socket?: { mode: 'listen' | 'connect' | 'mcast', host, port }, tap?: { ifname }, hostfwd?: [{ protocol: 'tcp', hostAddr, hostPort, guestAddr?, guestPort }] }";
  if (!Array.isArray(nics)) typeError('nics', what, nics);
  for (const nic of nics as unknown[]) {
    if (!isPlainObject(nic) || (nic.netdev !== 'user' && nic.netdev !== 'socket' && nic.netdev !== 'tap'))
      typeError('nics', what, nic);
    for (const key of Object.keys(nic))
      if (!['netdev', 'mac', 'socket', 'tap', 'hostfwd'].includes(key)) typeError('nics', what, nic);
    // A tap's name: 1 to 15 bytes (IFNAMSIZ), as TUNSETIFF takes it.
    const tap = nic.tap;
    if (
      nic.netdev === 'tap'
        ? !isPlainObject(tap) ||
          Object.keys(tap).some((k) => k !== 'ifname') ||
          typeof tap.ifname !== 'string' ||
          !/^[^\s/:]{1,15}$/.test(tap.ifname)
        : tap !== undefined
    )
      typeError('nics', what, nic);
    if (nic.hostfwd !== undefined && (nic.netdev !== 'user' || !validHostFwds(nic.hostfwd)))
      typeError('nics', what, nic);
    if (nic.mac !== undefined && (typeof nic.mac !== 'string' || parseMac(nic.mac) === undefined))
      typeError('nics', what, nic);
    const s = nic.socket;
    if (nic.netdev === 'socket') {
      if (
        !isPlainObject(s) ||
        !['listen', 'connect', 'mcast'].includes(s.mode as string) ||
        typeof s.host !== 'string' ||
        !Number.isInteger(s.port) ||
        (s.port as number) < 0 ||
        (s.port as number) > 65535
      )
        typeError('nics', what, nic);
    } else if (s !== undefined) typeError('nics', what, nic);
  }
}

function checkBoolean(options: Record<string, unknown>, name: string): void {
  const value = options[name];
  if (value !== undefined && typeof value !== 'boolean') typeError(name, 'a boolean', value);
}

function checkFunction(options: Record<string, unknown>, name: string): void {
  const value = options[name];
  if (value !== undefined && typeof value !== 'function') typeError(name, 'a function', value);
}

function checkString(options: Record<string, unknown>, name: string): void {
  const value = options[name];
  if (value !== undefined && typeof value !== 'string') typeError(name, 'a string', value);
}

/** A guest-physical address a 32-bit entry can reach: an integer in [0, 2^32). */
function checkGpa(name: string, value: unknown): void {
  if (typeof value !== 'number') typeError(name, 'a guest-physical address (a number)', value);
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`runGuest: options.${name} must be an integer from 0 to 0xffffffff, not ${value}`);
  }
}

function checkMemory(value: unknown): void {
  let bytes: number;
  if (typeof value === 'number') {
    bytes = value;
  } else if (typeof value === 'string') {
    try {
      bytes = parseSize(value);
    } catch (error) {
      throw new RangeError(`runGuest: options.memory: ${(error as Error).message}`);
    }
  } else {
    typeError('memory', "a size in bytes (a number) or QEMU's spelling ('256M', '1G')", value);
  }
  // The machine's own limits (machine/memory-map.ts), checked here so the message names the option.
  if (!Number.isInteger(bytes) || bytes % 4096 !== 0 || bytes < MIN_RAM_SIZE || bytes > MAX_RAM_SIZE) {
    throw new RangeError(
      `runGuest: options.memory must be a multiple of 4 KiB from ${MIN_RAM_SIZE / 2 ** 20} MiB to ${MAX_RAM_SIZE / 2 ** 30} GiB, not ${shown(value)}`,
    );
  }
}

function checkFlat(value: unknown): void {
  if (!isPlainObject(value)) typeError('flat', '{ image, loadAddr, entry?, mode? }', value);
  for (const key of Object.keys(value)) {
    if (!['image', 'loadAddr', 'entry', 'mode'].includes(key))
      throw new TypeError(`runGuest: options.flat.${key} is not an option (image, loadAddr, entry, mode)`);
  }
  checkImage('flat.image', value.image);
  checkGpa('flat.loadAddr', value.loadAddr);
  if (value.entry !== undefined) checkGpa('flat.entry', value.entry);
  if (value.mode !== undefined && value.mode !== 'protected32' && value.mode !== 'real')
    typeError('flat.mode', "'protected32' or 'real'", value.mode);
}

function checkInitrd(value: unknown): void {
  if (!Array.isArray(value)) {
    checkImage('initrd', value);
    return;
  }
  if (value.length === 0) throw new RangeError('runGuest: options.initrd is an empty list of modules');
  value.forEach((module: unknown, i) => {
    if (!isPlainObject(module)) typeError(`initrd[${i}]`, '{ image, cmdline? }', module);
    checkImage(`initrd[${i}].image`, module.image);
    if (module.cmdline !== undefined && typeof module.cmdline !== 'string')
      typeError(`initrd[${i}].cmdline`, 'a string', module.cmdline);
  });
}

function checkDebugExit(value: unknown): void {
  if (value === false) return;
  if (!isPlainObject(value)) typeError('debugExit', '{ iobase, iosize } or false', value);
  const { iobase, iosize } = value;
  if (typeof iobase !== 'number') typeError('debugExit.iobase', 'an I/O port (a number)', iobase);
  if (typeof iosize !== 'number') typeError('debugExit.iosize', '1, 2 or 4', iosize);
  if (iosize !== 1 && iosize !== 2 && iosize !== 4)
    throw new RangeError(`runGuest: options.debugExit.iosize must be 1, 2 or 4, not ${iosize}`);
  if (!Number.isInteger(iobase) || iobase < 0 || iobase + iosize > 0x10000) {
    throw new RangeError(
      `runGuest: options.debugExit.iobase ${iobase} with iosize ${iosize} is outside the I/O space (0 to 0xffff)`,
    );
  }
}

function checkDebugcon(value: unknown): void {
  if (!isPlainObject(value))
    typeError('debugcon', "{ output: 'stdio' | { file }, iobase?, readback? }", value);
  for (const key of Object.keys(value)) {
    if (!['output', 'iobase', 'readback'].includes(key))
      throw new TypeError(`runGuest: options.debugcon.${key} is not an option (output, iobase, readback)`);
  }
  const { output, iobase, readback } = value;
  if (output !== 'stdio') {
    if (!isPlainObject(output) || typeof output.file !== 'string' || output.file.length === 0)
      typeError('debugcon.output', "'stdio' or { file: PATH }", output);
  }
  if (
    iobase !== undefined &&
    (typeof iobase !== 'number' || !Number.isInteger(iobase) || iobase < 0 || iobase > 0xffff)
  )
    throw new RangeError(
      `runGuest: options.debugcon.iobase must be an I/O port from 0 to 0xffff, not ${shown(iobase)}`,
    );
  if (
    readback !== undefined &&
    (typeof readback !== 'number' || !Number.isInteger(readback) || readback < 0 || readback > 0xffffffff)
  )
    throw new RangeError(
      `runGuest: options.debugcon.readback must be a 32-bit value, not ${shown(readback)}`,
    );
}

function checkTimeout(value: unknown): void {
  if (typeof value !== 'number') typeError('timeoutMs', 'a number of milliseconds', value);
  if (!Number.isFinite(value) || value < 0 || value > MAX_TIMEOUT_MS) {
    throw new RangeError(
      `runGuest: options.timeoutMs must be a finite number of milliseconds from 0 to ${MAX_TIMEOUT_MS}, not ${value}`,
    );
  }
}

function checkLog(value: unknown): void {
  if (!Array.isArray(value))
    typeError('log', `a list of log items (${Object.keys(LOG_ITEMS).join(', ')})`, value);
  for (const item of value) {
    if (typeof item !== 'string' || !(item in LOG_ITEMS)) {
      throw new RangeError(
        `runGuest: options.log: ${shown(item)} is not a log item (${Object.keys(LOG_ITEMS).join(', ')})`,
      );
    }
  }
}

/**
 * Checks `runGuest`'s argument. Throws `TypeError` for a non-object, an unknown option, a value
 * of the wrong type or two options that contradict each other, `RangeError` for a value out of
 * range; each message names the option.
 */
export function validateRunGuestOptions(options: unknown): asserts options is RunGuestOptions {
  if (!isPlainObject(options)) {
    throw new TypeError(`runGuest: options must be an object, not ${shown(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new TypeError(`runGuest: '${key}' is not an option`);
  }
  const o = options;
  if (o.kernel !== undefined) checkImage('kernel', o.kernel);
  if (o.flat !== undefined) checkFlat(o.flat);
  if (o.kernel !== undefined && o.flat !== undefined) {
    throw new TypeError('runGuest: options.kernel and options.flat both give a guest: choose one');
  }
  checkString(o, 'accel');
  if (typeof o.accel === 'string' && engineByName(o.accel) === undefined) {
    throw new RangeError(
      `runGuest: options.accel must be one of ${ACCEL_NAMES.join(', ')}, not ${shown(o.accel)}`,
    );
  }
  if (o.memory !== undefined) checkMemory(o.memory);
  checkString(o, 'append');
  if (o.initrd !== undefined) checkInitrd(o.initrd);
  if (o.timeoutMs !== undefined) checkTimeout(o.timeoutMs);
  for (const name of [
    'serialToStdout',
    'captureSerial',
    'kernelIrqchip',
    'hpet',
    'noReboot',
    'pcTestdev',
    'jit',
    'npt',
    'ept',
  ])
    checkBoolean(o, name);
  if (o.jitBackend !== undefined && o.jitBackend !== 'js' && o.jitBackend !== 'wasm')
    typeError('jitBackend', "'js' or 'wasm'", o.jitBackend);
  if (o.debugcon !== undefined) checkDebugcon(o.debugcon);
  if (o.drives !== undefined) checkDrives(o.drives);
  if (o.nics !== undefined) checkNics(o.nics);
  if (
    o.virtioRng !== undefined &&
    !(Number.isInteger(o.virtioRng) && (o.virtioRng as number) >= 0 && (o.virtioRng as number) <= 8)
  )
    typeError('virtioRng', 'an integer from 0 to 8', o.virtioRng);
  checkBoolean(o, 'virtioConsole');
  if (o.icount !== undefined) {
    const shift = (o.icount as { shift?: unknown } | null)?.shift;
    if (
      shift !== 'auto' &&
      (typeof shift !== 'number' || !Number.isInteger(shift) || shift < 0 || shift > 10)
    ) {
      throw new RangeError(
        `runGuest: options.icount.shift must be an integer from 0 to 10 or 'auto', not ${shown(shift)}`,
      );
    }
  }
  if (o.seed !== undefined && !(Number.isSafeInteger(o.seed) && (o.seed as number) >= 0))
    typeError('seed', 'an integer from 0 to 2^53 - 1', o.seed);
  if (o.cpuFeatures !== undefined) checkCpuFeatures(o.cpuFeatures);
  if (o.smp !== undefined) checkSmp(o.smp);
  checkFunction(o, 'onSerial');
  checkFunction(o, 'onStart');
  checkFunction(o, 'onGdbListening');
  checkFunction(o, 'onMonitorOutput');
  checkBoolean(o, 'startStopped');
  if (o.gdb !== undefined && typeof o.gdb !== 'string' && !isPlainObject(o.gdb))
    typeError('gdb', "'tcp::PORT', 'tcp:HOST:PORT', 'unix:PATH' or { kind, … }", o.gdb);
  if (o.debugExit !== undefined) checkDebugExit(o.debugExit);
  if (o.log !== undefined) checkLog(o.log);
  checkString(o, 'logFile');
}
