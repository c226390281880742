/**
 * The measured reasons for x87/SSE mismatches in long64 (issue 11's referee): what kvm-pvm does
 * to CPL-3 x87/SSE code that the CPU would not, and what the SDM leaves to the implementation.
 * `test/host-probes-fpu64.kvm.test.ts` measures each host fact again on every run. Anything
 * else returns undefined (unreviewed: an x86emu bug until shown otherwise).
 */
import { OPCODE_TABLE } from '@kvm/x86emu';
import { classOf } from './classes.js';
import type { Mismatch, Signature } from './difftest.js';
import { formName } from './generator.js';
import { STUBS64 } from './layout64.js';

/** The forms of the x87 and SSE classes (`FADD Mq`, `PAND Vdq,Wdq`…). */
const FPU_SSE_FORMS = new Set(OPCODE_TABLE.filter((r) => classOf(r) !== 'gp').map(formName));
/** MMX forms: an MMX register or m64 operand (SDM Vol. 2 A.2.1 P, Q, N). */
const MMX_OPERAND = /(^| |,)[PQN][a-z]/;
const XSAVE_FORMS = new Set(['XGETBV', 'XSETBV', 'XSAVE M', 'XRSTOR M', 'XSAVEOPT M']);
const TRANSCENDENTAL = new Set(['FSIN', 'FCOS', 'FSINCOS', 'FPTAN', 'FPATAN', 'F2XM1', 'FYL2X', 'FYL2XP1']);
const CR4_OSXSAVE = 1 << 18;
/** The error code's slot of an exception frame on the harness's RSP0 stack (x86emu's #GP/#SS). */
const ERROR_SLOT = 0x33fd0;
/** Forms the host completes under LOCK although the CPU raises #UD (SDM: #UD). */
const LOCK_RUNS = new Set(['MFENCE', 'LFENCE', 'SFENCE', 'FXSAVE M', 'FXRSTOR M']);
/** NP forms the host completes under 66/F2/F3 although the CPU raises #UD (SDM Vol. 2 3.1.1.1: #UD). */
const NP_RUNS = new Set(['FXSAVE M', 'FXRSTOR M']);
const LOCK = [0xf0];
const SIMD_PREFIXES = [0x66, 0xf2, 0xf3];
const has = (sig: Signature, bytes: readonly number[]): boolean =>
  bytes.some((b) => sig.prefixes?.includes(b) === true);

/** The vectors the two sides ended in, from the stub addresses (one HLT per vector at STUBS64). */
function vectors(m: Mismatch): { host: number; emu: number } | null {
  const d = m.differences.find((x) => x.field === 'rip');
  if (!d) return null;
  return { host: Number.parseInt(d.host, 16) - 1 - STUBS64, emu: Number.parseInt(d.emu, 16) - 1 - STUBS64 };
}

/** An ST register as compare prints it (`eeee:mmmmmmmmmmmmmmmm`): sign and exponent, significand. */
function st80Parts(v: string): { se: number; m: bigint } {
  const [e, m] = v.split(':');
  return { se: Number.parseInt(e, 16), m: BigInt(`0x${m ?? 0}`) };
}

/**
 * Two ST values one ulp apart: neighbours among the double extended-precision values of one sign
 * (SDM Vol. 1 4.8.3: the largest denormal, 0000:7FFF…, neighbours the smallest normal,
 * 0001:8000…, in the same unit; across a binade the unit doubles).
 */
function withinUlp(a: string, b: string): boolean {
  const x = st80Parts(a);
  const y = st80Parts(b);
  if (((x.se ^ y.se) & 0x8000) !== 0) return false;
  const [lo, hi] = (x.se & 0x7fff) <= (y.se & 0x7fff) ? [x, y] : [y, x];
  const el = Math.max(lo.se & 0x7fff, 1);
  const eh = Math.max(hi.se & 0x7fff, 1);
  if (el === eh) return hi.m - lo.m === 1n || lo.m - hi.m === 1n;
  return eh === el + 1 && lo.m === 0xffffffffffffffffn && hi.m === 0x8000000000000000n;
}

/** A denormal (or pseudo-denormal) ST value: exponent 0, significand not 0 (SDM Vol. 1 4.8.3.2). */
const denormal80 = (v: string): boolean => (st80Parts(v).se & 0x7fff) === 0 && st80Parts(v).m !== 0n;

/**
 * x86emu left TOP and the tags as the case set them (the instruction faulted there): a difference
 * in FSW/FTW is then not x86emu failing to enter MMX state after an MMX instruction that ran.
 */
function x87Untouched(m: Mismatch): boolean {
  const f = m.testCase.init.fpu;
  if (!f) return false;
  return m.differences.every((d) => {
    if (d.field === 'fsw') return ((Number.parseInt(d.emu, 16) ^ f.fsw) & 0x3800) === 0;
    if (d.field === 'ftw (abridged)') return Number.parseInt(d.emu, 16) === f.ftw;
    return true;
  });
}

/**
 * The prefix a reason rests on, for the rules that need one (`KnownMismatch.prefixes`): LOCK on a
 * form kvm-pvm completes under it, 66/F2/F3 on an NP form it completes under them. Both sides
 * ended the case differently: x86emu in #UD (vector 6), the host elsewhere.
 */
export function fpuPrefixScope(sig: Signature, m: Mismatch): number[] | undefined {
  if (sig.mode !== 'long64') return undefined;
  const v = vectors(m);
  if (v?.emu !== 6 || v.host === 6) return undefined;
  const allowed = ['eip', 'gpr', 'memory', 'cr2', ...(sig.form === 'FXRSTOR M' ? ['fpu', 'sse'] : [])];
  if (!sig.categories.every((c) => allowed.includes(c))) return undefined;
  if (LOCK_RUNS.has(sig.form) && has(sig, LOCK)) return LOCK;
  if (NP_RUNS.has(sig.form) && has(sig, SIMD_PREFIXES)) return SIMD_PREFIXES;
  return undefined;
}

export function classifyFpuSse(sig: Signature, m: Mismatch): string | undefined {
  if (sig.mode !== 'long64' || !FPU_SSE_FORMS.has(sig.form)) return undefined;
  const cats = sig.categories;
  const within = (...allowed: string[]): boolean => cats.every((c) => allowed.includes(c));
  const v = vectors(m);
  if (
    v &&
    v.host === 6 &&
    (v.emu === 13 || v.emu === 12) &&
    within('eip', 'gpr', 'memory', ...(MMX_OPERAND.test(sig.form) ? ['fpu'] : [])) &&
    // x86emu faulted at the instruction too: its frame differs from the host's only in the
    // error-code slot below the host's frame (a different RIP there would mean it ran on).
    m.differences.every(
      (d) =>
        d.category !== 'memory' ||
        d.field === `ram[0x${ERROR_SLOT.toString(16)}..0x${(ERROR_SLOT + 7).toString(16)}]` ||
        d.field === `ram[0x${ERROR_SLOT.toString(16)}..0x${ERROR_SLOT.toString(16)}]`,
    )
  )
    return `host: kvm-pvm intercepts the #GP(0)/#SS(0) the CPU raises at CPL 3 for a misaligned or non-canonical x87/SSE memory operand and hands the instruction to KVM's emulator, which lacks it and injects #UD (handle_emulation_failure; for MMX forms its operand fetch also leaves the x87 in MMX state) (probe: PAND m128 and FLD m64 run natively aligned and canonical, give #UD misaligned/non-canonical, while MOVDQA, which the emulator implements, gives #GP(0)); SDM Vol. 2 (the instruction's "64-Bit Mode Exceptions"): #GP(0)/#SS(0), as x86emu`;
  if (v && v.host === 12 && v.emu === 13 && within('eip', 'gpr', 'memory'))
    return `host: a misaligned, non-canonical stack operand faults on the CPU and kvm-pvm hands the instruction to KVM's emulator, which implements this form and checks canonicality before alignment (__linearize): #SS(0) (probe: SS: MOVNTPD there gives #SS(0), PAND #UD); the CPU checks alignment first, #GP(0) (measured natively, x86emu commit df2e104; SDM Vol. 2 ${sig.form.split(' ')[0]} "64-Bit Mode Exceptions" lists both), as x86emu`;
  if (
    (sig.form === 'FXSAVE M' || sig.form === 'FXRSTOR M') &&
    within('memory') &&
    m.differences.every(
      (d) => /^ram\[0x[0-9a-f]+\.\.0x[0-9a-f]+\]$/.test(d.field) && d.host === '02' && d.emu === '00',
    )
  )
    return 'vendor: the AMD CPU stores MXCSR_MASK = 0002FFFFH (bit 17, MM, the misaligned-SSE mask of APM Vol. 2 4.5.2; probe: byte 30 of an aligned FXSAVE image), Intel CPUs 0000FFFFH (SDM Vol. 1 11.6.6, Table 10-2), as x86emu (GenuineIntel)';
  if (
    (sig.form === 'FXSAVE M' || sig.form === 'FXRSTOR M') &&
    within('memory', 'cr2', 'eip') &&
    (!v || v.emu === 13)
  )
    return `host: a misaligned ${sig.form.split(' ')[0]} faults #GP(0) on the CPU and kvm-pvm hands it to KVM's emulator, which completes it (em_fxsave/em_fxrstor; probe: FXSAVE to a 16-byte-misaligned address writes its image there and goes on); SDM Vol. 2 ${sig.form.split(' ')[0]}: #GP(0) if the memory operand is not aligned on a 16-byte boundary, as x86emu`;
  const sameVector = m.host?.frame?.vector;
  if (
    MMX_OPERAND.test(sig.form) &&
    within('fpu') &&
    // KVM's emulator: the CPU's #GP(0)/#SS(0) handed to it (a native #PF is the CPU's own: below).
    (sameVector === undefined || sameVector === 13 || sameVector === 12) &&
    m.differences.every(
      (d) =>
        (d.field === 'fsw' && (Number.parseInt(d.host, 16) & 0x3800) === 0) ||
        d.field === 'ftw (abridged)' ||
        /^st\d$/.test(d.field),
    ) &&
    m.differences.some((d) => (d.field === 'ftw (abridged)' ? d.host === '00ff' : d.field === 'fsw')) &&
    x87Untouched(m)
  )
    return `host: an MMX instruction whose memory operand faults #GP(0)/#SS(0) on the CPU is handed by kvm-pvm to KVM's emulator, whose MMX operand fetch (fetch_possible_mmx_operand) puts the x87 in MMX state (TOP 0, every tag valid) before it raises the fault (probe: MOVQ m64, MM0 non-canonical leaves TOP 0 on the host, while at a not-present page, natively, it leaves TOP alone); SDM Vol. 3A 12.2: the state changes only when an MMX instruction executes, as x86emu`;
  const scope = fpuPrefixScope(sig, m);
  if (scope === LOCK)
    return `host: the CPU raises #UD for ${sig.form.split(' ')[0]} under LOCK (native probe on this AMD EPYC: SIGILL for LOCK MFENCE, LOCK SFENCE and LOCK FXSAVE), and kvm-pvm completes it as without the prefix when the guest runs it at CPL 3 (probe: the guest's LOCK MFENCE, LOCK SFENCE and LOCK FXSAVE run), as it does LOCK hint NOPs; SDM Vol. 2 LOCK: #UD with an instruction that is not a lockable read-modify-write, as x86emu`;
  if (scope === SIMD_PREFIXES)
    return `host: the CPU raises #UD for ${sig.form.split(' ')[0]} under a 66, F2 or F3 prefix (native probe on this AMD EPYC: SIGILL for every such form, with or without a SIB index), and kvm-pvm completes it as without the prefix when the guest runs it at CPL 3 unless its memory operand has a SIB index register (probe: the guest's 66 FXSAVE [rax] stores the image, 66 FXSAVE [rax+rcx] gets #UD); SDM Vol. 2 3.1.1.1: FXSAVE and FXRSTOR are NP forms, whose 66/F2/F3 "will either cause an invalid-opcode exception (#UD) or result in the encoding for a different instruction", as x86emu gives #UD`;
  if (
    v &&
    XSAVE_FORMS.has(sig.form) &&
    v.emu === 6 &&
    v.host !== 6 &&
    (m.testCase.init.cr4 & CR4_OSXSAVE) === 0 &&
    within('eip', 'gpr', 'memory', 'cr2')
  )
    return `host: kvm-pvm runs CPL-3 code under the host's CR4, whose OSXSAVE is 1, whatever the guest's CR4 says (probe: XGETBV with ECX = 0 runs natively with the guest's CR4.OSXSAVE = 0); SDM Vol. 2 ${sig.form.split(' ')[0]}: #UD if CR4.OSXSAVE = 0, as x86emu`;
  // UE (0x10) may differ only where one result is a denormal: tininess is the approximation's.
  const tiny = m.differences.some((d) => /^st\d$/.test(d.field) && (denormal80(d.host) || denormal80(d.emu)));
  if (
    TRANSCENDENTAL.has(sig.form) &&
    within('fpu') &&
    m.differences.every((d) =>
      d.field === 'fsw'
        ? ((Number.parseInt(d.host, 16) ^ Number.parseInt(d.emu, 16)) & ~(0x200 | (tiny ? 0x10 : 0))) === 0
        : /^st\d$/.test(d.field) && withinUlp(d.host, d.emu),
    )
  )
    return `SDM Vol. 1 8.3.10: ${sig.form}'s result is within 1 ulp of the exact one, not bit-exact, and C1 ("rounded up") is relative to the CPU's own approximation: results one ulp apart, or equal with C1 differing, are both within the architecture${tiny ? ' (here one result is a denormal and the other is not, so UE, which a tiny inexact result sets, differs with them: SDM Vol. 1 4.9.1.5)' : ''}`;
  return undefined;
}
