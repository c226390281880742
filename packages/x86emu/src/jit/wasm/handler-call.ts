/**
 * Instructions the wasm backend does not compile run through the interpreter's own handler, called
 * from the wasm function through an import, as the JS backend calls it (../compile.ts): the
 * registers its locals changed and its pending flags are made current in the CPU first, RIP and
 * `startEip` are set as `Cpu.step` sets them, and the locals are reloaded after (the handler may
 * write any register or flag). A fault in the handler is caught by the import and leaves the
 * function at that instruction; a handler that ends the block (CALL, RET, indirect JMP, LOOP, …)
 * leaves it at the RIP it set; one that reached a device or a code frame, or asked for the run
 * loop's checks, leaves at the RIP it left too.
 */
import { Unwind } from '../../cpu/consts.js';
import type { Cpu } from '../../cpu/cpu.js';
import type { Insn } from '../../decoder/insn.js';
import { REG, REG_HIGH, ST_EXITREQ, ST_FA, ST_FD, ST_FO, ST_FP, ST_FR, ST_FS, ST_NEXT } from './arena.js';
import { exitFault, type Locals, type WasmCtx } from './emit.js';
import { type FuncWriter, Op } from './encode.js';

/** The import's index (after emit.ts IMP_*). */
export const IMP_HANDLER = 4;

/** One call site: the instruction, its EIP and the next one's. */
export interface HandlerSite {
  insn: Insn;
  eip: number;
  next: number;
}

/**
 * Runs the handler of `h` as `Cpu.step` would: RIP and `startEip` set, the `n` instructions this
 * call retired before it counted in `runCount` while it runs. False when it faulted (`caught` has
 * the fault).
 */
export function execSite(cpu: Cpu, h: HandlerSite, n: number, caught: (e: unknown) => void): boolean {
  cpu.startEip = h.eip;
  cpu.state.rip[0] = h.next;
  cpu.runCount += n;
  try {
    h.insn.exec(cpu, h.insn);
  } catch (e) {
    cpu.runCount -= n;
    caught(e);
    return false;
  }
  cpu.runCount -= n;
  return true;
}

/**
 * A #PF that left a compiled function (its `startEip` set at the faulting instruction): as a
 * status, not a throw through `Jit.enter` into `Cpu.run`'s catch: `unwinding` set, the run loop's
 * `finishUnwind` delivers it. The faulting instruction is counted here, as that catch counts it.
 */
export function faultStatus(cpu: Cpu): undefined {
  cpu.runCount++;
  cpu.unwinding = Unwind.Fault;
  cpu.irqCheck = true;
  return undefined;
}

/**
 * Emits the stores of the register locals into the CPU's registers (REG, where `moveRegisters` put
 * them; the upper halves of those written, `dm`, cleared as a 32-bit write does: SDM Vol. 1
 * 3.4.1.1) and of the flag record into the exchange area.
 */
export function emitStoreLocals(c: Pick<WasmCtx, 'f' | 'l'>): void {
  const { f, l } = c;
  for (let r = 0; r < 8; r++)
    f.i32(0)
      .get(l.r[r])
      .mem(Op.i32Store, REG + 4 * r);
  f.get(l.dm).open(Op.if);
  for (let r = 0; r < 8; r++) {
    f.get(l.dm)
      .i32(1 << r)
      .op(Op.i32And)
      .open(Op.if);
    f.i32(0)
      .i32(0)
      .mem(Op.i32Store, REG_HIGH + 4 * r);
    f.end();
  }
  f.end();
  emitStoreFlagRecord(f, l);
}

/** The flag record's locals (emit.ts `Locals`, emit64.ts `Locals64`). */
type FlagRecord = Pick<Locals, 'fp' | 'fo' | 'fd' | 'fs' | 'fr' | 'fa'>;
/**
 * Emits the stores of the flag record's locals into the exchange area (`storeFlags` reads it), in
 * the record's order (ST_FP, ST_FO, ST_FD, ST_FS, ST_FR, ST_FA). Written out: a loop over a table
 * of [offset, key] pairs with a keyed read of the locals was 6 % of a replay of a boot's regions
 * (bench/generate64.mjs), at every handler call and exit.
 */
export function emitStoreFlagRecord(f: FuncWriter, l: FlagRecord): void {
  f.i32(0).get(l.fp).mem(Op.i32Store, ST_FP);
  f.i32(0).get(l.fo).mem(Op.i32Store, ST_FO);
  f.i32(0).get(l.fd).mem(Op.i32Store, ST_FD);
  f.i32(0).get(l.fs).mem(Op.i32Store, ST_FS);
  f.i32(0).get(l.fr).mem(Op.i32Store, ST_FR);
  f.i32(0).get(l.fa).mem(Op.i32Store, ST_FA);
}

/** Emits the loads of the flag record's locals from the exchange area (a chained function's prologue). */
export function emitLoadFlagRecord(f: FuncWriter, l: FlagRecord): void {
  f.i32(0).mem(Op.i32Load, ST_FP).set(l.fp);
  f.i32(0).mem(Op.i32Load, ST_FO).set(l.fo);
  f.i32(0).mem(Op.i32Load, ST_FD).set(l.fd);
  f.i32(0).mem(Op.i32Load, ST_FS).set(l.fs);
  f.i32(0).mem(Op.i32Load, ST_FR).set(l.fr);
  f.i32(0).mem(Op.i32Load, ST_FA).set(l.fa);
}

/**
 * The import `h(site, n)` of a module whose call sites are `sites`: runs the handler with the
 * CPU as `Cpu.step` leaves it (`n` instructions of this call retired before the block, counted in
 * `runCount` while the handler runs, as the JS backend counts them; the registers already stored
 * in place by the function: `emitStoreLocals`), then, after a block-ending handler, puts the new
 * RIP in ST_NEXT. `storeFlags` stores the flag record.
 */
export function handlerImport(
  cpu: Cpu,
  sites: HandlerSite[],
  u32: Uint32Array,
  storeFlags: (cpu: Cpu, u: Uint32Array) => void,
  caught: (e: unknown) => void,
  page: () => unknown,
): (site: number, n: number) => void {
  return (site: number, n: number): void => {
    storeFlags(cpu, u32);
    if (!execSite(cpu, sites[site], n, caught)) return;
    u32[ST_NEXT >> 2] = cpu.state.rip[0];
    if (cpu.irqCheck || cpu.codePage !== page()) u32[ST_EXITREQ >> 2] = 2;
  };
}

/**
 * Emits the call of the handler of site `site` (`ends`: a block-ending instruction) at the
 * current instruction of `c`; afterwards the flags are in the CPU (`pend` 0).
 */
export function emitHandlerCall(c: WasmCtx, site: number, ends: boolean): void {
  const { f, l } = c;
  emitStoreLocals(c);
  f.i32(site).get(l.n).callImport(IMP_HANDLER);
  f.i32(0).set(l.dm).i32(0).set(l.fp);
  for (let r = 0; r < 8; r++)
    f.i32(0)
      .mem(Op.i32Load, REG + 4 * r)
      .set(l.r[r]);
  c.pend = 0;
  f.i32(0).mem(Op.i32Load, ST_EXITREQ).tee(l.t).i32(1).op(Op.i32Eq).open(Op.if);
  exitFault(c);
  f.end();
  // Leaving after it: at the RIP the handler left (a branch's target, or its own start when a lost
  // LOCK race runs it again: smp/locked-memory.ts retry, which also sets irqCheck).
  const leave = (): void => {
    f.get(l.n)
      .i32(c.j + 1)
      .op(Op.i32Add)
      .set(l.n);
    f.i32(0).mem(Op.i32Load, ST_NEXT).set(l.next).br('exit');
  };
  if (ends) {
    leave();
    return;
  }
  f.get(l.t).open(Op.if);
  leave();
  f.end();
}
