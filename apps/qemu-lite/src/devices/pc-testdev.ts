/**
 * QEMU's pc-testdev (hw/misc/pc-testdev.c), the device KVM's guest test suites probe:
 *
 * - ports 0xe0–0xe3: a 32-bit scratch register; an access of `size` bytes at port 0xe0 + n
 *   reads or writes bytes n … n + size − 1 of it (`test_ioport_read/write`);
 * - ports 0xe8–0xeb: the same register, split into byte accesses (QEMU's `ioport_byte` region,
 *   impl.max_access_size 1): a wider access reaches the same bytes, one at a time;
 * - port 0xe4 (4-byte writes): "flush page": QEMU mprotects the page at gpa (value & ~0xfff)
 *   away and back so that KVM's MMU notifier zaps its mappings; qemu-lite cannot unmap a page
 *   from under the engine, so this only tells `onFlushPage` (the guest sees no difference
 *   except that the next access is not forced through a fault);
 * - ports 0x2000–0x2017: ISA IRQ line n = port − 0x2000 set to (value != 0); the region's
 *   `valid.max_access_size` is 1, so QEMU's memory core splits a wider write into byte writes to
 *   successive lines (`flatview_write_continue` / `memory_access_size`): `outw 0x2004` with
 *   0x0100 lowers line 4 and raises line 5;
 * - gpa 0xff000000–0xff00ffff: 64 KiB of I/O memory that reads back what was written, but
 *   through MMIO exits (for testing the emulator's MMIO paths).
 *
 * Reads of the flush and IRQ regions return 0 (QEMU's `test_flush_page_read` and
 * `test_irq_line_read`; an access of a size their `valid` sizes refuse reads 0 too, QEMU's
 * `unassigned_mem_read`). Writes of a refused size are ignored.
 */
import type { IrqSink, PortIoDevice } from './types.js';

export const PC_TESTDEV_IOPORT = 0xe0;
export const PC_TESTDEV_FLUSH = 0xe4;
export const PC_TESTDEV_IOPORT_BYTE = 0xe8;
export const PC_TESTDEV_IRQ = 0x2000;
export const PC_TESTDEV_IRQ_LINES = 24;
export const PC_TESTDEV_IOMEM_GPA = 0xff000000;
export const PC_TESTDEV_IOMEM_LEN = 0x10000;

const ones = (size: number): number => (size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff);

export class PcTestdev implements PortIoDevice {
  readonly name = 'pc-testdev';
  /** The scratch register (QEMU `ioport_data`). */
  ioportData = 0;
  readonly iomem = new Uint8Array(PC_TESTDEV_IOMEM_LEN);

  constructor(
    private readonly irq: IrqSink,
    private readonly onFlushPage: (gpa: number) => void = () => {},
  ) {}

  reset(): void {
    // QEMU's pc-testdev has no reset handler: its scratch state survives a system reset.
  }

  private readScratch(offset: number, size: number): number {
    const startBit = (offset & 3) * 8;
    // QEMU computes the mask in 32 bits: bytes past byte 3 are simply not there (read 0).
    return ((this.ioportData >>> startBit) & ones(size)) >>> 0;
  }

  private writeScratch(offset: number, size: number, value: number): void {
    const startBit = (offset & 3) * 8;
    const mask = (ones(size) << startBit) >>> 0;
    this.ioportData = ((this.ioportData & ~mask) | ((value << startBit) & mask)) >>> 0;
  }

  ioIn(port: number, size: number): number {
    if (port >= PC_TESTDEV_IOPORT && port < PC_TESTDEV_IOPORT + 4) {
      return this.readScratch(port - PC_TESTDEV_IOPORT, size);
    }
    if (port >= PC_TESTDEV_IOPORT_BYTE && port < PC_TESTDEV_IOPORT_BYTE + 4) {
      let value = 0;
      for (let i = 0; i < size; i++) {
        value |= this.readScratch(port - PC_TESTDEV_IOPORT_BYTE + i, 1) << (8 * i);
      }
      return value >>> 0;
    }
    // The flush and IRQ regions' read handlers return 0.
    if (port >= PC_TESTDEV_FLUSH && port < PC_TESTDEV_FLUSH + 4) return 0;
    if (port >= PC_TESTDEV_IRQ && port < PC_TESTDEV_IRQ + PC_TESTDEV_IRQ_LINES) return 0;
    return ones(size);
  }

  ioOut(port: number, size: number, value: number): void {
    if (port >= PC_TESTDEV_IOPORT && port < PC_TESTDEV_IOPORT + 4) {
      this.writeScratch(port - PC_TESTDEV_IOPORT, size, value);
    } else if (port >= PC_TESTDEV_IOPORT_BYTE && port < PC_TESTDEV_IOPORT_BYTE + 4) {
      for (let i = 0; i < size; i++) {
        this.writeScratch(port - PC_TESTDEV_IOPORT_BYTE + i, 1, (value >>> (8 * i)) & 0xff);
      }
    } else if (port >= PC_TESTDEV_FLUSH && port < PC_TESTDEV_FLUSH + 4) {
      if (size === 4 && port === PC_TESTDEV_FLUSH) this.onFlushPage((value & ~0xfff) >>> 0);
    } else if (port >= PC_TESTDEV_IRQ && port < PC_TESTDEV_IRQ + PC_TESTDEV_IRQ_LINES) {
      // QEMU's `isa_get_irq` only has lines 0–15 (ISA_NUM_IRQS; a write above aborts QEMU):
      // here lines 16–23 are ignored.
      // One byte per line, as QEMU splits the access (max_access_size 1).
      for (let i = 0; i < size; i++) {
        const line = port - PC_TESTDEV_IRQ + i;
        if (line < 16) this.irq.setIrq(line, (value >>> (8 * i)) & 0xff ? 1 : 0);
      }
    }
  }

  /** Whether gpa [gpa, gpa + len) is inside the I/O-memory page. */
  claimsMmio(gpa: number, len: number): boolean {
    return gpa >= PC_TESTDEV_IOMEM_GPA && gpa + len <= PC_TESTDEV_IOMEM_GPA + PC_TESTDEV_IOMEM_LEN;
  }

  mmioRead(gpa: number, data: Uint8Array): void {
    const at = gpa - PC_TESTDEV_IOMEM_GPA;
    data.set(this.iomem.subarray(at, at + data.length));
  }

  mmioWrite(gpa: number, data: Uint8Array): void {
    this.iomem.set(data, gpa - PC_TESTDEV_IOMEM_GPA);
  }
}
