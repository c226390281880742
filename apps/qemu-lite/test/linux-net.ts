/**
 * The network and entropy devices of the shared Linux boots (linux.soft.test.ts,
 * linux.kvm.test.ts): `-nic user` (a virtio-net on qemu-lite's user-mode gateway) and
 * `-device virtio-rng-pci`, which the scripted /init (tools/linux/init.sh) uses once it has
 * loaded Debian's virtio_net and virtio-rng modules: the NIC's MAC, a DHCP lease from the
 * gateway (busybox udhcpc), two pings of the gateway answered, and random bytes from /dev/hwrng.
 */
import { expect } from 'vitest';
import { section } from './linux-checks.js';

/** The qemu-lite arguments, after the disks' (so the NIC and the rng follow them on the bus). */
export const NET_ARGS = ['-nic', 'user', '-device', 'virtio-rng-pci'];

/** The PCI functions they add after `disks` disks (slot 2 + disks on): ID, class, the PIIX IRQ, the driver. */
export function netPciLines(disks: number): string[] {
  // PIRQ (slot + pin − 1) mod 4 → IRQs 10, 10, 11, 11 (src/devices/pci/pci-bus.ts, pin INTA).
  const irq = (slot: number) => [10, 10, 11, 11][slot & 3];
  const slot = 2 + disks;
  const fn = (s: number) => `0000:00:${s.toString(16).padStart(2, '0')}.0`;
  return [
    `${fn(slot)} 0x1af4 0x1041 0x020000 irq=${irq(slot)} driver=virtio-pci`,
    `${fn(slot + 1)} 0x1af4 0x1044 0xff0000 irq=${irq(slot + 1)} driver=virtio-pci`,
  ];
}

/**
 * eth0: QEMU's default MAC, the lease udhcpc got from the gateway (10.0.2.15/24, router
 * 10.0.2.2, DNS 10.0.2.3, as QEMU's slirp gives), and `ping -c 2 10.0.2.2` with both answered.
 */
export function checkNet(out: string, context: string): void {
  expect(section(out, 'virtio-net').trim().split('\n'), context).toEqual([
    'mac 52:54:00:12:34:56',
    'bound 10.0.2.15/255.255.255.0 router 10.0.2.2 dns 10.0.2.3',
    '2 packets transmitted, 2 packets received, 0% packet loss',
  ]);
}

/** /dev/hwrng: the virtio one is the current source, gives the 64 bytes asked, and two reads differ. */
export function checkRng(out: string, context: string): void {
  expect(section(out, 'virtio-rng').trim().split('\n'), context).toEqual([
    'current virtio_rng.0',
    'bytes 64',
    'two reads differ',
  ]);
}
