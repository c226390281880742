/** Defaults for the machine interfaces: no devices, no extra MSRs, CPUID describing x86emu. */
import type { CpuidOps, MsrOps, PortIoOps } from '../api/platform.js';

export const nullIo: PortIoOps = {
  portIn: (_port, size) => (size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff),
  portOut: () => {},
};

export const nullMsr: MsrOps = {
  rdmsr: () => false,
  wrmsr: () => false,
};

/** CPUID.1:EDX feature bits x86emu implements (SDM Vol. 2 CPUID, Table 3-11). */
export const CPUID1_EDX =
  (1 << 0) | // FPU: the x87 (exec/x87)
  (1 << 2) | // DE: CR4.DE, DR4/DR5 #UD
  (1 << 3) | // PSE: 4 MiB pages
  (1 << 4) | // TSC
  (1 << 5) | // MSR: RDMSR/WRMSR
  (1 << 6) | // PAE
  (1 << 8) | // CX8: CMPXCHG8B
  (1 << 11) | // SEP: SYSENTER/SYSEXIT
  (1 << 13) | // PGE: global pages
  (1 << 15) | // CMOV
  (1 << 16) | // PAT: IA32_PAT (types kept, caching not modelled)
  (1 << 17) | // PSE-36
  (1 << 19) | // CLFSH: CLFLUSH (line size in CPUID.1:EBX[15:8])
  (1 << 23) | // MMX
  (1 << 24) | // FXSR: FXSAVE/FXRSTOR
  (1 << 25) | // SSE
  (1 << 26); // SSE2

/** CPUID.1:EBX: CLFLUSH line size in bits 15:8, in 8-byte units (8 × 8 = 64 bytes), as CLFSH requires. */
export const CPUID1_EBX = 8 << 8;

/** CPUID.1:ECX feature bits x86emu implements (SDM Vol. 2 CPUID, Table 3-10). */
export const CPUID1_ECX =
  (1 << 0) | // SSE3
  (1 << 9) | // SSSE3
  (1 << 13) | // CX16: CMPXCHG16B
  (1 << 19) | // SSE4.1
  (1 << 20) | // SSE4.2
  (1 << 23) | // POPCNT
  (1 << 26) | // XSAVE: XSAVE/XRSTOR/XSAVEOPT/XGETBV/XSETBV, CR4.OSXSAVE, XCR0 (x87 and SSE)
  (1 << 30); // RDRAND

/** CPUID.(EAX=7, ECX=0):EBX feature bits x86emu implements (SDM Vol. 2 CPUID, Table 3-8): RDSEED. */
export const CPUID7_EBX = 1 << 18;
/** CPUID.(EAX=7, ECX=0):EDX feature bits x86emu implements: SERIALIZE (bit 14). */
export const CPUID7_EDX = 1 << 14;

/** CPUID.1:ECX.OSXSAVE (bit 27): not a constant, it reads CR4.OSXSAVE (the CPUID instruction sets it). */
export const CPUID1_ECX_OSXSAVE = 1 << 27;

/**
 * The highest basic leaf: 0DH, the XSAVE leaf (of leaves 2–0CH only 7 describes something x86emu
 * has, RDSEED and SERIALIZE; the rest are zeros).
 */
const MAX_BASIC_LEAF = 0xd;

/**
 * CPUID leaf 0DH (SDM Vol. 1 13.2): sub-leaf 0: the XCR0 bits supported (x87, SSE) and the XSAVE
 * area size (512-byte legacy region + 64-byte header, whatever XCR0 enables); sub-leaf 1: XSAVEOPT
 * only (no XSAVEC, XGETBV with ECX = 1 or XSAVES); no other components.
 */
function xsaveLeaf(subleaf: number, out: Uint32Array): void {
  if (subleaf === 0) {
    out[0] = 0x3;
    out[1] = 576;
    out[2] = 576;
  } else if (subleaf === 1) out[0] = 0x1;
}

/**
 * CPUID.80000001H:EDX bits (SDM Vol. 2 CPUID, Table 3-8): SYSCALL/SYSRET, NX, Page1GB, RDTSCP,
 * Intel 64 (long mode).
 */
export const CPUID_EXT_EDX = (1 << 11) | (1 << 20) | (1 << 26) | (1 << 27) | (1 << 29);
/** CPUID.80000001H:ECX: LAHF/SAHF in 64-bit mode. */
export const CPUID_EXT_ECX = 1 << 0;

/**
 * GenuineIntel, family 6; only what is implemented: the x87, MMX and SSE through SSE4.2 with
 * POPCNT, XSAVE for the x87 and SSE components (leaf 0DH), RDRAND, RDSEED and SERIALIZE (leaf 7), no
 * VME, no APIC, no AVX. Extended leaves: long mode, SYSCALL, NX, RDTSCP, LAHF-LM; MAXPHYADDR 36 and
 * 48-bit linear addresses.
 */
export const defaultCpuid: CpuidOps = {
  cpuid(leaf, subleaf, out) {
    out[0] = out[1] = out[2] = out[3] = 0;
    switch (leaf >>> 0) {
      case 0:
        out[0] = MAX_BASIC_LEAF;
        out[1] = 0x756e6547; // "Genu"
        out[3] = 0x49656e69; // "ineI"
        out[2] = 0x6c65746e; // "ntel"
        break;
      case 1:
        out[0] = 0x00000633; // family 6, model 3, stepping 3
        out[1] = CPUID1_EBX;
        out[2] = CPUID1_ECX;
        out[3] = CPUID1_EDX;
        break;
      case 7:
        // Sub-leaf 0 only (EAX, the highest sub-leaf, is 0); the others are zeros.
        if (subleaf >>> 0 === 0) {
          out[1] = CPUID7_EBX;
          out[3] = CPUID7_EDX;
        }
        break;
      case 0xd:
        xsaveLeaf(subleaf >>> 0, out);
        break;
      case 0x80000000:
        out[0] = 0x80000008;
        break;
      case 0x80000001:
        out[2] = CPUID_EXT_ECX;
        out[3] = CPUID_EXT_EDX;
        break;
      case 0x80000008:
        out[0] = 0x3024; // 36 physical, 48 linear address bits
        break;
      default:
        // Leaves above the maximum return the highest basic leaf's data on Intel (SDM CPUID):
        // leaf 0DH's; leaves 2–6 and 8–0CH are zeros.
        if ((leaf >>> 0 > MAX_BASIC_LEAF && leaf >>> 0 < 0x80000000) || leaf >>> 0 > 0x80000008)
          xsaveLeaf(subleaf >>> 0, out);
        break;
    }
  },
};
