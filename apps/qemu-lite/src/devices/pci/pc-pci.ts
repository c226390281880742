/**
 * The PC's PCI bus as QEMU's `-M pc` builds it: the i440FX host bridge at 00:00.0, the PIIX3
 * ISA bridge at 00:01.0, then the devices the command line asked for from slot 2 on (QEMU puts
 * its VGA at 00:02.0; with no VGA here, the first `-drive if=virtio` is 00:02.0): the disks,
 * then the NICs, then the entropy devices, then the console, each in command-line order, configuration
 * mechanism #1 on the I/O bus, and the BARs placed as SeaBIOS places them.
 */
import type { IoBus } from '../io-bus.js';
import { frameRingRead, openFrameRing } from '../net/frame-ring.js';
import { UserNet } from '../net/user-net.js';
import type { IrqSink } from '../types.js';
import { VirtioBlk } from '../virtio/blk.js';
import { VirtioConsole } from '../virtio/console.js';
import type { Drive } from '../virtio/drive.js';
import { GuestMemory } from '../virtio/guest-memory.js';
import {
  defaultMac,
  type NetBackend,
  type NicConfig,
  parseMac,
  ringBackend,
  userNetBackend,
  VirtioNet,
} from '../virtio/net.js';
import { VirtioRng } from '../virtio/rng.js';
import { VirtioPciDevice } from '../virtio/virtio-pci.js';
import { i440fxHostBridge, piix3IsaBridge } from './host-bridge.js';
import type { MsiSink } from './msix.js';
import { PCI_CONFIG_ADDRESS, PCI_CONFIG_DATA, PciBus } from './pci-bus.js';

/** The PCI devices besides the disks: NICs (`-netdev user` + `-device virtio-net-pci`) and virtio-rng. */
export interface PciExtras {
  nics?: readonly NicConfig[];
  virtioRng?: number;
  /** Where frames for a netdev in the main thread go (socket, user's NAT): the worker posts them there. */
  netOut?: (nic: number, frame: Uint8Array) => void;
  /** `-device virtconsole`: a virtio console whose bytes go to `consoleOut` (the serial port's sink). */
  virtioConsole?: boolean;
  consoleOut?: (byte: number) => void;
  /** Where the console's input arrives from the main thread (runGuest's `sendConsoleInput`). */
  consoleInRing?: SharedArrayBuffer;
  /**
   * Where MSI-X messages go (the in-kernel irqchip's `Vm.signalMsi`): given, each virtio device
   * has an MSI-X capability, as QEMU's; absent (no local APIC), INTx only.
   */
  msi?: MsiSink;
}

export function buildPcPci(
  io: IoBus,
  irq: IrqSink,
  ram: Uint8Array,
  drives: readonly Drive[],
  extras: PciExtras = {},
): PciBus {
  const pci = new PciBus(irq);
  // CONFIG_ADDRESS is the dword at 0xcf8 only: byte accesses to 0xcf9 stay PIIX's reset control.
  io.register(PCI_CONFIG_ADDRESS, 1, pci);
  io.register(PCI_CONFIG_DATA, 4, pci);
  pci.plug(0, i440fxHostBridge());
  pci.plug(1 << 3, piix3IsaBridge());
  const mem = new GuestMemory(ram);
  drives.forEach((drive, n) => {
    pci.plug(pci.freeSlot(), new VirtioPciDevice(`virtio-blk${n}`, new VirtioBlk(drive), mem, extras.msi));
  });
  (extras.nics ?? []).forEach((nic, n) => {
    const mac = (nic.mac !== undefined ? parseMac(nic.mac) : undefined) ?? defaultMac(n);
    let backend: NetBackend;
    if ((nic.netdev === 'socket' || nic.netdev === 'tap') && nic.rxRing) {
      const ring = ringBackend(openFrameRing(nic.rxRing), (frame) => extras.netOut?.(n, frame));
      pci.pollers.push(ring.poll);
      backend = ring;
    } else if (nic.rxRing) {
      // -netdev user with the NAT in the main thread: TCP and UDP go there as socket frames do.
      const user = userNetBackend(
        new UserNet((frame) => extras.netOut?.(n, frame)),
        openFrameRing(nic.rxRing),
      );
      pci.pollers.push(user.poll);
      backend = user;
    } else backend = userNetBackend(new UserNet());
    const device = new VirtioNet(mac, backend);
    pci.plug(pci.freeSlot(), new VirtioPciDevice(`virtio-net${n}`, device, mem, extras.msi));
  });
  for (let n = 0; n < (extras.virtioRng ?? 0); n++)
    pci.plug(pci.freeSlot(), new VirtioPciDevice(`virtio-rng${n}`, new VirtioRng(), mem, extras.msi));
  if (extras.virtioConsole) {
    const console = new VirtioConsole(extras.consoleOut ?? (() => {}));
    if (extras.consoleInRing) {
      const ring = openFrameRing(extras.consoleInRing);
      pci.pollers.push(() => {
        for (let b = frameRingRead(ring); b !== undefined; b = frameRingRead(ring)) console.input(b);
      });
    }
    pci.plug(pci.freeSlot(), new VirtioPciDevice('virtio-console', console, mem, extras.msi));
  }
  pci.assignResources();
  return pci;
}
