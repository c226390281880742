/**
 * gdb's software breakpoints (Z0) as INT3 bytes patched into guest RAM, for engines whose
 * KVM_GUESTDBG_USE_SW_BP turns the guest's INT3 into KVM_EXIT_DEBUG (QEMU's
 * kvm_arch_insert_sw_breakpoint). The original byte is kept and shown in its place to every
 * debugger read; a debugger write over a breakpoint changes the kept byte, and the INT3 stays.
 */

/** INT3 (SDM Vol. 2A, INT n/INTO/INT3/INT1: opcode CC). */
const INT3 = 0xcc;

interface Patch {
  gpa: number;
  original: number;
}

export class SoftwareBreakpoints {
  private readonly patches = new Map<bigint, Patch>();

  constructor(private ram: Uint8Array) {}

  get size(): number {
    return this.patches.size;
  }

  has(gva: bigint): boolean {
    return this.patches.has(gva);
  }

  /** Patches INT3 at `gpa` (the translation of `gva`); a second insert at the same address is a no-op. */
  insert(gva: bigint, gpa: number): boolean {
    if (this.patches.has(gva)) return true;
    if (gpa < 0 || gpa >= this.ram.length) return false;
    this.patches.set(gva, { gpa, original: this.ram[gpa] });
    this.ram[gpa] = INT3;
    return true;
  }

  /** Puts the original byte back. */
  remove(gva: bigint): boolean {
    const p = this.patches.get(gva);
    if (!p) return false;
    this.patches.delete(gva);
    if (this.ram[p.gpa] === INT3) this.ram[p.gpa] = p.original;
    return true;
  }

  /**
   * `bytes` read from guest RAM at `gpa`: the original bytes where breakpoints sit. Physical, not
   * virtual: another vCPU may map the breakpoint's address elsewhere, or its page at another one.
   */
  hide(gpa: number, bytes: Uint8Array): void {
    for (const p of this.patches.values()) {
      const i = p.gpa - gpa;
      if (i >= 0 && i < bytes.length) bytes[i] = p.original;
    }
  }

  /** After the debugger wrote `data` at `gpa`: the new bytes become the originals, INT3 stays. */
  afterWrite(gpa: number, data: Uint8Array): void {
    for (const p of this.patches.values()) {
      const i = p.gpa - gpa;
      if (i >= 0 && i < data.length) {
        p.original = data[i];
        this.ram[p.gpa] = INT3;
      }
    }
  }

  /** Every original byte back (detach). */
  clear(): void {
    for (const gva of [...this.patches.keys()]) this.remove(gva);
  }

  /** A rebooted machine: its RAM was reloaded, nothing of ours is in it any more. */
  forget(ram: Uint8Array): void {
    this.patches.clear();
    this.ram = ram;
  }
}
