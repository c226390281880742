/**
 * Debian's kernel enumerates qemu-lite's PCI bus on the software engine (-accel vmx): the i440FX
 * host bridge, the PIIX3 and a virtio-blk from `-drive if=virtio`, with their IDs and classes,
 * the virtio BAR where qemu-lite placed it and the IRQ line the PIIX routing gives slot 2, all
 * as Linux's own /sys/bus/pci shows them. Linux finds bus 0 through ACPI, the DSDT's \_SB.PCI0
 * (src/acpi/pci-root.ts): "ACPI: PCI Root Bridge [PCI0]", with no `pci=noacpi` and no probing of
 * its own. The init also reads PM1a_EN (port 0x602) through /dev/port: Debian builds the ACPI
 * button driver as a module (CONFIG_ACPI_BUTTON=m) that this initramfs does not load, so nothing
 * enables PWRBTN_EN (only GBL_EN is set, by ACPICA's global-lock handler) and a `system_powerdown` is dropped, as QEMU drops it. Debian builds virtio-pci and virtio-blk as modules, so the disk driver itself is not bound here.
 * Minutes long: runs with QEMU_LITE_LINUX=1, as test/linux.soft.test.ts.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as linux from '../../../tools/linux/boot-marker.mjs';
import { buildInitramfs } from '../../../tools/linux/fetch.mjs';
import { runGuest } from '../src/index.js';

const INIT = `#!/bin/sh
/bin/busybox mkdir -p /proc /sys
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mkdir -p /dev
/bin/busybox mount -t devtmpfs devtmpfs /dev
echo "PM1EN $(/bin/busybox dd if=/dev/port bs=1 skip=1538 count=2 2>/dev/null | /bin/busybox hexdump -e '1/2 "%04x"')"
echo "=== pci"
for d in /sys/bus/pci/devices/*; do
  echo "PCIDEV $(/bin/busybox basename $d) $(/bin/busybox cat $d/vendor) $(/bin/busybox cat $d/device) $(/bin/busybox cat $d/class) irq=$(/bin/busybox cat $d/irq)"
  echo "BAR4 $(/bin/busybox basename $d) $(/bin/busybox sed -n 5p $d/resource)"
done
echo "${linux.END_MARKER}"
/bin/busybox poweroff -f
`;

function whyNot(): string | undefined {
  if (process.env.QEMU_LITE_LINUX !== '1')
    return "booting Debian's kernel takes minutes: set QEMU_LITE_LINUX=1 to run it";
  const files = linux.linuxFiles();
  if (!files.ok) return `${files.why} (run tools/linux/fetch.mjs)`;
  if (!existsSync(join(linux.cacheDir, 'busybox')))
    return 'tools/linux/cache/busybox is missing: run fetch.mjs';
  return undefined;
}
const skip = whyNot();

describe('Linux on qemu-lite enumerates PCI', () => {
  it.skipIf(skip !== undefined)(
    `-accel vmx: /sys/bus/pci lists the host bridge, the PIIX3 and the virtio-blk${skip ? ` (skipped: ${skip})` : ''}`,
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'linux-pci-'));
      const initrd = join(dir, 'initrd.gz');
      writeFileSync(initrd, buildInitramfs(readFileSync(join(linux.cacheDir, 'busybox')), Buffer.from(INIT)));
      const disk = join(dir, 'disk.img');
      writeFileSync(disk, new Uint8Array(1 << 20));
      const r = await runGuest({
        kernel: linux.kernelPath,
        initrd,
        accel: 'vmx',
        memory: '256M',
        append: linux.SOFT_CMDLINE.replace(' pci=off', ''),
        timeoutMs: 900_000,
        drives: [{ file: disk }],
      });
      const lines = r.serial.split(/\r?\n/);
      const devices = lines.filter((l) => l.startsWith('PCIDEV ')).map((l) => l.trim());
      expect(devices).toEqual([
        'PCIDEV 0000:00:00.0 0x8086 0x1237 0x060000 irq=0',
        'PCIDEV 0000:00:01.0 0x8086 0x7000 0x060100 irq=0',
        'PCIDEV 0000:00:02.0 0x1af4 0x1042 0x010000 irq=11',
      ]);
      const bar4 = lines.find((l) => l.startsWith('BAR4 0000:00:02.0'));
      expect(bar4?.trim()).toMatch(
        /^BAR4 0000:00:02\.0 0x00000000e0000000 0x00000000e0003fff 0x0000000000040200$/,
      );
      expect(r.serial).toMatch(/ACPI: PCI Root Bridge \[PCI0\] \(domain 0000 \[bus 00-ff\]\)/);
      expect(r.serial).not.toContain('PCI: Probing PCI hardware');
      // No button driver: PWRBTN_EN (bit 8) stays clear, so the power button would be dropped.
      // GBL_EN (bit 5) is ACPICA's global-lock handler, installed whenever the FACS exists.
      expect(lines.find((l) => l.startsWith('PM1EN '))?.trim()).toBe('PM1EN 0020');
      expect(r.exitReason).toEqual({ kind: 'poweroff' });
    },
    960_000,
  );
});
