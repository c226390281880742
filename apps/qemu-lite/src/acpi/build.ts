/**
 * Builds the machine's firmware tables and writes them into guest RAM, where a PC BIOS leaves
 * them (QEMU's firmware puts them in high RAM; we have no firmware, and the BIOS area is already
 * reserved in the e820 map, so an OS never takes it as RAM):
 *
 *   0xE0000  DSDT, FACS (64-byte aligned), FADT, MADT, HPET, MCFG, RSDT, XSDT   (the ACPI tables)
 *   0xF0000  RSDP                       (16-byte aligned in 0xE0000–0xFFFFF: ACPI 6.4 5.2.5.1)
 *   0xF0040  MP floating pointer        (in 0xF0000–0xFFFFF: MP spec 1.4 4.1)
 *   0xF0100  MP configuration table
 *
 * The MADT and the MP table describe local APICs and an I/O APIC, so they are written only for a
 * machine that has them (the in-kernel irqchip); without one the guest sees a PIC-only PC, whose
 * CPUID says there is no APIC either (src/machine/cpuid.ts).
 */
import { buildDsdt } from './dsdt.js';
import { buildFacs, buildFadt, type FadtParams } from './fadt.js';
import { buildHpetTable, type HpetTableParams } from './hpet.js';
import { buildMadt, IOAPIC_DEFAULT_GPA, LAPIC_DEFAULT_GPA } from './madt.js';
import { buildMcfg, type McfgParams } from './mcfg.js';
import { buildMpTable } from './mptable.js';
import { buildRsdp } from './rsdp.js';
import { buildRsdt, buildXsdt } from './rsdt.js';

export const ACPI_TABLES_GPA = 0xe0000;
export const RSDP_GPA = 0xf0000;
export const MP_FLOATING_GPA = 0xf0040;
export const MP_CONFIG_GPA = 0xf0100;
/** The end of what `writeFirmwareTables` may write (the BIOS area's end). */
export const FIRMWARE_TABLES_END = 0x100000;

export interface FirmwareTablesConfig {
  /** vCPUs present: local APIC IDs `apicIds` (default 0 … cpus − 1); the I/O APIC's ID follows the highest. */
  cpus: number;
  /** Every possible vCPU's APIC ID by index (maxcpus of them; those past `cpus` are absent). */
  apicIds?: readonly number[];
  /** The machine has local APICs and an I/O APIC: write the MADT and the MP table. */
  apic: boolean;
  /** PCI bus 0 exists: the DSDT describes its root bridge (\_SB.PCI0, see pci-root.ts). */
  pci?: boolean;
  /** The machine has an HPET (QEMU's `-machine hpet=on`): write the HPET table for it. */
  hpet?: HpetTableParams;
  /** The PCIe MMCONFIG window of bus 0 (with `pci`): write the MCFG table for it. */
  mcfg?: McfgParams;
  /** The PM registers and SCI (see `AcpiPm`) and the reset register. */
  pm: Omit<FadtParams, 'facsGpa' | 'dsdtGpa'>;
  /** CPUID.1 EAX/EDX, for the MP table's processor entries. */
  cpuSignature: number;
  cpuFeatures: number;
}

/** Where each table went, for tests and `-d` output. */
export interface FirmwareTablesLayout {
  rsdp: number;
  rsdt: number;
  xsdt: number;
  fadt: number;
  facs: number;
  dsdt: number;
  /** Absent without `apic`. */
  madt?: number;
  /** Absent without `hpet`. */
  hpet?: number;
  /** Absent without `mcfg`. */
  mcfg?: number;
  mpFloating?: number;
  mpConfig?: number;
}

const align = (value: number, to: number): number => Math.ceil(value / to) * to;

/** Writes every table into `ram` (guest RAM from gpa 0) and says where. */
export function writeFirmwareTables(ram: Uint8Array, config: FirmwareTablesConfig): FirmwareTablesLayout {
  if (config.cpus < 1 || config.cpus > 254) throw new RangeError(`cannot describe ${config.cpus} vCPUs`);
  let next = ACPI_TABLES_GPA;
  const place = (bytes: Uint8Array, alignment: number): number => {
    const gpa = align(next, alignment);
    if (gpa + bytes.length > RSDP_GPA) throw new RangeError('ACPI tables overflow their area');
    ram.set(bytes, gpa);
    next = gpa + bytes.length;
    return gpa;
  };
  const dsdt = place(buildDsdt({ pci: config.pci }), 16);
  // The FACS must be 64-byte aligned (ACPI 6.4 5.2.10).
  const facs = place(buildFacs(), 64);
  const fadt = place(buildFadt({ ...config.pm, facsGpa: facs, dsdtGpa: dsdt }), 16);
  const apicIds = config.apicIds ?? Array.from({ length: config.cpus }, (_, i) => i);
  if (apicIds.length < config.cpus)
    throw new RangeError(`${apicIds.length} APIC IDs for ${config.cpus} vCPUs`);
  const ioapicId = Math.max(...apicIds) + 1;
  if (ioapicId > 254) throw new RangeError(`APIC ID ${ioapicId - 1} leaves no I/O APIC ID`);
  const madt = config.apic
    ? place(
        buildMadt({
          cpus: config.cpus,
          apicIds,
          lapicGpa: LAPIC_DEFAULT_GPA,
          ioapicGpa: IOAPIC_DEFAULT_GPA,
          ioapicId,
          sciIrq: config.pm.sciIrq,
        }),
        16,
      )
    : undefined;
  const hpet = config.hpet !== undefined ? place(buildHpetTable(config.hpet), 16) : undefined;
  const mcfg = config.mcfg !== undefined ? place(buildMcfg(config.mcfg), 16) : undefined;
  const entries = [fadt];
  if (madt !== undefined) entries.push(madt);
  if (hpet !== undefined) entries.push(hpet);
  if (mcfg !== undefined) entries.push(mcfg);
  const rsdt = place(buildRsdt(entries), 16);
  const xsdt = place(buildXsdt(entries), 16);
  ram.set(buildRsdp(rsdt, xsdt), RSDP_GPA);
  if (madt === undefined) return { rsdp: RSDP_GPA, rsdt, xsdt, fadt, facs, dsdt, hpet, mcfg };

  const mp = buildMpTable(
    {
      cpus: config.cpus,
      apicIds: apicIds.slice(0, config.cpus),
      lapicGpa: LAPIC_DEFAULT_GPA,
      ioapicGpa: IOAPIC_DEFAULT_GPA,
      ioapicId,
      sciIrq: config.pm.sciIrq,
      cpuSignature: config.cpuSignature,
      cpuFeatures: config.cpuFeatures,
    },
    MP_CONFIG_GPA,
  );
  ram.set(mp.floating, MP_FLOATING_GPA);
  ram.set(mp.config, MP_CONFIG_GPA);
  return {
    rsdp: RSDP_GPA,
    rsdt,
    xsdt,
    fadt,
    facs,
    dsdt,
    madt,
    hpet,
    mcfg,
    mpFloating: MP_FLOATING_GPA,
    mpConfig: MP_CONFIG_GPA,
  };
}
