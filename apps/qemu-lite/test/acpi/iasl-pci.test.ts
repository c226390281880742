/**
 * The DSDT's PCI root bridge (\_SB.PCI0, src/acpi/pci-root.ts) under the referee, Debian's iasl:
 * `iasl -d` decompiles it with no complaint, the ASL it gives says what QEMU's pc DSDT says
 * (PNP0A03, bus 0, the bus range, the I/O and memory windows the PCI code places BARs in, each
 * slot's INTA–D on GSI 10/11), and compiling that ASL again gives back our AML byte for byte.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildDsdt } from '../../src/acpi/dsdt.js';
import { pciSlotGsi } from '../../src/acpi/pci-root.js';
import { PciBus } from '../../src/devices/pci/pci-bus.js';
import { PCI_INTERRUPT_LINE, PciDevice } from '../../src/devices/pci/pci-device.js';

const iasl = spawnSync('iasl', ['-v'], { encoding: 'utf8' });
const iaslSkip = iasl.error ? 'iasl is not installed (apt-get install acpica-tools)' : undefined;
if (iaslSkip) console.warn(`ACPI PCI0: skipping the iasl referee: ${iaslSkip}`);

function decompile(dsdt: Uint8Array): { dir: string; dsl: string; log: string } {
  const dir = mkdtempSync(join(tmpdir(), 'qemu-lite-pci0-'));
  writeFileSync(join(dir, 'dsdt.dat'), dsdt);
  const log = execFileSync('iasl', ['-d', join(dir, 'dsdt.dat')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { dir, dsl: readFileSync(join(dir, 'dsdt.dsl'), 'utf8'), log };
}

describe('the DSDT without a PCI bus', () => {
  it('has no \\_SB.PCI0 (a machine with no -drive has no bus 0 to describe)', () => {
    const text = Buffer.from(buildDsdt()).toString('latin1');
    expect(text).not.toContain('PCI0');
    expect(Buffer.from(buildDsdt({ pci: true })).toString('latin1')).toContain('PCI0');
  });
});

describe.skipIf(iaslSkip)('iasl on the DSDT with the PCI root bridge', () => {
  const dsdt = buildDsdt({ pci: true });
  const { dir, dsl, log } = iaslSkip ? { dir: '', dsl: '', log: '' } : decompile(dsdt);
  // The ASL without iasl's comments, on one line.
  const flat = dsl
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .replace(/\s+/g, ' ')
    .replace(/\( /g, '(')
    .replace(/ \)/g, ')');

  it('decompiles with no warning or error', () => {
    expect(log).not.toMatch(/warning|error|invalid|incorrect/i);
    expect(dsl).not.toMatch(/\*\*\*\*|Invalid|Incorrect|Unknown/);
  });

  it('declares \\_SB.PCI0 as a PNP0A03 host bridge on bus 0', () => {
    expect(flat).toMatch(/Scope \(\\?_SB\) \{ Device \(PCI0\) \{/);
    expect(flat).toMatch(/Name \(_HID, EisaId \("PNP0A03"\)\)/);
    expect(flat).toMatch(/Name \(_BBN, Zero\)/);
  });

  it('gives _CRS the bus range, mechanism #1 ports, the I/O and memory windows', () => {
    expect(flat).toMatch(
      /WordBusNumber \(ResourceProducer, MinFixed, MaxFixed, PosDecode, 0x0000, 0x0000, 0x00FF, 0x0000, 0x0100/,
    );
    expect(flat).toMatch(/IO \(Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08/);
    expect(flat).toMatch(
      /WordIO \(ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8/,
    );
    expect(flat).toMatch(
      /WordIO \(ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300/,
    );
    expect(flat).toMatch(
      /DWordMemory \(ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite, 0x00000000, 0x000A0000, 0x000BFFFF, 0x00000000, 0x00020000/,
    );
    expect(flat).toMatch(
      /DWordMemory \(ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite, 0x00000000, 0xE0000000, 0xFEAFFFFF, 0x00000000, 0x1EB00000/,
    );
  });

  it('routes INTA–D of all 32 slots in _PRT, with the PIIX swizzle onto GSI 10/11', () => {
    const entries = [...flat.matchAll(/Package \(0x04\) \{ (0x[0-9A-F]+), (\w+), Zero, (0x[0-9A-F]+) \}/g)];
    expect(entries).toHaveLength(128);
    const pinOf = (s: string) => (s === 'Zero' ? 0 : s === 'One' ? 1 : Number(s));
    for (const [, address, pin, gsi] of entries) {
      const slot = Number(address) >>> 16;
      expect(Number(address) & 0xffff).toBe(0xffff);
      expect(Number(gsi)).toBe(pciSlotGsi(slot, pinOf(pin)));
    }
    // Slot 2 (the first virtio device) INTA is PIRQC: IRQ 11, as QEMU+SeaBIOS route it.
    expect(flat).toMatch(/Package \(0x04\) \{ 0x0002FFFF, Zero, Zero, 0x0B \}/);
  });

  it('compiles back (iasl) to the very AML we built', () => {
    execFileSync('iasl', ['-p', join(dir, 'again'), join(dir, 'dsdt.dsl')], { stdio: 'ignore' });
    const again = readFileSync(join(dir, 'again.aml'));
    expect([...again.subarray(36)]).toEqual([...dsdt.subarray(36)]);
  });
});

describe('_PRT against the bus', () => {
  it('names, for a function at every slot and pin, the IRQ the bus writes in its Interrupt Line and raises', () => {
    for (let slot = 2; slot < 32; slot++) {
      for (let pin = 1; pin <= 4; pin++) {
        const raised: number[] = [];
        const pci = new PciBus({ setIrq: (irq, level) => level && raised.push(irq) });
        const device = new PciDevice('test', {
          vendorId: 0x1af4,
          deviceId: 0x1042,
          revision: 1,
          classCode: 0,
          interruptPin: pin,
        });
        pci.plug(slot << 3, device);
        pci.assignResources();
        device.intx(1);
        expect(raised).toEqual([pciSlotGsi(slot, pin - 1)]);
        expect(device.config[PCI_INTERRUPT_LINE]).toBe(pciSlotGsi(slot, pin - 1));
      }
    }
  });
});
