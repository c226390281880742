/*
 * A multiboot guest that does what an OS's ACPI start-up and power-off do, with nothing but
 * the tables qemu-lite leaves in memory:
 *   - finds the RSDP by Linux's scan (16-byte boundaries in 0xE0000–0xFFFFF, "RSD PTR ", the
 *     20-byte checksum) and prints 'R';
 *   - checks the RSDT's signature and checksum and finds the FADT ("FACP") among its entries,
 *     prints 'F';
 *   - at the first boot (CMOS NVRAM byte 0x41 is 0; it is battery-backed, so it counts boots)
 *     resets through the FADT's RESET_REG and RESET_VALUE, as Linux's `acpi_reboot` does, and
 *     starts again from the top: a full run prints "RFRFTS";
 *   - reads the PM timer (FADT PM_TMR_BLK) until it changes, and checks that it went forward,
 *     prints 'T';
 *   - finds Name (_S5, Package () { SLP_TYPa, ... }) in the DSDT (FADT DSDT), prints 'S';
 *   - writes SLP_TYPa | SLP_EN to PM1a_CNT (FADT PM1a_CNT_BLK), which must power it off.
 * A failed step writes its code to the debug-exit port 0xf4: 0x10 no RSDP, 0x11 bad RSDT,
 * 0x12 no FADT, 0x13 the PM timer stood still or went back, 0x14 no \_S5, 0x15 still running
 * after the power-off, 0x16 RESET_REG is not in System I/O space, 0x17 still running after the
 * reset (statuses 0x21, 0x23, 0x25, 0x27, 0x29, 0x2b, 0x2d, 0x2f).
 * Built by the tests: gcc -m32 -nostdlib -static -Wl,-Ttext=0x100000.
 */
	.set MB_MAGIC, 0x1badb002
	.set MB_FLAGS, 0x00000003
	.set SIG_RSD_, 0x20445352	/* "RSD " */
	.set SIG_PTR_, 0x20525450	/* "PTR " */
	.set SIG_RSDT, 0x54445352	/* "RSDT" */
	.set SIG_FACP, 0x50434146	/* "FACP" */
	.set NAME_S5, 0x5f35535f	/* "_S5_" */
	.set AML_PACKAGE_OP, 0x12
	.set AML_BYTE_PREFIX, 0x0a
	.set FADT_DSDT, 40
	.set FADT_PM1A_CNT_BLK, 64
	.set FADT_PM_TMR_BLK, 76
	.set FADT_RESET_REG, 116
	.set FADT_RESET_VALUE, 128
	.set GAS_SYSTEM_IO, 1
	.set NVRAM_BOOTS, 0x41
	.set SLP_TYP_MASK, 0x1c00
	.set SLP_EN, 0x2000

	.macro putc ch
	mov $0x3f8, %dx
	mov $\ch, %al
	out %al, %dx
	.endm

	.text
	.code32
	.globl _start
	.align 4
mb_header:
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

_start:
	/* The RSDP: "RSD PTR " on a 16-byte boundary whose first 20 bytes sum to 0. */
	mov $0xe0000, %esi
scan:
	cmpl $SIG_RSD_, (%esi)
	jne 2f
	cmpl $SIG_PTR_, 4(%esi)
	jne 2f
	xor %eax, %eax
	xor %ecx, %ecx
1:	add (%esi,%ecx,1), %al
	inc %ecx
	cmp $20, %ecx
	jb 1b
	test %al, %al
	jz found_rsdp
2:	add $16, %esi
	cmp $0x100000, %esi
	jb scan
	mov $0x10, %al
	jmp fail

found_rsdp:
	putc 'R'
	/* The RSDT: its signature, and all of its bytes sum to 0. */
	mov 16(%esi), %ebx
	mov $0x11, %al
	cmpl $SIG_RSDT, (%ebx)
	jne fail
	mov 4(%ebx), %edx
	xor %eax, %eax
	xor %ecx, %ecx
1:	add (%ebx,%ecx,1), %al
	inc %ecx
	cmp %edx, %ecx
	jb 1b
	test %al, %al
	mov $0x11, %al
	jnz fail
	/* The FADT among its 32-bit entries. */
	lea 36(%ebx), %edi
	add %ebx, %edx
1:	cmp %edx, %edi
	mov $0x12, %al
	jae fail
	mov (%edi), %ebp
	cmpl $SIG_FACP, (%ebp)
	je found_fadt
	add $4, %edi
	jmp 1b

found_fadt:
	putc 'F'
	/* First boot: count it in CMOS NVRAM and reset through the FADT's reset register. */
	mov $NVRAM_BOOTS, %al
	out %al, $0x70
	in $0x71, %al
	test %al, %al
	jnz timer
	mov $1, %al
	out %al, $0x71
	mov $0x16, %al
	cmpb $GAS_SYSTEM_IO, FADT_RESET_REG(%ebp)
	jne fail
	mov FADT_RESET_REG+4(%ebp), %edx
	movb FADT_RESET_VALUE(%ebp), %al
	out %al, %dx
	mov $0x17, %al
	jmp fail

timer:
	/* The PM timer: read it until it changes; the difference must be positive. */
	mov FADT_PM_TMR_BLK(%ebp), %edx
	in %dx, %eax
	mov %eax, %ebx
	mov $1000000, %ecx
1:	in %dx, %eax
	cmp %eax, %ebx
	jne 2f
	loop 1b
	mov $0x13, %al
	jmp fail
2:	sub %ebx, %eax
	mov $0x13, %al
	js fail
	putc 'T'

	/* \_S5 in the DSDT's AML: NameOp "_S5_" PackageOp PkgLength NumElements SLP_TYPa ... */
	mov FADT_DSDT(%ebp), %esi
	mov 4(%esi), %edi
	add %esi, %edi
	add $36, %esi
1:	cmp %edi, %esi
	jae no_s5
	cmpl $NAME_S5, (%esi)
	je 2f
	inc %esi
	jmp 1b
2:	cmpb $AML_PACKAGE_OP, 4(%esi)
	jne no_s5
	movzbl 7(%esi), %eax		/* one-byte PkgLength, so the first element is at +7 */
	cmp $AML_BYTE_PREFIX, %al
	jne 3f
	movzbl 8(%esi), %eax
	jmp 4f
3:	cmp $1, %al			/* ZeroOp is 0, OneOp is 1 */
	ja no_s5
4:	mov %eax, %ebx
	putc 'S'

	/* Power off: SLP_TYP = S5's, then SLP_EN, keeping PM1a_CNT's other bits. */
	shl $10, %ebx
	mov FADT_PM1A_CNT_BLK(%ebp), %edx
	in %dx, %ax
	and $~(SLP_TYP_MASK | SLP_EN), %ax
	or %bx, %ax
	out %ax, %dx
	or $SLP_EN, %ax
	out %ax, %dx
	mov $0x15, %al
	jmp fail

no_s5:
	mov $0x14, %al
fail:
	out %al, $0xf4
	hlt
	jmp fail
