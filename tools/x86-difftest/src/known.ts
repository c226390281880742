/**
 * The reviewed list of known x86emu mismatches (KNOWN-MISMATCHES.md explains each; the data is
 * known-mismatches.json beside it). Shrinking the list is the x86emu author's job: the test fails
 * when a mismatch outside the list appears AND when a listed one stops reproducing.
 */
import { readFileSync } from 'node:fs';
import { type KnownMismatch, type Mismatch, matchesKnown, type Signature } from './difftest.js';
import { prefixesAt } from './generator.js';
import { classifyFpuSse } from './known-fpu.js';
import { classifyVendor64 } from './known-garbage64.js';
import { hostCpuVendor } from './referee.js';

/** The package's known-mismatch file (works from src/ under vitest and from dist/). */
export const KNOWN_MISMATCHES_URL = new URL('../known-mismatches.json', import.meta.url);

/**
 * x86emu's open IA-32e bugs (open-ia32e.json): mismatches in long64/compat32 that are x86emu's
 * and not yet fixed. Issue 10 keeps these out of the known list, which holds only cited reasons
 * (the SDM leaves it undefined, an erratum, a measured host deviation); this second list lets CI
 * hold x86emu to "no new IA-32e bug, and each fixed one taken off" while the list is worked
 * down. Written by `pnpm fuzz:x86 --write-open`; issue 10 is done when it is empty.
 */
export const OPEN_IA32E_URL = new URL('../open-ia32e.json', import.meta.url);

export function loadKnownMismatches(url: URL = KNOWN_MISMATCHES_URL): KnownMismatch[] {
  try {
    return JSON.parse(readFileSync(url, 'utf8')) as KnownMismatch[];
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/**
 * The entries of `list` that hold on a host with `vendor`'s CPU (`KnownMismatch.hosts`): the
 * ones a run there accepts and whose reproducers must still mismatch there.
 */
export function knownForHost(list: readonly KnownMismatch[], vendor = hostCpuVendor()): KnownMismatch[] {
  return list.filter((k) => k.hosts === undefined || k.hosts.includes(vendor));
}

/**
 * The lists' file text: JSON indented by one, but an array of numbers (a reproducer's bytes, GPRs,
 * x87 registers and XMM image) on one line, so an x87/SSE reproducer stays a few lines long.
 */
export function stringifyKnown(list: readonly KnownMismatch[]): string {
  return `${JSON.stringify(list, null, 1).replace(/\[\s*(-?\d+(?:,\s*-?\d+)*)\s*\]/g, (_, nums: string) => `[${nums.replace(/\s+/g, '')}]`)}\n`;
}

/** SHLD/SHRD past the operand size, in every mode: what the host gives is its CPU's. */
const SHXD_UNDEFINED =
  "SDM SHLD/SHRD: a count larger than the operand size leaves the destination and flags undefined; the host's result is its CPU's (KVM's emulator, in the legacy modes and compat32, runs the host's own SHLD/SHRD: fastop), and the vendors differ: for a 16-bit operand and a count of 17–31 an Intel CPU shifts DEST:SRC:DEST (48 bits) left or right, an AMD CPU, as x86emu, DEST:SRC:SRC (SHLD) or SRC:SRC:DEST (SHRD)";

/**
 * A first classification of a new signature, for `--write-known` (a reviewer edits the result):
 * `x86emu:` the emulator deviates from the architecture; `host:` the reference deviates (this
 * host's KVM emulates unpaged modes in software, see README); `unreviewed:` not yet decided.
 */
export function classify(sig: Signature): string {
  const only = (c: string): boolean => sig.categories.length === 1 && sig.categories[0] === c;
  if (only('frame.rf'))
    return 'x86emu: a fault-class exception pushes EFLAGS.RF = 0; the host pushes RF = 1 (SDM Vol. 3 17.3.1.1: faults other than instruction breakpoints set RF in the saved EFLAGS)';
  if (/AA[DM]/.test(sig.form) && only('eflags'))
    return "host: KVM's emulator computes AAD/AAM's SF on AX, not AL (SDM AAD/AAM: SF from AL)";
  if (/garbage:UD/.test(sig.form) || (/^(real|pm16|pm32)$/.test(sig.mode) && /garbage:UD/.test(sig.form)))
    return 'x86emu: MMX/SSE/x87 arithmetic not implemented (#UD); the host CPU executes them';
  if (/PUSH_SEG/.test(sig.form) && only('memory'))
    return 'SDM leaves it open: a 32-bit PUSH of a segment register writes 2 or 4 bytes (host: 2, x86emu: 4)';
  if (/NOP Ev/.test(sig.form))
    return "host: KVM's emulator decodes the 0F 19–1F hint NOPs wrongly (length under 67h, or as another instruction)";
  if (/SGDT|SIDT/.test(sig.form) && only('stop'))
    return "host: KVM's emulator spins on SGDT/SIDT to an address outside RAM (MMIO)";
  if (sig.mode === 'real' && /(^|:)(INT|INTO|INT3)\b/.test(sig.form) && sig.categories.includes('stop'))
    return 'host: kvm-pvm cannot deliver INT n / INTO in real mode (the guest spins)';
  if (sig.mode === 'real' && /^(INT Ib|INTO|INT3)$/.test(sig.form) && sig.categories.includes('memory'))
    return "host (likely): KVM's emulator pushes a 32-bit real-mode interrupt frame under an operand-size prefix; SDM INT n (real-address mode) pushes 16-bit FLAGS, CS, IP";
  if (/^(SCAS|CMPS)/.test(sig.form) && sig.categories.every((c) => c === 'eflags' || c === 'frame.eflags'))
    return "host: KVM's emulator reports, for a REP SCAS/CMPS that faults on a later iteration, flags that are not those of the last completed iteration (checked by hand for the reproducer)";
  if (sig.categories.includes('budget'))
    return 'x86emu: a REP string instruction is not bounded by run(budget): with a huge count over memory outside RAM or ports it runs on (billions of iterations) instead of stopping at an iteration boundary';
  if (/MOV_TO_CR/.test(sig.form) && only('cr'))
    return 'x86emu: MOV to CR0 keeps reserved bits (6–15, 19, 21–28); SDM Vol. 3 2.5: reserved bits of CR0 remain clear after a load (the host reads them back as 0)';
  if (/^(LTR|LLDT)/.test(sig.form) && sig.categories.every((c) => c === 'frame.rf' || c === 'memory'))
    return "host: KVM's emulator pushes error code 0 for LTR/LLDT of a selector beyond the GDT limit; the SDM says #GP(selector), as x86emu does";
  if (/^(POP_SEG|MOV_TO_SEG|LDS|LES|LFS|LGS|LSS)/.test(sig.form) && sig.categories.includes('seg'))
    return "host (likely): KVM's emulator on kvm-pvm loads a descriptor from beyond the GDT limit instead of raising #GP(selector)";
  if (/^SH[LR]D /.test(sig.form) && sig.categories.every((c) => c === 'gpr' || c === 'memory'))
    return SHXD_UNDEFINED;
  if (sig.categories.includes('crash')) return 'x86emu: threw a JavaScript exception';
  return 'unreviewed: x86emu or host; see the reproducer';
}

const KVM_EMULATOR = "host: compat32 on kvm-pvm is run by KVM's instruction emulator (README: probe)";

/**
 * The reasons measured for IA-32e mismatches (issue 10 lists only these: a host deviation shown
 * by a probe, or an SDM "undefined"). Anything else is `unreviewed`, which `--write-open` puts on
 * the open-bug list, never on the cited one. Each rule was checked on its reproducers.
 */
export function classifyIa32e(sig: Signature, m: Mismatch): string {
  const cats = sig.categories;
  const within = (...allowed: string[]): boolean => cats.every((c) => allowed.includes(c));
  // The first byte of the instruction the mismatch is blamed on (its form is the signature's).
  const c = m.testCase;
  let at = 0;
  let blamedAt = -1;
  for (const insn of c.insns) {
    if (insn.form === sig.form) {
      blamedAt = at;
    }
    at += insn.length;
  }
  const x = blamedAt >= 0 ? legacyPrefixesAndRex(c.bytes, blamedAt) : null;
  const lock = x?.lock === true;
  const modrm = x ? (c.bytes[x.opcodeAt + 1] ?? 0) : 0;
  const rexR = ((x?.rex ?? 0) & 4) !== 0;
  const vectors = m.differences.some((d) => d.field === 'rip');
  // One CPU vendor's choice, shown by the case itself (the entry is cited for this host's vendor).
  const vendorClass = classifyVendor64(m);
  if (vendorClass) return vendorClass.reason;
  const fpuSse = classifyFpuSse(sig, m);
  if (fpuSse) return fpuSse;
  if (sig.form === 'POPF' && within('eflags', 'frame.eflags'))
    return 'host: kvm-pvm runs user code with its own RFLAGS.AC: POPF at CPL 3 never sets AC on the host (probe: #AC fires with AC set, POPF of AC=1 reads back 0); SDM Vol. 2 POPF/POPFD/POPFQ (Operation): at CPL > 0 every flag but IOPL, VIP, VIF, VM and RF (and IF while CPL > IOPL) is loaded, AC included, as x86emu';
  if (
    sig.mode === 'long64' &&
    (sig.form === 'IRET' || sig.form === 'SWAPGS' || sig.form === 'SYSRET') &&
    lock
  )
    return `host: kvm-pvm runs ${sig.form} at CPL 3 itself and ignores a LOCK prefix there (probe: LOCK IRETQ returns, LOCK SWAPGS/SYSRET give #GP(0), as without LOCK), while the CPU gives #UD for LOCK with the other non-lockable instructions probed (HLT, CLI, MOV CR, RDTSCP); SDM LOCK: #UD, as x86emu`;
  if (sig.mode === 'long64' && sig.form.startsWith('MOV_FROM_SEG') && rexR && vectors)
    return "host: a MOV r/m, Sreg with REX.R that faults #GP(0) (non-canonical) on the CPU is re-run by KVM's emulator on kvm-pvm, whose em_mov_rm_sreg counts REX.R in the Sreg field and raises #UD (probe: the same bytes store natively with REX.R ignored, and fault #PF natively); SDM Vol. 2 MOV: REX.R is ignored for Sreg, as x86emu";
  if (
    sig.mode === 'long64' &&
    sig.form.startsWith('MOV_TO_SEG') &&
    modrm < 0xc0 &&
    [1, 6, 7].includes((modrm >> 3) & 7)
  )
    return "host: the CPU gives #UD first for MOV to CS or to a reserved Sreg (ModRM.reg 6, 7) with a memory operand (native probe, probes/native-ud.c: SIGILL with the operand at address 0), and kvm-pvm hands that #UD to KVM's emulator, which reads the operand before it refuses the form (probe in the guest: #PF on a not-present page, #GP(0) non-canonical, #UD when the read succeeds); SDM Vol. 3 6.9 (Table 6-2) ranks invalid-opcode faults above faults on the operands, as the CPU and x86emu do";
  if (sig.mode === 'long64' && sig.form === 'NOP Ev' && lock && modrm < 0xc0)
    return 'host: the CPU gives #UD for LOCK 0F 19–1F with a memory operand (native probe, probes/native-ud.c: SIGILL), and kvm-pvm completes it in the guest as a NOP (probe: no fault, also over a not-present page; the register form is #UD); SDM Vol. 2 LOCK and APM Vol. 3 1.2.5 both say #UD for LOCK with a non-lockable instruction, as the CPU and x86emu do';
  if (sig.mode === 'long64' && sig.form.startsWith('MOV_FROM_SEG') && within('gpr', 'memory', 'eip'))
    return "host: kvm-pvm gives user code the host's data selectors: MOV from DS/ES/SS reads 0 or 0x33 where the guest loaded 0x2b (probe); SDM Vol. 2 MOV (a segment register source): the destination gets the selector the register holds, as x86emu";
  if (sig.mode === 'long64' && sig.form.startsWith('MOV_TO_SEG'))
    return "host: a faulting MOV Sreg with REX.R is re-run by KVM's emulator on kvm-pvm, which counts REX.R in the Sreg field (#UD); the CPU ignores REX.R (the same bytes without a fault run natively with REX.R ignored); APM Vol. 3 1.2.7: REX.R does not modify ModRM.reg when it names a register other than a GPR, XMM, control or debug register, and is ignored, as x86emu";
  if (sig.mode === 'long64' && sig.form === 'IRET')
    return 'host: IRET at CPL 3 is emulated by KVM on kvm-pvm: it loads a data segment (0x2b) into CS, refuses a return to the compat CS with #GP(0) and gives #GP(0) where the SDM gives #GP(selector) or #SS(selector) (a not-present SS)';
  if (sig.form.startsWith('SHLD') || sig.form.startsWith('SHRD')) return SHXD_UNDEFINED;
  if (sig.mode !== 'compat32') return 'unreviewed: x86emu or host; see the reproducer';
  if (sig.form === 'SWAPGS' || sig.form === 'SYSRET')
    return `${KVM_EMULATOR}: it raises #GP(0); SDM ${sig.form}: #UD outside 64-bit mode, as x86emu`;
  if (sig.form === 'IRET') return `${KVM_EMULATOR}: it gives #GP(0) where the SDM gives #GP(selector)`;
  if (/^AA[DM]/.test(sig.form) && within('eflags', 'frame.eflags'))
    return `${KVM_EMULATOR}: it computes AAD/AAM's SF on AX, not AL (SDM AAD/AAM: SF from AL), as the legacy AAD entries`;
  if (sig.form === 'NOP Ev')
    return `${KVM_EMULATOR}: it decodes the 0F 19–1F hint NOPs wrongly under 67H (a wrong length), as the legacy NOP Ev host entries; SDM Vol. 2 NOP (0F 1F /0) and 2.1.5: the length follows the ModRM, SIB and displacement of the address size, 16-bit under 67H in 32-bit code, as x86emu`;
  if (/^(SCAS|CMPS)/.test(sig.form) && within('eflags', 'frame.eflags'))
    return `${KVM_EMULATOR}: for a REP SCAS/CMPS that faults, it reports flags that are not those of the last completed iteration, as the legacy SCAS/CMPS host entries; SDM Vol. 2 REP/REPE/REPZ/REPNE/REPNZ: when a fault occurs in a REPE/REPNE CMPS or SCAS, EFLAGS are "restored to the state prior to the execution of the instruction"`;
  if (sig.form.startsWith('ENTER') && within('gpr', 'memory'))
    return `${KVM_EMULATOR}: with a 66 prefix it sets EBP from the whole ESP (SDM ENTER: a 16-bit frame pointer)`;
  // CR2 alone: both reads #PF and the host reports the source's address. With the handler's EIP
  // and the pushed frame too: the source's fault is another vector (a #GP for an unusable
  // segment override, seed 20261206 case 1308: GS null, ES:[DI] not present) and the host
  // reports it where x86emu reports the destination's #PF.
  if (sig.form.startsWith('CMPS') && within('cr2', 'eip', 'memory'))
    return `${KVM_EMULATOR}: it reads DS:[ESI] before ES:[EDI], so when both fault the fault (and CR2) is the source's; the CPU reads ES:[EDI] first (long64, refereed by the CPU: seed 7 case 3054, CR2 of a CMPSQ whose operands both fault), as x86emu in every mode`;
  return 'unreviewed: x86emu or host; see the reproducer';
}

/**
 * Known-mismatch entries for every distinct signature of `found` (first case as reproducer),
 * appended to `existing`. `classifyAs` gives each new entry's summary (default: `classify`).
 * A new entry is cited for the vendor of the host that found it (`hosts`; a reviewer who shows
 * the reason holds for every vendor removes the field); another vendor's entry does not list it.
 */
export function knownFromMismatches(
  found: readonly Mismatch[],
  existing: readonly KnownMismatch[],
  classifyAs: (sig: Signature, m: Mismatch) => string = classify,
  prefixScope: (sig: Signature, m: Mismatch) => number[] | undefined = () => undefined,
  vendor = hostCpuVendor(),
): KnownMismatch[] {
  const out = [...existing];
  for (const m of found) {
    if (knownForHost(out, vendor).some((k) => matchesKnown(m.signature, k))) continue;
    const s = m.signature;
    const summary = classifyAs(s, m);
    // One entry for a rule that holds for every instruction (the RF bit of fault frames).
    const general = summary.startsWith('x86emu: a fault-class');
    const prefixes = prefixScope(s, m);
    const suffix = prefixes ? `/${prefixes.map((p) => p.toString(16)).join('|')}` : '';
    const id = general
      ? 'any/frame.rf'
      : `${s.mode}/${s.form}/${s.categories.join('+')}${suffix}`.replace(/\s+/g, '_');
    out.push({
      ...(prefixes ? { prefixes } : {}),
      // The same signature may be cited for another vendor, with that vendor's reason.
      id: out.some((k) => k.id === id) ? `${id}@${vendor}` : id,
      mode: general ? '*' : s.mode,
      form: general ? '*' : s.form,
      categories: s.categories,
      hosts: [vendor],
      summary,
      reproducer: m.testCase,
    });
  }
  return out;
}

/** LOCK among the prefixes of the instruction at `at` (64-bit mode), its REX and where its opcode byte is (after 0Fh). */
function legacyPrefixesAndRex(bytes: number[], at: number): { lock: boolean; rex: number; opcodeAt: number } {
  const { prefixes, rex, opcodeAt } = prefixesAt(bytes, at);
  return { lock: prefixes.includes(0xf0), rex, opcodeAt: bytes[opcodeAt] === 0x0f ? opcodeAt + 1 : opcodeAt };
}
