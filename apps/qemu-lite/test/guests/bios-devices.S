/*
 * A multiboot guest that checks what a -kernel boot finds, as under QEMU with SeaBIOS, and
 * QEMU's test devices. It programs neither the PIC nor the PIT. In order:
 *   - the BDA: COM1 0x3f8 at 0x400, EBDA segment 0x9fc0 at 0x40e, 639 KiB at 0x413  (0x10)
 *   - the master PIC's IMR is 0xf8 (IRQ 0, 1 and the cascade open)                  (0x11)
 *   - isa-debugcon at 0xe9 reads back 0xe9                                            (0x12)
 *   - it writes its multiboot command line and "\n" to the debugcon
 *   - pc-testdev: a dword round-trips through port 0xe0, byte 1 reads at 0xe1        (0x13)
 *   - pc-testdev: a dword round-trips through its I/O memory at 0xff000000           (0x14)
 *   - with an IDT whose vector 8 counts IRQ 0 (every other vector fails, 0x7f), STI and HLT:
 *     three ticks of the 18.2 Hz timer arrive; it writes "ticks\n" to the debugcon and 0x21
 *     to isa-debug-exit 0xf4 (status 0x43).
 * The tick handler never IRETs (some hosts' KVM cannot emulate a 32-bit IRET): it sends the
 * EOI, resets the stack and goes back to the wait loop.
 * Built by the tests: gcc -m32 -nostdlib -static -Wl,-Ttext=ADDR (0x100000 or 0x8000).
 */
	.set MB_MAGIC, 0x1badb002
	.set MB_FLAGS, 0x00000003
	.set DEBUGCON, 0xe9
	.set EXIT, 0xf4
	.text
	.code32
	.globl _start
	.align 4
mb_header:
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

_start:
	mov $stack_top, %esp
	mov $0x10, %al
	cmpw $0x3f8, 0x400
	jne fail
	cmpw $0x9fc0, 0x40e
	jne fail
	cmpw $639, 0x413
	jne fail

	in $0x21, %al
	cmp $0xf8, %al
	mov $0x11, %al
	jne fail

	in $DEBUGCON, %al
	cmp $0xe9, %al
	mov $0x12, %al
	jne fail

	/* The command line: info->cmdline at EBX + 16 (flag bit 2). */
	mov 16(%ebx), %esi
1:	lodsb
	test %al, %al
	jz 2f
	out %al, $DEBUGCON
	jmp 1b
2:	mov $'\n', %al
	out %al, $DEBUGCON

	mov $0x12345678, %eax
	out %eax, $0xe0
	xor %eax, %eax
	in $0xe0, %eax
	cmp $0x12345678, %eax
	mov $0x13, %al
	jne fail
	in $0xe1, %al
	cmp $0x56, %al
	mov $0x13, %al
	jne fail

	movl $0xcafef00d, 0xff000000
	cmpl $0xcafef00d, 0xff000000
	mov $0x14, %al
	jne fail

	/* IDT: 256 interrupt gates (selector 0x10, the multiboot boot GDT's code) to `bad`,
	 * vector 8 to `irq0`. */
	mov $idt, %edi
	xor %ecx, %ecx
3:	mov $bad, %eax
	cmp $8, %ecx
	jne 4f
	mov $irq0, %eax
4:	mov %ax, (%edi)
	movw $0x10, 2(%edi)
	movw $0x8e00, 4(%edi)
	shr $16, %eax
	mov %ax, 6(%edi)
	add $8, %edi
	inc %ecx
	cmp $256, %ecx
	jne 3b
	lidt idtr

wait:
	sti
	hlt
	jmp wait

irq0:
	mov $0x20, %al
	out %al, $0x20
	incl ticks
	cmpl $3, ticks
	jae done
	mov $stack_top, %esp
	jmp wait

done:
	mov $msg, %esi
5:	lodsb
	test %al, %al
	jz 6f
	out %al, $DEBUGCON
	jmp 5b
6:	mov $0x21, %al
	out %al, $EXIT
	hlt

bad:
	mov $0x7f, %al
fail:
	out %al, $EXIT
	hlt

msg:	.asciz "ticks\n"
	.align 8
idtr:	.word 256 * 8 - 1
	.long idt

	.bss
	.align 16
ticks:	.long 0
idt:	.space 256 * 8
	.space 1024
stack_top:
