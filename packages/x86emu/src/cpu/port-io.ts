/**
 * Port I/O: the permission check of IN/OUT/INS/OUTS (IOPL, then the TSS I/O bitmap: SDM Vol. 1
 * 18.5.2) and the accesses themselves, to the caller's `PortIoOps` or, under `emulate()`, its
 * ops, with the I/O breakpoints of the debug registers (SDM Vol. 3 17.2.5).
 */
import type { Cpu } from './cpu.js';

export class CpuPortIo {
  /** #GP(0) unless CPL ≤ IOPL or the TSS I/O bitmap allows every byte of the access. */
  checkIoPermission(this: Cpu, port: number, size: number): void {
    if (!this.prot) return;
    const s = this.state;
    const iopl = (s.rflags[0] >>> 12) & 3;
    if (!this.v86 && s.cpl <= iopl) return;
    const trType = s.segAttr[7] & 0xf;
    if (trType !== 0xb && trType !== 0x9) this.gp0();
    if (s.segLimit[7] < 0x67) this.gp0();
    // The 64-bit TSS keeps the I/O map base at 66H too, but its own base may lie above 4 GiB.
    const mapBase = this.linRead(this.tableLinear(s.segBase[7], s.segBaseHigh[7], 0x66), 2, 0);
    const byteOff = mapBase + (port >>> 3);
    if (byteOff + 1 > s.segLimit[7]) this.gp0();
    const bits = this.linRead(this.tableLinear(s.segBase[7], s.segBaseHigh[7], byteOff), 2, 0);
    const mask = ((1 << size) - 1) << (port & 7);
    if (bits & mask) this.gp0();
  }

  portIn(this: Cpu, port: number, size: number): number {
    if (this.dbgIo !== 0) this.checkIoBreakpoints(port, size);
    if (this.linearOps !== null) return this.linearOps.portIn(port, size);
    this.irqCheck = true;
    return this.io.portIn(port, size as 1 | 2 | 4) >>> 0;
  }

  portOut(this: Cpu, port: number, size: number, value: number): void {
    if (this.dbgIo !== 0) this.checkIoBreakpoints(port, size);
    if (this.linearOps !== null) {
      this.linearOps.portOut(port, size, value);
      return;
    }
    this.irqCheck = true;
    this.io.portOut(port, size as 1 | 2 | 4, value >>> 0);
  }
}
