/**
 * The Multiple APIC Description Table ("APIC", ACPI 6.4 5.2.12, Table 5.43) for the machine's
 * configuration, as QEMU's `acpi_build_madt` writes it for the pc machine: a Processor Local
 * APIC per possible vCPU (UID = vCPU index, APIC ID from the topology; those past `-smp`'s cpus up
 * to maxcpus listed with Enabled clear, as QEMU lists them), the I/O APIC (its ID after the
 * vCPUs', GSI base 0),
 * interrupt source overrides ISA IRQ 0 → GSI 2 (the PIT on the IOAPIC's pin 2) and the SCI
 * (level, active high), and the local APIC NMI on LINT1 of every processor.
 */
import { finishSdt, SDT_HEADER_SIZE, startSdt } from './sdt.js';

export const MADT_REVISION = 3;
/** Flags: PCAT_COMPAT, a dual 8259 is present too (ACPI 6.4 Table 5.44). */
export const MADT_PCAT_COMPAT = 1;

/** Interrupt controller structure types and lengths (ACPI 6.4 Table 5.45 and 5.46–5.52). */
export const MADT_TYPE_LOCAL_APIC = 0;
export const MADT_TYPE_IO_APIC = 1;
export const MADT_TYPE_INTERRUPT_OVERRIDE = 2;
export const MADT_TYPE_LOCAL_APIC_NMI = 4;
const LOCAL_APIC_LEN = 8;
const IO_APIC_LEN = 12;
const OVERRIDE_LEN = 10;
const LOCAL_APIC_NMI_LEN = 6;

/** MPS INTI flags (ACPI 6.4 Table 5.50): polarity bits 1:0 (01 high), trigger bits 3:2 (11 level). */
export const MPS_INTI_ACTIVE_HIGH = 0x1;
export const MPS_INTI_LEVEL = 0xc;

export const LAPIC_DEFAULT_GPA = 0xfee00000;
export const IOAPIC_DEFAULT_GPA = 0xfec00000;

export interface MadtParams {
  /** vCPUs present, each with Enabled set. */
  cpus: number;
  /** The APIC ID of every possible vCPU by index (default 0 … cpus − 1); those ≥ `cpus` are disabled. */
  apicIds?: readonly number[];
  lapicGpa: number;
  ioapicGpa: number;
  ioapicId: number;
  sciIrq: number;
}

export function buildMadt(p: MadtParams): Uint8Array {
  const overrides = [
    { source: 0, gsi: 2, flags: 0 },
    { source: p.sciIrq, gsi: p.sciIrq, flags: MPS_INTI_ACTIVE_HIGH | MPS_INTI_LEVEL },
  ];
  const ids = p.apicIds ?? Array.from({ length: p.cpus }, (_, i) => i);
  const length =
    SDT_HEADER_SIZE +
    8 +
    ids.length * LOCAL_APIC_LEN +
    IO_APIC_LEN +
    overrides.length * OVERRIDE_LEN +
    LOCAL_APIC_NMI_LEN;
  const w = startSdt('APIC', length, MADT_REVISION);
  w.u32(36, p.lapicGpa);
  w.u32(40, MADT_PCAT_COMPAT);
  let at = 44;
  for (let cpu = 0; cpu < ids.length; cpu++) {
    w.u8(at, MADT_TYPE_LOCAL_APIC);
    w.u8(at + 1, LOCAL_APIC_LEN);
    w.u8(at + 2, cpu); // ACPI processor UID
    w.u8(at + 3, ids[cpu]); // APIC ID
    w.u32(at + 4, cpu < p.cpus ? 1 : 0); // Enabled (ACPI 6.4 Table 5.47)
    at += LOCAL_APIC_LEN;
  }
  w.u8(at, MADT_TYPE_IO_APIC);
  w.u8(at + 1, IO_APIC_LEN);
  w.u8(at + 2, p.ioapicId);
  w.u32(at + 4, p.ioapicGpa);
  w.u32(at + 8, 0); // Global System Interrupt base
  at += IO_APIC_LEN;
  for (const o of overrides) {
    w.u8(at, MADT_TYPE_INTERRUPT_OVERRIDE);
    w.u8(at + 1, OVERRIDE_LEN);
    w.u8(at + 2, 0); // bus: ISA
    w.u8(at + 3, o.source);
    w.u32(at + 4, o.gsi);
    w.u16(at + 8, o.flags);
    at += OVERRIDE_LEN;
  }
  w.u8(at, MADT_TYPE_LOCAL_APIC_NMI);
  w.u8(at + 1, LOCAL_APIC_NMI_LEN);
  w.u8(at + 2, 0xff); // every processor
  w.u16(at + 3, 0); // flags: conforming to the bus
  w.u8(at + 5, 1); // LINT1
  return finishSdt(w);
}
