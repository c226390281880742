/**
 * The Differentiated System Description Table ("DSDT", ACPI 6.4 5.2.11.1): a header and AML.
 * Ours holds the \_S5 sleep-state package an OS needs to power off
 * (ACPI 6.4 7.4.2): `Name (_S5, Package (4) { SLP_TYPa, SLP_TYPb, 0, 0 })`, with the value
 * QEMU's PIIX4 DSDT gives S5 (0), which is what `AcpiPm` turns into a power-off; and, when the machine has a PCI bus, its root bridge `\_SB.PCI0` (pci-root.ts). The AML
 * encoders are in aml.ts.
 */
import { amlNamePackage } from './aml.js';
import { pciRootBridgeAml } from './pci-root.js';
import { finishSdt, SDT_HEADER_SIZE, startSdt } from './sdt.js';

export { amlByteInteger, amlNamePackage, amlPkgLength } from './aml.js';

/** Revision 2: AML integers are 64 bits (ACPI 6.4 5.2.11.1). */
export const DSDT_REVISION = 2;
/** SLP_TYP for S5 (soft off), as QEMU's PIIX4 power management decodes it. */
export const SLP_TYP_S5 = 0;

export interface DsdtConfig {
  /** PCI bus 0 exists: describe its root bridge, `\_SB.PCI0` (see pci-root.ts). */
  pci?: boolean;
}

export function buildDsdt(config: DsdtConfig = {}): Uint8Array {
  const aml = [
    ...amlNamePackage('_S5_', [SLP_TYP_S5, SLP_TYP_S5, 0, 0]),
    ...(config.pci ? pciRootBridgeAml() : []),
  ];
  const w = startSdt('DSDT', SDT_HEADER_SIZE + aml.length, DSDT_REVISION);
  w.bytes.set(aml, SDT_HEADER_SIZE);
  return finishSdt(w);
}
