/**
 * LOCK'd read-modify-writes atomic across threads, for `Cpu`s that share guest RAM in a
 * SharedArrayBuffer (shared-physical-memory.ts), each on its own thread. Set once per Cpu
 * (`cpu.lockedMemory = new LockedMemory(cpu, lockWord)`); null, the default, costs nothing: the
 * handlers test it only under a LOCK prefix (and for XCHG with memory, which is always locked,
 * SDM Vol. 2 XCHG).
 *
 * SDM Vol. 3 9.1.2.2: a locked operation is atomic with respect to every other processor's access
 * to its memory, locked or not. The handlers compute the new value from the old one as the
 * emulator does for KVM (`emulate()`'s LinearOps.cmpxchg, KVM's `emulator_cmpxchg_emulated`), and
 * store it here with a compare-exchange:
 * - naturally aligned 1, 2, 4 and 8-byte operands in one RAM page are `Atomics.compareExchange` on
 *   the shared buffer itself, so the store is atomic even against another thread's plain store
 *   (a qspinlock's byte release racing a LOCK OR of its pending bit);
 * - anything else (split across pages or misaligned: a split lock, SDM Vol. 3 9.1.2.2; MMIO; a
 *   watched address; CMPXCHG16B, which JavaScript has no 128-bit atomic for) is done under one
 *   VM-wide lock word in the shared memory, as Linux serializes split locks and QEMU runs such an
 *   instruction in its exclusive section (`cpu_exec_step_atomic`). That is atomic against every
 *   other locked operation, but not against another thread's plain store to the same bytes.
 * A read-modify-write whose compare-exchange finds memory changed since its read is executed again
 * from the start (`retry`), as `emulate()` re-emulates on EMUL_RETRY.
 */
import { TLB_MASK } from '../cpu/consts.js';
import type { Cpu } from '../cpu/cpu.js';

const MASK32 = 0xffffffffn;

export class LockedMemory {
  /** The memory's value when the last `cmpxchg` failed (low and high dwords). */
  curLo = 0;
  curHi = 0;
  /** CMPXCHG16B's upper quadword of the same (`cmpxchg16`). */
  curLo2 = 0;
  curHi2 = 0;
  /** Counters: compare-exchanges, those done under the lock word, and instructions run again. */
  readonly stats = { atomic: 0, splitLocks: 0, retries: 0 };
  private buffer: ArrayBufferLike | null = null;
  private u8: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  private u16: Uint16Array<ArrayBufferLike> = new Uint16Array(0);
  private i32: Int32Array<ArrayBufferLike> = new Int32Array(0);
  private u64: BigUint64Array<ArrayBufferLike> = new BigUint64Array(0);

  /**
   * For `cpu`; `lockWord[index]` is the VM's split-lock word (0 free, 1 held), an Int32Array over
   * a SharedArrayBuffer that every thread of the VM passes.
   */
  constructor(
    private readonly cpu: Cpu,
    private readonly lockWord: Int32Array,
    private readonly index = 0,
  ) {}

  /**
   * Compare-exchange of `size` (1, 2, 4, 8) bytes at linear `lin`, already checked for writing
   * (`rmwLinear`): stores nHi:nLo if memory holds oHi:oLo and returns true; else returns false
   * with memory's value in curHi:curLo. May raise the faults of a write there (#AC, a #PF of a
   * split access's second page).
   */
  cmpxchg(lin: number, size: number, oLo: number, oHi: number, nLo: number, nHi: number): boolean {
    const cpu = this.cpu;
    const off = lin & 0xfff;
    if (off + size <= 4096 && (off & (size - 1)) === 0 && cpu.dbgData === 0) {
      // A TLB hit (probed for writing): a frame this CPU decoded code from loses its decodes, as
      // a plain write does (tlb.ts).
      cpu.translate(lin, cpu.dataAccess(true));
      const view = cpu.tlbView[(lin >>> 12) & TLB_MASK];
      const a = view === null ? 1 : view.byteOffset + off;
      if (view !== null && (a & (size - 1)) === 0) {
        if (view.buffer !== this.buffer) this.bind(view.buffer);
        this.stats.atomic++;
        if (size === 4) {
          const old = Atomics.compareExchange(this.i32, a >> 2, oLo | 0, nLo | 0) >>> 0;
          this.curLo = old;
          return old === oLo >>> 0;
        }
        if (size === 1) {
          const old = Atomics.compareExchange(this.u8, a, oLo & 0xff, nLo & 0xff);
          this.curLo = old;
          return old === (oLo & 0xff);
        }
        if (size === 2) {
          const old = Atomics.compareExchange(this.u16, a >> 1, oLo & 0xffff, nLo & 0xffff);
          this.curLo = old;
          return old === (oLo & 0xffff);
        }
        // 8 bytes: JavaScript's only 64-bit atomic is on BigInts (a locked 64-bit operation
        // pays for two conversions; plain accesses never do).
        const expect = (BigInt(oHi >>> 0) << 32n) | BigInt(oLo >>> 0);
        const old = Atomics.compareExchange(
          this.u64,
          a >> 3,
          expect,
          (BigInt(nHi >>> 0) << 32n) | BigInt(nLo >>> 0),
        );
        this.curLo = Number(old & MASK32);
        this.curHi = Number(old >> 32n);
        return old === expect;
      }
    }
    this.stats.splitLocks++;
    this.enter();
    try {
      const acc = cpu.dataAccess(false);
      const part = size === 8 ? 4 : size;
      const lo = cpu.linRead(lin, part, acc);
      const hi = size === 8 ? cpu.linRead(cpu.linNext(lin, 4), 4, acc) : 0;
      this.curLo = lo;
      this.curHi = hi;
      const mask = size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
      if (lo !== (oLo & mask) >>> 0 || hi !== (size === 8 ? oHi >>> 0 : 0)) return false;
      cpu.linWrite(lin, part, nLo & mask, acc);
      if (size === 8) cpu.linWrite(cpu.linNext(lin, 4), 4, nHi >>> 0, acc);
      return true;
    } finally {
      this.leave();
    }
  }

  /**
   * CMPXCHG16B's compare-exchange of the 16 bytes at `lin` (aligned, checked for writing): o0..o3
   * and n0..n3 are its dwords, lowest first. Under the lock word (no 128-bit atomic in JavaScript),
   * and memory is only written when equal (the CPU's write-back of an unequal value is invisible
   * to others, except as a lost plain store here).
   */
  cmpxchg16(
    lin: number,
    o0: number,
    o1: number,
    o2: number,
    o3: number,
    n0: number,
    n1: number,
    n2: number,
    n3: number,
  ): boolean {
    const cpu = this.cpu;
    this.stats.splitLocks++;
    this.enter();
    try {
      const acc = cpu.dataAccess(false);
      const m0 = cpu.linRead(lin, 4, acc);
      const m1 = cpu.linRead(cpu.linNext(lin, 4), 4, acc);
      const m2 = cpu.linRead(cpu.linNext(lin, 8), 4, acc);
      const m3 = cpu.linRead(cpu.linNext(lin, 12), 4, acc);
      this.curLo = m0;
      this.curHi = m1;
      this.curLo2 = m2;
      this.curHi2 = m3;
      if (m0 !== o0 >>> 0 || m1 !== o1 >>> 0 || m2 !== o2 >>> 0 || m3 !== o3 >>> 0) return false;
      cpu.linWrite(lin, 4, n0 >>> 0, acc);
      cpu.linWrite(cpu.linNext(lin, 4), 4, n1 >>> 0, acc);
      cpu.linWrite(cpu.linNext(lin, 8), 4, n2 >>> 0, acc);
      cpu.linWrite(cpu.linNext(lin, 12), 4, n3 >>> 0, acc);
      return true;
    } finally {
      this.leave();
    }
  }

  /**
   * Takes the VM-wide lock word: the holder's locked operations are atomic against every other
   * thread's (split locks, CMPXCHG16B). Held for one instruction's memory accesses only.
   */
  enter(): void {
    const w = this.lockWord;
    while (Atomics.compareExchange(w, this.index, 0, 1) !== 0) {
      // The holder is inside one instruction: spin (JavaScript has no pause hint).
    }
  }

  /** Releases the lock word. */
  leave(): void {
    Atomics.store(this.lockWord, this.index, 0);
  }

  /**
   * The read-modify-write lost a race (memory changed between its read and its compare-exchange):
   * RIP back at the instruction, which runs again from its read. Its flags are recomputed then; no
   * register was written yet. The attempt counts as a retired instruction; no single-step trap
   * follows it, and the run loop looks at events first (which also ends a compiled block: its
   * handler call leaves on `irqCheck`, src/jit/compile.ts).
   */
  retry(): void {
    const cpu = this.cpu;
    const s = cpu.state;
    const next = s.rip[0];
    s.rip[0] = cpu.startEip;
    // step64 carried into RIP[63:32] past the instruction (a compiled block never does).
    if (cpu.long64 && cpu.startEip > next) s.rip[1] = (s.rip[1] - 1) >>> 0;
    cpu.noStepTrap = true;
    cpu.irqCheck = true;
    this.stats.retries++;
  }

  private bind(buffer: ArrayBufferLike): void {
    this.buffer = buffer;
    this.u8 = new Uint8Array(buffer);
    this.u16 = new Uint16Array(buffer, 0, buffer.byteLength >> 1);
    this.i32 = new Int32Array(buffer, 0, buffer.byteLength >> 2);
    this.u64 = new BigUint64Array(buffer, 0, buffer.byteLength >> 3);
  }
}
