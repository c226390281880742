/**
 * The local APIC model against SDM Vol. 3 ch. 11: register semantics, priorities, EOI, the
 * timer's modes against a clock the test moves, IPIs on a bus the test observes.
 */
import { describe, expect, it } from 'vitest';
import type { LapicIrq } from '../../../src/soft/irqchip/apic-irq.js';
import { APIC, KvmLapic, type LapicHost } from '../../../src/soft/irqchip/lapic.js';

class TestHost implements LapicHost {
  tsc = 1000;
  sent: LapicIrq[] = [];
  eois: [number, boolean][] = [];
  nmis = 0;
  now(): number {
    return this.tsc;
  }
  deliver(irq: LapicIrq): number {
    this.sent.push({ ...irq });
    return 1;
  }
  eoi(vector: number, level: boolean): void {
    this.eois.push([vector, level]);
  }
  nmi(): void {
    this.nmis++;
  }
}

function enabledApic(id = 0): { apic: KvmLapic; host: TestHost } {
  const host = new TestHost();
  const apic = new KvmLapic(id, host);
  apic.writeReg(APIC.SPIV, 0x1ff);
  return { apic, host };
}

const mmioRead32 = (apic: KvmLapic, off: number): number => {
  const b = new Uint8Array(4);
  apic.mmioRead(0xfee00000 + off, b);
  return new DataView(b.buffer).getUint32(0, true);
};

describe('local APIC registers', () => {
  it('reads the ID, version and reset values through the xAPIC page', () => {
    const host = new TestHost();
    const apic = new KvmLapic(3, host);
    expect(mmioRead32(apic, APIC.ID)).toBe(0x03000000);
    expect(mmioRead32(apic, APIC.LVR)).toBe(0x50014);
    expect(mmioRead32(apic, APIC.DFR)).toBe(0xffffffff);
    expect(mmioRead32(apic, APIC.SPIV)).toBe(0xff);
    // An AP's LINT0 is masked; only the BSP's is ExtINT.
    expect(mmioRead32(apic, APIC.LVT0)).toBe(0x10000);
    expect(mmioRead32(new KvmLapic(0, host), APIC.LVT0)).toBe(0x700);
  });

  it('reads all ones from the page and drops writes while the APIC is disabled in IA32_APIC_BASE', () => {
    const { apic } = enabledApic();
    expect(apic.setBase(0xfee00000, 0, false, false)).toBe(true);
    expect(mmioRead32(apic, APIC.LVR)).toBe(0xffffffff);
    apic.mmioWrite(0xfee00080, new Uint8Array([0x50, 0, 0, 0]));
    expect(apic.reg(APIC.TASKPRI)).toBe(0);
  });

  it('ignores unaligned and narrow writes, as apic_mmio_write does', () => {
    const { apic } = enabledApic();
    apic.mmioWrite(0xfee00080, new Uint8Array([0x50, 0]));
    apic.mmioWrite(0xfee00084, new Uint8Array([0x50, 0, 0, 0]));
    expect(apic.reg(APIC.TASKPRI)).toBe(0);
    apic.mmioWrite(0xfee00080, new Uint8Array([0x50, 0, 0, 0]));
    expect(apic.reg(APIC.TASKPRI)).toBe(0x50);
  });

  it('masks every LVT when software-disabled, and keeps them masked on later writes', () => {
    const { apic } = enabledApic();
    apic.writeReg(APIC.LVTT, 0x30);
    expect(apic.reg(APIC.LVTT)).toBe(0x30);
    apic.writeReg(APIC.SPIV, 0xff);
    expect(apic.reg(APIC.LVTT)).toBe(0x10030);
    apic.writeReg(APIC.LVTERR, 0x31);
    expect(apic.reg(APIC.LVTERR)).toBe(0x10031);
  });

  it('keeps only the architectural bits of DFR, LDR and ICR2', () => {
    const { apic } = enabledApic();
    apic.writeReg(APIC.DFR, 0);
    expect(apic.reg(APIC.DFR)).toBe(0x0fffffff);
    apic.writeReg(APIC.LDR, 0x12345678);
    expect(apic.reg(APIC.LDR)).toBe(0x12000000);
    apic.writeReg(APIC.ICR2, 0xffffffff);
    expect(apic.reg(APIC.ICR2)).toBe(0xff000000);
  });
});

describe('local APIC priorities and EOI', () => {
  it('computes PPR from TPR and the highest in-service vector (SDM 11.8.3.1)', () => {
    const { apic } = enabledApic();
    apic.writeReg(APIC.TASKPRI, 0x35);
    expect(apic.readReg(APIC.PROCPRI)).toBe(0x35);
    apic.acceptIrq(0, 0x51, 1, 0);
    expect(apic.getInterrupt()).toBe(0x51);
    expect(apic.readReg(APIC.PROCPRI)).toBe(0x50);
  });

  it('holds back a vector whose class is not above PPR', () => {
    const { apic } = enabledApic();
    apic.writeReg(APIC.TASKPRI, 0x40);
    apic.acceptIrq(0, 0x45, 1, 0);
    expect(apic.hasInterrupt()).toBe(-1);
    apic.writeReg(APIC.TASKPRI, 0x30);
    expect(apic.hasInterrupt()).toBe(0x45);
  });

  it('delivers the highest vector first and EOIs the highest in service', () => {
    const { apic, host } = enabledApic();
    apic.acceptIrq(0, 0x31, 1, 0);
    apic.acceptIrq(0, 0x62, 1, 1);
    expect(apic.getInterrupt()).toBe(0x62);
    // 0x31 is a lower class than the in-service 0x62: blocked until the EOI.
    expect(apic.getInterrupt()).toBe(-1);
    apic.writeReg(APIC.EOI, 0);
    expect(host.eois).toEqual([[0x62, true]]);
    expect(apic.getInterrupt()).toBe(0x31);
    apic.writeReg(APIC.EOI, 0);
    expect(host.eois[1]).toEqual([0x31, false]);
  });

  it('refuses fixed interrupts while software-disabled, but not NMIs', () => {
    const host = new TestHost();
    const apic = new KvmLapic(0, host);
    expect(apic.acceptIrq(0, 0x40, 1, 0)).toBe(0);
    expect(apic.hasInterrupt()).toBe(-1);
    expect(apic.acceptIrq(4, 0, 1, 0)).toBe(1);
    expect(host.nmis).toBe(1);
  });
});

describe('local APIC timer', () => {
  it('fires a one-shot count once, after count × divide TSC ticks, and TMCCT counts down to 0', () => {
    const { apic, host } = enabledApic();
    apic.writeReg(APIC.LVTT, 0x40);
    apic.writeReg(APIC.TDCR, 0x1); // divide by 4
    apic.writeReg(APIC.TMICT, 100);
    expect(apic.nextTimerEvent()).toBe(1400);
    host.tsc = 1200;
    expect(apic.readReg(APIC.TMCCT)).toBe(50);
    apic.checkTimer(1399);
    expect(apic.hasInterrupt()).toBe(-1);
    host.tsc = 1400;
    apic.checkTimer(1400);
    expect(apic.hasInterrupt()).toBe(0x40);
    expect(apic.readReg(APIC.TMCCT)).toBe(0);
    expect(apic.nextTimerEvent()).toBe(-1);
  });

  it('reloads in periodic mode, coalescing missed periods', () => {
    const { apic } = enabledApic();
    apic.writeReg(APIC.LVTT, 0x20041);
    apic.writeReg(APIC.TDCR, 0xb); // divide by 1
    apic.writeReg(APIC.TMICT, 10);
    apic.checkTimer(1035);
    expect(apic.getInterrupt()).toBe(0x41);
    expect(apic.nextTimerEvent()).toBe(1040);
  });

  it('counts but does not interrupt with the LVT masked', () => {
    const { apic } = enabledApic();
    apic.writeReg(APIC.LVTT, 0x10040);
    apic.writeReg(APIC.TMICT, 1);
    apic.checkTimer(5000);
    expect(apic.hasInterrupt()).toBe(-1);
  });

  it('arms TSC-deadline mode from IA32_TSC_DEADLINE only when the CPUID bit allows the mode', () => {
    const { apic } = enabledApic();
    apic.timerModeMask = 1 << 17; // no TSC-deadline in CPUID: bit 18 is dropped
    apic.writeReg(APIC.LVTT, 0x40040);
    expect(apic.reg(APIC.LVTT)).toBe(0x40);
    apic.timerModeMask = 3 << 17;
    apic.writeReg(APIC.LVTT, 0x40040);
    apic.writeReg(APIC.TMICT, 5); // ignored in TSC-deadline mode
    expect(apic.reg(APIC.TMICT)).toBe(0);
    apic.setTscDeadline(3000);
    expect(apic.getTscDeadline()).toBe(3000);
    apic.checkTimer(3000);
    expect(apic.getInterrupt()).toBe(0x40);
    expect(apic.getTscDeadline()).toBe(0);
  });
});

describe('local APIC IPIs and x2APIC', () => {
  it('sends the ICR on the bus when the low half is written, clearing delivery status', () => {
    const { apic, host } = enabledApic();
    apic.writeReg(APIC.ICR2, 0x02000000);
    apic.writeReg(APIC.ICR, 0xc5031);
    expect(host.sent).toEqual([
      { vector: 0x31, deliveryMode: 0, destMode: 0, level: 1, trigMode: 0, shorthand: 3, destId: 2 },
    ]);
    expect(apic.reg(APIC.ICR)).toBe(0xc4031);
  });

  it('switches to x2APIC: ID and LDR derived from the vCPU id, MSR access, the page reads all ones', () => {
    const { apic, host } = enabledApic(0x21);
    expect(apic.setBase(0xfee00c00, 0, false, false)).toBe(false); // no x2APIC in CPUID
    expect(apic.setBase(0xfee00400, 0, false, true)).toBe(false); // x2APIC without enable
    expect(apic.setBase(0xfee00c00, 0, false, true)).toBe(true);
    const out = new Uint32Array(2);
    expect(apic.x2apicMsrRead(0x802, out)).toBe(true);
    expect(out[0]).toBe(0x21);
    expect(apic.x2apicMsrRead(0x80d, out)).toBe(true);
    expect(out[0]).toBe(0x20002);
    expect(apic.x2apicMsrRead(0x80e, out)).toBe(false); // no DFR in x2APIC mode
    expect(apic.x2apicMsrWrite(0x802, 5, 0)).toBe(false); // the ID is read-only
    expect(apic.x2apicMsrWrite(0x808, 0x20, 1)).toBe(false); // reserved high half
    expect(apic.x2apicMsrWrite(0x830, 0x40, 7)).toBe(true);
    expect(host.sent[0].destId).toBe(7);
    expect(apic.x2apicMsrWrite(0x83f, 0x44, 0)).toBe(true); // SELF IPI
    expect(host.sent[1].shorthand).toBe(1);
    expect(mmioRead32(apic, APIC.LVR)).toBe(0xffffffff);
    // Back to xAPIC directly is refused to the guest (SDM Figure 11-27).
    expect(apic.setBase(0xfee00800, 0, false, true)).toBe(false);
  });

  it('matches logical destinations in the flat and cluster models', () => {
    const { apic } = enabledApic();
    apic.writeReg(APIC.LDR, 0x24000000);
    expect(apic.matchDest(null, 0, 0x04, 1)).toBe(true);
    expect(apic.matchDest(null, 0, 0x08, 1)).toBe(false);
    apic.writeReg(APIC.DFR, 0x0fffffff);
    expect(apic.matchDest(null, 0, 0x24, 1)).toBe(true);
    expect(apic.matchDest(null, 0, 0x14, 1)).toBe(false);
  });
});
