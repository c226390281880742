/* The GDT shared by all guests (selectors in lib.h). Flat 4 GiB segments, plus a 16-bit code and
 * data pair (base 0, limit 64 KiB) for the way back to real mode, and 64-bit code segments. */
	.section .data
	.align 16
	.globl gdt
gdt:
	.quad 0                        /* 0x00 null */
	.quad 0x00cf9b000000ffff       /* 0x08 code32, DPL 0, accessed */
	.quad 0x00cf93000000ffff       /* 0x10 data, DPL 0, accessed */
	.quad 0x00009b000000ffff       /* 0x18 code16, base 0, limit 0xffff */
	.quad 0x000093000000ffff       /* 0x20 data16, base 0, limit 0xffff */
	.quad 0x00af9b000000ffff       /* 0x28 code64 (L=1), DPL 0 */
	.quad 0x00cffb000000ffff       /* 0x30 code32, DPL 3 */
	.quad 0x00cff3000000ffff       /* 0x38 data, DPL 3 */
	.quad 0x00affb000000ffff       /* 0x40 code64, DPL 3 */
	.quad 0, 0                     /* 0x48 TSS (16 bytes in long mode), filled by tss_init */
	.quad 0                        /* 0x58 spare for tests */
	.quad 0                        /* 0x60 spare */
gdt_end:
	.globl gdt_desc
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt
	.long 0
