/**
 * The firmware tables of a PC as the ACPI table tests build them: qemu-lite's PM block (PIIX4's
 * ports at 0x600, the SCI on IRQ 9, reset by 6 to 0xcf9, the RTC's century byte), one vCPU with
 * a local APIC, in 2 MiB of RAM; `extra` adds or overrides what a test is about (`pm` field by
 * field).
 */
import { type FirmwareTablesConfig, writeFirmwareTables } from '../../src/acpi/build.js';
import { RTC_CENTURY } from '../../src/devices/cmos.js';

type PcTablesExtra = Partial<Omit<FirmwareTablesConfig, 'pm'>> & { pm?: Partial<FirmwareTablesConfig['pm']> };

export function pcTables({ pm, ...extra }: PcTablesExtra = {}) {
  const ram = new Uint8Array(2 * 1024 * 1024);
  const layout = writeFirmwareTables(ram, {
    cpus: 1,
    apic: true,
    cpuSignature: 0x663,
    cpuFeatures: 0,
    ...extra,
    pm: {
      sciIrq: 9,
      pm1aEvtPort: 0x600,
      pm1aCntPort: 0x604,
      pmTmrPort: 0x608,
      pmTimerBits: 32,
      resetPort: 0xcf9,
      resetValue: 6,
      centuryIndex: RTC_CENTURY,
      ...pm,
    },
  });
  return { ram, view: new DataView(ram.buffer), layout };
}
