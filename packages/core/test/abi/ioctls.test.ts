import { describe, expect, it } from 'vitest';
import {
  _IOC,
  _IOC_DIR,
  _IOC_NR,
  _IOC_SIZE,
  _IOC_TYPE,
  capName,
  exitReasonName,
  IOC_READ,
  IOC_WRITE,
  ioctlArgSize,
  ioctlByRequest,
  ioctlName,
  KVM_CAP,
  KVM_EXIT,
  KVM_IOCTL,
  KVM_IOCTL_TABLE,
  KVMIO,
  kvmCpuid2,
  kvmMsrs,
  kvmRegs,
  lookupIoctl,
} from '../../src/index.js';

describe('ioctl request numbers', () => {
  it('pack dir, size, type and nr into the asm-generic bit fields', () => {
    // _IOR(0xAE, 0x81, 144): dir 2 at bit 30, size at bit 16, type at bit 8.
    const r = _IOC(IOC_READ, KVMIO, 0x81, 144);
    expect(r).toBe(2 * 2 ** 30 + 144 * 2 ** 16 + 0xae * 2 ** 8 + 0x81);
    expect(r).toBeGreaterThan(0); // unsigned, even with bit 31 set
    expect([_IOC_DIR(r), _IOC_TYPE(r), _IOC_NR(r), _IOC_SIZE(r)]).toEqual([IOC_READ, KVMIO, 0x81, 144]);
  });

  it('refuse fields that do not fit their bits', () => {
    expect(() => _IOC(4, KVMIO, 0, 0)).toThrow(RangeError);
    expect(() => _IOC(IOC_WRITE, KVMIO, 256, 0)).toThrow(RangeError);
    expect(() => _IOC(IOC_WRITE, KVMIO, 0, 1 << 14)).toThrow(RangeError);
  });

  it.each(KVM_IOCTL_TABLE.map((d) => [d.name, d] as const))(
    '%s decomposes back into its table row',
    (_, d) => {
      const dirBits = { IO: 0, IOR: IOC_READ, IOW: IOC_WRITE, IOWR: IOC_READ | IOC_WRITE }[d.dir];
      expect(_IOC_TYPE(d.request)).toBe(KVMIO);
      expect(_IOC_NR(d.request)).toBe(d.nr);
      expect(_IOC_DIR(d.request)).toBe(dirBits);
      expect(_IOC_SIZE(d.request)).toBe(d.arg?.size ?? 0);
      expect(d.dir === 'IO').toBe(d.arg === null);
      expect(KVM_IOCTL[d.name]).toBe(d.request);
    },
  );

  it('take struct sizes from the codecs', () => {
    expect(_IOC_SIZE(KVM_IOCTL.KVM_GET_REGS)).toBe(kvmRegs.size);
    expect(_IOC_SIZE(KVM_IOCTL.KVM_SET_REGS)).toBe(kvmRegs.size);
  });

  it('index the table by the whole request: 0xa5 is KVM_SET_XSAVE on a vCPU and KVM_SIGNAL_MSI on a VM', () => {
    for (const d of KVM_IOCTL_TABLE) expect(ioctlByRequest.get(d.request)).toBe(d);
    expect(ioctlByRequest.size).toBe(KVM_IOCTL_TABLE.length);
    // <linux/kvm.h>: _IOW(KVMIO, 0xa5, struct kvm_xsave) and _IOW(KVMIO, 0xa5, struct kvm_msi).
    expect(KVM_IOCTL.KVM_SET_XSAVE).toBe(0x5000aea5);
    expect(KVM_IOCTL.KVM_SIGNAL_MSI).toBe(0x4020aea5);
    expect(lookupIoctl(0x5000aea5)?.scopes).toEqual(['vcpu']);
    expect(lookupIoctl(0x4020aea5)?.scopes).toEqual(['vm']);
    expect(KVM_IOCTL.KVM_GET_XSAVE).toBe(0x9000aea4);
    expect(KVM_IOCTL.KVM_GET_XCRS).toBe(0x8188aea6);
    expect(KVM_IOCTL.KVM_SET_XCRS).toBe(0x4188aea7);
  });

  it('look up only exact requests: a wrong size or direction is unknown', () => {
    const run = KVM_IOCTL.KVM_RUN;
    expect(lookupIoctl(run)?.name).toBe('KVM_RUN');
    const getRegs = KVM_IOCTL.KVM_GET_REGS;
    expect(lookupIoctl(_IOC(IOC_READ, KVMIO, 0x81, 143))).toBeUndefined();
    expect(lookupIoctl(_IOC(IOC_WRITE, KVMIO, 0x81, 144))).toBeUndefined();
    expect(lookupIoctl(_IOC(IOC_READ, 0xaf, 0x81, 144))).toBeUndefined();
    expect(ioctlName(getRegs)).toBe('KVM_GET_REGS');
    expect(ioctlName(0x1234)).toBe('ioctl 0x1234');
  });

  it('say which fds each ioctl belongs to', () => {
    expect(lookupIoctl(KVM_IOCTL.KVM_CREATE_VM)?.scopes).toEqual(['system']);
    expect(lookupIoctl(KVM_IOCTL.KVM_CREATE_VCPU)?.scopes).toEqual(['vm']);
    expect(lookupIoctl(KVM_IOCTL.KVM_RUN)?.scopes).toEqual(['vcpu']);
    expect(lookupIoctl(KVM_IOCTL.KVM_CHECK_EXTENSION)?.scopes).toContain('vm');
  });
});

describe('ioctlArgSize', () => {
  it('is the struct size for a fixed struct, whatever the buffer holds', () => {
    expect(ioctlArgSize(KVM_IOCTL.KVM_GET_REGS, new Uint8Array(144).fill(0xff))).toBe(144);
  });

  it('adds the entries a flexible-array count promises', () => {
    expect(ioctlArgSize(KVM_IOCTL.KVM_SET_MSRS, kvmMsrs.encode([{ index: 1, data: 0n }], 3))).toBe(
      8 + 3 * 16,
    );
    expect(ioctlArgSize(KVM_IOCTL.KVM_GET_SUPPORTED_CPUID, kvmCpuid2.encode([], 10))).toBe(8 + 10 * 40);
    const mask = new Uint8Array(12);
    new DataView(mask.buffer).setUint32(0, 8, true);
    expect(ioctlArgSize(KVM_IOCTL.KVM_SET_SIGNAL_MASK, mask)).toBe(4 + 8);
  });

  it('falls back to the header size when the buffer cannot hold the count', () => {
    expect(ioctlArgSize(KVM_IOCTL.KVM_GET_MSRS, new Uint8Array(2))).toBe(8);
  });
});

describe('names', () => {
  it('name capabilities and exit reasons by number, and unknown numbers too', () => {
    expect(capName(KVM_CAP.USER_MEMORY)).toBe('KVM_CAP_USER_MEMORY');
    expect(capName(100000)).toBe('KVM_CAP_100000');
    expect(exitReasonName(KVM_EXIT.IO)).toBe('KVM_EXIT_IO');
    expect(exitReasonName(KVM_EXIT.INTERNAL_ERROR)).toBe('KVM_EXIT_INTERNAL_ERROR');
    expect(exitReasonName(999)).toBe('KVM_EXIT_999');
  });
});
