/**
 * `-netdev tap,ifname=NAME`, QEMU's net/tap.c without its helper scripts: the NIC's frames go to
 * and come from the host's tap interface NAME (created if missing, which needs CAP_NET_ADMIN;
 * its addresses, bridge and link state are the host's business: `ip addr add … dev NAME; ip link
 * set NAME up`, as a `script=` would). @kvm/host's addon opens it (TUNSETIFF) and reads it on a
 * thread of its own; this is the main thread's end, beside socket-netdev.ts.
 */
import { type HostTap, openTap } from '@kvm/host';

export class TapNetdev {
  private onFrame: (frame: Uint8Array) => void = () => {};
  /** Frames the host's queue had no room for (dropped, as a NIC's would be). */
  readonly counters = { txDropped: 0 };

  private constructor(private readonly tap: HostTap) {}

  /** Opens the tap; throws an Error naming the netdev and saying what to do when it cannot. */
  static open(ifname: string): TapNetdev {
    let tap: HostTap;
    try {
      tap = openTap(ifname);
    } catch (error) {
      throw new Error(`-netdev tap,ifname=${ifname}: ${(error as Error).message}`);
    }
    const nd = new TapNetdev(tap);
    tap.onFrame((frame) => nd.onFrame(frame));
    return nd;
  }

  /** The interface's name as the kernel has it (`tap%d` resolved). */
  get ifname(): string {
    return this.tap.ifname;
  }

  /** Where received frames go (to the NIC's ring). */
  setReceiver(deliver: (frame: Uint8Array) => void): void {
    this.onFrame = deliver;
  }

  /** A frame from the guest. */
  send(frame: Uint8Array): void {
    if (!this.tap.write(frame)) this.counters.txDropped++;
  }

  close(): void {
    this.tap.close();
  }
}
