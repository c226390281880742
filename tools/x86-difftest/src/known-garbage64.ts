/**
 * The measured reasons for long64 garbage mismatches (`--mode long64 --garbage`), decided per
 * case. A garbage signature is coarse (`garbage:<first mnemonic>` and the categories that
 * differ), so a signature-matched known entry would also take in a future x86emu bug: instead,
 * `classifyGarbage64` looks at the case itself — the instructions x86emu executed (it runs the
 * case again one instruction at a time: `EmuSide.trace`), the bytes and registers of the one it
 * ended at, and how both sides ended (vectors and frames) — and returns a cited reason only when
 * the case provably falls in one of the classes below. Each class rests on the SDM/APM and on a
 * host fact a probe measures (`test/host-probes64.kvm.test.ts`, `test/host-probes-fpu64.kvm.test.ts`).
 * A class that is one CPU vendor's choice (`GarbageClass.hosts`) places a case only on that
 * vendor's hosts; `classifyVendor64` gives `--write-known` those reasons for generated long64 cases.
 * Anything else returns undefined: an x86emu bug until shown otherwise.
 */
import { DecodeStatus, decode, defaultCpuid, Insn, OPCODE_TABLE, type OpcodeRow } from '@kvm/x86emu';
import { classOf } from './classes.js';
import { bytesText, type ExceptionFrame, exceptionFrame, frameFlagsSlot } from './compare.js';
import type { Mismatch, SideEnd } from './difftest.js';
import { EMU_BUDGET, EmuSide, type EmuTrace } from './emu-side.js';
import { mayLeaveFlagsUndefined, UNDEFINED_FLAGS } from './flags.js';
import { compareFpu } from './fpu-state.js';
import { caseImage, prefixesAt, type TestCase } from './generator.js';
import { GDT64, KSTACK_TOP } from './layout64.js';
import type { Outcome } from './outcome.js';
import { hostCpuVendor } from './referee.js';

/** A class a garbage mismatch was placed in: a short id (for counts) and the cited reason. */
export interface GarbageClass {
  id: string;
  reason: string;
  /**
   * Set for one CPU vendor's behaviour (long64 is refereed by the CPU): the vendors (CPUID.0's
   * string) whose hosts show it. A case is placed in the class only on such a host; elsewhere
   * the same end is x86emu's until shown otherwise. Absent: every host.
   */
  hosts?: readonly string[];
}

const AMD = ['AuthenticAMD'] as const;
const INTEL = ['GenuineIntel'] as const;

/** Instructions traced per case (a loop's later turns add nothing to a classification). */
const TRACE_STEPS = 4096;

/** One instruction x86emu began at CPL 3, decoded again from the case's image. */
export interface TracedInsn {
  rip: number;
  ripHigh: number;
  /** The bytes from RIP (prefixes included), `length` of them. */
  bytes: number[];
  length: number;
  /** The row x86emu decodes (undefined: #UD at decode). */
  row: OpcodeRow | undefined;
  /** Legacy prefix bytes, in order. */
  prefixes: number[];
  /** The REX byte in effect, or 0. */
  rex: number;
  /** The opcode byte(s) after prefixes and REX (0F, 0F 38, 0F 3A maps included). */
  opcode: number[];
  /** ModRM byte, if the opcode takes one (as x86emu decodes it). */
  modrm: number | undefined;
  insn: Insn;
  /** The GPRs (low and high halves) and RFLAGS before it ran. */
  gpr: number[];
  gprHigh: number[];
  rflags: number;
}

let tracer: EmuSide | undefined;
/** x86emu's trace of a case (`traceCase`). */
export interface Traced {
  trace: EmuTrace;
  steps: TracedInsn[];
  image: Uint8Array;
  /** 64 bytes of x86emu's RAM at the last step's RSP (what a RET there pops), at the run's end. */
  stack: number[];
}
const traces = new WeakMap<TestCase, Traced>();

/** x86emu's run of `c`, one instruction at a time, with each instruction decoded (cached per case). */
export function traceCase(c: TestCase): Traced {
  const hit = traces.get(c);
  if (hit) return hit;
  tracer ??= new EmuSide({ jit: false });
  const image = caseImage(c);
  const trace = tracer.trace(c.init, image, TRACE_STEPS);
  const steps = trace.steps.map((s) => ({
    ...decodeAt(image, s.rip, s.ripHigh),
    gpr: s.gpr,
    gprHigh: s.gprHigh,
    rflags: s.rflags,
  }));
  const rsp = trace.lastGprHigh[4] === 0 ? trace.lastGpr[4] >>> 0 : -1;
  const stack = Array.from({ length: 64 }, (_, k) => (rsp >= 0 ? (trace.end.ram[rsp + k] ?? 0xff) : 0xff));
  const out = { trace, steps, image, stack };
  traces.set(c, out);
  return out;
}

function decodeAt(
  image: Uint8Array,
  rip: number,
  ripHigh: number,
): Omit<TracedInsn, 'gpr' | 'gprHigh' | 'rflags'> {
  const at = ripHigh === 0 && rip < image.length ? rip : -1;
  const byte = (i: number): number => (at >= 0 ? (image[at + i] ?? 0xf4) : 0xf4);
  const insn = new Insn();
  let st: number;
  try {
    st = decode({ fetchByte: byte }, insn, true, true);
  } catch {
    st = DecodeStatus.TooLong;
  }
  const length = Math.max(1, insn.length);
  const bytes = Array.from({ length }, (_, i) => byte(i));
  const { prefixes, rex, opcodeAt: k } = prefixesAt(bytes, 0);
  const opcode = [bytes[k]];
  if (bytes[k] === 0x0f) {
    opcode.push(bytes[k + 1]);
    if (bytes[k + 1] === 0x38 || bytes[k + 1] === 0x3a) opcode.push(bytes[k + 2]);
  }
  const row = st === DecodeStatus.Ok && insn.row >= 0 ? OPCODE_TABLE[insn.row] : undefined;
  return {
    rip,
    ripHigh,
    bytes,
    length,
    row,
    prefixes,
    rex,
    opcode,
    modrm: insn.hasModrm ? bytes[k + opcode.length] : undefined,
    insn,
  };
}

/** Forms whose memory operand is DS:[rDI] without a ModRM memory form. */
const IMPLICIT_RDI = new Set(['MASKMOVQ', 'MASKMOVDQU']);

/** 2^32: a register's high half as a number. */
const TWO32 = 2 ** 32;

/** The memory operand's effective address (64-bit, as BigInt) with the registers `gpr`/`gprHigh`. */
export function effectiveAddress(t: TracedInsn, gpr: readonly number[], gprHigh: readonly number[]): bigint {
  const i = t.insn;
  const reg = (r: number): bigint => BigInt(gprHigh[r] >>> 0) * BigInt(TWO32) + BigInt(gpr[r] >>> 0);
  // MASKMOVQ/MASKMOVDQU store to DS:[rDI] (SDM Vol. 2 MASKMOVQ), as the string forms do.
  if (t.row && IMPLICIT_RDI.has(t.row.mnemonic))
    return reg(7) & (i.adSize === 4 ? 0xffffffffn : 0xffffffffffffffffn);
  let ea = BigInt(i.disp | 0);
  if (i.ripRel) ea += BigInt(t.ripHigh) * BigInt(TWO32) + BigInt(t.rip) + BigInt(t.length);
  if (i.base >= 0) ea += reg(i.base);
  if (i.index >= 0) ea += reg(i.index) << BigInt(i.scale);
  // FS/GS bases stay 0 (null selectors; no WRFSBASE: CR4.FSGSBASE = 0), the others are 0 in 64-bit mode.
  const mask = i.adSize === 4 ? 0xffffffffn : 0xffffffffffffffffn;
  return ea & mask;
}

/** Canonical with 48-bit linear addresses (SDM Vol. 3 3.3.7.1; both sides' CPUID: 48 bits). */
export function isCanonical(a: bigint): boolean {
  const top = a >> 47n;
  return top === 0n || top === 0x1ffffn;
}

/**
 * Whether a legacy-SSE form's memory operand must be 16-byte aligned (SDM Vol. 1 10.4.1.1 and
 * 11.4.1.1, Vol. 2 2.4 "Alignment"): a 128-bit memory operand (W or M of size ps, pd, dq, x, or
 * an M of 128 bits), except the forms the SDM names as unaligned (MOVUPS, MOVUPD, MOVDQU, LDDQU,
 * and scalar or 64-bit halves: ss, sd, q, d, w, b), and FXSAVE/FXRSTOR (their own 16-byte rule).
 */
function requires16(row: OpcodeRow): boolean {
  if (['MOVUPS', 'MOVUPD', 'MOVDQU', 'LDDQU'].includes(row.mnemonic)) return false;
  if (row.mnemonic === 'FXSAVE' || row.mnemonic === 'FXRSTOR') return true;
  if (classOf(row) !== 'sse') return false;
  return row.operands.split(',').some((o) => /^[WM](ps|pd|dq|x)$/.test(o) || o === 'Mdq');
}

/** The frame's RIP as one 64-bit number. */
const frameRip = (f: ExceptionFrame): bigint => (BigInt(f.ripHigh) << 32n) | BigInt(f.rip);
const stepRip = (t: TracedInsn): bigint => (BigInt(t.ripHigh) << 32n) | BigInt(t.rip);

/**
 * The differences in memory lie only in the supervisor stack, where the two sides' exception
 * frames are (a different vector pushes a different frame; nothing else was written differently).
 */
function onlyFrameMemory(m: Mismatch): boolean {
  return m.differences.every((d) => {
    if (d.category !== 'memory') return true;
    const r = /^ram\[0x([0-9a-f]+)\.\.0x([0-9a-f]+)\]$/.exec(d.field);
    return (
      r !== null && Number.parseInt(r[1], 16) >= KSTACK_TOP - 0x100 && Number.parseInt(r[2], 16) < KSTACK_TOP
    );
  });
}

/** The x87 left as the case set it on x86emu's side (TOP, tags): it did not run an MMX form. */
function fpuDifferencesOnlyMmxEntry(m: Mismatch): boolean {
  return m.differences.every(
    (d) =>
      d.category !== 'fpu' || d.field === 'fsw' || d.field === 'ftw (abridged)' || /^st\d$/.test(d.field),
  );
}

const within = (m: Mismatch, ...allowed: string[]): boolean =>
  m.signature.categories.every((c) => allowed.includes(c));

/** Context a rule sees: the case's trace and both ends. */
interface Seen {
  m: Mismatch;
  host: SideEnd;
  emu: SideEnd;
  steps: TracedInsn[];
  trace: EmuTrace;
  /** The instruction x86emu ended its CPL-3 run at (where it faulted, if it did). */
  last: TracedInsn | undefined;
  /** The host's final RAM, once a replay needed it (`hostRam`). */
  hostRam?: Uint8Array;
}

/** The 66h near-branch forms (SDM Vol. 2 and APM Vol. 3: near JMP, Jcc, CALL, RET, LOOP, JrCXZ). */
function nearBranch(t: TracedInsn): 'jcc' | 'jmp' | 'call' | 'ret' | 'loop' | undefined {
  const [a, b] = t.opcode;
  if ((a >= 0x70 && a <= 0x7f) || (a === 0x0f && b >= 0x80 && b <= 0x8f)) return 'jcc';
  if (a === 0xe9 || a === 0xeb) return 'jmp';
  if (a === 0xe8) return 'call';
  if (a === 0xc2 || a === 0xc3) return 'ret';
  if (a >= 0xe0 && a <= 0xe3) return 'loop';
  if (a === 0xff && t.modrm !== undefined) {
    const reg = (t.modrm >> 3) & 7;
    if (reg === 2) return 'call';
    if (reg === 4) return 'jmp';
  }
  return undefined;
}

/** CPUID feature bits the host CPU has and x86emu's CPUID does not (checked against `defaultCpuid`). */
interface AbsentFeature {
  name: string;
  leaf: number;
  subleaf: number;
  /** 0 EAX, 1 EBX, 2 ECX, 3 EDX. */
  reg: number;
  bit: number;
  /** The encoding, on the instruction x86emu decoded at that RIP. */
  is: (t: TracedInsn) => boolean;
  /** What x86emu does instead: #UD, or another instruction (LZCNT → BSR). */
  emu: 'ud' | 'other';
}

/** The last F2/F3 prefix (the one that selects the form when both are present), or undefined. */
const rep = (t: TracedInsn): number | undefined => t.prefixes.filter((p) => p === 0xf2 || p === 0xf3).pop();
const has66 = (t: TracedInsn): boolean => t.prefixes.includes(0x66);
const modReg = (t: TracedInsn): number => ((t.modrm ?? 0) >> 3) & 7;
const isMem = (t: TracedInsn): boolean => t.modrm !== undefined && t.modrm < 0xc0;
const op2 = (t: TracedInsn, b: number): boolean =>
  t.opcode.length === 2 && t.opcode[0] === 0x0f && t.opcode[1] === b;
/**
 * RDRAND (0F C7 /6) or RDSEED (0F C7 /7) with a register operand and no F2/F3 prefix (SDM Vol. 2:
 * "NFx", #UD with F2 or F3; F3 0F C7 /7 is RDPID). Their memory forms are other instructions.
 */
const isRandomForm = (t: TracedInsn): boolean =>
  op2(t, 0xc7) && !isMem(t) && (modReg(t) === 6 || modReg(t) === 7) && rep(t) === undefined;
const randomName = (t: TracedInsn): string => (modReg(t) === 6 ? 'RDRAND' : 'RDSEED');

const ABSENT_FEATURES: readonly AbsentFeature[] = [
  {
    name: 'LZCNT (F3 0F BD; BSR without the feature)',
    leaf: 0x80000001,
    subleaf: 0,
    reg: 2,
    bit: 5,
    is: (t) => op2(t, 0xbd) && rep(t) === 0xf3,
    emu: 'other',
  },
  {
    name: 'TZCNT (F3 0F BC, BMI1; BSF without the feature)',
    leaf: 7,
    subleaf: 0,
    reg: 1,
    bit: 3,
    is: (t) => op2(t, 0xbc) && rep(t) === 0xf3,
    emu: 'other',
  },
  {
    name: 'SSE4a (F2/F3 0F 2B MOVNTSD/MOVNTSS, 66/F2 0F 78/79 EXTRQ/INSERTQ)',
    leaf: 0x80000001,
    subleaf: 0,
    reg: 2,
    bit: 6,
    is: (t) =>
      (op2(t, 0x2b) && rep(t) !== undefined && isMem(t)) ||
      ((op2(t, 0x78) || op2(t, 0x79)) && (rep(t) === 0xf2 || (rep(t) === undefined && has66(t)))),
    emu: 'ud',
  },
  {
    name: 'XSAVEC (0F C7 /4)',
    leaf: 0xd,
    subleaf: 1,
    reg: 0,
    bit: 1,
    is: (t) => op2(t, 0xc7) && isMem(t) && modReg(t) === 4,
    emu: 'ud',
  },
  {
    name: 'RDPID (F3 0F C7 /7, register)',
    leaf: 7,
    subleaf: 0,
    reg: 2,
    bit: 22,
    is: (t) => op2(t, 0xc7) && !isMem(t) && modReg(t) === 7 && rep(t) === 0xf3,
    emu: 'ud',
  },
  {
    name: 'CLWB (66 0F AE /6, memory)',
    leaf: 7,
    subleaf: 0,
    reg: 1,
    bit: 24,
    is: (t) => op2(t, 0xae) && isMem(t) && modReg(t) === 6 && has66(t) && rep(t) === undefined,
    emu: 'ud',
  },
  {
    name: 'CLFLUSHOPT (66 0F AE /7, memory)',
    leaf: 7,
    subleaf: 0,
    reg: 1,
    bit: 23,
    is: (t) => op2(t, 0xae) && isMem(t) && modReg(t) === 7 && has66(t) && rep(t) === undefined,
    emu: 'ud',
  },
  {
    name: 'RTM (XBEGIN C7 F8, XABORT C6 F8, XEND 0F 01 D5, XTEST 0F 01 D6)',
    leaf: 7,
    subleaf: 0,
    reg: 1,
    bit: 11,
    is: (t) =>
      ((t.opcode[0] === 0xc7 || t.opcode[0] === 0xc6) && t.opcode.length === 1 && t.modrm === 0xf8) ||
      (op2(t, 0x01) && (t.modrm === 0xd5 || t.modrm === 0xd6)),
    emu: 'ud',
  },
  {
    name: 'SHA (0F 38 C8–CD, 0F 3A CC)',
    leaf: 7,
    subleaf: 0,
    reg: 1,
    bit: 29,
    is: (t) =>
      t.prefixes.every((p) => p !== 0x66 && p !== 0xf2 && p !== 0xf3) &&
      ((t.opcode.length === 3 && t.opcode[1] === 0x38 && t.opcode[2] >= 0xc8 && t.opcode[2] <= 0xcd) ||
        (t.opcode.length === 3 && t.opcode[1] === 0x3a && t.opcode[2] === 0xcc)),
    emu: 'ud',
  },
];

const cpuidOut = new Uint32Array(4);
function x86emuHas(f: AbsentFeature): boolean {
  defaultCpuid.cpuid(f.leaf, f.subleaf, cpuidOut);
  return ((cpuidOut[f.reg] >>> f.bit) & 1) !== 0;
}

/** The side ended in an exception raised at instruction `t` (its frame's RIP is `t`'s). */
const endsAt = (side: SideEnd, t: TracedInsn | undefined): boolean =>
  side.frame !== null && t !== undefined && frameRip(side.frame) === stepRip(t);
/** x86emu raised `vector` at `t`, the last instruction it began. */
const emuRaisedAt = (x: Seen, t: TracedInsn | undefined, vector: number): boolean =>
  t === x.last && x.emu.frame?.vector === vector && endsAt(x.emu, t);
/** The host did not raise #UD at `t` (it ran it, or faulted there for another reason). */
const hostNotUdAt = (x: Seen, t: TracedInsn): boolean => !(x.host.frame?.vector === 6 && endsAt(x.host, t));
const LOCK = 0xf0;
const hasRexW = (t: TracedInsn): boolean => (t.rex & 8) !== 0;
const CR4_OSXSAVE = 1 << 18;
const CR4_FSGSBASE = 1 << 16;
const EFER_SVME = 1 << 12;
/** MMX operands (SDM Vol. 2 A.2.1 P, Q, N). */
const MMX_OPERAND = /(^| |,)[PQN][a-z]/;

/**
 * Why a far return to `sel` at CPL 3 must raise #GP (SDM Vol. 2 RET, "64-Bit Mode Exceptions"),
 * with the error code, or undefined when the selector names a descriptor the return could use.
 */
function retfRefusal(
  sel: number,
  image: Uint8Array,
  gdtLimit: number,
): { error: number; because: string } | undefined {
  const error = sel & 0xfffc;
  if ((sel & ~3) === 0) return { error: 0, because: 'a null selector' };
  if ((sel & 3) < 3) return { error, because: 'RPL < CPL' };
  if (sel & 4) return { error, because: 'an LDT selector, and LDTR is null' };
  if ((sel | 7) > gdtLimit) return { error, because: 'its index is beyond the GDT limit' };
  const d = GDT64 + (sel & ~7);
  const type = image[d + 5];
  const code = (type & 0x18) === 0x18;
  if (!code) return { error, because: 'not a code segment' };
  const dpl = (type >> 5) & 3;
  const conforming = (type & 4) !== 0;
  if (conforming ? dpl > 3 : dpl !== 3) return { error, because: 'its DPL is not the RPL' };
  return undefined;
}

/**
 * 66h on a near branch: AMD honours it (rel16, a 16-bit IP, 2-byte stack slots), Intel and
 * x86emu ignore it. Only the forms whose AMD meaning differs in this layout: rel16 for rel32
 * (another length, so another next instruction, taken or not), RET/CALL (2-byte slots) and
 * JMP/CALL through memory (a 16-bit target); a rel8 target stays below 64 KiB here.
 */
const branch66 = (x: Seen): GarbageClass | undefined => {
  const t = x.steps.find((u) => {
    const k = nearBranch(u);
    if (!k || !has66(u) || hasRexW(u)) return false;
    const rel8 =
      [0xeb, 0xe0, 0xe1, 0xe2, 0xe3].includes(u.opcode[0]) || (u.opcode[0] >= 0x70 && u.opcode[0] <= 0x7f);
    return !rel8;
  });
  if (!t) return undefined;
  return {
    id: 'branch-66',
    hosts: AMD,
    reason: `vendor: ${t.row?.mnemonic ?? 'a near branch'} with an operand-size prefix (${bytesText(t.bytes)}) at 0x${t.rip.toString(16)}: AMD honours 66h on near branches in 64-bit mode (APM Vol. 3 JMP/Jcc/CALL/RET (Near): a 16-bit operand size truncates RIP to 16 bits, rel16, 2-byte stack slots; probe: 66 E9 and 66 0F 84 take rel16, 66 C3 pops 2 bytes on the host, host-probes64), Intel ignores it (SDM Vol. 2 JMP/Jcc/CALL/RET: "In 64-bit mode, operand size is fixed at 64 bits"), as x86emu (GenuineIntel)`,
  };
};

/** 66 0F E7 (MOVNTDQ) with a register operand: the host runs it, the SDM's form is memory only. */
const movntdqRegister = (x: Seen): GarbageClass | undefined => {
  const t = x.last;
  if (!t || !op2(t, 0xe7) || isMem(t) || !has66(t) || rep(t) !== undefined) return undefined;
  if (!emuRaisedAt(x, t, 6) || !hostNotUdAt(x, t)) return undefined;
  return {
    id: 'movntdq-register',
    reason: `host: 66 0F E7 with a register operand (ModRM.mod = 3) runs on the host as a register move instead of raising #UD (probe: 66 0F E7 D1 runs on, NP 0F E7 and 0F 2B register forms give #UD, host-probes64): on the AMD EPYC measured in the guest only, on an Intel Xeon after the CPU's own #UD (natively #UD, probes/native-ud.c), which kvm-pvm then completes; SDM Vol. 2 MOVNTDQ: the destination is m128 only (Table A-3: 66 0F E7 "Mx, Vx"), and a register form is #UD, as x86emu`,
  };
};

/** MOVNTI (0F C3) under a 66/F2/F3 prefix: the host stores, x86emu #UD (an NP form). */
const movntiPrefix = (x: Seen): GarbageClass | undefined => {
  const t = x.last;
  if (!t || !op2(t, 0xc3) || !t.prefixes.some((p) => p === 0x66 || p === 0xf2 || p === 0xf3))
    return undefined;
  if (!emuRaisedAt(x, t, 6) || !hostNotUdAt(x, t)) return undefined;
  return {
    id: 'movnti-prefix',
    reason: `host: 0F C3 (MOVNTI) under a 66/F2/F3 prefix stores on the host (probe: F3 0F C3 stores, host-probes64): on the AMD EPYC measured in the guest only, on an Intel Xeon after the CPU's own #UD (natively #UD, probes/native-ud.c), which kvm-pvm then completes as it does LOCK hint NOPs; SDM Vol. 2 Table A-3 has 0F C3 only without a prefix (NP), the other cells empty, and 3.1.1.1: such a prefix "will either cause an invalid-opcode exception (#UD) or result in the encoding for a different instruction", as x86emu gives #UD`,
  };
};

/**
 * The x87 differences are the host's entry to MMX state alone: TOP 0 and every tag valid on the
 * host (SDM Vol. 3A 12.2), TOP and the tags as the case set them on x86emu, the registers rotated.
 */
function mmxStateOnHostOnly(x: Seen): boolean {
  const f = (x.m.ranCase ?? x.m.testCase).init.fpu;
  if (!f) return false;
  return x.m.differences.every((d) => {
    if (d.field === 'fsw')
      return (
        (Number.parseInt(d.host, 16) & 0x3800) === 0 && ((Number.parseInt(d.emu, 16) ^ f.fsw) & 0x3800) === 0
      );
    if (d.field === 'ftw (abridged)') return d.host === '00ff' && Number.parseInt(d.emu, 16) === f.ftw;
    return /^st\d$/.test(d.field);
  });
}

/**
 * Every memory difference lies in the FNSTENV/FNSAVE (D9 /6, DD /6) images x86emu stored, within
 * the byte ranges `fields(wide)` gives of an image (`wide`: the 32-bit format, else the 16-bit
 * one under 66h), with 00 bytes on the host; `quiet` also wants each image's FSW.ES (bit 7) clear
 * on the host (no unmasked exception pending).
 */
function x87ImageFieldsOnly(x: Seen, fields: (wide: boolean) => [bigint, bigint][], quiet = false): boolean {
  const mem = x.m.differences.filter((d) => d.category === 'memory');
  if (!within(x.m, 'memory') || mem.length === 0) return false;
  const ranges: [bigint, bigint][] = [];
  const fsw: bigint[] = [];
  for (const t of x.steps) {
    if (!isMem(t) || !((t.opcode[0] === 0xd9 || t.opcode[0] === 0xdd) && modReg(t) === 6)) continue;
    const ea = effectiveAddress(t, t.gpr, t.gprHigh);
    for (const [from, to] of fields(!has66(t))) ranges.push([ea + from, ea + to]);
    fsw.push(ea + (has66(t) ? 2n : 4n));
  }
  if (ranges.length === 0) return false;
  if (quiet) {
    const ram = hostRam(x);
    if (!ram || fsw.some((a) => a >= BigInt(ram.length) || (ram[Number(a)] & 0x80) !== 0)) return false;
  }
  return mem.every((d) => {
    const r = /^ram\[0x([0-9a-f]+)\.\.0x([0-9a-f]+)\]$/.exec(d.field);
    if (!r || !/^(00 ?)+$/.test(d.host)) return false;
    const a = BigInt(`0x${r[1]}`);
    const b = BigInt(`0x${r[2]}`);
    return ranges.some(([from, to]) => a >= from && b < to);
  });
}

/** Both sides raised the same exception (vector and error code) at `t`, the last instruction x86emu began. */
const bothRaisedAt = (x: Seen, t: TracedInsn | undefined, vector: number): boolean =>
  t === x.last &&
  endsAt(x.host, t) &&
  endsAt(x.emu, t) &&
  x.host.frame?.vector === vector &&
  x.emu.frame?.vector === vector &&
  x.host.frame.error === x.emu.frame.error;

/** The last instruction x86emu executed whose mnemonic matches `re`. */
const lastOf = (x: Seen, re: RegExp): TracedInsn | undefined =>
  [...x.steps].reverse().find((t) => t.row !== undefined && re.test(t.row.mnemonic));

/** The four 32-bit lanes (lane 0 first) of an XMM register as compare prints it (`high_low`, hex). */
function lanes32(v: string): number[] {
  const h = v.replace('_', '');
  return [3, 2, 1, 0].map((k) => Number.parseInt(h.slice(8 * k, 8 * k + 8), 16));
}
const f32 = (bits: number): number => new Float32Array(new Uint32Array([bits]).buffer)[0];
const isNaN32 = (bits: number): boolean => (bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0;

/** The differences lie only in XMM register `reg`'s lanes and each differing lane passes `ok`. */
function onlyXmmLanes(
  x: Seen,
  reg: number,
  ok: (host: number, emu: number, lane: number) => boolean,
): boolean {
  return x.m.differences.every((d) => {
    if (d.field !== `xmm${reg}`) return false;
    const h = lanes32(d.host);
    const e = lanes32(d.emu);
    return h.every((v, k) => v === e[k] || ok(v, e[k], k));
  });
}

const STRING_OPS = [0x6c, 0x6d, 0x6e, 0x6f, 0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf];
const STATUS_FLAGS = 0x8d5;

/**
 * An Intel CPU's own choices where the manuals leave the result to the implementation and x86emu
 * follows AMD's (measured on a Xeon, kvm-pvm: `hosts: INTEL`; AMD's is `branch66`). Each needs the
 * case to show it; `classifyVendor64` also applies them to generated long64 mismatches.
 */
const INTEL_RULES: readonly ((s: Seen) => GarbageClass | undefined)[] = [
  // RCPPS/RCPSS/RSQRTPS/RSQRTSS: an approximation whose bits are the implementation's.
  (x) => {
    const t = lastOf(x, /^(RCP|RSQRT)(PS|SS)$/);
    if (!t?.row || !within(x.m, 'sse')) return undefined;
    const scalar = t.row.mnemonic.endsWith('SS');
    const near = (h: number, e: number, lane: number): boolean =>
      (lane === 0 || !scalar) &&
      Number.isFinite(f32(h)) &&
      Math.abs(f32(h) - f32(e)) <= 3 * 2 ** -12 * Math.max(Math.abs(f32(h)), Math.abs(f32(e)));
    if (!onlyXmmLanes(x, t.insn.reg, near)) return undefined;
    return {
      id: 'rcp-rsqrt-approximation',
      hosts: INTEL,
      reason: `vendor: ${t.row.mnemonic} (${bytesText(t.bytes)}) at 0x${t.rip.toString(16)} is an approximation whose bits are the implementation's: SDM Vol. 2 ${t.row.mnemonic}: "|Relative Error| ≤ 1.5 * 2^-12" (APM the same bound); an Intel CPU's table gives other bits than AMD's, which x86emu reproduces, and the two results are within 3 * 2^-12 of each other`,
    };
  },
  // DPPS with NaN operands: which NaN lands in which element is the implementation's.
  (x) => {
    const t = lastOf(x, /^DPPS$/);
    if (!t || !within(x.m, 'sse') || !onlyXmmLanes(x, t.insn.reg, (h, e) => isNaN32(h) && isNaN32(e)))
      return undefined;
    return {
      id: 'dpps-nan',
      hosts: INTEL,
      reason: `vendor: DPPS (${bytesText(t.bytes)}) at 0x${t.rip.toString(16)} with NaN operands: SDM Vol. 2 DPPS: the NaN rules of Table 4-7 "do not cover horizontal prioritization of NaNs. Horizontal propagation of NaNs to the destination and the positioning of those NaNs in the destination is implementation dependent"; an Intel CPU puts another NaN in an element than AMD's CPUs and x86emu (every differing element is a NaN on both sides)`,
    };
  },
  // An MMX store faulting natively (#PF): an Intel CPU has entered MMX state first.
  (x) => {
    const t = x.last;
    if (!t?.row || !/^[EQM][a-z]+,P[a-z]+$/.test(t.row.operands) || !bothRaisedAt(x, t, 14)) return undefined;
    if (!within(x.m, 'fpu') || !mmxStateOnHostOnly(x)) return undefined;
    return {
      id: 'mmx-store-fault',
      hosts: INTEL,
      reason: `vendor: ${t.row.mnemonic} ${t.row.operands} (${bytesText(t.bytes)}) stores an MMX register and its memory operand faults (#PF, on the CPU itself): an Intel CPU has put the x87 in MMX state (TOP 0, every tag valid) before the fault, an AMD CPU, as x86emu, leaves the x87 as it was (probe: host-probes-fpu64 "an MMX store … a native #PF"); SDM Vol. 3A 12.2 gives the state an MMX instruction leaves when it executes, not when it faults`,
    };
  },
  // MASKMOVDQU's #PF: which byte of the 16-byte store CR2 names.
  (x) => {
    const t = x.last;
    if (t?.row?.mnemonic !== 'MASKMOVDQU' || !bothRaisedAt(x, t, 14) || !within(x.m, 'cr2')) return undefined;
    const ea = effectiveAddress(t, t.gpr, t.gprHigh);
    const cr2 = (s: SideEnd): bigint =>
      (BigInt((s.state.cr2High ?? 0) >>> 0) << 32n) | BigInt(s.state.cr2 >>> 0);
    if (cr2(x.emu) !== ea || cr2(x.host) !== ea + 8n) return undefined;
    return {
      id: 'maskmovdqu-cr2',
      hosts: INTEL,
      reason: `vendor: MASKMOVDQU (${bytesText(t.bytes)}) stores 16 bytes at DS:[RDI] = 0x${ea.toString(16)} and takes a #PF: an Intel CPU reports CR2 = RDI + 8 (the upper quadword's address), AMD's CPUs and x86emu RDI; SDM Vol. 3A 4.7: CR2 holds the linear address that caused the fault, without saying which byte of an access names it`,
    };
  },
  // An x87 store with #I unmasked (FIST/FISTP/FISTTP, FBSTP, FST/FSTP) to a destination that faults.
  (x) => {
    const t = x.last;
    if (!t?.row || !/^(FISTT?P?|FBSTP|FSTP?)$/.test(t.row.mnemonic) || !isMem(t) || endsAt(x.host, t))
      return undefined;
    const ev = x.emu.frame?.vector;
    const hf = x.host.state.fpu;
    if (!endsAt(x.emu, t) || (ev !== 14 && ev !== 13 && ev !== 12) || !hf) return undefined;
    if ((hf.fsw & 0x81) !== 0x81 || (hf.fcw & 1) !== 0 || !within(x.m, 'cr2', 'eip', 'fpu', 'memory'))
      return undefined;
    const fswOnly = x.m.differences.every(
      (d) =>
        d.category !== 'fpu' ||
        (d.field === 'fsw' && ((Number.parseInt(d.host, 16) ^ Number.parseInt(d.emu, 16)) & ~0x80ff) === 0),
    );
    if (!fswOnly || !onlyFrameMemory(x.m)) return undefined;
    return {
      id: 'x87-store-invalid-first',
      hosts: INTEL,
      reason: `vendor: ${t.row.mnemonic} (${bytesText(t.bytes)}) with an invalid-operation exception unmasked (an invalid operand, or ST(0) empty) to a destination that faults (#${ev === 14 ? 'PF' : ev === 13 ? 'GP' : 'SS'} on x86emu): an Intel CPU signals the numeric exception first and, as SDM Vol. 2 ${t.row.mnemonic} says for an unmasked #IA, stores nothing (SDM Vol. 1 8.5.1), so the destination is never checked (FSW.IE and ES set, the #MF left for the next x87 instruction); AMD's CPUs and x86emu fault on the destination first; neither manual orders the two for one instruction`,
    };
  },
  // REPE/REPNE CMPS/SCAS that faults: the flags it leaves.
  (x) => {
    const t = x.last;
    if (!t || ![0xa6, 0xa7, 0xae, 0xaf].includes(t.opcode[0]) || rep(t) === undefined) return undefined;
    const v = x.host.frame?.vector ?? -1;
    if (!bothRaisedAt(x, t, v) || !within(x.m, 'eflags', 'frame.eflags')) return undefined;
    const before = t.rflags & STATUS_FLAGS;
    const flags = (side: SideEnd): number => (side.frame?.rflags ?? 0) & STATUS_FLAGS;
    if (flags(x.host) !== before || flags(x.emu) === before) return undefined;
    return {
      id: 'rep-cmps-scas-flags',
      hosts: INTEL,
      reason: `vendor: ${t.row?.mnemonic ?? 'CMPS/SCAS'} under ${rep(t) === 0xf3 ? 'REPE' : 'REPNE'} (${bytesText(t.bytes)}) faults (#${v}) after some iterations: an Intel CPU reports the flags as they were before the instruction, as SDM Vol. 2 REP/REPE/REPZ/REPNE/REPNZ says ("the EFLAGS value is restored to the state prior to the execution of the instruction"), AMD's CPUs and x86emu those of the last completed iteration (the APM does not say)`,
    };
  },
  // A REP string instruction with a 32-bit address size: RCX/RSI/RDI[63:32] on the host.
  (x) => {
    const a32 = x.steps.filter(
      (u) => STRING_OPS.includes(u.opcode[0]) && rep(u) !== undefined && u.insn.adSize === 4,
    );
    if (a32.length === 0 || !within(x.m, 'gpr')) return undefined;
    const cleared = x.m.differences.every((d) => {
      if (!['rcx', 'rsi', 'rdi'].includes(d.field)) return false;
      const e = BigInt(d.emu);
      return BigInt(d.host) === (e & 0xffffffffn) && e >> 32n !== 0n;
    });
    if (!cleared) return undefined;
    const u = a32[a32.length - 1];
    return {
      id: 'rep-a32-upper',
      hosts: INTEL,
      reason: `vendor: ${u.row?.mnemonic ?? 'a string instruction'} under REP with a 32-bit address size (${bytesText(u.bytes)}) at 0x${u.rip.toString(16)}, which faulted at its first iteration or ran none (ECX = 0): an Intel CPU has cleared bits 63:32 of RCX (and RSI/RDI) anyway, AMD's CPUs and x86emu leave the registers an iteration did not write; SDM Vol. 2 REP (Operation) writes ECX only per iteration and Vol. 1 3.4.1.1 zero-extends a 32-bit write, so with no iteration completed the upper halves are the implementation's`,
    };
  },
  // A near CALL whose target is not canonical: the return address written before the #GP(0).
  (x) => {
    const t = x.last;
    if (!t || nearBranch(t) !== 'call' || has66(t) || !bothRaisedAt(x, t, 13) || x.host.frame?.error !== 0)
      return undefined;
    const ram = hostRam(x);
    const rsp = t.gpr[4] >>> 0;
    if (!ram || t.gprHigh[4] !== 0 || t.ripHigh !== 0 || !within(x.m, 'memory') || rsp < 8) return undefined;
    const inSlot = x.m.differences.every((d) => {
      const r = /^ram\[0x([0-9a-f]+)\.\.0x([0-9a-f]+)\]$/.exec(d.field);
      return r !== null && Number.parseInt(r[1], 16) >= rsp - 8 && Number.parseInt(r[2], 16) < rsp;
    });
    const next = t.rip + t.length;
    const pushed = Array.from({ length: 8 }, (_, k) => ram[rsp - 8 + k]);
    if (!inSlot || pushed.some((b, k) => b !== (k < 4 ? (next >>> (8 * k)) & 0xff : 0))) return undefined;
    return {
      id: 'call-push-before-gp',
      hosts: INTEL,
      reason: `vendor: CALL (${bytesText(t.bytes)}) at 0x${t.rip.toString(16)} to a target that faults #GP(0) (SDM Vol. 2 CALL "64-Bit Mode Exceptions": a non-canonical target): an Intel CPU has written the return address (0x${next.toString(16)}) below RSP before the fault, RSP itself unchanged as for any fault; AMD's CPUs and x86emu check the target first and write nothing; neither manual orders the push and the check`,
    };
  },
  // FNSTENV/FNSAVE images that differ in FOP and FDP too (FCS/FDS: x87-fcs-fds), with none pending.
  (x) => {
    // FCS, FOP, FDP, FDS: bytes 16–25 of the 32-bit format; FCS, FDP, FDS: 8–13 of the 16-bit one
    // (no FOP there) (SDM Vol. 1 8.1.10, Figures 8-9 and 8-10).
    if (!x87ImageFieldsOnly(x, (wide) => [wide ? [16n, 26n] : [8n, 14n]], true)) return undefined;
    return {
      id: 'x87-fop-fdp',
      hosts: INTEL,
      reason:
        "vendor: FNSTENV/FNSAVE images differ only in FOP and FDP (and FCS/FDS), 0 on the host, the last x87 instruction's on x86emu, with no unmasked exception pending (FSW.ES = 0 in the image): an Intel CPU with CPUID.(EAX=07H,ECX=0):EBX[6] = 1 (FDP_EXCPTN_ONLY, this Xeon) updates FDP only for an x87 instruction that incurs an unmasked exception, and with FOP compatibility mode off (IA32_MISC_ENABLE[2] = 0, the default) stores FOP only then too (SDM Vol. 1 8.1.8, 8.1.9.1); AMD's CPUs, as x86emu, store them for the last x87 instruction",
    };
  },
];

/** The rules, in order; the first that places the case wins. */
const RULES: readonly ((s: Seen) => GarbageClass | undefined)[] = [
  // x87/SSE/MMX memory operand misaligned or non-canonical: the host's #UD through KVM's emulator.
  ({ m, host, emu, last, trace }) => {
    const hf = host.frame;
    const ef = emu.frame;
    if (!hf || !ef || !last?.row || classOf(last.row) === 'gp') return undefined;
    if (!isMem(last) && !IMPLICIT_RDI.has(last.row.mnemonic)) return undefined;
    if (frameRip(hf) !== frameRip(ef) || frameRip(ef) !== stepRip(last)) return undefined;
    if (
      !((hf.vector === 6 && (ef.vector === 13 || ef.vector === 12)) || (hf.vector === 12 && ef.vector === 13))
    )
      return undefined;
    if (!within(m, 'eip', 'gpr', 'memory', 'fpu') || !onlyFrameMemory(m) || !fpuDifferencesOnlyMmxEntry(m))
      return undefined;
    const ea = effectiveAddress(last, trace.lastGpr, trace.lastGprHigh);
    const nonCanonical = !isCanonical(ea);
    const misaligned = requires16(last.row) && (ea & 15n) !== 0n;
    if (!nonCanonical && !misaligned) return undefined;
    const what = `${last.row.mnemonic} ${last.row.operands} at 0x${ea.toString(16)} (${nonCanonical ? 'non-canonical' : 'not 16-byte aligned'})`;
    if (hf.vector === 12)
      return {
        id: 'fpu-sse-stack-operand',
        reason: `host: ${what}: a misaligned, non-canonical stack operand faults on the CPU and kvm-pvm hands the instruction to KVM's emulator, which checks canonicality before alignment (__linearize): #SS(0) (probe: SS: MOVNTPD there gives #SS(0), host-probes-fpu64); the CPU checks alignment first, #GP(0), as x86emu (SDM Vol. 2 ${last.row.mnemonic} "64-Bit Mode Exceptions" lists both)`,
      };
    return {
      id: 'fpu-sse-operand',
      reason: `host: ${what}: kvm-pvm intercepts the #GP(0)/#SS(0) the CPU raises at CPL 3 and hands the instruction to KVM's emulator, which lacks it and injects #UD (handle_emulation_failure; probe: PAND m128 and FLD m64 give #UD misaligned/non-canonical, host-probes-fpu64); SDM Vol. 2 ${last.row.mnemonic} "64-Bit Mode Exceptions": #GP(0)/#SS(0), as x86emu`,
    };
  },
  // FXSAVE/FXRSTOR under 66/F2/F3 without a SIB index: kvm-pvm completes them (known-fpu.ts).
  (x) => {
    const t = x.last;
    if (!t || !op2(t, 0xae) || !isMem(t) || modReg(t) > 1 || t.insn.index >= 0) return undefined;
    if (!t.prefixes.some((p) => p === 0x66 || p === 0xf2 || p === 0xf3)) return undefined;
    if (!emuRaisedAt(x, t, 6) || !hostNotUdAt(x, t)) return undefined;
    return {
      id: 'fxsave-prefix',
      reason: `host: the CPU raises #UD for ${modReg(t) === 0 ? 'FXSAVE' : 'FXRSTOR'} under a 66, F2 or F3 prefix, and kvm-pvm completes it as without the prefix when its memory operand has no SIB index register (probe: the guest's 66 FXSAVE [rax] stores the image, 66 FXSAVE [rax+rcx] gets #UD, host-probes-fpu64); SDM Vol. 2 3.1.1.1: an NP form's 66/F2/F3 "will either cause an invalid-opcode exception (#UD) or result in the encoding for a different instruction", as x86emu gives #UD`,
    };
  },
  movntdqRegister,
  branch66,
  // IRET at CPL 3 is emulated by KVM on kvm-pvm: #GP(0) where the SDM gives #GP(selector).
  (x) => {
    const t = x.last;
    if (t?.opcode[0] !== 0xcf || t.prefixes.includes(LOCK) || hasRexW(t)) return undefined;
    const hf = x.host.frame;
    const ef = x.emu.frame;
    if (!hf || !ef || hf.vector !== 13 || ef.vector !== 13 || !endsAt(x.host, t) || !endsAt(x.emu, t))
      return undefined;
    if (hf.error !== 0 || !ef.error || !within(x.m, 'memory')) return undefined;
    return {
      id: 'iretd-gp0',
      reason: `host: IRET with a 32- or 16-bit operand size (${bytesText(t.bytes)}) at CPL 3 gives #GP(0) on kvm-pvm whatever the frame holds (probe: IRETD to CS 0x4003, 0x294, 0x10, 0x2b: #GP(0) on the host; IRETQ gives the SDM's #GP(selector) there, host-probes64); SDM Vol. 2 IRET "64-Bit Mode Exceptions": #GP(selector) for the frame's CS (here 0x${ef.error.toString(16)}), as x86emu`,
    };
  },
  // RETF whose return x86emu refuses with the SDM's #GP (the CS checks come first): the host reads
  // the outer level's RSP and SS first and reports their #PF.
  (x) => {
    const t = x.last;
    if (!t || !(t.opcode[0] === 0xca || t.opcode[0] === 0xcb)) return undefined;
    const hf = x.host.frame;
    const ef = x.emu.frame;
    if (!hf || !ef || ef.vector !== 13 || hf.vector !== 14 || hf.error !== 5) return undefined;
    if (!endsAt(x.emu, t) || !endsAt(x.host, t) || !within(x.m, 'cr2', 'eip', 'memory')) return undefined;
    if ((x.host.state.cr2High ?? 0) !== 0) return undefined;
    const { image, stack } = traceCase(x.m.ranCase ?? x.m.testCase);
    const slot = hasRexW(t) ? 8 : has66(t) ? 2 : 4;
    const le = (at: number, n: number): number => {
      let v = 0;
      for (let k = n - 1; k >= 0; k--) v = v * 256 + (stack[at + k] ?? 0);
      return v;
    };
    const sel = le(slot, 2);
    const why = retfRefusal(sel, image, x.m.testCase.init.gdtLimit);
    if (!why || why.error !== ef.error) return undefined;
    // The host's #PF is on the outer level's RSP and SS slots, past RET's immediate.
    const imm = t.opcode[0] === 0xca ? t.bytes[t.length - 2] | (t.bytes[t.length - 1] << 8) : 0;
    const outer = (t.gpr[4] >>> 0) + 2 * slot + imm;
    const cr2 = x.host.state.cr2 >>> 0;
    if (t.gprHigh[4] !== 0 || cr2 < outer || cr2 >= outer + 2 * slot) return undefined;
    return {
      id: 'retf-outer-first',
      // Measured on the AMD host; an Intel host's RETF refuses the CS first (host-probes64).
      hosts: AMD,
      reason: `host: RETF${imm ? ` ${imm.toString(16)}h` : ''} at CPL 3 to CS 0x${sel.toString(16)} (${why.because}): the host reads the outer level's RSP and SS slots first (past the immediate) and takes their #PF at 0x${cr2.toString(16)} (probe: RETF imm16 to an RPL-1 selector with the outer slots on a supervisor page, host-probes64), where SDM Vol. 2 RET (Operation, "64-Bit Mode Exceptions") checks the return CS first: #GP(0x${why.error.toString(16)}), as x86emu`,
    };
  },
  // RETF whose two stack reads both fault: which one CR2 names is the implementation's.
  (x) => {
    const t = x.last;
    const iret = t?.opcode[0] === 0xcf;
    if (!t || !(t.opcode[0] === 0xca || t.opcode[0] === 0xcb || iret) || !within(x.m, 'cr2'))
      return undefined;
    const hf = x.host.frame;
    const ef = x.emu.frame;
    if (!hf || !ef || hf.vector !== 14 || ef.vector !== 14 || hf.error !== ef.error) return undefined;
    if (!endsAt(x.emu, t) || !endsAt(x.host, t)) return undefined;
    const big = (lo: number, hi = 0): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    const rsp = big(t.gpr[4], t.gprHigh[4]);
    const slot = hasRexW(t) ? 8n : has66(t) ? 2n : 4n;
    const hc = big(x.host.state.cr2, x.host.state.cr2High);
    const ec = big(x.emu.state.cr2, x.emu.state.cr2High);
    const inPop = (a: bigint): boolean => a >= rsp && a < rsp + (iret ? 5n : 2n) * slot;
    if (!inPop(hc) || !inPop(ec) || hc >> 12n !== ec >> 12n) return undefined;
    return {
      id: 'far-return-read-order',
      reason: `host: ${iret ? 'IRET' : 'RETF'}'s stack reads (${iret ? 'RIP, CS, RFLAGS, RSP, SS' : 'RIP, CS'}, ${slot}-byte slots from RSP) fault on the same page, and the host reports CR2 = 0x${hc.toString(16)}, x86emu the first slot, 0x${ec.toString(16)} (probe: RETF and IRET with RSP on the not-present page, host-probes64: the host names a later slot); SDM Vol. 2 ${iret ? 'IRET' : 'RET (Far)'} does not order the reads, and SDM Vol. 3 6.15 (#PF): CR2 holds the address of the access that faulted`,
    };
  },
  // LOCK IRET/SYSRET/SWAPGS: kvm-pvm runs them at CPL 3 itself and ignores the LOCK.
  (x) => {
    const t = x.last;
    if (!t?.prefixes.includes(LOCK) || !emuRaisedAt(x, t, 6) || !hostNotUdAt(x, t)) return undefined;
    const iret = t.opcode[0] === 0xcf;
    const sysret = op2(t, 0x07);
    const swapgs = op2(t, 0x01) && t.modrm === 0xf8;
    if (!iret && !sysret && !swapgs) return undefined;
    return {
      id: 'lock-iret-sysret',
      reason: `host: kvm-pvm runs ${iret ? 'IRET' : sysret ? 'SYSRET' : 'SWAPGS'} at CPL 3 itself and ignores a LOCK prefix there (probe: LOCK IRETQ returns, LOCK SWAPGS/SYSRET give #GP(0), host-probes64), while the CPU gives #UD for LOCK with the other non-lockable instructions probed; SDM Vol. 2 LOCK: #UD, as x86emu`,
    };
  },
  // LOCK on a hint NOP (0F 19–1F) with a memory operand: kvm-pvm completes it as a NOP.
  (x) => {
    const t = x.last;
    if (!t?.prefixes.includes(LOCK) || !isMem(t) || t.opcode.length !== 2 || t.opcode[0] !== 0x0f)
      return undefined;
    if (t.opcode[1] < 0x19 || t.opcode[1] > 0x1f || !emuRaisedAt(x, t, 6) || !hostNotUdAt(x, t))
      return undefined;
    return {
      id: 'lock-hint-nop',
      reason: `host: the CPU gives #UD for LOCK 0F ${t.opcode[1].toString(16).toUpperCase()} with a memory operand, and kvm-pvm completes it in the guest as a NOP (probe: LOCK 0F 19/1D/1F [rax] run on, the register form is #UD, host-probes64); SDM Vol. 2 LOCK and APM Vol. 3 1.2.5: #UD for LOCK with a non-lockable instruction, as x86emu`,
    };
  },
  // LOCK RDRAND/RDSEED with a register operand: the host runs them.
  (x) => {
    const t = x.last;
    if (!t?.prefixes.includes(LOCK) || !isRandomForm(t) || !emuRaisedAt(x, t, 6) || !hostNotUdAt(x, t))
      return undefined;
    return {
      id: 'lock-rdrand',
      reason: `host: LOCK ${randomName(t)} with a register operand (${bytesText(t.bytes)}) runs on this host as without the prefix: a random value and CF = 1 (probe: host-probes64 "LOCK RDRAND and LOCK RDSEED run on the host"; LOCK with RDPID, POPCNT or BSWAP is #UD there); SDM Vol. 2 ${randomName(t)}: #UD if the LOCK prefix is used, as x86emu`,
    };
  },
  // MOV to CS or Sreg 6/7 with a memory operand: the host reads the operand before its #UD.
  (x) => {
    const t = x.last;
    if (t?.opcode[0] !== 0x8e || !isMem(t) || ![1, 6, 7].includes(modReg(t))) return undefined;
    const hv = x.host.frame?.vector;
    if (!emuRaisedAt(x, t, 6) || !endsAt(x.host, t) || (hv !== 14 && hv !== 13 && hv !== 12))
      return undefined;
    return {
      id: 'mov-sreg-ud-after-read',
      reason: `host: the CPU gives #UD first for MOV to ${modReg(t) === 1 ? 'CS' : `Sreg ${modReg(t)}`} with a memory operand, and kvm-pvm hands that #UD to KVM's emulator, which reads the operand before it refuses the form (#PF/#GP on the operand; probe: host-probes64 "MOV to CS or to Sreg 6/7"); SDM Vol. 3 6.9 (Table 6-2) ranks invalid-opcode faults above faults on the operands, as x86emu`,
    };
  },
  // MOV to Sreg with REX.R that faults on the CPU: KVM's emulator counts REX.R (#UD).
  (x) => {
    const t = x.last;
    if (t?.opcode[0] !== 0x8e || (t.rex & 4) === 0 || modReg(t) > 5) return undefined;
    const ef = x.emu.frame;
    if (!ef || !endsAt(x.emu, t) || ef.vector === 6 || x.host.frame?.vector !== 6 || !endsAt(x.host, t))
      return undefined;
    return {
      id: 'mov-sreg-rexr',
      reason: `host: a MOV Sreg with REX.R whose selector load faults on the CPU (x86emu: #${ef.vector}) is re-run by KVM's emulator on kvm-pvm, which counts REX.R in the Sreg field (#UD); APM Vol. 3 1.2.7 and SDM Vol. 2 MOV: REX.R is ignored for a segment register, as x86emu; probe: host-probes64 "MOV r/m, Sreg with REX.R"`,
    };
  },
  // Features the host CPU has and x86emu's CPUID does not.
  (x) => {
    for (const [i, t] of x.steps.entries()) {
      const f = ABSENT_FEATURES.find((a) => a.is(t));
      if (!f || x86emuHas(f)) continue;
      if (
        f.emu === 'ud'
          ? !emuRaisedAt(x, t, 6) || !hostNotUdAt(x, t)
          : i === x.steps.length - 1 && !x.trace.complete
      )
        continue;
      return {
        id: 'cpuid-absent',
        reason: `host: the CPU implements ${f.name} (CPUID.${f.leaf.toString(16).toUpperCase()}H${f.subleaf ? `.${f.subleaf}` : ''}:${['EAX', 'EBX', 'ECX', 'EDX'][f.reg]}[${f.bit}] on the host CPU; kvm-pvm runs CPL-3 code natively whatever the guest's CPUID says) and x86emu's CPUID does not, so x86emu ${f.emu === 'ud' ? 'raises #UD' : 'runs the form the bytes mean without it'} (SDM Vol. 2 ${f.name.split(' ')[0]}: #UD if the CPUID bit is 0); probe: host-probes64 "instructions the host has and x86emu's CPUID does not"`,
      };
    }
    return undefined;
  },
  movntiPrefix,
  // INT n at CPL 3: #UD on kvm-pvm.
  (x) => {
    const t = x.steps.find((u) => u.opcode[0] === 0xcd);
    if (!t || x.host.frame?.vector !== 6 || !endsAt(x.host, t)) return undefined;
    return {
      id: 'int-n',
      reason: `host: kvm-pvm raises #UD for INT n at CPL 3, even through a DPL-3 gate (probe: INT 80h and INT 0Dh, host-probes64; EXCLUDED_LONG); SDM Vol. 2 INT n: the gate's vector (or #GP(vector·8+2) through a DPL-0 gate), as x86emu`,
    };
  },
  // RFLAGS.AC after an event's delivery, and an NT that POPF set and an exit lost.
  (x) => {
    if (!x.steps.some((u) => u.opcode[0] === 0x9d) || !within(x.m, 'eflags', 'frame.eflags'))
      return undefined;
    const only = (flag: string, bit: number): boolean =>
      x.m.differences.every(
        (d) =>
          d.field.endsWith(`(${flag} differ)`) &&
          (Number.parseInt(d.host, 16) & bit) === 0 &&
          (Number.parseInt(d.emu, 16) & bit) !== 0,
      );
    // AC: only the final (CPL-0) RFLAGS differs; the frame shows the user code's AC = 1.
    if (only('AC', 1 << 18) && within(x.m, 'eflags') && ((x.host.frame?.rflags ?? 0) & (1 << 18)) !== 0)
      return {
        id: 'ac-at-delivery',
        reason:
          "host: kvm-pvm clears RFLAGS.AC when it delivers an event to the guest's CPL 0 (probe: POPF of AC = 1, then UD2: the frame holds AC = 1, the handler runs with AC = 0, host-probes64); SDM Vol. 3 6.12.1.3: delivery through an interrupt gate clears TF, VM, RF, NT and IF, not AC, as x86emu",
      };
    if (only('NT', 1 << 14) && x.steps.some((u) => u.opcode[0] === 0x9d))
      return {
        id: 'popf-nt',
        reason:
          'host: RFLAGS.NT that POPF set at CPL 3 is lost when kvm-pvm takes an exit while the user code runs (a shadow-page fault, CPUID): its return to user code does not restore NT (probe: POPF of NT=1, then CPUID, then PUSHF reads NT = 0; without the exit NT stays, host-probes64); SDM Vol. 2 POPF: NT is loaded at any CPL, and nothing but IRET, a task switch or POPF changes it, as x86emu',
      };
    return undefined;
  },
  // A REP prefix on LOOPE/LOOPNE picks the condition on this host.
  (x) => {
    const t = x.steps.find(
      (u) => (u.opcode[0] === 0xe0 && rep(u) === 0xf3) || (u.opcode[0] === 0xe1 && rep(u) === 0xf2),
    );
    if (!t) return undefined;
    return {
      id: 'rep-loopcc',
      // Measured on the AMD host; an Intel host's LOOPcc keeps its own condition.
      hosts: AMD,
      reason: `host: ${bytesText(t.bytes)} (${t.row?.mnemonic}) branches as ${rep(t) === 0xf2 ? 'LOOPNE' : 'LOOPE'} on this host: the REP prefix picks the condition, as for CMPS and SCAS (probe: host-probes64 "a REP prefix on LOOPE/LOOPNE"); SDM Vol. 2 LOOP/LOOPcc and 2.1.1: REP prefixes apply to string instructions only, the condition is the opcode's, as x86emu`,
    };
  },
  // CMPS's first read: the host reports the source's fault where x86emu (and the CPU) reads ES:[rDI] first.
  (x) => {
    const t = x.last;
    if (!t || (t.opcode[0] !== 0xa6 && t.opcode[0] !== 0xa7) || !endsAt(x.emu, t) || !endsAt(x.host, t))
      return undefined;
    if (x.host.frame?.vector !== 14 || !within(x.m, 'cr2', 'eip', 'memory', 'gpr')) return undefined;
    const g = x.trace.lastGpr;
    const gh = x.trace.lastGprHigh;
    const a32 = t.insn.adSize === 4;
    const addr = (r: number): bigint =>
      a32 ? BigInt(g[r] >>> 0) : (BigInt(gh[r] >>> 0) << 32n) | BigInt(g[r] >>> 0);
    const src = addr(6);
    const dst = addr(7);
    const cr2 = (BigInt((x.host.state.cr2High ?? 0) >>> 0) << 32n) | BigInt(x.host.state.cr2 >>> 0);
    if (cr2 >> 12n !== src >> 12n && cr2 >> 12n !== (src + 7n) >> 12n) return undefined;
    const ev = x.emu.frame?.vector;
    const ecr2 = (BigInt((x.emu.state.cr2High ?? 0) >>> 0) << 32n) | BigInt(x.emu.state.cr2 >>> 0);
    const destFault = (ev === 13 && !isCanonical(dst)) || (ev === 14 && ecr2 >> 12n === dst >> 12n);
    const repeCmpsb = t.opcode[0] === 0xa6 && rep(t) === 0xf3;
    if (!destFault || !(repeCmpsb || !isCanonical(dst))) return undefined;
    return {
      id: 'cmps-first-read',
      // REPE CMPSB's order is the AMD CPU's (an Intel host's differs); KVM's emulator's is every host's.
      ...(isCanonical(dst) ? { hosts: AMD } : {}),
      reason: `host: ${repeCmpsb ? 'REPE CMPSB reads DS:[RSI] first on this host' : "a non-canonical ES:[RDI] faults #GP on the CPU and kvm-pvm hands CMPS to KVM's emulator, which reads DS:[RSI] first"}, so the source's #PF is reported (probe: host-probes64 "CMPS reads ES:[RDI] first…"); x86emu reads ES:[RDI] first, as the CPU does for every other CMPS form (and QEMU)`,
    };
  },
  // A loop the host finishes and x86emu's instruction budget does not.
  (x) => {
    if (x.emu.kind !== 'runaway' || x.host.kind !== 'hlt' || x.trace.complete) return undefined;
    // The last LOOP x86emu ran, how many instructions one turn takes, and the turns left (RCX).
    let at = -1;
    for (let i = x.steps.length - 1; i >= 0 && at < 0; i--)
      if ([0xe0, 0xe1, 0xe2].includes(x.steps[i].opcode[0])) at = i;
    if (at < 0) return undefined;
    let prev = -1;
    for (let i = at - 1; i >= 0 && prev < 0; i--) if (stepRip(x.steps[i]) === stepRip(x.steps[at])) prev = i;
    if (prev < 0) return undefined;
    const t = x.steps[at];
    const a32 = t.insn.adSize === 4;
    const rcx = a32 ? t.gpr[1] >>> 0 : t.gprHigh[1] * TWO32 + (t.gpr[1] >>> 0);
    const turn = at - prev;
    if (rcx * turn <= EMU_BUDGET) return undefined;
    return {
      id: 'loop-past-budget',
      reason: `harness: a LOOP/LOOPcc back into the case with RCX = ${rcx} turns of ${turn} instructions (${bytesText(t.bytes)} at 0x${t.rip.toString(16)}): more than x86emu's run(${EMU_BUDGET}) (emu-side.ts, EMU_BUDGET) but within the host's watchdog, which the CPU finishes; not a difference in the architecture`,
    };
  },
  // XSAVE-family and WRFSBASE-family forms run under the host's CR4 on kvm-pvm.
  (x) => {
    const t = x.last;
    if (!t || !emuRaisedAt(x, t, 6) || !hostNotUdAt(x, t)) return undefined;
    const cr4 = x.m.testCase.init.cr4;
    const np = t.prefixes.every((p) => p !== 0x66 && p !== 0xf2 && p !== 0xf3);
    const xsave =
      (op2(t, 0xae) && isMem(t) && np && [4, 5, 6].includes(modReg(t))) ||
      (op2(t, 0x01) && (t.modrm === 0xd0 || t.modrm === 0xd1)) ||
      (op2(t, 0xc7) && isMem(t) && [3, 4, 5].includes(modReg(t)));
    // RDFSBASE…WRGSBASE are F3 0F AE /0–/3 (register); the host takes F3 among F2 and F3 here.
    const fsgs = op2(t, 0xae) && !isMem(t) && t.prefixes.includes(0xf3) && modReg(t) <= 3;
    if (xsave && (cr4 & CR4_OSXSAVE) === 0)
      return {
        id: 'host-cr4',
        reason: `host: kvm-pvm runs CPL-3 code under the host's CR4, whose OSXSAVE is 1, whatever the guest's CR4 says (probe: XGETBV runs with the guest's CR4.OSXSAVE = 0, host-probes-fpu64); SDM Vol. 2 ${t.row?.mnemonic ?? 'XSAVE/XRSTOR'}: #UD if CR4.OSXSAVE = 0, as x86emu`,
      };
    if (fsgs && (cr4 & CR4_FSGSBASE) === 0)
      return {
        id: 'host-cr4',
        reason: `host: kvm-pvm runs CPL-3 code under the host's CR4, whose FSGSBASE is 1, whatever the guest's CR4 says (probe: RDFSBASE runs with the guest's CR4.FSGSBASE = 0, host-probes64); SDM Vol. 2 RDFSBASE/WRFSBASE: #UD if CR4.FSGSBASE = 0, as x86emu`,
      };
    return undefined;
  },
  // SVM instructions at CPL 3: #GP(0) under the host's EFER.SVME, #UD with the guest's.
  (x) => {
    const t = x.last;
    if (!t || !op2(t, 0x01) || t.modrm === undefined || t.modrm < 0xd8 || t.modrm > 0xdf) return undefined;
    if (!emuRaisedAt(x, t, 6) || x.host.frame?.vector !== 13 || !endsAt(x.host, t)) return undefined;
    if ((x.m.testCase.init.efer & EFER_SVME) !== 0) return undefined;
    return {
      id: 'svm-host-efer',
      reason: `host: ${bytesText(t.bytes)} at CPL 3 gives #GP(0) on the host: on the AMD EPYC because kvm-pvm runs CPL-3 code under the host's EFER, whose SVME is 1 (the host runs KVM on AMD-V; probe: CLGI, host-probes64), on an Intel Xeon (no SVM) after the CPU's own #UD (natively #UD, probes/native-ud.c), which kvm-pvm turns into #GP(0); with the guest's EFER.SVME = 0, APM Vol. 3 (VMRUN, VMLOAD, VMSAVE, STGI, CLGI, SKINIT, INVLPGA): #UD, as x86emu (which has no SVM)`,
    };
  },
  // LOCK on a non-lockable form the CPU refuses (#UD) and KVM's emulator then runs on kvm-pvm.
  (x) => {
    const t = x.last;
    if (!t?.prefixes.includes(LOCK) || !emuRaisedAt(x, t, 6) || !hostNotUdAt(x, t)) return undefined;
    const verrVerw = op2(t, 0x00) && (modReg(t) === 4 || modReg(t) === 5);
    // INT n through one of the harness's DPL-0 gates (DPL 3: #BP, #OF and vectors 32–255).
    // x86emu stops decoding at the LOCK: the vector byte is read from the image.
    const vector =
      traceCase(x.m.ranCase ?? x.m.testCase).image[t.rip + t.bytes.indexOf(0xcd, t.prefixes.length) + 1] ?? 0;
    const intN = t.opcode[0] === 0xcd && vector < 32 && vector !== 3 && vector !== 4;
    if (!verrVerw && !(intN && x.host.frame?.vector === 13 && x.host.frame.error === 0)) return undefined;
    return {
      id: 'lock-emulated',
      // LOCK VERR/VERW completed was measured on the AMD host (an Intel host's ends otherwise).
      ...(verrVerw ? { hosts: AMD } : {}),
      reason: verrVerw
        ? `host: LOCK ${modReg(t) === 4 ? 'VERR' : 'VERW'} (${bytesText(t.bytes)}): the CPU raises #UD, and kvm-pvm hands that #UD to KVM's emulator, which runs the instruction without the prefix, reading its operand (probe: LOCK VERW [rax] runs on, host-probes64); SDM Vol. 2 LOCK: #UD with an instruction that is not a lockable read-modify-write, as x86emu`
        : `host: LOCK INT 0x${vector.toString(16)} (a DPL-0 gate) gives #GP(0) at CPL 3 on kvm-pvm (probe: LOCK INT 19h is #GP(0), LOCK INT 80h and INT n #UD, host-probes64); SDM Vol. 2 LOCK: #UD with an instruction that is not a lockable read-modify-write (checked before the gate), as x86emu`,
    };
  },
  // A misaligned FXRSTOR/FXSAVE: KVM's emulator reads (writes) the operand and takes its #PF.
  (x) => {
    const t = x.last;
    if (!t?.row || !(t.row.mnemonic === 'FXRSTOR' || t.row.mnemonic === 'FXSAVE') || !isMem(t))
      return undefined;
    if (!emuRaisedAt(x, t, 13) || x.host.frame?.vector !== 14 || !endsAt(x.host, t)) return undefined;
    const ea = effectiveAddress(t, t.gpr, t.gprHigh);
    const cr2 = (BigInt((x.host.state.cr2High ?? 0) >>> 0) << 32n) | BigInt(x.host.state.cr2 >>> 0);
    if ((ea & 15n) === 0n || !isCanonical(ea) || cr2 < ea || cr2 >= ea + 512n) return undefined;
    return {
      id: 'fxsave-misaligned',
      reason: `host: ${t.row.mnemonic} at 0x${ea.toString(16)} (not 16-byte aligned) faults #GP(0) on the CPU and kvm-pvm hands it to KVM's emulator, which performs it without the alignment check (em_fxsave/em_fxrstor; probe: a misaligned FXSAVE stores its image, host-probes-fpu64) and here takes the #PF of its operand at 0x${cr2.toString(16)}; SDM Vol. 2 ${t.row.mnemonic}: #GP(0) if the memory operand is not aligned on a 16-byte boundary, as x86emu`,
    };
  },
  // An MMX form faulting on its memory operand: KVM's emulator enters MMX state first.
  (x) => {
    const t = x.last;
    const hf = x.host.frame;
    const ef = x.emu.frame;
    if (!t?.row || !MMX_OPERAND.test(t.row.operands) || !hf || !ef || !endsAt(x.host, t) || !endsAt(x.emu, t))
      return undefined;
    if (hf.vector !== ef.vector || (hf.vector !== 13 && hf.vector !== 12) || !within(x.m, 'fpu'))
      return undefined;
    if (!mmxStateOnHostOnly(x)) return undefined;
    return {
      id: 'mmx-state-on-fault',
      reason: `host: ${t.row.mnemonic} ${t.row.operands} faults #${hf.vector === 13 ? 'GP' : 'SS'}(0) on its memory operand on the CPU; kvm-pvm hands it to KVM's emulator, whose MMX operand fetch (fetch_possible_mmx_operand) puts the x87 in MMX state (TOP 0, every tag valid) before it raises the fault (probe: MOVQ m64, MM0 non-canonical leaves TOP 0, host-probes-fpu64); SDM Vol. 3A 12.2: the state changes only when an MMX instruction executes, as x86emu leaves it`,
    };
  },
  // FNSTENV/FNSAVE images differ only in FCS/FDS: 0 on the host, the selector on x86emu.
  (x) => {
    // FCS and FDS: bytes 16–17 and 24–25 of the 32-bit format, 8–9 and 12–13 of the 16-bit one
    // (66h) (SDM Vol. 1 8.1.10, Figures 8-9 and 8-10).
    const selectors = (wide: boolean): [bigint, bigint][] =>
      wide
        ? [
            [16n, 18n],
            [24n, 26n],
          ]
        : [
            [8n, 10n],
            [12n, 14n],
          ];
    if (!x87ImageFieldsOnly(x, selectors)) return undefined;
    return {
      id: 'x87-fcs-fds',
      reason:
        'vendor: FNSTENV/FNSAVE store FCS/FDS as 0 on the host CPU, the last selectors on x86emu (probe: FLD m64, FNSTENV: FDS 0 on the host, 0x2B on x86emu, the rest of the image equal, host-probes64); SDM Vol. 1 8.1.8: with CPUID.(EAX=07H,ECX=0):EBX[13] = 1 the processor deprecates FCS and FDS and saves them as 0000H, else it saves the selectors, as x86emu, whose CPUID.(EAX=07H,ECX=0):EBX[13] is 0',
    };
  },
  ...INTEL_RULES,
  // RDRAND/RDSEED: each side's own random bits (replayed with the host's).
  randomValueExplain,
  // Flags an earlier instruction left undefined, consumed by a later one.
  undefinedFlagsExplain,
];

/**
 * The categories a replay's end is compared in (`sameEnd`): registers, RIP, RFLAGS, CR2, x87/SSE,
 * the frame and RAM; a mismatch with differences elsewhere (segments, control registers, I/O) is
 * not one a replay can place.
 */
const REPLAYED = ['eip', 'gpr', 'eflags', 'frame.eflags', 'memory', 'cr2', 'fpu', 'sse', 'stop'];

/** `run(1)` calls one case's replays may make in all (a loop's turns, for each value: about 2 s). */
const REPLAY_CALLS = 1 << 20;

/** Combinations of values the random-value replay tries, at most. */
const RANDOM_REPLAYS = 512;

/**
 * RDRAND or RDSEED that x86emu executed, each with the host's value for it: whether some choice of
 * the bits the host's generator gave makes x86emu end exactly as the host (`sameEnd`). The
 * candidates for one execution are the host's final registers (the value where it was left, or
 * moved: the destination first) at the operand size, and "no value" (CF = 0, the SDM's answer when
 * the generator has none); two 32-bit words for a 64-bit destination, as x86emu's handler reads
 * them (exec/random.ts). A case whose value was transformed later (ADD to it) is not placed.
 */
function randomValueExplain(x: Seen): GarbageClass | undefined {
  if (!within(x.m, ...REPLAYED)) return undefined;
  const ran = x.steps.filter(
    (t, i) =>
      isRandomForm(t) && !t.prefixes.includes(LOCK) && !(i === x.steps.length - 1 && endsAt(x.emu, t)),
  );
  if (ran.length === 0 || ran.length > 3) return undefined;
  const h = x.host.state;
  const choices = ran.map((t) => {
    const size = t.insn.opSize;
    const dest = t.insn.rm;
    const seen = new Set<string>();
    const out: number[][] = [];
    for (const r of [dest, ...Array.from({ length: 16 }, (_, k) => k).filter((k) => k !== dest)]) {
      const lo = h.gpr[r] >>> 0;
      const words = size === 8 ? [lo, (h.gprHigh?.[r] ?? 0) >>> 0] : [size === 2 ? lo & 0xffff : lo];
      if (!seen.has(words.join())) out.push(words);
      seen.add(words.join());
    }
    out.push([-1]);
    return out;
  });
  const c = x.m.ranCase ?? x.m.testCase;
  const image = traceCase(c).image;
  const mask = garbageMask(x);
  const pick = ran.map(() => 0);
  let budget = REPLAY_CALLS;
  for (let tries = 0; tries < RANDOM_REPLAYS && budget > 0; tries++) {
    const words = pick.flatMap((k, j) => choices[j][k]);
    let next = 0;
    // Past the chosen words (a replay that took another path to another RDRAND): zeros; such a
    // replay is placed only if it still ends exactly as the host.
    const random = { random32: () => (next < words.length ? words[next++] : 0) };
    tracer ??= new EmuSide({ jit: false });
    const r = tracer.trace(c.init, image, TRACE_STEPS, { random });
    budget -= r.calls;
    if (r.complete && sameEnd(x, r.end, mask)) {
      const what = ran
        .map((t, j) => {
          const w = choices[j][pick[j]];
          const v =
            w[0] < 0
              ? 'none (CF = 0)'
              : `0x${w.length === 2 ? w[1].toString(16) + w[0].toString(16).padStart(8, '0') : w[0].toString(16)}`;
          return `${randomName(t)} (${bytesText(t.bytes)}) at 0x${t.rip.toString(16)}: ${v}`;
        })
        .join('; ');
      return {
        id: 'random-value',
        reason: `SDM Vol. 2 RDRAND/RDSEED: "Loads a hardware generated random value and store it in the destination register": the host's CPU and x86emu each give their own bits (both run it: probe host-probes64 "RDRAND and RDSEED run on both sides"); with the host's values (${what}) x86emu ends exactly as the host (registers, RIP, RFLAGS, CR2, x87/SSE state, exception frame, RAM)`,
      };
    }
    // The next combination (the first execution's choice turning fastest).
    let j = 0;
    while (j < pick.length && ++pick[j] === choices[j].length) pick[j++] = 0;
    if (j === pick.length) break;
  }
  return undefined;
}

/**
 * Whether some value of the flags that one instruction x86emu executed leaves undefined (SDM:
 * UNDEFINED_FLAGS), set right after one of its executions, makes x86emu end exactly as the host
 * did (`sameEnd`). x86emu runs the case again with each such value after each visit in turn: a loop's
 * later turns are visits of their own, so a host that leaves a loop at another turn than x86emu
 * is found at that turn. x86emu's own run need not be complete (it may run away in the loop the
 * host left); the replay must be, within `REPLAY_CALLS` for the whole search.
 */
function undefinedFlagsExplain(x: Seen): GarbageClass | undefined {
  if (x.host.kind !== 'hlt' || !x.host.frame || !within(x.m, ...REPLAYED)) return undefined;
  const c = x.m.ranCase ?? x.m.testCase;
  const image = traceCase(c).image;
  const compared = garbageMask(x);
  let budget = REPLAY_CALLS;
  for (const [i, t] of x.steps.entries()) {
    const name = t.row?.mnemonic;
    if (!name || i === x.steps.length - 1 || !mayLeaveFlagsUndefined(name)) continue;
    const mask = UNDEFINED_FLAGS[name] ?? 0x8d5;
    const bits = [0, 2, 4, 6, 7, 11].filter((b) => (mask >> b) & 1);
    for (let v = 0; v < 1 << bits.length; v++) {
      if (budget <= 0) return undefined;
      let value = 0;
      bits.forEach((b, k) => {
        if ((v >> k) & 1) value |= 1 << b;
      });
      tracer ??= new EmuSide({ jit: false });
      const r = tracer.trace(c.init, image, TRACE_STEPS, { flags: { afterStep: i, mask, value } });
      budget -= r.calls;
      if (r.complete && sameEnd(x, r.end, compared)) {
        const turn = x.steps.slice(0, i).filter((u) => u.rip === t.rip && u.ripHigh === t.ripHigh).length;
        return {
          id: 'undefined-flags',
          reason: `SDM Vol. 2 ${name}: it leaves ${bits.map((b) => FLAG_NAME[b]).join(' ')} undefined, and a later instruction consumes them: with the host's values (${flagNamesOf(value, mask)}) after ${bytesText(t.bytes)} at 0x${t.rip.toString(16)}${turn ? ` (its execution ${turn + 1}, a loop's turn)` : ''}, x86emu ends exactly as the host (registers, RIP, RFLAGS, CR2, x87/SSE state, exception frame, RAM)`,
        };
      }
    }
  }
  return undefined;
}

const FLAG_NAME: Record<number, string> = { 0: 'CF', 2: 'PF', 4: 'AF', 6: 'ZF', 7: 'SF', 11: 'OF' };

/** `CF=1 ZF=0 …` for the bits of `mask`. */
const flagNamesOf = (value: number, mask: number): string =>
  Object.entries(FLAG_NAME)
    .filter(([b]) => (mask >> Number(b)) & 1)
    .map(([b, n]) => `${n}=${(value >> Number(b)) & 1}`)
    .join(' ');

/** The flags not compared for the case (the union the comparison masked). */
function garbageMask(x: Seen): number {
  let mask = 0;
  for (const t of x.steps)
    if (t.row && mayLeaveFlagsUndefined(t.row.mnemonic)) mask |= UNDEFINED_FLAGS[t.row.mnemonic] ?? 0x8d5;
  return mask;
}

/** The host's RAM at its end: the case's image with the host's writes (`SideEnd.ramWrites`), or undefined. */
function hostRam(x: Seen): Uint8Array | undefined {
  const writes = x.host.ramWrites;
  if (!writes) return undefined;
  if (x.hostRam === undefined) {
    const ram = traceCase(x.m.ranCase ?? x.m.testCase).image.slice();
    for (const w of writes) ram.set(w.bytes, w.at);
    x.hostRam = ram;
  }
  return x.hostRam;
}

/**
 * A replay `o` of the case ends exactly as the host: the stop, RIP, the GPRs, RFLAGS (`flagMask`
 * not compared), the x87/SSE state, CR2, the exception frame and every byte of RAM (but the frame's
 * RFLAGS slot, compared under the mask with the frame, as `compareOutcomes` does).
 */
function sameEnd(x: Seen, o: Outcome, flagMask: number): boolean {
  if (o.kind !== x.host.kind) return false;
  const h = x.host.state;
  const e = o.state;
  if (h.eip !== e.eip || (h.ripHigh ?? 0) !== (e.ripHigh ?? 0) || ((h.eflags ^ e.eflags) & ~flagMask) !== 0)
    return false;
  for (let r = 0; r < 16; r++)
    if (h.gpr[r] !== e.gpr[r] || (h.gprHigh?.[r] ?? 0) !== (e.gprHigh?.[r] ?? 0)) return false;
  if (h.fpu && e.fpu && compareFpu(h.fpu, e.fpu).length > 0) return false;
  if (h.cr2 !== e.cr2 || (h.cr2High ?? 0) !== (e.cr2High ?? 0)) return false;
  const hf = x.host.frame;
  const ef = exceptionFrame(o);
  if (!hf || !ef) {
    if (hf !== ef) return false;
  } else if (
    !(
      hf.vector === ef.vector &&
      hf.error === ef.error &&
      hf.rip === ef.rip &&
      hf.ripHigh === ef.ripHigh &&
      hf.cs === ef.cs &&
      ((hf.rflags ^ ef.rflags) & ~flagMask) === 0 &&
      hf.rsp === ef.rsp &&
      hf.rspHigh === ef.rspHigh
    )
  )
    return false;
  const ram = hostRam(x);
  if (!ram || ram.length !== o.ram.length) return false;
  const a = Buffer.from(o.ram.buffer, o.ram.byteOffset, o.ram.length);
  const b = Buffer.from(ram.buffer, ram.byteOffset, ram.length);
  const slot = frameFlagsSlot(o);
  if (slot < 0) return a.equals(b);
  return a.compare(b, 0, slot, 0, slot) === 0 && a.compare(b, slot + 4, b.length, slot + 4, a.length) === 0;
}

/**
 * The class of a long64 garbage mismatch, or undefined when the case does not provably fall in
 * one (an x86emu bug until triaged). Needs `m.host` and `m.emu` (a run's mismatches have them).
 */
export function classifyGarbage64(m: Mismatch, vendor = hostCpuVendor()): GarbageClass | undefined {
  const c = m.ranCase ?? m.testCase;
  if (!c.garbage) return undefined;
  return firstClass(m, RULES, vendor);
}

/**
 * The vendor class (`hosts`) of a long64 mismatch, generated or garbage, that `vendor`'s hosts
 * show, or undefined: `classifyIa32e` cites it for `--write-known`.
 */
export function classifyVendor64(m: Mismatch, vendor = hostCpuVendor()): GarbageClass | undefined {
  return firstClass(m, [branch66, ...INTEL_RULES], vendor);
}

/** The first of `rules` that places the long64 case of `m` in a class `vendor`'s hosts show. */
function firstClass(
  m: Mismatch,
  rules: readonly ((s: Seen) => GarbageClass | undefined)[],
  vendor: string,
): GarbageClass | undefined {
  const c = m.ranCase ?? m.testCase;
  if (c.mode !== 'long64' || !m.host || !m.emu) return undefined;
  if (m.signature.categories.includes('crash') || m.signature.categories.includes('budget')) return undefined;
  const { trace, steps } = traceCase(c);
  const seen: Seen = { m, host: m.host, emu: m.emu, steps, trace, last: steps[steps.length - 1] };
  for (const rule of rules) {
    const r = rule(seen);
    if (r && (r.hosts === undefined || r.hosts.includes(vendor))) return r;
  }
  return undefined;
}

/** The `known` id of a classified mismatch (`garbage64/<class>`). */
export function garbage64Id(g: GarbageClass | undefined): string | undefined {
  return g ? `garbage64/${g.id}` : undefined;
}

/** A one-line account of a case for triage: how each side ended and x86emu's instructions. */
export function describeGarbage64(m: Mismatch): string {
  const { steps, trace } = traceCase(m.ranCase ?? m.testCase);
  const end = (s: SideEnd | undefined): string =>
    s?.frame
      ? `#${s.frame.vector}${s.frame.error !== undefined ? `(${s.frame.error.toString(16)})` : ''}@${s.frame.rip.toString(16)}`
      : (s?.kind ?? '?');
  const insns = steps
    .slice(1, 12)
    .map((t) => `${t.rip.toString(16)}:${bytesText(t.bytes, '')}=${t.row?.mnemonic ?? 'UD'}`)
    .join(' ');
  return `host ${end(m.host)} emu ${end(m.emu)} [${m.signature.categories.join(',')}] ${trace.complete ? '' : '(trace cut) '}${insns}${steps.length > 12 ? ' …' : ''}`;
}
