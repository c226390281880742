/**
 * The IA-32e test machine (`long64`, `compat32`): the same 1 MiB of RAM, code, data and stack
 * addresses as the legacy modes (layout.ts), so the generator steers operands the same way, plus
 * the structures a CPL-0 harness needs to run the case at CPL 3 and catch what it does:
 *
 *   0x00000  not present (a null pointer faults)
 *   0x01000  GDT: Linux's x86-64 selectors (GDT64_SEL)
 *   0x02000  IDT: 256 64-bit interrupt gates → 0010:STUBS64+v
 *   0x03000  stubs: 256 × HLT at CPL 0; the halt address names the vector
 *   0x04000  PML4, 0x05000 PDPT, 0x06000 PD, 0x07000 PT (4 KiB pages over RAM)
 *   0x08000  HLT sled (user), 0x09000 the test code (then HLT), HLT sled to 0x0AFFF
 *   0x10000  random data, user pages except PAGE_SUPERVISOR, PAGE_NOT_PRESENT, PAGE_READ_ONLY
 *            and PAGE_NO_EXECUTE; the user stack lives at its top
 *   0x30000  TSS (RSP0 = KSTACK_TOP), 0x31000 the harness (IRETQ) and its frame,
 *            0x32000–0x33FFF the kernel stack: supervisor pages the case cannot touch
 *   0x34000  HLT sled (user) to the end of RAM; above RAM nothing is mapped (#PF)
 *
 * Every paging-structure entry has A (and D) set already: the host's shadow MMU is not told when
 * userspace rewrites guest page tables between cases, so an A/D update it skipped would show as a
 * memory difference that is no instruction's doing.
 *
 * The GDT follows Linux's (arch/x86/include/asm/segment.h: __KERNEL_CS 0x10, __KERNEL_DS 0x18,
 * __USER32_CS 0x23, __USER_DS 0x2b, __USER_CS 0x33, TSS at 0x40) because kvm-pvm runs CPL-3 code
 * on the host's own user segments: a MOV from CS/SS there reads 0x33/0x2b whatever the guest's
 * GDT says (tools/guests/src/engines.ts, `exceptions64`). With the same numbers both agree.
 */
import { CODE, HLT, RAM_SIZE, STACK_TOP } from './layout.js';
import type { MachineState, SegmentState } from './machine-state.js';

export const GDT64 = 0x1000;
export const IDT64 = 0x2000;
export const STUBS64 = 0x3000;
export const PML4 = 0x4000;
export const PDPT64 = 0x5000;
export const PD64 = 0x6000;
export const PT64 = 0x7000;
export const TSS64 = 0x30000;
/** The CPL-0 harness: LIDT, LTR, IRETQ to the case; the operands and the frame after it. */
export const HARNESS = 0x31000;
/** Where the harness's IRETQ is (the code before it only loads IDTR and TR). */
export const HARNESS_IRETQ = HARNESS + 16;
const HARNESS_IDTR = HARNESS + 0x80;
const HARNESS_TR = HARNESS + 0x90;
export const HARNESS_FRAME = HARNESS + 0x100;
export const KSTACK_TOP = 0x34000;
/** Data pages with special translations (SDM Vol. 3 4.6: access rights; 4.7: #PF error code). */
export const PAGE64_SUPERVISOR = 0x1c000;
export const PAGE64_NO_EXECUTE = 0x1d000;
export const PAGE64_NOT_PRESENT = 0x1e000;
export const PAGE64_READ_ONLY = 0x1f000;

export type LongMode = 'long64' | 'compat32';

export const GDT64_SEL = {
  KERNEL32_CS: 0x08,
  KERNEL_CS: 0x10,
  KERNEL_DS: 0x18,
  USER32_CS: 0x23,
  USER_DS: 0x2b,
  USER_CS: 0x33,
  TSS: 0x40,
  /** Extra descriptors for segment loads at CPL 3: DPL-0 data, not present, 32-bit DPL-3 code. */
  KERNEL_DS_ALT: 0x50,
  NOT_PRESENT: 0x58 | 3,
} as const;
const GDT64_ENTRIES = 12;

const PTE_P = 1;
const PTE_RW = 2;
const PTE_US = 4;
const PTE_A = 0x20;
const PTE_D = 0x40;
/** Bit 63 of an entry, i.e. bit 31 of its high dword (SDM Vol. 3 4.5: XD with EFER.NXE). */
const PTE_XD_HIGH = 0x80000000;

function w32(ram: Uint8Array, at: number, v: number): void {
  ram[at] = v;
  ram[at + 1] = v >>> 8;
  ram[at + 2] = v >>> 16;
  ram[at + 3] = v >>> 24;
}

function descriptor(base: number, limit: number, access: number, flags: number): [number, number] {
  const lo = ((base & 0xffff) << 16) | (limit & 0xffff);
  const hi =
    (base & 0xff000000) |
    ((flags & 0xf) << 20) |
    (limit & 0xf0000) |
    ((access & 0xff) << 8) |
    ((base >>> 16) & 0xff);
  return [lo >>> 0, hi >>> 0];
}

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
}

function isSupervisorPage(gpa: number): boolean {
  return gpa < 0x8000 || (gpa >= TSS64 && gpa < KSTACK_TOP) || gpa === PAGE64_SUPERVISOR;
}

/** The page-table entry (low dword, high dword) that maps RAM page `gpa` (identity). */
function pte64(gpa: number): [number, number] {
  if (gpa === 0 || gpa === PAGE64_NOT_PRESENT) return [(gpa | PTE_RW | PTE_US) >>> 0, 0];
  let v = gpa | PTE_P | PTE_A | PTE_D;
  if (gpa !== PAGE64_READ_ONLY) v |= PTE_RW;
  if (!isSupervisorPage(gpa)) v |= PTE_US;
  return [v >>> 0, gpa === PAGE64_NO_EXECUTE ? PTE_XD_HIGH : 0];
}

/** The fixed part of the IA-32e image (the harness frame and the case are added per case). */
export function buildImage64(): Uint8Array {
  const ram = new Uint8Array(RAM_SIZE);
  ram.fill(HLT, 0x8000, 0xb000);
  ram.fill(HLT, KSTACK_TOP, RAM_SIZE);
  const gdt: [number, number][] = [
    [0, 0],
    descriptor(0, 0xfffff, 0x9b, 0xc),
    descriptor(0, 0xfffff, 0x9b, 0xa), // 64-bit: L = 1, D = 0 (SDM Vol. 3 5.2.1)
    descriptor(0, 0xfffff, 0x93, 0xc),
    descriptor(0, 0xfffff, 0xfb, 0xc),
    descriptor(0, 0xfffff, 0xf3, 0xc),
    descriptor(0, 0xfffff, 0xfb, 0xa),
    [0, 0],
    // 64-bit TSS descriptor, 16 bytes (SDM Vol. 3 8.2.3), type 9: available (the harness's LTR
    // marks it busy).
    descriptor(TSS64, 0x67, 0x89, 0),
    [0, 0],
    descriptor(0, 0xfffff, 0x93, 0xc),
    descriptor(0, 0xfffff, 0x73, 0xc),
  ];
  gdt.forEach(([lo, hi], i) => {
    w32(ram, GDT64 + i * 8, lo);
    w32(ram, GDT64 + i * 8 + 4, hi);
  });
  for (let v = 0; v < 256; v++) {
    // 64-bit interrupt gate (SDM Vol. 3 6.14.1): offset, selector, IST 0, type 0xE, DPL, P.
    // DPL 3 for #BP, #OF and the non-exception vectors, so INT n from CPL 3 reaches them; DPL 0
    // elsewhere, so INT n on an exception vector is #GP(vector × 8 + 2) as under an OS.
    const off = STUBS64 + v;
    const dpl = v === 3 || v === 4 || v >= 32 ? 3 : 0;
    w32(ram, IDT64 + v * 16, ((GDT64_SEL.KERNEL_CS << 16) | (off & 0xffff)) >>> 0);
    w32(ram, IDT64 + v * 16 + 4, ((off & 0xffff0000) | 0x8000 | (dpl << 13) | (0xe << 8)) >>> 0);
    ram[STUBS64 + v] = HLT;
  }
  // 4-level paging (SDM Vol. 3 4.5): PML4[0] → PDPT[0] → PD[0] → PT, 4 KiB pages over RAM.
  const upper = PTE_P | PTE_RW | PTE_US | PTE_A;
  w32(ram, PML4, PDPT64 | upper);
  w32(ram, PDPT64, PD64 | upper);
  w32(ram, PD64, PT64 | upper);
  for (let p = 0; p < RAM_SIZE >>> 12; p++) {
    const [lo, hi] = pte64(p << 12);
    w32(ram, PT64 + p * 8, lo);
    w32(ram, PT64 + p * 8 + 4, hi);
  }
  // 64-bit TSS (SDM Vol. 3 8.7): RSP0 at offset 4; no I/O bitmap (base past the limit).
  w32(ram, TSS64 + 4, KSTACK_TOP);
  ram[TSS64 + 0x66] = 0x68;
  // The harness (CPL 0). kvm-pvm delivers events to the IDT and TSS the guest itself loaded with
  // LIDT/LTR (KVM_SET_SREGS alone leaves it triple-faulting on the first exception), so the
  // harness loads them, then IRETQs to the case (SDM Vol. 3 6.14.3); no GPR or flag is touched.
  ram.set(
    [
      ...[0x0f, 0x01, 0x1c, 0x25, ...le32(HARNESS_IDTR)], // lidt [HARNESS_IDTR]
      ...[0x0f, 0x00, 0x1c, 0x25, ...le32(HARNESS_TR)], // ltr [HARNESS_TR]
      ...[0x48, 0xcf], // iretq
      HLT,
    ],
    HARNESS,
  );
  // The 10-byte IDTR image LIDT reads in 64-bit mode, and TR's selector.
  ram.set([0xff, 0x0f, ...le32(IDT64), 0, 0, 0, 0], HARNESS_IDTR);
  ram.set([GDT64_SEL.TSS, 0], HARNESS_TR);
  return ram;
}

/** Where the test code starts and how it runs at CPL 3 (the IRETQ frame's contents). */
export interface UserEntry {
  mode: LongMode;
  /** RIP, RSP as low/high halves; RFLAGS (32 bits). */
  rip: number;
  ripHigh: number;
  rsp: number;
  rspHigh: number;
  rflags: number;
}

/** Writes the IRETQ frame (RIP, CS, RFLAGS, RSP, SS; SDM Vol. 3 6.14.3) for `entry` into `ram`. */
export function writeHarnessFrame(ram: Uint8Array, entry: UserEntry): void {
  const cs = entry.mode === 'long64' ? GDT64_SEL.USER_CS : GDT64_SEL.USER32_CS;
  const q = (i: number, lo: number, hi: number): void => {
    w32(ram, HARNESS_FRAME + i * 8, lo);
    w32(ram, HARNESS_FRAME + i * 8 + 4, hi);
  };
  q(0, entry.rip, entry.ripHigh);
  q(1, cs, 0);
  q(2, entry.rflags, 0);
  q(3, entry.rsp, entry.rspHigh);
  q(4, GDT64_SEL.USER_DS, 0);
}

/** Access rights (VMX format, machine-state.ts) of the long-mode segments. */
const ATTR_CODE64 = 0x9b | (1 << 13) | (1 << 15);
const ATTR_DATA = 0x93 | (1 << 14) | (1 << 15);
const ATTR_USER_DATA = 0xf3 | (1 << 14) | (1 << 15);
const ATTR_UNUSABLE = 1 << 16;

function seg(sel: number, attr: number, limit = 0xffffffff): SegmentState {
  return { sel, base: 0, limit, attr };
}

const CR0_PE = 1;
const CR0_MP = 1 << 1;
const CR0_ET = 1 << 4;
const CR0_NE = 1 << 5;
const CR0_WP = 1 << 16;
/**
 * Alignment checking at CPL 3 with RFLAGS.AC (SDM Vol. 3 6.15 #AC). Set because kvm-pvm runs user
 * code under the host's CR0, whose AM is set: a case that sets AC and misaligns an access got #AC
 * there with the guest's CR0.AM clear. With AM set the architecture agrees with it.
 */
const CR0_AM = 1 << 18;
const CR0_PG = 1 << 31;
const CR4_PAE = 1 << 5;
const EFER_SCE = 1 << 0;
const EFER_LME = 1 << 8;
const EFER_LMA = 1 << 10;
const EFER_NXE = 1 << 11;

/**
 * The state a case starts from: CPL 0 in 64-bit mode at the harness, RSP at its IRETQ frame;
 * other GPRs zero (the generator fills them, and IRETQ keeps them; RSP comes from the frame).
 * DS and ES hold 0x2B, as Linux's start_thread leaves them for user code: kvm-pvm runs CPL-3
 * code with the host's __USER_DS there (a MOV from DS read 0x2B with the guest's DS null).
 * FS/GS are null (their selectors are the host's leftovers at CPL 3 anyway). TR: the 64-bit TSS.
 */
export function baseState64(): MachineState {
  const nul = (): SegmentState => seg(0, ATTR_UNUSABLE, 0);
  const gpr = new Array(16).fill(0);
  gpr[4] = HARNESS_FRAME;
  return {
    gpr,
    gprHigh: new Array(16).fill(0),
    eip: HARNESS,
    ripHigh: 0,
    eflags: 2,
    seg: [
      seg(GDT64_SEL.USER_DS, ATTR_USER_DATA),
      seg(GDT64_SEL.KERNEL_CS, ATTR_CODE64),
      seg(GDT64_SEL.KERNEL_DS, ATTR_DATA),
      seg(GDT64_SEL.USER_DS, ATTR_USER_DATA),
      nul(),
      nul(),
      seg(0, 0x82 | ATTR_UNUSABLE, 0),
      seg(GDT64_SEL.TSS, 0x8b, 0x67),
    ],
    gdtBase: GDT64,
    gdtLimit: GDT64_ENTRIES * 8 - 1,
    idtBase: IDT64,
    idtLimit: 256 * 16 - 1,
    cr0: CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG,
    cr2: 0,
    cr2High: 0,
    cr3: PML4,
    cr4: CR4_PAE,
    efer: EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE,
  };
}

/** The user-mode entry of a case that starts at CODE with the user stack at STACK_TOP. */
export function defaultEntry(mode: LongMode): UserEntry {
  return { mode, rip: CODE, ripHigh: 0, rsp: STACK_TOP, rspHigh: 0, rflags: 2 };
}
