/**
 * The state a PC BIOS leaves behind when it hands over to a kernel, which qemu-lite (having no
 * firmware) must set up itself for a `-kernel` boot, as QEMU with SeaBIOS presents it:
 *
 * - the i8259 pair initialised (SeaBIOS `pic_setup` → `pic_reset(0x08, 0x70)`: ICW1 edge +
 *   ICW4, ICW2 vector bases 0x08 master / 0x70 slave, ICW3 cascade on IR2, ICW4 8086 mode),
 *   every line masked but the cascade, then the lines SeaBIOS's own handlers use unmasked
 *   (`enable_hwirq`): IRQ 0 (timer) and IRQ 8 (RTC) in `clock_setup`, IRQ 1 and IRQ 12 (PS/2
 *   keyboard and mouse) in `ps2port_setup`. Without this the PIC is still waiting for ICW1 and
 *   its vector base is 0: a fresh guest's `sti` took IRQ 0 as vector 0 (#DE).
 * - with a PCI bus, the PIIX ELCR (ports 0x4d0/0x4d1) with IRQs 10 and 11 level-triggered: SeaBIOS
 *   `piix_isa_bridge_setup` routes PIRQA–D to IRQs 10, 10, 11, 11 and sets each one's ELCR bit,
 *   since PCI INTx lines are level and shared (a second device's interrupt on an edge-triggered
 *   8259 input that is already high would be lost).
 * - the i8254's channel 0 in mode 3 with count 0 (65536, 18.2 Hz), SeaBIOS `pit_setup`: that is
 *   already the state `I8254.reset` gives the userspace PIT (see i8254.ts); the kernel's is
 *   loaded with KVM_SET_PIT2 (`biosKvmPitChannel0`).
 * - with the in-kernel irqchip, the same PIC state loaded with KVM_SET_IRQCHIP (`biosKvmPicState`).
 * - the BIOS data area (segment 0x40) fields guests read: COM port table, EBDA segment,
 *   equipment word, base memory size; and the EBDA's own size byte.
 */
import type { KvmPitChannelState } from '@kvm/core';
import { COM1_BASE } from './serial.js';
import type { PortIoDevice } from './types.js';

/** Vector bases SeaBIOS programs (BIOS_HWIRQ0_VECTOR, BIOS_HWIRQ8_VECTOR): the PC/AT's. */
export const BIOS_HWIRQ0_VECTOR = 0x08;
export const BIOS_HWIRQ8_VECTOR = 0x70;
/** IMR values left: IRQ 0, 1, 2 (cascade) open on the master; IRQ 8 and 12 on the slave. */
export const BIOS_PIC1_IMR = 0xff & ~((1 << 0) | (1 << 1) | (1 << 2));
export const BIOS_PIC2_IMR = 0xff & ~((1 << (8 - 8)) | (1 << (12 - 8)));
/** The PIIX's edge/level control registers: ELCR1 (IRQs 0–7) and ELCR2 (IRQs 8–15). */
export const PIIX_PORT_ELCR1 = 0x4d0;
export const PIIX_PORT_ELCR2 = 0x4d1;
/** ELCR (IRQ n = bit n) SeaBIOS leaves when PCI devices use the PIRQs: IRQs 10 and 11 level. */
export const BIOS_PCI_ELCR = (1 << 10) | (1 << 11);

/** BDA offsets (physical 0x400 + offset), as SeaBIOS's `struct bios_data_area_s`. */
export const BDA_GPA = 0x400;
export const BDA_PORT_COM = 0x00; // u16[4]: COM1..COM4 base ports
export const BDA_PORT_LPT = 0x08; // u16[3]: LPT1..LPT3
export const BDA_EBDA_SEG = 0x0e; // u16: EBDA segment
export const BDA_EQUIPMENT = 0x10; // u16: equipment list flags (INT 11h)
export const BDA_MEM_SIZE_KB = 0x13; // u16: conventional memory in KiB (INT 12h)

/**
 * Programs `pic` (the I8259Pair, or anything decoding ports 0x20/0x21/0xa0/0xa1 and the ELCR)
 * through its ports, exactly the writes SeaBIOS's `pic_reset` and `enable_hwirq` make, then, when
 * `elcr` is not 0 (a machine with a PCI bus: `BIOS_PCI_ELCR`), `piix_isa_bridge_setup`'s ELCR
 * writes. ICW1 leaves the ELCR alone on the PIIX (QEMU `pic_init_reset`, KVM `kvm_pic_reset`).
 */
export function programBiosPic(pic: PortIoDevice, elcr = 0): void {
  const out = (port: number, value: number) => pic.ioOut(port, 1, value);
  out(0x20, 0x11); // ICW1: edge triggered, cascade, ICW4 needed
  out(0xa0, 0x11);
  out(0x21, BIOS_HWIRQ0_VECTOR); // ICW2
  out(0xa1, BIOS_HWIRQ8_VECTOR);
  out(0x21, 0x04); // ICW3: slave on IR2
  out(0xa1, 0x02); // ICW3: slave identity 2
  out(0x21, 0x01); // ICW4: 8086 mode, normal EOI
  out(0xa1, 0x01);
  out(0x21, BIOS_PIC1_IMR); // OCW1
  out(0xa1, BIOS_PIC2_IMR);
  if (elcr !== 0) {
    out(PIIX_PORT_ELCR1, elcr & 0xff);
    out(PIIX_PORT_ELCR2, elcr >>> 8);
  }
}

/** `struct kvm_pic_state` byte offsets (KVM_GET/SET_IRQCHIP, chips 0 and 1). */
const KVM_PIC_IMR = 2;
const KVM_PIC_IRQ_BASE = 5;
const KVM_PIC_INIT_STATE = 9;
const KVM_PIC_INIT4 = 13;
const KVM_PIC_ELCR = 14;
const KVM_PIC_ELCR_MASK = 15;

/**
 * The in-kernel 8259 (`kvm_pic_state`, as KVM_GET_IRQCHIP gave it after reset) edited into the
 * state `programBiosPic`'s writes leave in KVM's i8259 (`pic_ioport_write`): ICW1 reset the
 * chip and set init4; ICW2 set irq_base; ICW4 (8086 mode, no auto-EOI, not special fully nested)
 * ended the sequence (init_state 0); OCW1 set the IMR; the ELCR write (`elcr`, IRQ n = bit n, as
 * `programBiosPic` takes it) set this chip's byte of it, through the kernel's own `elcr_mask`
 * (0xf8 master, 0xde slave: `kvm_create_pic`). Everything else stays at reset. KVM_SET_IRQCHIP
 * then loads it, where QEMU's SeaBIOS would have made the same port writes.
 */
export function biosKvmPicState(chip: Uint8Array, slave: boolean, elcr = 0): void {
  chip[KVM_PIC_IMR] = slave ? BIOS_PIC2_IMR : BIOS_PIC1_IMR;
  chip[KVM_PIC_IRQ_BASE] = slave ? BIOS_HWIRQ8_VECTOR : BIOS_HWIRQ0_VECTOR;
  chip[KVM_PIC_INIT_STATE] = 0;
  chip[KVM_PIC_INIT4] = 1;
  chip[KVM_PIC_ELCR] = (slave ? elcr >>> 8 : elcr) & 0xff & chip[KVM_PIC_ELCR_MASK];
}

/** `kvm_pit_channel_state.mode`/`rw_mode` values: mode 3 (square wave), lobyte then hibyte. */
const PIT_MODE_SQUARE_WAVE = 3;
const PIT_RW_STATE_WORD0 = 3;

/**
 * Channel 0 of the in-kernel i8254 (KVM_SET_PIT2) as SeaBIOS `pit_setup` leaves it: control word
 * 0x36 (lobyte/hibyte, mode 3, binary) then count 0 (65536: 18.2 Hz), gate high. KVM's
 * `kvm_pit_load_count` starts the periodic timer from this; the load time is the kernel's own.
 */
export function biosKvmPitChannel0(): KvmPitChannelState {
  return {
    count: 0,
    latchedCount: 0,
    countLatched: 0,
    statusLatched: 0,
    status: 0,
    readState: PIT_RW_STATE_WORD0,
    writeState: PIT_RW_STATE_WORD0,
    writeLatch: 0,
    rwMode: PIT_RW_STATE_WORD0,
    mode: PIT_MODE_SQUARE_WAVE,
    bcd: 0,
    gate: 1,
    countLoadTime: 0n,
  };
}

/**
 * Writes the BDA fields and the EBDA size byte into guest RAM. `ebdaStart` is where
 * conventional memory ends (the EBDA's first byte, 1 KiB aligned): the base memory size
 * (0x413) is its KiB count and the EBDA segment (0x40E) its paragraph, as SeaBIOS's
 * `init_bda` leaves them; the EBDA's byte 0 is its size in KiB.
 */
export function writeBiosDataArea(ram: Uint8Array, ebdaStart: number, ebdaEnd: number): void {
  const bda = new DataView(ram.buffer, ram.byteOffset + BDA_GPA, 0x100);
  bda.setUint16(BDA_PORT_COM, COM1_BASE, true);
  for (let i = 1; i < 4; i++) bda.setUint16(BDA_PORT_COM + 2 * i, 0, true);
  for (let i = 0; i < 3; i++) bda.setUint16(BDA_PORT_LPT + 2 * i, 0, true);
  bda.setUint16(BDA_EBDA_SEG, ebdaStart >>> 4, true);
  // Equipment word: bits 9–11 the number of serial ports (SeaBIOS `serial_setup`), bit 1 an x87
  // (every CPU qemu-lite presents has one).
  bda.setUint16(BDA_EQUIPMENT, (1 << 9) | (1 << 1), true);
  bda.setUint16(BDA_MEM_SIZE_KB, ebdaStart >>> 10, true);
  ram[ebdaStart] = (ebdaEnd - ebdaStart) >>> 10;
}
