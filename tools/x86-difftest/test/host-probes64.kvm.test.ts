/**
 * The host facts that `classifyIa32e` (src/known.ts) cites for long64 mismatches, measured again
 * on every run: each probe is a few bytes at CPL 3 behind the harness, with the vector the host
 * ends in, beside x86emu's. kvm-pvm shows them; where an AMD and an Intel CPU answer differently
 * (what the AMD-only garbage classes rest on), a probe expects its host vendor's answer. Elsewhere
 * (another hypervisor, another vendor) the probes skip with that reason: a host where one changes
 * must re-triage the list.
 */
import { hostKvmAvailability } from '@kvm/host';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exceptionFrame, stubFrame } from '../src/compare.js';
import { DiffTester } from '../src/difftest.js';
import { caseImage, type TestCase } from '../src/generator.js';
import { generateGarbage64, generateLong64 } from '../src/generator64.js';
import { DATA, STACK_TOP } from '../src/layout.js';
import { PAGE64_NOT_PRESENT, TSS64 } from '../src/layout64.js';
import type { Outcome } from '../src/outcome.js';
import { hostKvmFlavor } from '../src/referee.js';
import { AMD_HOST, INTEL_HOST } from './host-vendor.js';

const avail = hostKvmAvailability();
const skip = !avail.available
  ? avail.reason
  : hostKvmFlavor() !== 'kvm-pvm' || !(AMD_HOST || INTEL_HOST)
    ? 'the probes describe kvm-pvm on an AMD or an Intel CPU'
    : undefined;
/** The answer of this host's vendor: an AMD CPU's, or an Intel CPU's. */
const byVendor = <T>(amd: T, intel: T): T => (AMD_HOST ? amd : intel);
if (skip) console.warn(`[x86-difftest] host probes skipped: ${skip}`);

const NON_CANONICAL: [number, number] = [0, 0x8000];
const le = (v: number, n: number): number[] => Array.from({ length: n }, (_, i) => (v / 2 ** (8 * i)) & 0xff);

describe.skipIf(skip !== undefined)(`kvm-pvm's CPL-3 deviations${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let tester: DiffTester;
  beforeAll(() => {
    tester = new DiffTester(['long64']);
  });
  afterAll(() => tester?.close());

  /** The vectors host and x86emu end in for `bytes` (RAX = `rax`, the stack holding `stack`). */
  function probe(bytes: number[], rax: [number, number] = [DATA, 0], stack: number[] = []): [number, number] {
    const c = generateLong64(1, 0);
    c.bytes = bytes;
    c.insns = [{ length: bytes.length, form: 'PROBE' }];
    c.init.gpr[0] = rax[0];
    (c.init.gprHigh as number[])[0] = rax[1];
    c.patches = stack.length && c.entry ? [[c.entry.rsp, stack]] : [];
    const host = stubFrame(tester.host.run(c.init, caseImage(c)))?.vector ?? -1;
    const emu = stubFrame(tester.emu.run(c.init, caseImage(c)))?.vector ?? -1;
    return [host, emu];
  }

  it('LOCK IRETQ/SWAPGS/SYSRET run as without LOCK; LOCK with other non-lockable instructions is #UD', () => {
    const frame = [
      ...le(0x9100, 8),
      ...le(0x33, 8),
      ...le(0x202, 8),
      ...le(STACK_TOP - 0x100, 8),
      ...le(0x2b, 8),
    ];
    // The IRETQ returns to the HLT sled at 0x9100: the terminator's #GP(0), on both sides without LOCK.
    expect(probe([0x48, 0xcf], undefined, frame)).toEqual([13, 13]);
    expect(probe([0xf0, 0x48, 0xcf], undefined, frame)).toEqual([13, 6]);
    expect(probe([0xf0, 0x0f, 0x01, 0xf8])).toEqual([13, 6]); // SWAPGS at CPL 3: #GP(0) without LOCK
    expect(probe([0xf0, 0x0f, 0x07])).toEqual([13, 6]); // SYSRET
    for (const b of [
      [0xf0, 0xf4],
      [0xf0, 0xfa],
      [0xf0, 0x0f, 0x20, 0xc0],
      [0xf0, 0x0f, 0x01, 0xf9],
    ])
      expect(probe(b)).toEqual([6, 6]);
  });

  it('MOV r/m, Sreg with REX.R: stores natively, but #UD where the store is non-canonical', () => {
    expect(probe([0x44, 0x8c, 0x00])).toEqual([13, 13]); // stored, then the terminator
    expect(probe([0x44, 0x8c, 0x00], [PAGE64_NOT_PRESENT, 0])).toEqual([14, 14]);
    expect(probe([0x8c, 0x00], NON_CANONICAL)).toEqual([13, 13]);
    expect(probe([0x44, 0x8c, 0x00], NON_CANONICAL)).toEqual([6, 13]);
  });

  it('MOV to CS or to Sreg 6/7 reads its memory operand before the #UD', () => {
    for (const modrm of [0x08, 0x30, 0x38]) {
      expect(probe([0x8e, modrm])).toEqual([6, 6]);
      expect(probe([0x8e, modrm], [PAGE64_NOT_PRESENT, 0])).toEqual([14, 6]);
      expect(probe([0x8e, modrm], NON_CANONICAL)).toEqual([13, 6]);
    }
  });

  it('(the CPU, as x86emu) the last of several segment overrides decides: ES/CS/DS after SS leave the default segment, after FS/GS leave FS/GS', () => {
    // [rbp] (default SS) non-canonical: #GP(0) under FS/GS. x86emu dropped FS/GS for a later
    // ES/CS/DS (#SS) until the long64 garbage difftest (seed 20261209, case 620) showed the CPU.
    const rbp = (prefixes: number[]): number[] => [...prefixes, 0x8a, 0x45, 0x00];
    const nonCanonicalRbp = (b: number[]): [number, number] =>
      ends(b, (c) => setGpr(c, 5, NON_CANONICAL)).vectors;
    expect(nonCanonicalRbp(rbp([0x3e]))).toEqual([12, 12]);
    for (const p of [
      [0x65, 0x3e],
      [0x64, 0x3e],
      [0x65, 0x26],
      [0x65, 0x2e],
    ])
      expect(nonCanonicalRbp(rbp(p))).toEqual([13, 13]);
    expect(nonCanonicalRbp(rbp([0x64, 0x36]))).toEqual([12, 12]);
    // mov al, [rax] with RAX non-canonical: #SS(0) for a stack reference, else #GP(0). x86emu kept
    // the SS of `36 26` (#SS) until the long64 garbage difftest showed the CPU's #GP.
    expect(probe([0x36, 0x26, 0x8a, 0x00], NON_CANONICAL)).toEqual([13, 13]);
    expect(probe([0x36, 0x3e, 0x8a, 0x00], NON_CANONICAL)).toEqual([13, 13]);
    expect(probe([0x36, 0x64, 0x8a, 0x00], NON_CANONICAL)).toEqual([13, 13]);
    expect(probe([0x26, 0x36, 0x8a, 0x00], NON_CANONICAL)).toEqual([12, 12]);
    expect(probe([0x64, 0x36, 0x8a, 0x00], NON_CANONICAL)).toEqual([12, 12]);
    expect(probe([0x36, 0x8a, 0x00], NON_CANONICAL)).toEqual([12, 12]);
  });

  /** Sets a GPR of a probe case. */
  function setGpr(c: TestCase, r: number, v: [number, number]): void {
    c.init.gpr[r] = v[0];
    (c.init.gprHigh as number[])[r] = v[1];
  }

  /**
   * How host and x86emu end `bytes` at CPL 3 (`setup` edits the case first): vectors, error codes,
   * CR2, RAX and the frame's RFLAGS. `garbage`: start from a garbage case (CR4.OSFXSR, x87/SSE state).
   */
  function ends(bytes: number[], setup?: (c: TestCase) => void, garbage = false) {
    const c = garbage ? generateGarbage64(1, 0) : generateLong64(1, 0);
    c.bytes = bytes;
    c.insns = [{ length: bytes.length, form: 'PROBE' }];
    c.patches = garbage ? c.patches : [];
    setup?.(c);
    const side = (o: Outcome) => ({
      frame: exceptionFrame(o),
      cr2: o.state.cr2 >>> 0,
      rax: o.state.gpr[0] >>> 0,
    });
    const host = side(tester.host.run(c.init, caseImage(c)));
    const emu = side(tester.emu.run(c.init, caseImage(c)));
    return {
      host,
      emu,
      vectors: [host.frame?.vector ?? -1, emu.frame?.vector ?? -1] as [number, number],
      errors: [host.frame?.error, emu.frame?.error],
    };
  }

  /** The user stack of a probe case holds `bytes` (at the entry RSP). */
  const stackHolds =
    (bytes: number[]) =>
    (c: TestCase): void => {
      if (c.entry) c.patches = [...c.patches, [c.entry.rsp, bytes]];
    };

  it('INT n at CPL 3 is #UD, even through a DPL-3 gate; LOCK INT n through a DPL-0 gate is #GP(0)', () => {
    expect(probe([0xcd, 0x80])).toEqual([6, 128]);
    expect(probe([0xcd, 0x0d])).toEqual([6, 13]);
    expect(probe([0xf0, 0xcd, 0x80])).toEqual([6, 6]);
    const lock19 = ends([0xf0, 0xcd, 0x19]);
    expect(lock19.vectors).toEqual([13, 6]);
    expect(lock19.errors[0]).toBe(0);
  });

  it("IRETD at CPL 3 gives #GP(0) whatever the frame on the host; IRETQ the SDM's #GP(selector), as x86emu", () => {
    for (const sel of [0x4003, 0x294, 0x10, 0x2b]) {
      const d = ends(
        [0xcf],
        stackHolds([
          ...le(0x9100, 4),
          ...le(sel, 4),
          ...le(0x202, 4),
          ...le(STACK_TOP - 0x100, 4),
          ...le(0x2b, 4),
        ]),
      );
      expect(d.vectors).toEqual([13, 13]);
      expect(d.errors).toEqual([0, sel & 0xfffc]);
      const q = ends(
        [0x48, 0xcf],
        stackHolds([
          ...le(0x9100, 8),
          ...le(sel, 8),
          ...le(0x202, 8),
          ...le(STACK_TOP - 0x100, 8),
          ...le(0x2b, 8),
        ]),
      );
      // (IRETQ to the data segment 0x2b is #GP(0) on the host too: the long64/IRET entry.)
      if (sel !== 0x2b) expect(q.errors).toEqual([sel & 0xfffc, sel & 0xfffc]);
    }
  });

  it('RETF imm16 to an RPL-1 CS: an AMD host reads the outer RSP/SS slots first (#PF on a supervisor page), an Intel host, as x86emu, refuses the CS (#GP(selector))', () => {
    // Entry RSP 0x2FE00; RETF 2F8h: the outer RSP/SS slots at 0x2FE08 + 0x2F8 = TSS64 + 0x100.
    const retf = (bytes: number[]) =>
      ends(bytes, (c) => {
        if (c.entry) c.entry.rsp = 0x2fe00;
        c.patches = [[0x2fe00, [...le(0x9100, 4), ...le(0x4001, 4)]]];
      });
    const r = retf([0xca, 0xf8, 0x02]);
    expect(r.vectors).toEqual(byVendor([14, 13], [13, 13]));
    expect(r.errors).toEqual(byVendor([5, 0x4000], [0x4000, 0x4000]));
    if (AMD_HOST) expect(r.host.cr2 >= TSS64 + 0x100 && r.host.cr2 < TSS64 + 0x108).toBe(true);
    // Without the immediate the outer slots are user stack: both refuse the CS.
    expect(retf([0xcb]).errors).toEqual([0x4000, 0x4000]);
  });

  it('RETF and IRET with RSP on the not-present page: the host reports a later slot in CR2, x86emu the first', () => {
    const rsp: [number, number] = [PAGE64_NOT_PRESENT + 0x100, 0];
    const retf = ends([0xcb], (c) => {
      if (c.entry) c.entry.rsp = rsp[0];
    });
    expect(retf.vectors).toEqual([14, 14]);
    expect([retf.host.cr2, retf.emu.cr2]).toEqual([rsp[0] + 4, rsp[0]]);
    const iret = ends([0xcf], (c) => {
      if (c.entry) c.entry.rsp = rsp[0];
    });
    expect(iret.vectors).toEqual([14, 14]);
    expect(iret.host.cr2).toBeGreaterThan(rsp[0]);
    expect(iret.emu.cr2).toBe(rsp[0]);
  });

  it("instructions the host CPU has and x86emu's CPUID does not run natively at CPL 3 (x86emu: #UD, or BSR for LZCNT)", () => {
    // LZCNT eax, eax with EAX = 1: 31 on the host; BSR gives 0.
    const lzcnt = ends([0xf3, 0x0f, 0xbd, 0xc0], (c) => setGpr(c, 0, [1, 0]));
    expect([lzcnt.host.rax, lzcnt.emu.rax]).toEqual([31, 0]);
    for (const b of [
      [0xf3, 0x0f, 0xc7, 0xf8], // RDPID rax (F3 0F C7 /7: not RDSEED, whose F3 form is #UD)
      [0x0f, 0x3a, 0xcc, 0xc0, 0x01], // SHA1RNDS4
      ...(AMD_HOST ? [[0x66, 0x0f, 0x78, 0xc0, 0x04, 0x00]] : []), // EXTRQ (SSE4a: AMD's)
      [0x66, 0x0f, 0xae, 0x30], // CLWB [rax]
      [0x66, 0x0f, 0xae, 0x38], // CLFLUSHOPT [rax]
    ])
      expect(ends(b, undefined, true).vectors).toEqual([13, 6]);
  });

  it('SERIALIZE (0F 01 E8), which x86emu implements, also runs on the host (the AMD EPYC runs it without reporting it in CPUID)', () => {
    // Both run on to the case's end (#GP at the end marker), so generated cases may hold it.
    expect(ends([0x0f, 0x01, 0xe8], undefined, true).vectors).toEqual([13, 13]);
  });

  /** How host and x86emu end `bytes` (then UD2): the frame and RAX as 64 bits. */
  function ranWithUd2(bytes: number[]) {
    const c = generateLong64(1, 0);
    c.bytes = [...bytes, 0x0f, 0x0b];
    c.insns = [{ length: c.bytes.length, form: 'PROBE' }];
    c.patches = [];
    const side = (o: Outcome) => ({
      frame: exceptionFrame(o),
      rax: (BigInt((o.state.gprHigh?.[0] ?? 0) >>> 0) << 32n) | BigInt(o.state.gpr[0] >>> 0),
    });
    return {
      host: side(tester.host.run(c.init, caseImage(c))),
      emu: side(tester.emu.run(c.init, caseImage(c))),
    };
  }

  it('RDRAND and RDSEED run on both sides: CF = 1 and OF SF ZF AF PF clear, each side its own value, the host a new one each run', () => {
    // SDM Vol. 2 RDRAND/RDSEED: "Loads a hardware generated random value"; CF = 1 when one was
    // there, the other status flags 0. The UD2 after it: the frame holds RFLAGS and RIP after it.
    const STATUS = 0x8d5;
    for (const b of [
      [0x0f, 0xc7, 0xf0], // rdrand eax
      [0x0f, 0xc7, 0xf8], // rdseed eax
      [0x66, 0x0f, 0xc7, 0xf0], // rdrand ax
      [0x48, 0x0f, 0xc7, 0xf0], // rdrand rax
      [0x48, 0x0f, 0xc7, 0xf8], // rdseed rax
    ]) {
      const host: bigint[] = [];
      for (let k = 0; k < 8; k++) {
        const r = ranWithUd2(b);
        for (const s of [r.host, r.emu]) {
          expect(s.frame?.vector).toBe(6);
          expect(s.frame?.rip).toBe(0x9000 + b.length);
          expect((s.frame?.rflags ?? 0) & STATUS).toBe(1);
        }
        if (b[0] === 0x48) expect(r.host.rax).not.toBe(r.emu.rax);
        host.push(r.host.rax);
      }
      // A real generator: eight 64-bit values, not one repeated (x86emu's is seeded per case).
      if (b[0] === 0x48) expect(new Set(host).size).toBe(8);
    }
  });

  it('LOCK RDRAND and LOCK RDSEED run on the host (x86emu: #UD, as the SDM); LOCK with RDPID, POPCNT or BSWAP is #UD on both', () => {
    for (const b of [
      [0xf0, 0x0f, 0xc7, 0xf0],
      [0xf0, 0x0f, 0xc7, 0xf8],
      [0xf0, 0x48, 0x0f, 0xc7, 0xf0],
    ]) {
      const r = ranWithUd2(b);
      expect([r.host.frame?.vector, r.emu.frame?.vector]).toEqual([6, 6]);
      expect([r.host.frame?.rip, r.emu.frame?.rip]).toEqual([0x9000 + b.length, 0x9000]); // the host reached the UD2
      expect((r.host.frame?.rflags ?? 0) & 1).toBe(1);
    }
    for (const b of [
      [0xf0, 0xf3, 0x0f, 0xc7, 0xf8],
      [0xf0, 0xf3, 0x0f, 0xb8, 0xc0],
      [0xf0, 0x0f, 0xc8],
    ]) {
      const r = ranWithUd2(b);
      expect([r.host.frame?.rip, r.emu.frame?.rip]).toEqual([0x9000, 0x9000]);
    }
  });

  it('TZCNT and XSAVEC also run on the host (BMI1, XSAVEC; x86emu: BSF, #UD)', () => {
    const tzcnt = ends([0xf3, 0x0f, 0xbc, 0xc0], (c) => setGpr(c, 0, [0, 0]));
    expect([tzcnt.host.rax, tzcnt.emu.rax]).toEqual([32, 0]);
    expect(ends([0x0f, 0xc7, 0x20], (c) => setGpr(c, 0, [DATA, 0]), true).vectors).toEqual([13, 6]);
  });

  it('MOV to Sreg with REX.R: the CPU ignores REX.R, but a faulting load goes to KVM’s emulator, which gives #UD', () => {
    expect(ends([0x44, 0x8e, 0xc0], (c) => setGpr(c, 0, [0x2b, 0])).vectors).toEqual([13, 13]);
    expect(ends([0x44, 0x8e, 0xc0], (c) => setGpr(c, 0, [0x4003, 0])).vectors).toEqual([6, 13]);
  });

  it('FNSTENV: the host stores FDS (and FCS) as 0, x86emu the selector (its CPUID does not deprecate them); an Intel host FOP and FDP as 0 too; the rest agrees', () => {
    // fld qword [rax+0x100]; fnstenv [rax]: the 28-byte image at DATA (FDS at bytes 24–25).
    const c = generateGarbage64(1, 0);
    c.bytes = [0xdd, 0x80, 0x00, 0x01, 0x00, 0x00, 0xd9, 0x30];
    c.insns = [{ length: c.bytes.length, form: 'PROBE' }];
    setGpr(c, 0, [DATA, 0]);
    const host = [...tester.host.run(c.init, caseImage(c)).ram.slice(DATA, DATA + 28)];
    const emu = [...tester.emu.run(c.init, caseImage(c)).ram.slice(DATA, DATA + 28)];
    expect([host[24], host[25], emu[24], emu[25]]).toEqual([0, 0, 0x2b, 0]);
    // FCS, FOP and FDP (bytes 16–23): x86emu stores the FLD's; an Intel CPU (FDP_EXCPTN_ONLY, FOP
    // compatibility off) stores 0 with no unmasked exception (the class x87-fop-fdp).
    const rest = (b: number[]) => [...b.slice(0, AMD_HOST ? 24 : 16), ...b.slice(26)];
    expect(rest(host)).toEqual(rest(emu));
    expect(emu.slice(16, 24)).not.toEqual(Array(8).fill(0));
    if (INTEL_HOST) expect(host.slice(16, 24)).toEqual(Array(8).fill(0));
  });

  it('F3 0F C3 (MOVNTI under a reserved prefix) stores on the host; x86emu #UD', () => {
    expect(probe([0xf3, 0x0f, 0xc3, 0x00])).toEqual([13, 6]);
  });

  it("66 0F E7 (MOVNTDQ) with a register operand runs on the host; the other non-temporal stores' register forms are #UD", () => {
    expect(ends([0x66, 0x0f, 0xe7, 0xd1, 0x0f, 0x0b], undefined, true).vectors).toEqual([6, 6]);
    const r = ends([0x66, 0x0f, 0xe7, 0xd1, 0x0f, 0x0b], undefined, true);
    expect([r.host.frame?.rip, r.emu.frame?.rip]).toEqual([0x9004, 0x9000]); // the host reached the UD2
    for (const b of [
      [0x0f, 0xe7, 0xd1],
      [0x66, 0x0f, 0x2b, 0xd1],
      [0x0f, 0x2b, 0xd1],
    ])
      expect(ends([...b, 0x0f, 0x0b], undefined, true).host.frame?.rip).toBe(0x9000);
  });

  it("CLGI at CPL 3 is #GP(0) on the host (AMD: its EFER.SVME; Intel: kvm-pvm after the CPU's #UD); RDFSBASE runs under the host's CR4.FSGSBASE", () => {
    expect(probe([0x0f, 0x01, 0xdd])).toEqual([13, 6]);
    expect(probe([0xf3, 0x0f, 0xae, 0xc0, 0x0f, 0x0b])).toEqual([6, 6]);
    const r = ends([0xf3, 0x0f, 0xae, 0xc0, 0x0f, 0x0b]);
    expect([r.host.frame?.rip, r.emu.frame?.rip]).toEqual([0x9004, 0x9000]);
  });

  it('LOCK VERW with a memory operand runs on an AMD host (KVM’s emulator); #UD on an Intel host and x86emu', () => {
    expect(probe([0xf0, 0x0f, 0x00, 0x28])).toEqual(byVendor([13, 6], [6, 6]));
  });

  it("RFLAGS.AC: kept in the frame, cleared in the handler by the host's delivery; x86emu keeps it (SDM: interrupt gates do not clear AC)", () => {
    // push 0x40202; popf; ud2
    const c = generateLong64(1, 0);
    c.bytes = [0x68, ...le(0x40202, 4), 0x9d, 0x0f, 0x0b];
    c.insns = [{ length: c.bytes.length, form: 'PROBE' }];
    c.patches = [];
    const host = tester.host.run(c.init, caseImage(c));
    const emu = tester.emu.run(c.init, caseImage(c));
    expect(
      [exceptionFrame(host)?.rflags ?? 0, exceptionFrame(emu)?.rflags ?? 0].map((f) => f & 0x40000),
    ).toEqual([0x40000, 0x40000]);
    expect([host.state.eflags & 0x40000, emu.state.eflags & 0x40000]).toEqual([0, 0x40000]);
  });

  it('RFLAGS.NT set by POPF is lost across an exit (CPUID) on the host, kept without one', () => {
    // push 0x4202; popf; [xor eax, eax; cpuid;] pushf; pop rax; ud2
    const run = (mid: number[]) => ends([0x68, ...le(0x4202, 4), 0x9d, ...mid, 0x9c, 0x58, 0x0f, 0x0b]);
    const plain = run([]);
    expect([plain.host.rax & 0x4000, plain.emu.rax & 0x4000]).toEqual([0x4000, 0x4000]);
    const exit = run([0x31, 0xc0, 0x0f, 0xa2]);
    expect([exit.host.rax & 0x4000, exit.emu.rax & 0x4000]).toEqual([0, 0x4000]);
  });

  /** CR2 on the host and on x86emu after `bytes` with RSI and RDI (and RCX 5). */
  function cr2Of(bytes: number[], rsi: [number, number], rdi: [number, number]): [number, number] {
    const c = generateLong64(1, 0);
    c.bytes = bytes;
    c.insns = [{ length: bytes.length, form: 'PROBE' }];
    const hi = c.init.gprHigh as number[];
    [c.init.gpr[6], hi[6]] = rsi;
    [c.init.gpr[7], hi[7]] = rdi;
    [c.init.gpr[1], hi[1]] = [5, 0];
    c.patches = [];
    return [tester.host.run(c.init, caseImage(c)).state.cr2, tester.emu.run(c.init, caseImage(c)).state.cr2];
  }

  it("CMPS reads ES:[RDI] first, but REPE CMPSB reads DS:[RSI] first on an AMD host; a non-canonical operand's #GP goes to KVM's emulator, which reads DS:[RSI] first", () => {
    const src: [number, number] = [PAGE64_NOT_PRESENT + 0x10, 0];
    const dst: [number, number] = [PAGE64_NOT_PRESENT + 0x800, 0];
    // Both operands on the not-present page: CR2 says which was read first.
    for (const b of [[0xa6], [0xf2, 0xa6], [0x48, 0xa7], [0xf3, 0x48, 0xa7], [0xf3, 0xa7], [0x66, 0xa7]])
      expect(cr2Of(b, src, dst)).toEqual([dst[0], dst[0]]);
    expect(cr2Of([0xf3, 0xa6], src, dst)).toEqual(byVendor([src[0], dst[0]], [dst[0], dst[0]]));
    // RDI non-canonical, RSI not present: the CPU's #GP for RDI, which kvm-pvm hands to KVM's
    // emulator: it reads the source first (#PF, CR2 set), where x86emu raises the #GP (CR2 0).
    expect(cr2Of([0x48, 0xa7], src, NON_CANONICAL)).toEqual([src[0], 0]);
  });

  it('a REP prefix on LOOPE/LOOPNE picks the condition on an AMD host: F2 E1 branches as LOOPNE, F3 E0 as LOOPE; not on an Intel host, as x86emu', () => {
    // xor eax, eax (ZF = 1); LOOPcc +3 over `hlt; nop; nop` to UD2: taken is #UD, not taken the
    // HLT's #GP (CPL 3). RCX is the case's, not 1, so the count does not end the loop.
    const loop = (prefix: number[], op: number): number[] => [
      0x31,
      0xc0,
      ...prefix,
      op,
      0x03,
      0xf4,
      0x90,
      0x90,
      0x0f,
      0x0b,
    ];
    expect(probe(loop([], 0xe1))).toEqual([6, 6]); // LOOPE, ZF = 1: taken
    expect(probe(loop([0xf3], 0xe1))).toEqual([6, 6]);
    expect(probe(loop([0xf2], 0xe1))).toEqual(byVendor([13, 6], [6, 6])); // as LOOPNE on AMD
    expect(probe(loop([], 0xe0))).toEqual([13, 13]); // LOOPNE, ZF = 1: not taken
    expect(probe(loop([0xf2], 0xe0))).toEqual([13, 13]);
    expect(probe(loop([0xf3], 0xe0))).toEqual(byVendor([6, 13], [13, 13])); // as LOOPE on AMD
  });

  it('an operand-size prefix on a near JMP, Jcc or RET selects 16 bits on an AMD host, ignored on an Intel host, as by x86emu', () => {
    // 66 E9 02 00: AMD's JMP rel16 lands on the UD2 two bytes on; Intel's rel32 (0x0B0F0002) goes
    // to an unmapped page.
    expect(probe([0x66, 0xe9, 0x02, 0x00, 0x0f, 0x0b, 0x0f, 0x0b])).toEqual(byVendor([6, 14], [14, 14]));
    // xor eax, eax; 66 0F 84 rel16 (JE, taken): the same for Jcc.
    expect(probe([0x31, 0xc0, 0x66, 0x0f, 0x84, 0x02, 0x00, 0x0f, 0x0b, 0x0f, 0x0b])).toEqual(
      byVendor([6, 14], [14, 14]),
    );
    // 66 C3 pops 2 bytes on AMD (IP 0x9006: the HLT sled's #GP), 8 on Intel (0x01009006: #PF).
    const ret = ends([0x66, 0xc3], stackHolds([0x06, 0x90, 0x00, 0x01, 0, 0, 0, 0]));
    expect(ret.vectors).toEqual(byVendor([13, 14], [14, 14]));
    expect(ret.host.frame?.rip).toBe(byVendor(0x9006, 0x01009006));
  });

  it('LOCK on a hint NOP (0F 19–1F) with a memory operand is a NOP; the register form is #UD', () => {
    for (const op of [0x19, 0x1d, 0x1f]) expect(probe([0xf0, 0x0f, op, 0x00])).toEqual([13, 6]);
    expect(probe([0xf0, 0x0f, 0x1f, 0x00], [PAGE64_NOT_PRESENT, 0])).toEqual([13, 6]);
    expect(probe([0xf0, 0x0f, 0x1f, 0xc0])).toEqual([6, 6]);
  });
});
