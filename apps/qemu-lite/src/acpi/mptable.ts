/**
 * The Intel MultiProcessor Specification 1.4 tables, for guests that look for them instead of
 * ACPI (chapter 4): the MP Floating Pointer Structure ("_MP_", 16 bytes, found on a 16-byte
 * boundary in the EBDA's first KiB, the last KiB of base memory or 0xF0000–0xFFFFF) and the MP
 * Configuration Table ("PCMP") it points to, laid out as SeaBIOS's `mptable_setup` does: a
 * processor entry per vCPU (the first the bootstrap processor), one ISA bus, the I/O APIC,
 * an I/O interrupt entry per ISA IRQ (IRQ 0 on pin 2, none for the cascade IRQ 2, the SCI
 * level-triggered), ExtINT on LINT0 and NMI on LINT1.
 */
import { setChecksum } from './checksum.js';
import { TableWriter } from './sdt.js';

export const MP_FLOATING_SIZE = 16;
export const MP_CONFIG_HEADER_SIZE = 44;
export const MP_SPEC_REV = 4; // 1.4

const PROCESSOR_LEN = 20;
const BUS_LEN = 8;
const IOAPIC_LEN = 8;
const INTSRC_LEN = 8;

/** Entry types (MP 1.4 Table 4-3). */
export const MP_PROCESSOR = 0;
export const MP_BUS = 1;
export const MP_IOAPIC = 2;
export const MP_INTSRC = 3;
export const MP_LINTSRC = 4;
/** Interrupt types (Table 4-9). */
const MP_INT = 0;
const MP_NMI = 1;
const MP_EXTINT = 3;
/** Flags: polarity 01 active high, trigger 11 level (Table 4-10). */
const MP_IRQ_LEVEL_HIGH = 0x0d;

export interface MpTableParams {
  cpus: number;
  /** The present vCPUs' APIC IDs by index (default 0 … cpus − 1); index 0 is the BSP. */
  apicIds?: readonly number[];
  lapicGpa: number;
  ioapicGpa: number;
  ioapicId: number;
  sciIrq: number;
  /** CPUID.1 EAX and EDX for the processor entries. */
  cpuSignature: number;
  cpuFeatures: number;
}

/** The configuration table to be placed at `configGpa` and its floating pointer. */
export function buildMpTable(
  p: MpTableParams,
  configGpa: number,
): { floating: Uint8Array; config: Uint8Array } {
  const irqs: number[] = [];
  for (let irq = 0; irq < 16; irq++) if (irq !== 2) irqs.push(irq);
  const count = p.cpus + 1 + 1 + irqs.length + 2;
  const length =
    MP_CONFIG_HEADER_SIZE + p.cpus * PROCESSOR_LEN + BUS_LEN + IOAPIC_LEN + (irqs.length + 2) * INTSRC_LEN;
  const w = new TableWriter(length);
  w.ascii(0, 'PCMP');
  w.u16(4, length);
  w.u8(6, MP_SPEC_REV);
  w.ascii(8, 'BOCHSCPU', 8);
  w.ascii(16, '0.1', 12);
  w.u16(34, count);
  w.u32(36, p.lapicGpa);
  let at = MP_CONFIG_HEADER_SIZE;
  for (let cpu = 0; cpu < p.cpus; cpu++) {
    w.u8(at, MP_PROCESSOR);
    w.u8(at + 1, p.apicIds?.[cpu] ?? cpu); // local APIC ID
    w.u8(at + 2, 0x14); // local APIC version (integrated xAPIC)
    w.u8(at + 3, 0x01 | (cpu === 0 ? 0x02 : 0)); // EN, BP
    w.u32(at + 4, p.cpuSignature);
    w.u32(at + 8, p.cpuFeatures);
    at += PROCESSOR_LEN;
  }
  w.u8(at, MP_BUS);
  w.u8(at + 1, 0);
  w.ascii(at + 2, 'ISA', 6);
  at += BUS_LEN;
  w.u8(at, MP_IOAPIC);
  w.u8(at + 1, p.ioapicId);
  w.u8(at + 2, 0x11); // I/O APIC version
  w.u8(at + 3, 0x01); // EN
  w.u32(at + 4, p.ioapicGpa);
  at += IOAPIC_LEN;
  for (const irq of irqs) {
    w.u8(at, MP_INTSRC);
    w.u8(at + 1, MP_INT);
    w.u16(at + 2, irq === p.sciIrq ? MP_IRQ_LEVEL_HIGH : 0);
    w.u8(at + 4, 0); // source bus: ISA
    w.u8(at + 5, irq);
    w.u8(at + 6, p.ioapicId);
    w.u8(at + 7, irq === 0 ? 2 : irq);
    at += INTSRC_LEN;
  }
  for (const [type, lint] of [
    [MP_EXTINT, 0],
    [MP_NMI, 1],
  ]) {
    w.u8(at, MP_LINTSRC);
    w.u8(at + 1, type);
    w.u8(at + 4, 0);
    w.u8(at + 5, 0);
    w.u8(at + 6, 0xff); // every local APIC
    w.u8(at + 7, lint);
    at += INTSRC_LEN;
  }
  setChecksum(w.bytes, 0, length, 7);

  const f = new TableWriter(MP_FLOATING_SIZE);
  f.ascii(0, '_MP_');
  f.u32(4, configGpa);
  f.u8(8, 1); // length in 16-byte units
  f.u8(9, MP_SPEC_REV);
  // Feature bytes 1–5 zero: a configuration table is present, IMCR absent (virtual wire mode).
  setChecksum(f.bytes, 0, MP_FLOATING_SIZE, 10);
  return { floating: f.bytes, config: w.bytes };
}
