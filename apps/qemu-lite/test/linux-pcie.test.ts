/**
 * The MSI-X and MMCONFIG checks of the Linux boots (linux-pcie.ts), on the console of a real
 * boot (Debian's kernel on -accel svm with a virtio-blk disk and virtio-rng): it passes, and the
 * same console with the devices on the I/O APIC's INTx line, or without the E820 reservation,
 * fails.
 */
import { describe, expect, it } from 'vitest';
import { checkMmconfig, checkMsix } from './linux-pcie.js';

const PCI = [
  '=== pci',
  '0000:00:00.0 0x8086 0x1237 0x060000 irq=0 driver=none',
  '0000:00:01.0 0x8086 0x7000 0x060100 irq=0 driver=none',
  '0000:00:02.0 0x1af4 0x1042 0x010000 irq=11 driver=virtio-pci',
  '0000:00:03.0 0x1af4 0x1044 0xff0000 irq=11 driver=virtio-pci',
];
const MSIX = [
  '=== interrupts',
  ' 24:          0   PCI-MSI 32768-edge      virtio0-config',
  ' 25:          8   PCI-MSI 32769-edge      virtio0-req.0',
  '[   81.901855] random: crng init done',
  ' 26:          0   PCI-MSI 49152-edge      virtio1-config',
  ' 27:        195   PCI-MSI 49153-edge      virtio1-input',
  '=== end',
];
const INTX = ['=== interrupts', ' 11:        203   IO-APIC  11-fasteoi   virtio0, virtio1', '=== end'];
const MMCONFIG = [
  '[    4.252211] PCI: MMCONFIG for domain 0000 [bus 00-00] at [mem 0xfeb00000-0xfebfffff] (base 0xfeb00000)',
  '[    4.255647] PCI: MMCONFIG at [mem 0xfeb00000-0xfebfffff] reserved in E820',
];

describe('the PCIe checks of the Linux boots', () => {
  it('pass on a console whose virtio functions use MSI-X vectors that counted interrupts', () => {
    expect(() => checkMsix([...PCI, ...MSIX].join('\r\n'), '')).not.toThrow();
  });

  it('fail when the functions share the I/O APIC line, or a function has no config vector', () => {
    expect(() => checkMsix([...PCI, ...INTX].join('\n'), '')).toThrow();
    const noConfig = MSIX.filter((l) => !l.includes('virtio1-config'));
    expect(() => checkMsix([...PCI, ...noConfig].join('\n'), '')).toThrow(/virtio1-config/);
  });

  it('pass on the kernel log that took the MMCONFIG window, fail when Linux refused it', () => {
    expect(() => checkMmconfig(MMCONFIG.join('\n'), '')).not.toThrow();
    expect(() => checkMmconfig(MMCONFIG[0], '')).toThrow();
    expect(() =>
      checkMmconfig(
        `${MMCONFIG.join('\n')}\nacpi PNP0A03:00: fail to add MMCONFIG information, can't access extended PCI configuration space under this bridge.`,
        '',
      ),
    ).toThrow();
  });
});
