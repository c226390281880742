/**
 * The differential run: each case on the host (/dev/kvm: the real CPU, or KVM's instruction
 * emulator where kvm-pvm emulates the mode; referee.ts) and on x86emu from the
 * same state and memory image, compared; mismatches blamed on one instruction, given a
 * signature, matched against the known-mismatch list, and printed as reproducers.
 */
import { DecodeStatus, decode, Insn, OPCODE_TABLE } from '@kvm/x86emu';
import type { InsnClass } from './classes.js';
import {
  compareOutcomes,
  type Difference,
  describeStop,
  type ExceptionFrame,
  exceptionFrame,
  flagNames,
  stubFrame,
} from './compare.js';
import { EmuSide } from './emu-side.js';
import { mayLeaveFlagsUndefined, UNDEFINED_FLAGS } from './flags.js';
import {
  caseImage,
  generateCase,
  generateGarbage,
  is16,
  isLong64,
  prefixCase,
  straightLineMnemonics,
  type TestCase,
} from './generator.js';
import { generateGarbage64, generateLongCase, HARNESS_STMXCSR } from './generator64.js';
import { HostSide } from './host-side.js';
import { checkKnownAnswer, KNOWN_ANSWERS, knownAnswerCase } from './known-answers64.js';
import { ALL_MODES, baseState, buildImage, CODE, isLongMode, type Mode } from './layout.js';
import { GDT64_SEL, HARNESS, HARNESS_IRETQ, type LongMode } from './layout64.js';
import { GPR_NAMES, GPR64_NAMES, isLongState, type MachineState, SEG_NAMES } from './machine-state.js';
import type { Outcome } from './outcome.js';
import { probeCompatNative, refereeLabel, refereeOf } from './referee.js';

export interface Signature {
  mode: Mode;
  /** The blamed instruction's form (`ADD Ev,Gv`), or `garbage:<first mnemonic>`. */
  form: string;
  /** Difference categories, sorted. */
  categories: string[];
  /**
   * The LOCK (F0) and 66/F2/F3 bytes among the blamed instruction's legacy prefixes, in order
   * (none for garbage): entries whose reason is a prefix's (`KnownMismatch.prefixes`) match on it.
   */
  prefixes?: number[];
}

export interface KnownMismatch {
  id: string;
  /** Matches a mismatch of this mode (or any: `*`) and form (or forms: `prefix*`) whose categories are all listed. */
  mode: Mode | '*';
  form: string;
  categories: string[];
  summary: string;
  /**
   * Set where the host's answer depends on what earlier cases left in its vCPU (why, measured):
   * any mismatch of the mode and form is this entry, whatever its categories, and the
   * reproducer must keep mismatching but may do so differently.
   */
  hostVaries?: string;
  /**
   * Set where the reason is one of the blamed instruction's prefixes (LOCK on a form the host
   * runs under it, 66/F2/F3 on an NP form): the entry matches only a mismatch whose blamed
   * instruction carries one of these bytes, so a coarse signature does not take in a case that
   * fails for another reason.
   */
  prefixes?: number[];
  /**
   * Set where the reason is one vendor's choice (a result the manuals leave undefined or to the
   * implementation, a measured behaviour of that vendor's CPUs): the CPU vendors (CPUID.0's
   * string, `AuthenticAMD`, `GenuineIntel`) whose hosts show it. Only those hosts match the entry
   * and re-run its reproducer (`knownForHost`); absent, every host does.
   */
  hosts?: string[];
  /** A case that showed it: it must keep mismatching, with a matching signature. */
  reproducer: TestCase;
}

/** How one side ended a mismatching case, without its RAM (kept for every mismatch of a run). */
export interface SideEnd {
  kind: Outcome['kind'];
  /** Its final state (after the exception's delivery, if any). */
  state: MachineState;
  /** The IA-32e exception it ended in (its frame), or null (the terminator, a runaway…). */
  frame: ExceptionFrame | null;
  /**
   * The RAM it changed: where its final RAM differs from the case's image, with its bytes there
   * (`ramWrites`); undefined when not kept (more than `RAM_WRITES_MAX` bytes). A classifier that
   * replays the case compares the replay's RAM with the image patched with these.
   */
  ramWrites?: RamWrite[];
}

/** Bytes a side left at `at` that differ from the case's image. */
export interface RamWrite {
  at: number;
  bytes: Uint8Array;
}

/** The most changed RAM a `SideEnd` keeps (a REP STOS over the data area is 128 KiB). */
export const RAM_WRITES_MAX = 256 * 1024;

/** Where `ram` differs from `image`, as runs of differing bytes; undefined past `RAM_WRITES_MAX`. */
export function ramWrites(ram: Uint8Array, image: Uint8Array): RamWrite[] | undefined {
  const out: RamWrite[] = [];
  let kept = 0;
  const n = Math.min(ram.length, image.length);
  const r = Buffer.from(ram.buffer, ram.byteOffset, n);
  const im = Buffer.from(image.buffer, image.byteOffset, n);
  for (let page = 0; page < n; page += 4096) {
    const end = Math.min(page + 4096, n);
    if (r.compare(im, page, end, page, end) === 0) continue;
    for (let i = page; i < end; i++) {
      if (ram[i] === image[i]) continue;
      let j = i;
      while (j < end && ram[j] !== image[j]) j++;
      kept += j - i;
      if (kept > RAM_WRITES_MAX) return undefined;
      out.push({ at: i, bytes: ram.slice(i, j) });
      i = j;
    }
  }
  return out;
}

export interface Mismatch {
  index: number;
  testCase: TestCase;
  signature: Signature;
  differences: Difference[];
  known?: string;
  report: string;
  /** How each side ended (for per-case classifiers such as `classifyGarbage64`). */
  host?: SideEnd;
  emu?: SideEnd;
  /**
   * The case `host`, `emu` and `differences` come from: `testCase` cut after the blamed
   * instruction (`prefixCase`), or `testCase` itself.
   */
  ranCase?: TestCase;
}

/** A side's end as a `Mismatch` keeps it (`image`: the case's, for `ramWrites`). */
export function sideEnd(o: Outcome, image?: Uint8Array): SideEnd {
  const end: SideEnd = { kind: o.kind, state: o.state, frame: exceptionFrame(o) };
  const writes = image ? ramWrites(o.ram, image) : undefined;
  if (writes) end.ramWrites = writes;
  return end;
}

export type Verdict =
  | { kind: 'pass' }
  | {
      kind: 'skip';
      reason: string;
      /** How the host ended a case x86emu could not run (`hlt: vector 13`, `shutdown`…). */
      hostOnly?: string;
    }
  | {
      kind: 'fail';
      blamed: number;
      differences: Difference[];
      host: Outcome;
      emu: Outcome;
      testCase: TestCase;
    };

/** `form` may end in `*` (a prefix: `garbage:*`, or `*` alone for any form). */
export function matchesKnown(sig: Signature, k: KnownMismatch): boolean {
  const form = k.form.endsWith('*') ? sig.form.startsWith(k.form.slice(0, -1)) : k.form === sig.form;
  return (
    (k.mode === '*' || k.mode === sig.mode) &&
    form &&
    (k.hostVaries !== undefined || sig.categories.every((c) => k.categories.includes(c))) &&
    (k.prefixes === undefined || k.prefixes.some((p) => sig.prefixes?.includes(p) === true))
  );
}

const insn = new Insn();

/** The first instruction of `bytes` as x86emu decodes it (mnemonic and length), for garbage. */
export function firstInstruction(bytes: number[], mode: Mode): { mnemonic: string; length: number } {
  const src = { fetchByte: (i: number) => bytes[i] ?? 0xf4 };
  try {
    const st = decode(src, insn, !is16(mode), isLong64(mode));
    if (st !== DecodeStatus.Ok || insn.row < 0)
      return { mnemonic: st === DecodeStatus.TooLong ? 'TOOLONG' : 'UD', length: insn.length };
    return { mnemonic: OPCODE_TABLE[insn.row].mnemonic, length: insn.length };
  } catch {
    return { mnemonic: 'UD', length: 0 };
  }
}

/**
 * `garbage:<mnemonic>` of a garbage case's first instruction: its random bytes' (after the
 * harness's LDMXCSR in long64), not the harness's.
 */
export function garbageForm(c: TestCase): string {
  let at = 0;
  for (const i of c.insns) {
    if (i.form === 'garbage') break;
    at += i.length;
  }
  return `garbage:${firstInstruction(c.bytes.slice(at), c.mode).mnemonic}`;
}

/**
 * Flags garbage may leave undefined: the union over the instructions x86emu decodes when it
 * walks the bytes in a straight line (branches are not followed; an instruction with a
 * count-dependent mask counts with all its flags).
 */
export function garbageUndefinedFlags(bytes: number[], mode: Mode): number {
  let mask = 0;
  for (const m of straightLineMnemonics(bytes, mode))
    if (mayLeaveFlagsUndefined(m)) mask |= UNDEFINED_FLAGS[m] ?? 0x8d5;
  return mask;
}

/** True when the bytes may write state the host keeps across cases (MOV to a debug register). */
function touchesExtraState(bytes: number[]): boolean {
  for (let i = 0; i + 1 < bytes.length; i++) if (bytes[i] === 0x0f && bytes[i + 1] === 0x23) return true;
  return false;
}

export class DiffTester {
  readonly host: HostSide;
  readonly emu = new EmuSide();
  /** Modes the host cannot run, with the reason (probed once). */
  readonly unavailable = new Map<Mode, string>();
  /**
   * IA-32e modes x86emu cannot run yet, with the reason (probed once with the known answers):
   * their cases still run on the host, and count as skipped with this reason, never as passed.
   */
  readonly emuUnavailable = new Map<Mode, string>();
  /** What referees each mode here (the real CPU, or KVM's instruction emulator). */
  readonly referee = new Map<Mode, string>();
  /** True when the last host case may have changed state that KVM_SET_REGS/SREGS do not reset. */
  private extraStateDirty = true;

  constructor(modes: readonly Mode[] = ALL_MODES) {
    this.host = new HostSide({ longMode: modes.some(isLongMode) });
    for (const m of modes) {
      const why = isLongMode(m) ? this.probeLong(m as LongMode) : this.probe(m);
      if (why) this.unavailable.set(m, why);
      if (m === 'compat32' && !why) probeCompatNative(this.host);
      this.referee.set(m, refereeOf(m));
      if (isLongMode(m)) {
        const emuWhy = this.probeEmuLong(m as LongMode);
        if (emuWhy) this.emuUnavailable.set(m, emuWhy);
      }
    }
  }

  /** The known answers of `mode` on the host: undefined if all are exact, else what is wrong. */
  private probeLong(mode: LongMode): string | undefined {
    for (const k of KNOWN_ANSWERS.filter((x) => x.mode === mode)) {
      const { init, image } = knownAnswerCase(k);
      const wrong = checkKnownAnswer(k, this.host.run(init, image));
      if (wrong.length)
        return `the host KVM does not run ${mode} through the CPL-0 harness (${k.name}: ${wrong.join('; ')})`;
    }
    return undefined;
  }

  /** The same on x86emu: undefined if it gets them all right. */
  private probeEmuLong(mode: LongMode): string | undefined {
    for (const k of KNOWN_ANSWERS.filter((x) => x.mode === mode && !x.completeness)) {
      const { init, image } = knownAnswerCase(k);
      const wrong = checkKnownAnswer(k, this.emu.run(init, image));
      if (wrong.length)
        return `x86emu lacks IA-32e mode (long mode): not compared (its run of the known answer "${k.name}" ${wrong.slice(0, 2).join('; ')})`;
    }
    return undefined;
  }

  /** Runs `add eax, ebx` in `mode` on the host: undefined if it ends as it must, else why not. */
  private probe(mode: Mode): string | undefined {
    const s = baseState(mode);
    const image = buildImage();
    image.set([0x01, 0xd8, 0xf4], CODE);
    const o = this.host.run(s, image);
    if (o.kind === 'hlt' && o.state.eip === CODE + 3 && o.state.cr0 === s.cr0 >>> 0) return undefined;
    return `the host KVM does not run ${mode} as set by KVM_SET_SREGS (probe: ${o.kind}, cr0 ${o.state.cr0.toString(16)} for ${(s.cr0 >>> 0).toString(16)}, eip ${o.state.eip.toString(16)})${mode === 'paging' || mode === 'pae' ? ': kvm-pvm refuses CR0.PG outside long mode' : ''}`;
  }

  /** Runs one case on both sides and compares; a mismatch is blamed on one instruction. */
  runCase(c: TestCase): Verdict {
    const why = this.unavailable.get(c.mode);
    if (why) return { kind: 'skip', reason: why };
    const emuWhy = this.emuUnavailable.get(c.mode);
    if (emuWhy) {
      // The host still runs the case (the harness is exercised; what it cannot run is counted).
      const host = this.host.run(c.init, caseImage(c));
      if (host.kind === 'unsupported')
        return { kind: 'skip', reason: `host: ${host.detail ?? 'unsupported'}` };
      const f = stubFrame(host);
      return { kind: 'skip', reason: emuWhy, hostOnly: f ? `vector ${f.vector}` : host.kind };
    }
    const r = this.compare(c);
    if (r.kind !== 'fail') return r;
    for (let n = 1; n < c.insns.length; n++) {
      const p = prefixCase(c, n);
      const rp = this.compare(p);
      if (rp.kind === 'fail') return { ...rp, blamed: n - 1 };
    }
    // A difference that only the MXCSR epilogue stores is the last generated instruction's.
    if (c.insns[c.insns.length - 1].form === HARNESS_STMXCSR && c.insns.length > 2)
      return { ...r, blamed: c.insns.length - 2 };
    return r;
  }

  private compare(c: TestCase): Verdict {
    const image = caseImage(c);
    // The previous case may have left debug registers, MSRs or FPU state behind on the host.
    if (this.extraStateDirty) this.host.resetExtraState();
    this.extraStateDirty = c.garbage || touchesExtraState(c.bytes);
    let host = this.host.run(c.init, image);
    // The CPL-0 harness (LIDT, LTR, IRETQ: KVM's emulator on kvm-pvm) faulted before the case ran:
    // seen once in 100000 long64 cases (seed 20261206, case 15358), never again on a re-run.
    if (isLongMode(c.mode) && faultInHarness(host)) host = this.host.run(c.init, image);
    if (host.kind === 'unsupported') return { kind: 'skip', reason: `host: ${host.detail ?? 'unsupported'}` };
    let emu = this.emu.run(c.init, image);
    if (host.kind === 'runaway' && emu.kind !== 'runaway' && emu.kind !== 'budget') {
      // The watchdog is wall-clock: give a busy host a second, patient chance before blaming.
      host = this.host.run(c.init, image, true);
      if (host.kind === 'unsupported')
        return { kind: 'skip', reason: `host: ${host.detail ?? 'unsupported'}` };
      emu = this.emu.run(c.init, image);
    }
    // Compatibility mode on kvm-pvm is KVM's emulator, which at CPL > 0 answers any instruction
    // it cannot emulate with #UD (arch/x86/kvm/x86.c, handle_emulation_failure): the
    // counterpart of KVM_EXIT_INTERNAL_ERROR at CPL 0, so not refereed either.
    if (c.mode === 'compat32' && !this.referee.get(c.mode)?.startsWith('the real CPU')) {
      const hf = stubFrame(host);
      const ef = stubFrame(emu);
      // Also a #UD at an earlier instruction than x86emu's own #UD (LAR, then a LOCK CMP).
      const udRip = (o: Outcome, sp: number): number =>
        (o.ram[sp] | (o.ram[sp + 1] << 8) | (o.ram[sp + 2] << 16) | (o.ram[sp + 3] << 24)) >>> 0;
      if (hf?.vector === 6 && (ef?.vector !== 6 || udRip(host, hf.sp) !== udRip(emu, ef.sp)))
        return {
          kind: 'skip',
          reason: "host: KVM's instruction emulator raised #UD (it cannot emulate the instruction)",
        };
      // It also writes through a segment register holding a code segment (a CS override, or FS
      // loaded with a code selector): #PF where the page is not writable, instead of the #GP(0) of
      // SDM Vol. 3 5.4.1 (a write to a code segment), which x86emu raises: unrefereed.
      if (hf?.vector === 14 && ef?.vector === 13 && throughCodeSegment(c, udRip(emu, ef.sp + 8), emu))
        return {
          kind: 'skip',
          reason:
            "host: KVM's instruction emulator writes through a code segment (no #GP(0) for a write to code)",
        };
    }
    let mask = c.undefinedFlags;
    if (c.garbage) mask |= garbageUndefinedFlags(c.bytes, c.mode);
    const differences = compareOutcomes(host, emu, mask);
    if (differences.length === 0) return { kind: 'pass' };
    // Keep copies: both sides reuse their buffers on the next run.
    const hostCopy: Outcome = { ...host, ram: host.ram.slice(), io: [...host.io] };
    const emuCopy: Outcome = { ...emu, ram: emu.ram.slice(), io: [...emu.io] };
    return {
      kind: 'fail',
      blamed: c.insns.length - 1,
      differences,
      host: hostCopy,
      emu: emuCopy,
      testCase: c,
    };
  }

  close(): void {
    this.host.close();
  }
}

/** An exception whose frame points into the CPL-0 harness (CS 0x10, RIP up to its IRETQ). */
function faultInHarness(o: Outcome): boolean {
  const f = stubFrame(o);
  if (!f) return false;
  const at = f.sp + (f.hasError ? 8 : 0);
  const r = o.ram;
  const rip = (r[at] | (r[at + 1] << 8) | (r[at + 2] << 16) | (r[at + 3] << 24)) >>> 0;
  const cs = r[at + 8] | (r[at + 9] << 8);
  return cs === GDT64_SEL.KERNEL_CS && rip >= HARNESS && rip <= HARNESS_IRETQ;
}

const SEG_PREFIXES = [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65];

/**
 * The instruction at `rip` in case `c` addresses memory through a segment register that holds a
 * code segment in `o`'s final state (a CS override, or a data register loaded with a code
 * selector; DS when there is no override).
 */
function throughCodeSegment(c: TestCase, rip: number, o: Outcome): boolean {
  let seg = 3;
  for (let k = rip - CODE; k >= 0 && k < c.bytes.length; k++) {
    const b = c.bytes[k];
    const p = SEG_PREFIXES.indexOf(b);
    if (p >= 0) seg = p;
    else if (![0x66, 0x67, 0xf0, 0xf2, 0xf3].includes(b)) break;
  }
  if (seg === 1) return true;
  const attr = o.state.seg[seg]?.attr ?? 0;
  return (attr & 0x18) === 0x18; // S = 1 and type bit 3: a code segment
}

export function signatureOf(v: Extract<Verdict, { kind: 'fail' }>): Signature {
  const c = v.testCase;
  const form = c.garbage ? garbageForm(c) : c.insns[v.blamed].form;
  const categories = [...new Set(v.differences.map((d) => d.category))].sort();
  if (c.garbage) return { mode: c.mode, form, categories };
  let at = 0;
  for (let i = 0; i < v.blamed; i++) at += c.insns[i].length;
  return { mode: c.mode, form, categories, prefixes: legacyPrefixBytes(c.bytes, at, isLong64(c.mode)) };
}

/** LOCK, 66, F2 and F3 among the legacy prefixes (and, in 64-bit mode, REX) of the instruction at `at`. */
function legacyPrefixBytes(bytes: readonly number[], at: number, long64: boolean): number[] {
  const out: number[] = [];
  for (let k = at; k < bytes.length; k++) {
    const b = bytes[k];
    if (b === 0xf0 || b === 0x66 || b === 0xf2 || b === 0xf3) out.push(b);
    else if (![0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x67].includes(b) && !(long64 && (b & 0xf0) === 0x40))
      break;
  }
  return out;
}

const hex = (v: number, w = 0): string => (v >>> 0).toString(16).padStart(w, '0');

function stateText(s: MachineState): string {
  const long = isLongState(s);
  const g = long
    ? GPR64_NAMES.map(
        (n, i) =>
          `${n}=${hex(s.gprHigh?.[i] ?? 0, 8)}${hex(s.gpr[i], 8)}${i % 4 === 3 && i < 15 ? '\n   ' : ''}`,
      ).join(' ')
    : GPR_NAMES.map((n, i) => `${n}=${hex(s.gpr[i], 8)}`).join(' ');
  const segs = SEG_NAMES.slice(0, 6)
    .map(
      (n, i) =>
        `${n}=${hex(s.seg[i].sel, 4)}(${hex(s.seg[i].base)}+${hex(s.seg[i].limit)},${hex(s.seg[i].attr)})`,
    )
    .join(' ');
  return `    ${g}\n    eip=${hex(s.eip, 8)} eflags=${hex(s.eflags, 8)} [${flagNames(s.eflags & 0x3f7fd5)}] cr0=${hex(s.cr0)} cr2=${hex(s.cr2)} cr3=${hex(s.cr3)} cr4=${hex(s.cr4)} efer=${hex(s.efer)}\n    ${segs}`;
}

/** The reproducer printed for a mismatch. */
export function formatMismatch(
  v: Extract<Verdict, { kind: 'fail' }>,
  sig: Signature,
  where: string,
  known?: string,
): string {
  const c = v.testCase;
  const readStack =
    (o: Outcome) =>
    (linear: number, size: number): number => {
      let x = 0;
      for (let i = size - 1; i >= 0; i--) x = x * 256 + (o.ram[linear + i] ?? 0xff);
      return x;
    };
  const lines: string[] = [];
  lines.push(
    `MISMATCH ${where} mode=${c.mode} blame=insn ${v.blamed + 1}/${c.insns.length} "${sig.form}" [${sig.categories.join(',')}]${known ? ` known: ${known}` : ' NEW'}`,
  );
  let at = 0;
  const parts = c.insns.map((i) => {
    const b = c.bytes.slice(at, at + i.length);
    at += i.length;
    return `${b.map((x) => hex(x, 2)).join(' ')}  ; ${i.form}`;
  });
  lines.push(`  bytes at ${hex(CODE)} (then f4, the terminator${c.entry ? ': #GP(0) at CPL 3' : ''}):`);
  for (const p of parts) lines.push(`    ${p}`);
  if (c.undefinedFlags) lines.push(`  undefined flags (not compared): ${flagNames(c.undefinedFlags)}`);
  lines.push('  initial state:');
  lines.push(stateText(c.init));
  if (c.entry)
    lines.push(
      `    entered at CPL 3 by the harness's IRETQ: ${c.entry.mode === 'long64' ? 'cs=0033 (64-bit)' : 'cs=0023 (compatibility mode)'} rip=${hex(c.entry.rip)} rsp=${hex(c.entry.rsp)} rflags=${hex(c.entry.rflags, 8)} ss=002b`,
    );
  lines.push(
    `  data seed ${hex(c.dataSeed)}${c.patches.length ? `, patches: ${c.patches.map(([a, b]) => `${hex(a)}:${b.map((x) => hex(x, 2)).join('')}`).join(' ')}` : ''}`,
  );
  lines.push(`  host (${refereeLabel(c.mode)}): ${describeStop(v.host, readStack(v.host))}`);
  lines.push(stateText(v.host.state));
  lines.push(`  x86emu: ${describeStop(v.emu, readStack(v.emu))}`);
  lines.push(stateText(v.emu.state));
  lines.push('  differences (host | x86emu):');
  for (const d of v.differences.slice(0, 16)) lines.push(`    ${d.field}: ${d.host} | ${d.emu}`);
  if (v.differences.length > 16) lines.push(`    … ${v.differences.length - 16} more`);
  return lines.join('\n');
}

export interface RunOptions {
  seed: number;
  count: number;
  modes: readonly Mode[];
  garbage: boolean;
  known: readonly KnownMismatch[];
  /** Only this case index (a reproducer). */
  only?: number;
  /** Instruction classes of the long64 cases (`--class`; default `gp`). */
  classes?: readonly InsnClass[];
  /** Called with each mismatch as it is found. */
  onMismatch?: (m: Mismatch) => void;
  /**
   * A per-case classifier for mismatches no known entry matches (long64 garbage:
   * `classifyGarbage64`): the id it returns becomes the mismatch's `known` (and `knownSeen` key).
   */
  classify?: (m: Mismatch) => string | undefined;
}

export interface RunSummary {
  passed: number;
  failed: number;
  skipped: number;
  skipReasons: Map<string, number>;
  /** Skipped cases by the form of their first instruction (what this host cannot referee). */
  skippedForms: Map<string, number>;
  /** Cases only the host ran (x86emu lacks the mode), by how the host ended them. */
  hostOnly: Map<string, number>;
  mismatches: Mismatch[];
  /** Known-mismatch ids seen, with counts. */
  knownSeen: Map<string, number>;
}

/** Case `index` of a run: mode round robin, then the form (or garbage). */
export function caseAt(
  seed: number,
  index: number,
  modes: readonly Mode[],
  garbage: boolean,
  classes: readonly InsnClass[] = ['gp'],
): TestCase {
  const mode = modes[index % modes.length];
  const i = Math.floor(index / modes.length);
  if (isLongMode(mode)) {
    if (garbage && mode !== 'long64') throw new Error(`--garbage is not implemented for ${mode}`);
    return garbage ? generateGarbage64(seed, i) : generateLongCase(seed, i, mode as LongMode, classes);
  }
  return garbage ? generateGarbage(seed, i, mode) : generateCase(seed, i, mode);
}

export function runDifferential(tester: DiffTester, o: RunOptions): RunSummary {
  const sum: RunSummary = {
    passed: 0,
    failed: 0,
    skipped: 0,
    skipReasons: new Map(),
    skippedForms: new Map(),
    hostOnly: new Map(),
    mismatches: [],
    knownSeen: new Map(),
  };
  const from = o.only ?? 0;
  const to = o.only !== undefined ? o.only + 1 : o.count;
  for (let index = from; index < to; index++) {
    const c = caseAt(o.seed, index, o.modes, o.garbage, o.classes);
    const v = tester.runCase(c);
    if (v.kind === 'pass') sum.passed++;
    else if (v.kind === 'skip') {
      sum.skipped++;
      sum.skipReasons.set(v.reason, (sum.skipReasons.get(v.reason) ?? 0) + 1);
      if (v.hostOnly) sum.hostOnly.set(v.hostOnly, (sum.hostOnly.get(v.hostOnly) ?? 0) + 1);
      if (!tester.unavailable.has(c.mode) && v.reason.startsWith('host')) {
        const f = c.garbage ? garbageForm(c) : c.insns[0].form;
        sum.skippedForms.set(f, (sum.skippedForms.get(f) ?? 0) + 1);
      }
    } else {
      sum.failed++;
      const signature = signatureOf(v);
      // The RAM each side changed, for the per-case classifiers (known-garbage64.ts: replays, and
      // the vendor classes `--write-known` cites for generated long64 cases).
      const image = o.classify || isLongMode(c.mode) ? caseImage(v.testCase) : undefined;
      const m: Mismatch = {
        index,
        testCase: c,
        signature,
        differences: v.differences,
        report: '',
        host: sideEnd(v.host, image),
        emu: sideEnd(v.emu, image),
        ranCase: v.testCase,
      };
      m.known = o.known.find((k) => matchesKnown(signature, k))?.id ?? o.classify?.(m);
      if (m.known) sum.knownSeen.set(m.known, (sum.knownSeen.get(m.known) ?? 0) + 1);
      const where = `seed=${o.seed} case=${index}${o.garbage ? ' --garbage' : ''}`;
      m.report = formatMismatch(v, signature, where, m.known);
      sum.mismatches.push(m);
      o.onMismatch?.(m);
    }
  }
  return sum;
}
