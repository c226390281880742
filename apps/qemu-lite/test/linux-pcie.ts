/**
 * PCI Express pieces of the PC in a Linux guest (issue 17). MMCONFIG: Linux finds bus 0's ECAM
 * window through the MCFG table and accepts it because the e820 map reserves it. MSI-X: with the in-kernel irqchip, every virtio-pci function Linux
 * binds takes MSI-X vectors (virtio_pci's `vp_find_vqs_msix`: one for configuration changes, one
 * per queue), which /proc/interrupts lists on the PCI-MSI(X) chip instead of the I/O APIC's INTx
 * line; and the vectors carry interrupts (the disks' and NICs' request queues count some).
 */
import { expect } from 'vitest';
import { section } from './linux-checks.js';

/** One /proc/interrupts line: "IRQ: counts… chip hwirq-edge name". */
const LINE = /^\s*\d+:\s+((?:\d+\s+)+)(\S+)\s+(\S+)\s+(virtio\d+-\S+)\s*$/;

export function checkMsix(out: string, context: string): void {
  // The virtio functions in the `=== pci` listing, as Linux numbered them: virtio0, virtio1, …
  const functions = section(out, 'pci')
    .split('\n')
    .filter((l) => / 0x1af4 /.test(l) && /driver=virtio-pci/.test(l)).length;
  expect(functions, `no virtio function bound; ${context}`).toBeGreaterThan(0);
  const lines = section(out, 'interrupts').trim().split('\n').filter(Boolean);
  const parsed = lines.map((l) => LINE.exec(l));
  expect(
    parsed.every((m) => m !== null),
    `/proc/interrupts lines not understood: ${lines.join(' | ')}; ${context}`,
  ).toBe(true);
  const vectors = parsed.map((m) => ({
    count: m![1]
      .trim()
      .split(/\s+/)
      .reduce((sum, n) => sum + Number(n), 0),
    chip: m![2],
    name: m![4],
  }));
  // Every vector on the MSI chip ("PCI-MSI" before Linux 6.2, "PCI-MSIX-0000:00:02.0" after),
  // none on the I/O APIC.
  for (const v of vectors) expect(v.chip, `${v.name}; ${context}`).toMatch(/^PCI-MSI/);
  for (let n = 0; n < functions; n++)
    expect(
      vectors.some((v) => v.name === `virtio${n}-config`),
      `no virtio${n}-config vector in ${lines.join(' | ')}; ${context}`,
    ).toBe(true);
  // Queue vectors (not -config) that took interrupts: the guest's disk and network I/O.
  const busy = vectors.filter((v) => !v.name.endsWith('-config') && v.count > 0);
  expect(
    busy.length,
    `no queue vector counted an interrupt: ${lines.join(' | ')}; ${context}`,
  ).toBeGreaterThan(1);
}

/**
 * The kernel's log: the MCFG window (bus 0, 0xfeb00000, 1 MiB) taken, and found reserved in
 * E820 (`pci_mmcfg_reject_broken`); without the reservation Linux drops it.
 */
export function checkMmconfig(out: string, context: string): void {
  const log = out.replace(/\r/g, '');
  expect(log, context).toMatch(
    /PCI: MMCONFIG for domain 0000 \[bus 00-00\] at \[mem 0xfeb00000-0xfebfffff\] \(base 0xfeb00000\)/,
  );
  expect(log, context).toMatch(/PCI: MMCONFIG at \[mem 0xfeb00000-0xfebfffff\] reserved (in|as) E820/);
  expect(log, context).not.toMatch(/fail to add MMCONFIG information/);
}
