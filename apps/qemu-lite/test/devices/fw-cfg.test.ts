import { describe, expect, it } from 'vitest';
import { FW_CFG, FwCfg } from '../../src/devices/fw-cfg.js';

function readItem(dev: FwCfg, key: number, length: number): number[] {
  dev.ioOut(0x510, 2, key);
  return Array.from({ length }, () => dev.ioIn(0x511, 1));
}

describe('fw_cfg', () => {
  const dev = () => new FwCfg({ ramSize: 256 << 20, cpus: 1, cmdline: 'console=ttyS0', nographic: true });

  it('returns the QEMU signature, then zeros past the end', () => {
    expect(String.fromCharCode(...readItem(dev(), FW_CFG.SIGNATURE, 4))).toBe('QEMU');
    expect(readItem(dev(), FW_CFG.SIGNATURE, 6).slice(4)).toEqual([0, 0]);
  });

  it('reports the traditional interface only in the ID', () => {
    expect(readItem(dev(), FW_CFG.ID, 4)).toEqual([1, 0, 0, 0]);
  });

  it('reports RAM size as a little-endian u64 and the CPU count as a u16', () => {
    const ram = readItem(dev(), FW_CFG.RAM_SIZE, 8);
    expect(ram).toEqual([0, 0, 0, 0x10, 0, 0, 0, 0]);
    expect(readItem(dev(), FW_CFG.NB_CPUS, 2)).toEqual([1, 0]);
  });

  it('carries the command line with its NUL, and its size', () => {
    const d = dev();
    expect(readItem(d, FW_CFG.CMDLINE_SIZE, 4)).toEqual([14, 0, 0, 0]);
    expect(String.fromCharCode(...readItem(d, FW_CFG.CMDLINE_DATA, 14))).toBe('console=ttyS0\0');
  });

  it('rewinds on reselect and reads zeros for an unknown key', () => {
    const d = dev();
    readItem(d, FW_CFG.SIGNATURE, 2);
    expect(readItem(d, FW_CFG.SIGNATURE, 1)).toEqual([0x51]);
    expect(readItem(d, 0x1234, 3)).toEqual([0, 0, 0]);
  });

  it('reads consecutive bytes with a wider access', () => {
    const d = dev();
    d.ioOut(0x510, 2, FW_CFG.SIGNATURE);
    expect(d.ioIn(0x511, 4)).toBe(0x554d4551);
  });
});
