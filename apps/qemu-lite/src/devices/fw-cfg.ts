/**
 * QEMU's fw_cfg device through its traditional I/O interface: a 16-bit selector at 0x510 and a
 * byte-wide data port at 0x511 (QEMU docs/specs/fw_cfg.rst). Selecting an item rewinds it;
 * each data read returns the next byte, zero past the end or for an item that does not exist.
 * Writes to the data port are ignored (QEMU ≥ 2.4 ignores them too). No DMA interface: the ID
 * item says so (bit 1 clear).
 *
 * Items: the "QEMU" signature, the interface ID, RAM size, CPU counts, the kernel command line
 * (size and data, as QEMU's -kernel/-append put them), and an empty file directory.
 */
import type { PortIoDevice } from './types.js';

export const FW_CFG_PORT_SEL = 0x510;
export const FW_CFG_PORT_DATA = 0x511;

/** Selector keys, from QEMU's include/standard-headers/linux/qemu_fw_cfg.h. */
export const FW_CFG = {
  SIGNATURE: 0x00,
  ID: 0x01,
  RAM_SIZE: 0x03,
  NOGRAPHIC: 0x04,
  NB_CPUS: 0x05,
  MAX_CPUS: 0x0f,
  CMDLINE_SIZE: 0x14,
  CMDLINE_DATA: 0x15,
  FILE_DIR: 0x19,
} as const;

export interface FwCfgConfig {
  ramSize: number;
  cpus: number;
  cmdline: string;
  nographic: boolean;
}

function le(value: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let v = BigInt(value);
  for (let i = 0; i < bytes; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

export class FwCfg implements PortIoDevice {
  readonly name = 'fw_cfg';
  private readonly items = new Map<number, Uint8Array>();
  private current: Uint8Array | undefined;
  private offset = 0;

  constructor(config: FwCfgConfig) {
    this.items.set(FW_CFG.SIGNATURE, new TextEncoder().encode('QEMU'));
    this.items.set(FW_CFG.ID, le(1, 4)); // traditional interface only
    this.items.set(FW_CFG.RAM_SIZE, le(config.ramSize, 8));
    this.items.set(FW_CFG.NOGRAPHIC, le(config.nographic ? 1 : 0, 2));
    this.items.set(FW_CFG.NB_CPUS, le(config.cpus, 2));
    this.items.set(FW_CFG.MAX_CPUS, le(config.cpus, 2));
    // QEMU counts the terminating NUL in the size and sends it with the data.
    const cmdline = new TextEncoder().encode(`${config.cmdline}\0`);
    this.items.set(FW_CFG.CMDLINE_SIZE, le(cmdline.length, 4));
    this.items.set(FW_CFG.CMDLINE_DATA, cmdline);
    this.items.set(FW_CFG.FILE_DIR, new Uint8Array(4)); // big-endian count 0
  }

  /** System reset: nothing selected, as at power-on (the items themselves are fixed). */
  reset(): void {
    this.current = undefined;
    this.offset = 0;
  }

  /** Selects `key`: the next data read returns its first byte. */
  select(key: number): void {
    // Bit 14 (write) and bit 15 (arch-local) are part of the key; we have no such items.
    this.current = this.items.get(key & 0xffff);
    this.offset = 0;
  }

  ioIn(port: number, size: number): number {
    if (port !== FW_CFG_PORT_DATA) return size === 2 ? 0xffff : 0xff;
    // Wider reads of the data port return the next bytes in order (QEMU: "readable in any width").
    let value = 0;
    for (let i = 0; i < size; i++) {
      const item = this.current;
      const byte = item && this.offset < item.length ? item[this.offset] : 0;
      if (item && this.offset < item.length) this.offset++;
      value |= byte << (8 * i);
    }
    return value >>> 0;
  }

  ioOut(port: number, _size: number, value: number): void {
    if (port === FW_CFG_PORT_SEL) this.select(value & 0xffff);
  }
}
