/**
 * The two functions QEMU's `-M pc` always has on bus 0: the i440FX host bridge (00:00.0) and
 * the PIIX3 PCI-to-ISA bridge (00:01.0), with their IDs (QEMU hw/pci-host/i440fx.c,
 * hw/isa/piix.c). They decode nothing here; they are what `lspci` and a guest's enumeration find.
 */
import { PCI_HEADER_TYPE_MULTI_FUNCTION, PciDevice } from './pci-device.js';

export const PCI_VENDOR_ID_INTEL = 0x8086;
/** 82441FX PMC (Natoma), revision 2 as QEMU reports it. */
export const PCI_DEVICE_ID_INTEL_82441 = 0x1237;
/** 82371SB PIIX3 ISA bridge. */
export const PCI_DEVICE_ID_INTEL_82371SB_0 = 0x7000;
export const PCI_CLASS_BRIDGE_HOST = 0x060000;
export const PCI_CLASS_BRIDGE_ISA = 0x060100;

export function i440fxHostBridge(): PciDevice {
  return new PciDevice('i440FX', {
    vendorId: PCI_VENDOR_ID_INTEL,
    deviceId: PCI_DEVICE_ID_INTEL_82441,
    revision: 0x02,
    classCode: PCI_CLASS_BRIDGE_HOST,
  });
}

export function piix3IsaBridge(): PciDevice {
  return new PciDevice('PIIX3', {
    vendorId: PCI_VENDOR_ID_INTEL,
    deviceId: PCI_DEVICE_ID_INTEL_82371SB_0,
    revision: 0x00,
    classCode: PCI_CLASS_BRIDGE_ISA,
    // QEMU's PIIX3 is function 0 of a multi-function device (IDE, USB, ACPI at .1–.3).
    headerType: PCI_HEADER_TYPE_MULTI_FUNCTION,
  });
}
