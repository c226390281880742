/**
 * Runs a guest on an engine and returns its report. The VMM is qemu-lite (its `runGuest`
 * library API); `vmm: 'qemu'` runs Debian's qemu-system-x86_64 instead, as a development aid
 * only (the tests use qemu-lite).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type GuestDevice, type GuestInfo, guestByName, type Outcome } from './manifest.js';
import { loadQemuLite } from './qemu-lite.js';
import { type FailedCheck, type ParsedReport, parseReport, type SkippedCheck } from './report.js';

/** How the run ended, whatever the guest printed. */
export type Ending =
  | 'debug-exit' // the guest wrote to port 0xf4
  | 'shutdown' // triple fault (KVM_EXIT_SHUTDOWN), reset
  | 'poweroff'
  | 'failure' // the engine could not go on (e.g. KVM_EXIT_INTERNAL_ERROR)
  | 'timeout'
  | 'other';

export interface GuestReport {
  readonly guest: string;
  readonly accel: string;
  readonly vmm: 'qemu-lite' | 'qemu';
  /** The VMM's exit status: (v << 1) | 1 for a debug exit of v. */
  readonly status: number;
  readonly ending: Ending;
  /** What the engine said when `ending` is 'failure'. */
  readonly detail?: string;
  readonly passed: string[];
  readonly failed: FailedCheck[];
  readonly skipped: SkippedCheck[];
  readonly summary?: ParsedReport['summary'];
  /** Whether the run ended as the manifest expects (all checks passed, or the expected shutdown). */
  readonly ok: boolean;
  readonly expected: Outcome;
  readonly serial: string;
  /** qemu-lite's exit statistics, when run there. */
  readonly stats?: unknown;
  readonly wallMs: number;
}

export interface RunOptions {
  /** 'kvm' (the host engine), 'vmx', 'svm' (the software engine's backends). Default 'kvm'. */
  accel?: string;
  /** Default: the guest's own time limit (30 s), which no guest comes near on a working engine. */
  timeoutMs?: number;
  /** 'qemu-lite' (default) or Debian's 'qemu' (development aid). */
  vmm?: 'qemu-lite' | 'qemu';
  /** Kernel command line. */
  append?: string;
  /** qemu-lite's `-accel vmx|svm,jit=`: x86emu's block compiler; default x86emu's default. */
  jit?: boolean;
  /** qemu-lite's `-accel vmx|svm,jit=wasm|js`: the compiler's code generator; default x86emu's. */
  jitBackend?: 'js' | 'wasm';
  /** qemu-lite's `-accel svm,npt=`: AMD nested paging on the svm engine; default qemu-lite's. */
  npt?: boolean;
  /** qemu-lite's `-accel vmx,ept=`: Intel EPT on the vmx engine; default qemu-lite's. */
  ept?: boolean;
}

export const DEFAULT_TIMEOUT_MS = 30_000;

/** Whether a finished run is what the manifest expects. */
export function judge(expect: Outcome, ending: Ending, status: number, report: ParsedReport): boolean {
  if (expect === 'shutdown') return ending === 'shutdown' && report.failed.length === 0;
  if (expect === 'poweroff') return ending === 'poweroff' && report.failed.length === 0;
  return ending === 'debug-exit' && status === 1 && report.failed.length === 0;
}

function resolve(guest: string | GuestInfo): GuestInfo {
  if (typeof guest !== 'string') return guest;
  const info = guestByName(guest);
  if (!info) throw new Error(`no guest named ${guest} (see GUESTS in @kvm/guests)`);
  return info;
}

export async function runGuestReport(
  guest: string | GuestInfo,
  options: RunOptions = {},
): Promise<GuestReport> {
  const info = resolve(guest);
  const image = info.image;
  if (!existsSync(image))
    throw new Error(`${image} is missing: build it (pnpm turbo run build --filter=@kvm/guests)`);
  const accel = options.accel ?? 'kvm';
  const vmm = options.vmm ?? 'qemu-lite';
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const t0 = performance.now();
  const run =
    vmm === 'qemu'
      ? await runOnQemu(image, info.memory, accel, timeoutMs, options.append, info.devices)
      : await runOnQemuLite(image, info.memory, accel, timeoutMs, options, info.devices);
  const wallMs = performance.now() - t0;
  const report = parseReport(run.serial);
  return {
    ...run,
    passed: report.passed,
    failed: report.failed,
    skipped: report.skipped,
    summary: report.summary,
    guest: info.name,
    accel,
    vmm,
    ok: judge(info.expect, run.ending, run.status, report),
    expected: info.expect,
    wallMs,
  };
}

interface RawRun {
  status: number;
  ending: Ending;
  detail?: string;
  serial: string;
  stats?: unknown;
}

async function runOnQemuLite(
  image: string,
  memory: string,
  accel: string,
  timeoutMs: number,
  { append, jit, jitBackend, npt, ept }: RunOptions,
  devices: readonly GuestDevice[] = [],
): Promise<RawRun> {
  const { runGuest } = await loadQemuLite();
  const pcTestdev = devices.includes('pc-testdev');
  const r = await runGuest({
    kernel: image,
    accel,
    memory,
    timeoutMs,
    append,
    noReboot: true,
    jit,
    ...(jitBackend === undefined ? {} : { jitBackend }),
    ...(npt === undefined ? {} : { npt }),
    ...(ept === undefined ? {} : { ept }),
    pcTestdev,
  });
  const stop = r.exitReason;
  let ending: Ending = 'other';
  let detail: string | undefined;
  switch (stop.kind) {
    case 'debug-exit':
      ending = 'debug-exit';
      break;
    case 'reset':
      ending = 'shutdown';
      detail = stop.cause;
      break;
    case 'poweroff':
      ending = 'poweroff';
      break;
    case 'failure':
      ending = 'failure';
      detail = stop.detail;
      break;
    case 'quit':
      ending = stop.cause === 'timeout' ? 'timeout' : 'other';
      break;
  }
  return { status: r.status, ending, detail, serial: r.serial, stats: r.stats };
}

/** Debian's QEMU: `-accel kvm` or `-accel tcg`; a development aid, not the tests' VMM. */
function runOnQemu(
  image: string,
  memory: string,
  accel: string,
  timeoutMs: number,
  append?: string,
  devices: readonly GuestDevice[] = [],
): Promise<RawRun> {
  const args = [
    ...devices.flatMap((d) => ['-device', d]),
    '-kernel',
    image,
    '-m',
    memory,
    '-nographic',
    '-no-reboot',
    '-device',
    'isa-debug-exit,iobase=0xf4,iosize=0x04',
    '-accel',
    accel === 'kvm' ? 'kvm' : 'tcg',
    '-cpu',
    accel === 'kvm' ? 'qemu64,+smep,+smap,+nx' : 'max',
  ];
  if (append) args.push('-append', append);
  return new Promise((resolvePromise) => {
    const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let timedOut = false;
    child.stdout.setEncoding('latin1');
    child.stdout.on('data', (d: string) => {
      out += d;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolvePromise({ status: 127, ending: 'failure', detail: String(e), serial: out });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      // SeaBIOS prints before the guest; keep the guest's part. QEMU exits 0 on a triple fault
      // with -no-reboot.
      const serial = out.replace(/^[\s\S]*?Booting from ROM\.\./, '').replace(/\r/g, '');
      const status = code ?? 128;
      const ending: Ending = timedOut
        ? 'timeout'
        : status & 1
          ? 'debug-exit'
          : status === 0
            ? 'shutdown'
            : 'failure';
      resolvePromise({ status, ending, serial });
    });
  });
}
