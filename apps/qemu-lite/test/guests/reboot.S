/*
 * A multiboot guest that reboots itself twice and checks, at each boot, that the machine came
 * back as from power-on where it should and kept what survives a reset:
 *   - CMOS NVRAM byte 0x40 counts boots (battery-backed: it must survive);
 *   - a marker written to RAM at 0x180000 (outside the image) must read 0 (RAM zeroed);
 *   - IA32_SYSENTER_CS, written on boot 1, must read 0 (the vCPU's MSRs reset);
 *   - the master PIC's IMR, written on boot 1, must read what it read at boot 1 (CMOS byte
 *     0x41), and the UART's IER must read 0 (devices reset).
 * Each boot prints its number on COM1. Boot 1 ends in a triple fault (UD2 with the empty IDT
 * multiboot leaves), boot 2 in an i8042 reset (command 0xfe), boot 3 writes 0x20 + 3 to the
 * debug-exit port 0xf4 (status 0x47). A failed check writes its code: 0x10 RAM, 0x11 MSR,
 * 0x12 PIC, 0x13 UART (status 0x21, 0x23, 0x25, 0x27).
 * Built by the tests: gcc -m32 -nostdlib -static -Wl,-Ttext=0x100000.
 */
	.set MB_MAGIC, 0x1badb002
	.set MB_FLAGS, 0x00000003
	.set MARKER, 0x180000
	.set NVRAM_BOOTS, 0x40
	.set NVRAM_IMR, 0x41
	.set MSR_SYSENTER_CS, 0x174
	.text
	.code32
	.globl _start
	.align 4
mb_header:
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

_start:
	/* bl = ++CMOS[0x40] */
	mov $NVRAM_BOOTS, %al
	out %al, $0x70
	in $0x71, %al
	inc %al
	mov %al, %bl
	mov $NVRAM_BOOTS, %al
	out %al, $0x70
	mov %bl, %al
	out %al, $0x71
	/* print the boot number */
	mov $0x3f8, %dx
	mov %bl, %al
	add $'0', %al
	out %al, %dx

	mov $0x10, %al
	cmpl $0, MARKER
	jne fail
	mov $MSR_SYSENTER_CS, %ecx
	rdmsr
	test %eax, %eax
	mov $0x11, %al
	jnz fail
	/* The IMR must read what it read at boot 1 (the state the "BIOS" leaves: 0xf8 with our
	 * PIC, 0 with the in-kernel one), kept in CMOS byte 0x41, not boot 1's 0x5a. */
	mov $NVRAM_IMR, %al
	out %al, $0x70
	cmp $1, %bl
	jne 1f
	in $0x21, %al
	out %al, $0x71
1:	in $0x71, %al
	mov %al, %ah
	in $0x21, %al
	cmp %ah, %al
	mov $0x12, %al
	jne fail
	mov $0x3f9, %dx
	in %dx, %al
	test %al, %al
	mov $0x13, %al
	jnz fail

	cmp $1, %bl
	je first_boot
	cmp $2, %bl
	je second_boot
	mov $0x20, %al
	add %bl, %al
	out %al, $0xf4
	hlt

first_boot:
	/* Dirty what a reset must clean, then triple-fault. */
	movl $0xdeadbeef, MARKER
	mov $MSR_SYSENTER_CS, %ecx
	mov $0x10, %eax
	xor %edx, %edx
	wrmsr
	mov $0x5a, %al
	out %al, $0x21
	mov $0x3f9, %dx
	mov $0x0f, %al
	out %al, %dx
	ud2

second_boot:
	movl $0xdeadbeef, MARKER
	mov $0xfe, %al
	out %al, $0x64
	hlt

fail:
	out %al, $0xf4
	hlt
