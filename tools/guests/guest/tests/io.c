/* Port I/O (SDM Vol. 1 19): IN/OUT of bytes, words and dwords with immediate and DX port
 * numbers, and string I/O (INS/OUTS) with REP, forwards and backwards. Ports used, all present
 * on a PC and in qemu-lite: CMOS NVRAM (0x70/0x71), the master PIC's mask register (0x21), the
 * UART's line and modem control registers (0x3fb, 0x3fc), POST port 0x80 (writes ignored),
 * and 0x2e8, where nothing answers: an ISA bus with no device reads all-ones. */
#include "lib.h"

#define NOPORT 0x2e8

static u8 cmos_read(u8 idx) {
  outb(0x70, idx);
  return inb(0x71);
}
static void cmos_write(u8 idx, u8 v) {
  outb(0x70, idx);
  outb(0x71, v);
}

int main(void) {
  report_begin("io");
  /* Bytes: CMOS NVRAM read-back. */
  for (u8 i = 0; i < 8; i++) cmos_write((u8)(0x40 + i), (u8)(0xa5 ^ (i * 0x11)));
  int bad = 0;
  for (u8 i = 0; i < 8; i++) bad += cmos_read((u8)(0x40 + i)) != (u8)(0xa5 ^ (i * 0x11));
  check_eq(0, bad, "io.byte.cmos-nvram-readback");
  /* Immediate-port forms (in/out imm8) against the PIC mask register. */
  u8 mask;
  __asm__ volatile("outb %%al, $0x21" ::"a"((u8)0x5a));
  __asm__ volatile("inb $0x21, %%al" : "=a"(mask));
  check_eq(0x5a, mask, "io.byte.imm8-port-pic-imr");
  outb(0x21, 0xff);
  check_eq(0xff, inb(0x21), "io.byte.dx-port-pic-imr");
  /* DX ports above 0xff: UART LCR and MCR. */
  outb(0x3fb, 0x1b);
  check_eq(0x1b, inb(0x3fb), "io.byte.uart-lcr-readback");
  outb(0x3fb, 0x03);
  outb(0x3fc, 0x0b);
  check_eq(0x0b, inb(0x3fc) & 0x1f, "io.byte.uart-mcr-readback");
  outb(0x3fc, 0x03);
  /* Nothing at NOPORT: all ones in every size. */
  check_eq(0xff, inb(NOPORT), "io.byte.unmapped-reads-ff");
  check_eq(0xffff, inw(NOPORT), "io.word.unmapped-reads-ffff");
  check_eq(0xffffffff, inl(NOPORT), "io.dword.unmapped-reads-ffffffff");
  /* Writes of every size to the POST port and to NOPORT: accepted, no fault. */
  outb(0x80, 0x12);
  outw(0x80, 0x1234);
  outl(0x80, 0x12345678);
  outw(NOPORT, 0xbeef);
  outl(NOPORT, 0xdeadbeef);
  pass("io.out.all-sizes-accepted");

  /* REP OUTSB to the UART: the text appears on the console (the runner checks the line). */
  static const char msg[] = "io: rep outsb reached the console\n";
  ulong si = (ulong)msg, cx = sizeof msg - 1;
  __asm__ volatile("cld; rep outsb" : "+S"(si), "+c"(cx) : "d"(0x3f8) : "memory");
  check_eq(0, cx, "io.rep-outsb.count-exhausted");
  check_eq((ulong)msg + sizeof msg - 1, si, "io.rep-outsb.si-advanced");
  /* REP INSB from the PIC IMR: every byte is the mask. */
  outb(0x21, 0xb7);
  static u8 buf8[16];
  memset(buf8, 0, sizeof buf8);
  ulong di = (ulong)buf8;
  cx = 12;
  __asm__ volatile("cld; rep insb" : "+D"(di), "+c"(cx) : "d"(0x21) : "memory");
  bad = 0;
  for (int i = 0; i < 12; i++) bad += buf8[i] != 0xb7;
  check_eq(0, bad, "io.rep-insb.all-bytes-are-imr");
  check_eq(0, buf8[12], "io.rep-insb.stops-at-count");
  check_eq((ulong)buf8 + 12, di, "io.rep-insb.di-advanced");
  outb(0x21, 0xff);
  /* REP INSW / INSD from NOPORT. */
  static u16 buf16[8];
  static u32 buf32[8];
  di = (ulong)buf16;
  cx = 5;
  __asm__ volatile("cld; rep insw" : "+D"(di), "+c"(cx) : "d"(NOPORT) : "memory");
  bad = 0;
  for (int i = 0; i < 5; i++) bad += buf16[i] != 0xffff;
  check_eq(0, bad, "io.rep-insw.unmapped-all-ones");
  check_eq(0, buf16[5], "io.rep-insw.stops-at-count");
  check_eq((ulong)buf16 + 10, di, "io.rep-insw.di-advanced");
  di = (ulong)buf32;
  cx = 3;
  __asm__ volatile("cld; rep insl" : "+D"(di), "+c"(cx) : "d"(NOPORT) : "memory");
  check_eq(0xffffffffffffffffull, ((u64)buf32[1] << 32) | buf32[0], "io.rep-insd.unmapped-all-ones");
  check_eq(0, buf32[3], "io.rep-insd.stops-at-count");
  check_eq((ulong)buf32 + 12, di, "io.rep-insd.di-advanced");
  /* Backwards (DF=1): REP INSB fills downwards from the start address. */
  outb(0x21, 0x3c);
  memset(buf8, 0, sizeof buf8);
  di = (ulong)&buf8[9];
  cx = 4;
  __asm__ volatile("std; rep insb; cld" : "+D"(di), "+c"(cx) : "d"(0x21) : "memory");
  check_eq(0x3c3c3c3c, buf8[6] | buf8[7] << 8 | buf8[8] << 16 | (u32)buf8[9] << 24, "io.rep-insb-backwards.bytes");
  check_eq(0, buf8[5], "io.rep-insb-backwards.stops-at-count");
  check_eq((ulong)&buf8[5], di, "io.rep-insb-backwards.di-decremented");
  outb(0x21, 0xff);
  /* REP OUTSW / OUTSD to the POST port. */
  static const u16 w[4] = {1, 2, 3, 4};
  static const u32 d[4] = {5, 6, 7, 8};
  si = (ulong)w;
  cx = 4;
  __asm__ volatile("cld; rep outsw" : "+S"(si), "+c"(cx) : "d"(0x80) : "memory");
  check_eq((ulong)w + 8, si, "io.rep-outsw.si-advanced");
  si = (ulong)d;
  cx = 4;
  __asm__ volatile("cld; rep outsl" : "+S"(si), "+c"(cx) : "d"(0x80) : "memory");
  check_eq((ulong)d + 16, si, "io.rep-outsd.si-advanced");
  /* REP with ECX = 0 does nothing. */
  di = (ulong)buf8;
  cx = 0;
  buf8[0] = 0x99;
  __asm__ volatile("cld; rep insb" : "+D"(di), "+c"(cx) : "d"(0x21) : "memory");
  check_eq(0x99, buf8[0], "io.rep-insb.zero-count-no-transfer");
  check_eq((ulong)buf8, di, "io.rep-insb.zero-count-di-unchanged");
  return 0;
}
