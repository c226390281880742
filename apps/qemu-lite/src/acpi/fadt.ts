/**
 * The Fixed ACPI Description Table ("FACP", ACPI 6.4 5.2.9, Table 5.9), revision 6, 276 bytes,
 * and the Firmware ACPI Control Structure ("FACS", 5.2.10, Table 5.14) it points to. Values as
 * QEMU's `build_fadt` writes for the pc machine: SCI on IRQ 9, no SMI command port (the machine
 * is in ACPI mode from power-on), the PM1a event/control blocks and PM timer at PIIX4's ports,
 * the reset register at port 0xcf9, the RTC century at CMOS index 0x32.
 */
import {
  finishSdt,
  GAS_ACCESS_BYTE,
  GAS_ACCESS_DWORD,
  GAS_ACCESS_WORD,
  startSdt,
  writeIoGas,
} from './sdt.js';

export const FADT_REVISION = 6;
export const FADT_MINOR_REVISION = 4;
export const FADT_SIZE = 276;

/** Byte offsets of the FADT's fields (ACPI 6.4 Table 5.9). */
export const FADT = {
  FIRMWARE_CTRL: 36,
  DSDT: 40,
  PREFERRED_PM_PROFILE: 45,
  SCI_INT: 46,
  SMI_CMD: 48,
  ACPI_ENABLE: 52,
  ACPI_DISABLE: 53,
  PM1A_EVT_BLK: 56,
  PM1B_EVT_BLK: 60,
  PM1A_CNT_BLK: 64,
  PM1B_CNT_BLK: 68,
  PM2_CNT_BLK: 72,
  PM_TMR_BLK: 76,
  GPE0_BLK: 80,
  GPE1_BLK: 84,
  PM1_EVT_LEN: 88,
  PM1_CNT_LEN: 89,
  PM2_CNT_LEN: 90,
  PM_TMR_LEN: 91,
  GPE0_BLK_LEN: 92,
  P_LVL2_LAT: 96,
  P_LVL3_LAT: 98,
  CENTURY: 108,
  IAPC_BOOT_ARCH: 109,
  FLAGS: 112,
  RESET_REG: 116,
  RESET_VALUE: 128,
  ARM_BOOT_ARCH: 129,
  MINOR_VERSION: 131,
  X_FIRMWARE_CTRL: 132,
  X_DSDT: 140,
  X_PM1A_EVT_BLK: 148,
  X_PM1B_EVT_BLK: 160,
  X_PM1A_CNT_BLK: 172,
  X_PM1B_CNT_BLK: 184,
  X_PM2_CNT_BLK: 196,
  X_PM_TMR_BLK: 208,
  X_GPE0_BLK: 220,
  X_GPE1_BLK: 232,
  SLEEP_CONTROL_REG: 244,
  SLEEP_STATUS_REG: 256,
  HYPERVISOR_VENDOR_ID: 268,
} as const;

/** FADT Flags (ACPI 6.4 Table 5.10). */
export const FADT_F_WBINVD = 1 << 0;
export const FADT_F_PROC_C1 = 1 << 2;
/** Set: there is no fixed-feature sleep button. */
export const FADT_F_SLP_BUTTON = 1 << 5;
export const FADT_F_RTC_S4 = 1 << 7;
/** Set: the PM timer counts 32 bits; clear: 24. */
export const FADT_F_TMR_VAL_EXT = 1 << 8;
export const FADT_F_RESET_REG_SUP = 1 << 10;

/** IA-PC boot architecture flags (ACPI 6.4 Table 5.11): ISA devices and an 8042 are present. */
export const IAPC_BOOT_ARCH_LEGACY_DEVICES = 1 << 0;
export const IAPC_BOOT_ARCH_8042 = 1 << 1;

export interface FadtParams {
  facsGpa: number;
  dsdtGpa: number;
  sciIrq: number;
  pm1aEvtPort: number;
  pm1aCntPort: number;
  pmTmrPort: number;
  /** The PM timer's width: 24 or 32 bits (TMR_VAL_EXT). */
  pmTimerBits: 24 | 32;
  resetPort: number;
  resetValue: number;
  /** CMOS RAM index of the RTC's century byte. */
  centuryIndex: number;
}

export function buildFadt(p: FadtParams): Uint8Array {
  const w = startSdt('FACP', FADT_SIZE, FADT_REVISION);
  w.u32(FADT.FIRMWARE_CTRL, p.facsGpa);
  w.u32(FADT.DSDT, p.dsdtGpa);
  w.u8(FADT.PREFERRED_PM_PROFILE, 0); // unspecified, as QEMU
  w.u16(FADT.SCI_INT, p.sciIrq);
  // SMI_CMD 0: ACPI mode is always on; the OS must not try the ACPI_ENABLE handshake.
  w.u32(FADT.SMI_CMD, 0);
  w.u32(FADT.PM1A_EVT_BLK, p.pm1aEvtPort);
  w.u32(FADT.PM1A_CNT_BLK, p.pm1aCntPort);
  w.u32(FADT.PM_TMR_BLK, p.pmTmrPort);
  w.u8(FADT.PM1_EVT_LEN, 4);
  w.u8(FADT.PM1_CNT_LEN, 2);
  w.u8(FADT.PM_TMR_LEN, 4);
  // C2/C3 latencies above 100/1000 µs say "not supported" (ACPI 6.4 Table 5.9), as QEMU writes.
  w.u16(FADT.P_LVL2_LAT, 0xfff);
  w.u16(FADT.P_LVL3_LAT, 0xffff);
  w.u8(FADT.CENTURY, p.centuryIndex);
  w.u16(FADT.IAPC_BOOT_ARCH, IAPC_BOOT_ARCH_LEGACY_DEVICES | IAPC_BOOT_ARCH_8042);
  w.u32(
    FADT.FLAGS,
    FADT_F_WBINVD |
      FADT_F_PROC_C1 |
      FADT_F_SLP_BUTTON |
      FADT_F_RTC_S4 |
      FADT_F_RESET_REG_SUP |
      (p.pmTimerBits === 32 ? FADT_F_TMR_VAL_EXT : 0),
  );
  writeIoGas(w, FADT.RESET_REG, p.resetPort, 8, GAS_ACCESS_BYTE);
  w.u8(FADT.RESET_VALUE, p.resetValue);
  w.u8(FADT.MINOR_VERSION, FADT_MINOR_REVISION);
  // X_FIRMWARE_CTRL stays 0: it is for a FACS above 4 GiB and must be zero when FIRMWARE_CTRL
  // is not (ACPI 6.4 Table 5.9); Linux otherwise installs the FACS twice.
  w.u64(FADT.X_DSDT, p.dsdtGpa);
  writeIoGas(w, FADT.X_PM1A_EVT_BLK, p.pm1aEvtPort, 32, GAS_ACCESS_WORD);
  writeIoGas(w, FADT.X_PM1A_CNT_BLK, p.pm1aCntPort, 16, GAS_ACCESS_WORD);
  writeIoGas(w, FADT.X_PM_TMR_BLK, p.pmTmrPort, 32, GAS_ACCESS_DWORD);
  return finishSdt(w);
}

/** FACS (ACPI 6.4 Table 5.14): 64 bytes, 64-byte aligned, no checksum. */
export const FACS_SIZE = 64;
export const FACS_VERSION = 2;

export function buildFacs(): Uint8Array {
  const bytes = new Uint8Array(FACS_SIZE);
  const view = new DataView(bytes.buffer);
  bytes.set([0x46, 0x41, 0x43, 0x53], 0); // "FACS"
  view.setUint32(4, FACS_SIZE, true);
  // Hardware signature (8), waking vectors (12, 24), global lock (16), flags (20): all zero.
  bytes[32] = FACS_VERSION;
  return bytes;
}
