/**
 * Straight runs of decoded instructions (the interpreter's answer to Bochs' trace cache): after
 * `Cpu.step` has executed an instruction that cannot change what the run loop looks at between
 * instructions (a straight-line one or a near branch), the instructions after it run from their
 * decodes one after the other, without the run loop's event check, the block compiler's lookup,
 * the fetch's code-page test or the step's debug checks each time. Each decode remembers its
 * successor in the same page (`Insn.next`), and a near branch the target it went to last in the
 * same page (`Insn.taken`, at `takenOff`), so the next one is a field load.
 *
 * What makes skipping those checks exact is the rows a run may continue through: the block
 * compiler's straight-line rows (jit/rows.ts `ROW_KIND` 1: no mode, segment, control or debug
 * register, RFLAGS.IF/TF, interrupt-shadow or privilege change, nothing an intercept may take,
 * no REP). Such an instruction leaves TF, RF, DR7, the STI/MOV-SS shadow, CPL and the mode as
 * they were, so the checks `step32`/`step64` make (instruction breakpoints, RF, single-step,
 * data breakpoints, the shadow) would find what they found at the run's first instruction, where
 * `runStraight` tests them once. What can still change between two of them is watched after each:
 * `irqCheck` (events, interrupts, stop requests, HLT: the run loop's own flag), the budget, and
 * `codeLpn`, which everything that leaves the code page's decodes unusable sets to -1: a write to
 * the page (self-modifying code within the run: fetch.ts `invalidateCodePage`), a TLB flush or a
 * mode change from a device callback. A near branch (`ROW_KIND` 2) does not end the run: its
 * target (or fall-through), found by RIP in the same code page, runs next, its visit counted
 * toward compiling a block there as the run loop would count it (jit.ts `visitTarget`); the run
 * stops there instead where a block starts or where the count reaches the compile threshold. In
 * 64-bit mode it goes on into another page (after a branch, or off the page's end: a boundary that
 * counts as a visit too) where the TLB grants that page for a fetch and remembers its decodes
 * (fetch.ts `switchCodePage64`, the run loop's fetch's own first try); else it stops there, the
 * boundary the block compiler's to look up. Faults unwind as from `step` (`startEip`,
 * `lastInsnLength` set per instruction; the run loop's catch or `finishUnwind`).
 */
import type { Insn } from '../decoder/insn.js';
import { Flag } from '../state.js';
import type { Cpu } from './cpu.js';
import { type PageCode, switchCodePage64 } from './fetch.js';

const TWO32 = 4294967296;

/**
 * The decode at RIP where `runStraight64` stopped because a compiled block starts there (null
 * else): `runStraight` enters it itself (jit.ts `enterFromRun`) instead of returning to the run
 * loop to fetch the same decode and look the block up (2.33 M times in the bare boot's first
 * 3×10^8 instructions).
 */
let atBlock: Insn | null = null;

/**
 * Runs the instructions after `prev` (just executed by `Cpu.step`, RIP past it; `branched`: a near
 * branch, RIP at its target or fall-through) while they are decoded and may run without the
 * per-instruction checks. Returns with RIP at an instruction boundary (or `unwinding` set by the
 * last one); instructions are counted in `runCount`.
 */
export function runStraight(cpu: Cpu, prev: Insn, branched: boolean): void {
  const s = cpu.state;
  // What step32/step64 test per instruction, tested once: the run's instructions cannot change it.
  if (cpu.dbgExec !== 0 || cpu.dbgData !== 0 || (s.rflags[0] & (Flag.TF | Flag.RF)) !== 0) return;
  if ((s.interruptibility & 3) !== 0 || cpu.linearOps !== null) return;
  if (cpu.codePage === null) return;
  const atBranch = cpu.long64 ? runStraight64(cpu, prev, branched) : runStraight32(cpu, prev, branched);
  // The block compiler counts a boundary toward compiling only where a block may start (jit.ts
  // `seqEnd`): not one this run reached by stepping through straight-line code, unless that
  // stepped into another page (`seqAfter`: no block runs across a page's end).
  const b = atBlock;
  atBlock = null;
  const jit = cpu.jit;
  if (jit !== null) {
    const key = cpu.long64 ? s.rip[0] : (s.segBase[1] + s.rip[0]) >>> 0;
    const from = cpu.long64 ? cpu.startEip : (s.segBase[1] + cpu.startEip) >>> 0;
    jit.seqEnd = atBranch || (key ^ from) >>> 12 !== 0 ? -1 : key;
    // Nothing since the run's last check needs the run loop: no event (irqCheck), and what
    // fetchFirstOk tests was tested at the run's start and no instruction of it changes.
    if (b !== null) jit.enterFromRun(cpu, b);
  }
}

/**
 * runStraight in 64-bit mode: the code page tested, and switched, as fetch.ts fetchDecode64 does.
 * Returns true when it stopped after a branch or an unwound instruction, false at a boundary it
 * reached by stepping. Each branch in the run used to end it: the run loop's event check, fetch, block
 * lookup and `step` for the instruction after every branch.
 */
function runStraight64(cpu: Cpu, prev: Insn, branched: boolean): boolean {
  const s = cpu.state;
  const rip = s.rip;
  const modeKey = cpu.modeKey;
  cpu.startRipHi = rip[1];
  const jit = cpu.jit;
  for (;;) {
    // An instruction that unwound (a recorded fault or exit) set irqCheck with `unwinding`.
    if (cpu.irqCheck || cpu.runCount >= cpu.runLimit || cpu.codeLpn === -1)
      return branched || cpu.unwinding !== 0;
    const eip = rip[0];
    let insn: Insn | null = null;
    // Entered from another page (by a branch or by running off the page's end): a boundary where
    // a block may start, whose visit counts (jit.ts `seqAfter`: no block runs across a page's end).
    let visit = branched;
    // After a branch within the code page: its fall-through (`next`) or the target it went to
    // last time (`taken`), told apart by RIP's page offset. `prev` is that page's decode (or the
    // step's, at the run's start), so both links are too.
    let ft = -1;
    let off = -1;
    if (!branched) insn = prev.next;
    else if (eip >>> 12 === cpu.codeEipPage && rip[1] === cpu.codeRipHi) {
      off = eip & 0xfff;
      ft = (cpu.startEip & 0xfff) + prev.length;
      insn = off === prev.takenOff ? prev.taken : off === ft ? prev.next : null;
    }
    if (insn === null) {
      // The successor in the same page, decoded under this mode (else the step fetches it); after
      // a branch, its target or fall-through, found by RIP.
      let pc = cpu.codePage;
      if (pc === null || (off < 0 && (eip >>> 12 !== cpu.codeEipPage || rip[1] !== cpu.codeRipHi))) {
        // Another page the TLB grants for a fetch and whose decodes it remembers: switched to as
        // the run loop's fetch would (fetch.ts fetchDecode64), else that fetch's to find. Calls
        // and returns between the kernel's pages ended four runs in five here, each then paying
        // the run loop's event check, fetch, block lookup and step.
        if (!switchCodePage64(cpu)) return branched;
        pc = cpu.codePage as PageCode;
        visit = true;
        // RIP[63:32] changes only with the page (a branch, or running on across 4 GiB): a fault
        // from here on restores RIP from startEip and this (the run loop's catch, finishUnwind).
        cpu.startRipHi = rip[1];
        off = -2;
      }
      const d = pc.insns[eip & 0xfff];
      if (d === undefined || d.modeKey !== modeKey) return branched;
      if (!visit) prev.next = d;
      else if (off >= 0) {
        // A branch's fall-through or target in the same page, linked for next time.
        if (off === ft) prev.next = d;
        else {
          prev.taken = d;
          prev.takenOff = off;
        }
      }
      insn = d;
    }
    const straight = insn.straight;
    // A compiled block starting here is entered by `runStraight` as the run loop would enter it
    // (`blockAt`), the decode at RIP in hand; an instruction running into the next page is the
    // fetch's, which checks that page's mapping (fetch.ts crossFetchOk): `straight` is 0 for it.
    if (straight === 0 || insn.jitBlock !== null) {
      // The run loop's fetch would find the code page's own decode there (a link may hold an
      // older one of the same bytes, made before a mode change and back).
      if (insn.jitBlock !== null && cpu.codePage?.insns[eip & 0xfff] === insn) atBlock = insn;
      return branched;
    }
    // A block may start at a branch's target: the visit counts toward compiling one there.
    if (visit && jit !== null && !jit.visitTarget(cpu, insn)) return true;
    cpu.startEip = eip;
    const len = straight >>> 2;
    cpu.lastInsnLength = len;
    const end = eip + len;
    if (end >= TWO32) {
      rip[0] = end - TWO32;
      rip[1]++;
    } else rip[0] = end;
    insn.exec(cpu, insn);
    cpu.runCount++;
    // `unwinding` is tested at the loop's head, under irqCheck.
    branched = (straight & 3) === 2;
    prev = insn;
  }
}

/** runStraight outside 64-bit mode: CS base and limit as in fetch.ts fetchDecode32. */
function runStraight32(cpu: Cpu, prev: Insn, branched: boolean): boolean {
  const s = cpu.state;
  const rip = s.rip;
  const modeKey = cpu.modeKey;
  cpu.startRipHi = 0;
  const jit = cpu.jit;
  for (;;) {
    if (cpu.irqCheck || cpu.runCount >= cpu.runLimit || cpu.codeLpn === -1)
      return branched || cpu.unwinding !== 0;
    const eip = rip[0];
    let insn: Insn | null = branched ? null : prev.next;
    if (insn === null) {
      const lin = (s.segBase[1] + eip) >>> 0;
      const pc = cpu.codePage;
      if (lin >>> 12 !== cpu.codeLpn || pc === null) return branched;
      const d = pc.insns[lin & 0xfff];
      if (d === undefined || d.modeKey !== modeKey) return branched;
      if (!branched) prev.next = d;
      insn = d;
    }
    const straight = insn.straight;
    if (straight === 0 || insn.jitBlock !== null) return branched;
    const len = straight >>> 2;
    // The limit check of every fetch (SDM Vol. 3 5.3): a fault is the step's to raise.
    if (eip + len - 1 > s.segLimit[1]) return branched;
    if (branched && jit !== null && !jit.visitTarget(cpu, insn)) return true;
    cpu.startEip = eip;
    cpu.lastInsnLength = len;
    rip[0] = eip + len;
    insn.exec(cpu, insn);
    cpu.runCount++;
    branched = (straight & 3) === 2;
    prev = insn;
  }
}
