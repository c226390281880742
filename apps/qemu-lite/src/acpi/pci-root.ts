/**
 * The PCI root bridge in the DSDT, `\_SB.PCI0`, as QEMU's `-M pc` DSDT describes its i440FX
 * (hw/i386/acpi-build.c): without it an ACPI OS does not know bus 0 exists (Linux then needs
 * `pci=noacpi`). ASL equivalent:
 *
 *   Scope (\_SB) {
 *     Device (PCI0) {
 *       Name (_HID, EisaId ("PNP0A03"))    // PCI host bridge (PCI Firmware 3.2 4.1.1)
 *       Name (_ADR, Zero)
 *       Name (_UID, Zero)
 *       Name (_BBN, Zero)                  // base bus number (ACPI 6.4 6.5.5)
 *       Name (_CRS, ResourceTemplate () {  // what the bridge decodes (ACPI 6.4 6.4)
 *         WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0xFF, 0, 0x100)
 *         IO (Decode16, 0x0CF8, 0x0CF8, 1, 8)                 // configuration mechanism #1
 *         WordIO (…, EntireRange, 0, 0x0000, 0x0CF7, 0, 0x0CF8)
 *         WordIO (…, EntireRange, 0, 0x0D00, 0xFFFF, 0, 0xF300)  // holds the BAR window 0xC000–
 *         DWordMemory (…, Cacheable, ReadWrite, 0, 0xA0000, 0xBFFFF, 0, 0x20000)  // VGA hole
 *         DWordMemory (…, Cacheable, ReadWrite, 0, PCI_MMIO_WINDOW_START, PCI_MMIO_WINDOW_END − 1, …)
 *       })
 *       Name (_PRT, Package () { Package () { 0xSSSSFFFF, pin, Zero, GSI }, … })
 *     }
 *   }
 *
 * The _PRT (ACPI 6.4 6.2.13) gives each slot's INTA–D its interrupt directly (Source Zero,
 * SourceIndex the GSI), where QEMU names the link devices LNKA–LNKD: the PIIX PIRQ routing here
 * is fixed (`PIIX_PIRQ_IRQS`, as SeaBIOS programs it), so there is nothing for a link's _SRS to
 * change. The same table serves both interrupt models: with the I/O APIC, GSIs 10 and 11 are its
 * pins 10 and 11 (no MADT override moves them); with the PIC, a GSI below 16 is the ISA IRQ.
 * Linux takes such an entry as level-triggered, active low (drivers/acpi/pci_irq.c), and with the
 * PIC sets the ELCR bits itself; neither KVM's I/O APIC nor ours inverts a pin by its polarity,
 * so the device's asserted line is seen as asserted either way.
 */
import {
  PCI_IO_WINDOW_END,
  PCI_IO_WINDOW_START,
  PCI_MMIO_WINDOW_END,
  PCI_MMIO_WINDOW_START,
  PIIX_PIRQ_IRQS,
} from '../devices/pci/pci-bus.js';
import { amlBuffer, amlDevice, amlEisaId, amlInteger, amlName, amlPackage, amlScope } from './aml.js';

/** The PCI slots (devices) of bus 0. */
const PCI_SLOTS = 32;
/** The I/O range behind the bridge that holds mechanism #1's ports (ACPI 6.4 6.4.3.5.3). */
const PCI_CONFIG_PORT = 0xcf8;
const PCI_CONFIG_PORTS = 8;
/** QEMU's second I/O range starts past 0xCF8–0xCFF's whole 0xC00 page, at 0xD00. */
const PCI_IO_AFTER_CONFIG = 0xd00;

/** Address space resource types and flags (ACPI 6.4 Tables 6.47–6.50). */
const RESOURCE_MEMORY = 0;
const RESOURCE_IO = 1;
const RESOURCE_BUS = 2;
/** General flags: _MAF (3) and _MIF (2) fixed, positive decode, producer (bit 0 clear). */
const GENERAL_PRODUCER_FIXED = 0x0c;
/** I/O type-specific flags: _RNG 3, ISA and non-ISA ranges. */
const IO_ENTIRE_RANGE = 0x03;
/** Memory type-specific flags: _RW read/write (bit 0), _MEM cacheable (bits 2:1 = 1). */
const MEM_CACHEABLE_RW = 0x03;

const le = (value: number, bytes: number): number[] =>
  Array.from({ length: bytes }, (_, i) => Math.floor(value / 2 ** (8 * i)) & 0xff);

/** Word (0x88) or DWord (0x87) Address Space Descriptor: min, max, translation 0, length. */
function addressSpace(width: 2 | 4, type: number, typeFlags: number, min: number, max: number): number[] {
  const fields = [0, min, max, 0, max - min + 1].flatMap((v) => le(v, width));
  const body = [type, GENERAL_PRODUCER_FIXED, typeFlags, ...fields];
  return [width === 2 ? 0x88 : 0x87, ...le(body.length, 2), ...body];
}

/** The bridge's _CRS resource template bytes (ending with the End Tag, checksum 0). */
export function pciRootCrs(): number[] {
  return [
    ...addressSpace(2, RESOURCE_BUS, 0, 0, 0xff),
    // I/O Port Descriptor (small item 0x47): decode 16, min, max, alignment 1, length.
    0x47,
    0x01,
    ...le(PCI_CONFIG_PORT, 2),
    ...le(PCI_CONFIG_PORT, 2),
    0x01,
    PCI_CONFIG_PORTS,
    ...addressSpace(2, RESOURCE_IO, IO_ENTIRE_RANGE, 0, PCI_CONFIG_PORT - 1),
    ...addressSpace(2, RESOURCE_IO, IO_ENTIRE_RANGE, PCI_IO_AFTER_CONFIG, 0xffff),
    ...addressSpace(4, RESOURCE_MEMORY, MEM_CACHEABLE_RW, 0xa0000, 0xbffff),
    ...addressSpace(4, RESOURCE_MEMORY, MEM_CACHEABLE_RW, PCI_MMIO_WINDOW_START, PCI_MMIO_WINDOW_END - 1),
    0x79,
    0x00,
  ];
}

/** The GSI (= ISA IRQ) slot `slot`'s pin `pin` (0 = INTA) reaches: PIIX's swizzle. */
export function pciSlotGsi(slot: number, pin: number): number {
  return PIIX_PIRQ_IRQS[(slot + pin) & 3];
}

/** `_PRT`: every slot × INTA–D → its GSI. */
function pciRootPrt(): number[] {
  const entries: number[][] = [];
  for (let slot = 0; slot < PCI_SLOTS; slot++) {
    for (let pin = 0; pin < 4; pin++) {
      // Address: device in the high word, 0xFFFF "any function" (ACPI 6.4 6.2.13); the shortest
      // integer encoding, as iasl emits it (slot 0's 0xFFFF is a WordConst).
      entries.push(
        amlPackage([
          amlInteger(((slot << 16) | 0xffff) >>> 0),
          amlInteger(pin),
          amlInteger(0),
          amlInteger(pciSlotGsi(slot, pin)),
        ]),
      );
    }
  }
  return amlPackage(entries);
}

/** `Scope (\_SB) { Device (PCI0) { … } }`. */
export function pciRootBridgeAml(): number[] {
  // The BAR windows must lie inside what _CRS says the bridge forwards.
  if (PCI_IO_WINDOW_START < PCI_IO_AFTER_CONFIG || PCI_IO_WINDOW_END > 0x10000)
    throw new Error('PCI I/O window outside _CRS');
  // `_SB_` relative to the root, where the DSDT's code starts: iasl compiles `Scope (\_SB)` so.
  return amlScope('_SB_', [
    amlDevice('PCI0', [
      amlName('_HID', amlEisaId('PNP0A03')),
      amlName('_ADR', amlInteger(0)),
      amlName('_UID', amlInteger(0)),
      amlName('_BBN', amlInteger(0)),
      amlName('_CRS', amlBuffer(pciRootCrs())),
      amlName('_PRT', pciRootPrt()),
    ]),
  ]);
}
