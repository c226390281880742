// Boots Debian's kernel on the bare machine (machine.mjs: x86emu's `Cpu` alone, qemu-lite's
// devices and bzImage loader) and reports how far it got and what stopped it: the early warning
// for the software engine, which runs guests on the same interpreter.
//
// The run loop is a VMM's vCPU loop with the hypervisor taken out: run the CPU for a slice that
// ends at the PIT's next IRQ 0 deadline, raise the edges that are due, and on HLT skip virtual
// time to the next deadline. Exceptions the kernel did not expect to take (#UD: an instruction
// x86emu lacks or the kernel's BUG/WARN; #GP, #NM, #MF, #XM, #DF) are noted with the RIP, the
// instruction's bytes and the kernel symbol, and then delivered as usual: the kernel's own
// handler says what it makes of them on the console.

import {
  CPUID_7_EDX_ARCH_CAPABILITIES,
  CPUID_7_EDX_SPEC_CTRL_ALL,
} from '../../../packages/core/dist/index.js';
import {
  CPUID1_EDX,
  defaultCpuid,
  Flag,
  PFERR,
  StopReason,
  WalkCtl,
  WalkResult,
  walkAddr,
} from '../../../packages/x86emu/dist/index.js';
import { applyEntryState, stateToSregs } from '../../guests/dist/index.js';
import { LinuxBareMachine, NS_PER_INSTRUCTION } from './machine.mjs';

/** Longest slice between looks at the clock (instructions). */
const MAX_SLICE = 1 << 20;

/**
 * CPUID.1:EDX bits an x86-64 kernel requires (REQUIRED_MASK0, arch/x86/include/asm/
 * required-features.h; verify_cpu.S refuses to boot without them): FPU, PSE, MSR, PAE, CX8, PGE,
 * CMOV, FXSR, SSE, SSE2.
 */
export const LINUX_REQUIRED_CPUID1_EDX = [
  [0, 'fpu'],
  [3, 'pse'],
  [5, 'msr'],
  [6, 'pae'],
  [8, 'cx8'],
  [13, 'pge'],
  [15, 'cmov'],
  [24, 'fxsr'],
  [25, 'sse'],
  [26, 'sse2'],
];

/** The required bits x86emu's own CPUID does not report (issue 11 adds x87/SSE). */
export function missingRequiredFeatures(edx = CPUID1_EDX) {
  return LINUX_REQUIRED_CPUID1_EDX.filter(([bit]) => ((edx >>> bit) & 1) === 0).map(([, name]) => name);
}

/**
 * x86emu's CPUID with IA32_ARCH_CAPABILITIES (7.0:EDX[29]) and the speculation controls
 * (EDX[26], [27], [31]) enumerated as the software engine enumerates them (machine.mjs answers
 * the MSRs), and Linux's required leaf-1 bits added when
 * `claim` (to see what breaks next).
 */
export function bareCpuid(claim) {
  const required = LINUX_REQUIRED_CPUID1_EDX.reduce((m, [bit]) => m | (1 << bit), 0);
  return {
    cpuid(leaf, subleaf, out) {
      defaultCpuid.cpuid(leaf, subleaf, out);
      if (claim && leaf >>> 0 === 1) out[3] = (out[3] | required) >>> 0;
      if (leaf >>> 0 === 7 && subleaf === 0)
        out[3] = (out[3] | CPUID_7_EDX_ARCH_CAPABILITIES | CPUID_7_EDX_SPEC_CTRL_ALL) >>> 0;
    },
  };
}

/** Exceptions worth a note (vector → name); #PF and #DB are routine for a kernel. */
const WATCHED = new Map([
  [0, '#DE'],
  [6, '#UD'],
  [7, '#NM'],
  [8, '#DF'],
  [13, '#GP'],
  [16, '#MF'],
  [19, '#XM'],
]);

const hex = (n) => `0x${n.toString(16)}`;

/** Adds `ticks` (a whole number below 2^53) to the TSC's two 32-bit halves. */
function advanceTsc(s, ticks) {
  const low = s.tsc[0] + (ticks % 0x100000000);
  s.tsc[0] = low >>> 0;
  s.tsc[1] = (s.tsc[1] + Math.floor(ticks / 0x100000000) + (low >= 0x100000000 ? 1 : 0)) >>> 0;
}

/** The CPU's RIP as a BigInt. */
function ripOf(s) {
  return (BigInt(s.rip[1]) << 32n) | BigInt(s.rip[0]);
}

/** Up to `n` bytes at linear `gva` (BigInt), through the guest's paging; '' where unmapped. */
export function readLinear(m, gva, n) {
  const s = m.cpu.state;
  const walk = new WalkResult();
  const bytes = [];
  const lma = (s.efer[0] & 0x400) !== 0;
  const paging = (s.cr[0] & 0x80000000) !== 0;
  for (let i = 0n; i < BigInt(n); i++) {
    const va = gva + i;
    let pa = Number(va & 0xffffffffn);
    if (paging && lma) {
      const low48 = Number(va & 0xffffffffffffn);
      if (!walkAddr(m.memory, 3, s.cr[3] & ~0xfff, low48, PFERR.FETCH, WalkCtl.PAGE1G | WalkCtl.PSE, walk))
        break;
      pa = walk.pa;
    } else if (paging) break;
    if (pa >= m.ram.length) break;
    bytes.push(m.ram[pa].toString(16).padStart(2, '0'));
  }
  return bytes.join(' ');
}

/**
 * One turn of the run loop on machine `m`: the PIT's due edges raised, the CPU run for a slice
 * that ends at its next IRQ 0 deadline (at most `cap` instructions, ≥ 1), and on HLT virtual time
 * skipped to that deadline. Returns the stop reason and, when the run is over, its `ending` and
 * `detail` (as `bootOnBareCpu` reports them). Deterministic: two machines in the same state take
 * the same slice (tools/linux/lockstep.mjs relies on it).
 */
export function bareSlice(m, cap) {
  const cpu = m.cpu;
  let now = m.nowNs();
  m.pit.poll(now);
  const untilIrq = Math.ceil((m.pit.nextDeadline() - now) / NS_PER_INSTRUCTION);
  const budget = Math.max(1, Math.min(MAX_SLICE, untilIrq, cap));
  const why = cpu.run(budget);
  if (why === StopReason.Budget || why === StopReason.Requested) return { why };
  if (why === StopReason.Hlt) {
    if (m.stopCause !== undefined) return { why };
    if (cpu.state.rflags[0] & Flag.IF && m.pic.hasInterrupt()) return { why };
    const deadline = m.pit.nextDeadline();
    if ((cpu.state.rflags[0] & Flag.IF) === 0 || !Number.isFinite(deadline)) {
      const off = cpu.state.rflags[0] & Flag.IF ? 'no timer running' : 'interrupts off';
      return { why, ending: 'halted', detail: `HLT with ${off}: nothing can wake the CPU` };
    }
    now = m.nowNs();
    if (deadline > now) {
      m.idleNs += deadline - now;
      // The TSC keeps counting while the CPU is halted (an invariant TSC, SDM Vol. 3 17.17.1):
      // without this, a kernel whose clocksource is the TSC sees no time pass when idle, and
      // every sleep (msleep, a wait with a timeout) lasts forever.
      advanceTsc(cpu.state, Math.ceil((deadline - now) / NS_PER_INSTRUCTION));
    }
    return { why };
  }
  if (why === StopReason.Shutdown) return { why, ending: 'triple fault' };
  return { why, ending: 'failure', detail: `x86emu stopped with reason ${why}` };
}

/**
 * Boots `image` with `initrd` and `cmdline` on a bare CPU. Options: ramSize, claimFeatures
 * (add Linux's required CPUID bits x86emu lacks), timeoutMs, maxInstructions, symbols (a
 * `loadSymbols` lookup), onSerial(text), onProgress(line) every `progressMs`, stopOn (a RegExp
 * that ends the run when a console line matches it, e.g. the power-off line), quietVirtualS (end the run after
 * this many virtual seconds without console output; default 120), milestones ([{ name, re }]:
 * the report's `milestones[name]` says when, in wall ms and instructions, a line of the console
 * first matched `re`; `onMilestone(name)` is called then), onLine(line) (each console line as it
 * ends, its newline included), onStart(cpu) (called once the kernel is
 * loaded, before the first instruction: tools/linux/bare/guest-prof.mjs attaches there),
 * sampler ({ interval(), sample(cpu) }: the run stops after `interval()` instructions, calls
 * `sample`, and so on: a profiler's RIP samples).
 * Resolves with a report; never
 * rejects for anything the guest does (a LoaderError is the image's fault and is thrown).
 */
export async function bootOnBareCpu(ql, image, opts) {
  const symbol = opts.symbols?.lookup ?? (() => '');
  const exceptions = new Map();
  let console = '';
  let m;
  let consoleAtNs = 0;
  let lineStart = 0;
  // stopOn matched a line: tested per line as it ends, as the milestones are. Tested on the whole
  // console before each slice it cost O(console) a slice (~5 µs at 23 KB, more under
  // `ignore_loglevel`), and a profiled boot's RIP sampler ends a slice every ~16,000 instructions.
  let stopLine = false;
  const milestones = {};
  let t0 = performance.now();
  const intercepts = {
    mask: 0,
    exceptionMask: [...WATCHED.keys()].reduce((mask, v) => mask | (1 << v), 0),
    exception(vector, errorCode, hasErrorCode) {
      const rip = ripOf(m.cpu.state);
      const key = `${vector}@${rip}`;
      const seen = exceptions.get(key);
      if (seen !== undefined) seen.count++;
      else {
        exceptions.set(key, {
          vector,
          name: WATCHED.get(vector),
          errorCode: hasErrorCode ? errorCode : undefined,
          rip,
          symbol: symbol(rip),
          bytes: readLinear(m, rip, 15),
          atInstruction: m.cpu.instructionsRetired + m.cpu.runCount,
          count: 1,
        });
      }
      return false;
    },
  };
  m = new LinuxBareMachine(ql, {
    memory: opts.memory,
    jit: opts.jit,
    ramSize: opts.ramSize ?? 256 << 20,
    cpuid: bareCpuid(opts.claimFeatures === true),
    intercepts,
    onSerial: (b) => {
      const text = String.fromCharCode(b);
      console += text;
      consoleAtNs = m.nowNs();
      opts.onSerial?.(text);
      // Milestones are looked for in each line as it ends: the console grows to megabytes, and
      // a pattern tested on all of it at every line end cost seconds of a profiled boot.
      if (b === 0x0a && (opts.milestones !== undefined || opts.onLine !== undefined || opts.stopOn)) {
        const line = console.slice(lineStart);
        lineStart = console.length;
        if (opts.stopOn?.test(line)) stopLine = true;
        opts.onLine?.(line);
        for (const { name, re } of opts.milestones ?? []) {
          if (milestones[name] === undefined && re.test(line)) {
            milestones[name] = {
              ms: performance.now() - t0,
              instructions: m.cpu.instructionsRetired + m.cpu.runCount,
            };
            opts.onMilestone?.(name);
          }
        }
      }
    },
  });
  const load = opts.load ?? ql.kernelFormatOf(image).load;
  const loaded = load(image, m.loaderMachine(ql), { cmdline: opts.cmdline, initrd: opts.initrd });
  const cpu = m.cpu;
  applyEntryState(cpu.state, loaded.entry.sregs(stateToSregs(cpu.state)), loaded.entry.regs);
  cpu.stateChanged();
  opts.onStart?.(cpu);

  const timeoutMs = opts.timeoutMs ?? 10 * 60_000;
  const maxInstructions = opts.maxInstructions ?? Number.POSITIVE_INFINITY;
  const progressMs = opts.progressMs ?? 10_000;
  t0 = performance.now();
  let nextProgress = t0 + progressMs;
  let ending;
  let detail;
  let sliceCount = 0;
  // A profiler's RIP samples (bare/guest-prof.mjs): the slices stop at each.
  const sampler = opts.sampler;
  let nextSample = sampler !== undefined ? sampler.interval() : Number.POSITIVE_INFINITY;
  // A kernel that gave up (a halt loop with interrupts on, a hung wait) still takes timer
  // interrupts, so virtual time runs on: silence on the console for this long ends the run.
  const quietNs = (opts.quietVirtualS ?? 120) * 1e9;
  while (ending === undefined) {
    if (m.stopCause !== undefined) {
      ending = 'reset';
      detail = m.stopCause;
      break;
    }
    if (stopLine) {
      ending = 'console';
      detail = `the console matched ${opts.stopOn}`;
      break;
    }
    if (m.nowNs() - consoleAtNs > quietNs) {
      ending = 'stalled';
      detail = `no console output for ${quietNs / 1e9} virtual seconds`;
      break;
    }
    if (cpu.instructionsRetired >= maxInstructions) {
      ending = 'instruction limit';
      break;
    }
    if ((++sliceCount & 15) === 0) {
      const t = performance.now();
      if (t - t0 > timeoutMs) {
        ending = 'timeout';
        break;
      }
      if (t >= nextProgress) {
        nextProgress = t + progressMs;
        const rip = ripOf(cpu.state);
        opts.onProgress?.(
          `${((t - t0) / 1000).toFixed(0)} s: ${(cpu.instructionsRetired / 1e6).toFixed(0)} M instructions ` +
            `(${(cpu.instructionsRetired / (t - t0) / 1000).toFixed(1)} MIPS), ${cpu.stats.interrupts} interrupts, ` +
            `virtual ${(m.nowNs() / 1e9).toFixed(1)} s, RIP ${hex(rip)} ${symbol(rip)}`,
        );
        // Yield so that a caller's timers and stdout get a turn.
        await new Promise((r) => setImmediate(r));
      }
    }
    const slice = bareSlice(m, Math.min(maxInstructions, nextSample) - cpu.instructionsRetired);
    if (cpu.instructionsRetired >= nextSample) {
      sampler.sample(cpu);
      nextSample = cpu.instructionsRetired + sampler.interval();
    }
    ending = slice.ending;
    detail = slice.detail;
  }
  const wallMs = performance.now() - t0;
  const rip = ripOf(cpu.state);
  return {
    ending,
    detail,
    console,
    instructions: cpu.instructionsRetired,
    virtualNs: m.nowNs(),
    wallMs,
    rip,
    ripSymbol: symbol(rip),
    ripBytes: readLinear(m, rip, 15),
    sregs: stateToSregs(cpu.state),
    exceptions: [...exceptions.values()],
    unknownMsrs: [...m.unknownMsrs.entries()].map(([index, count]) => ({ index, count })),
    cpuStats: { ...cpu.stats },
    description: loaded.description,
    milestones,
  };
}
