/*
 * A tiny multiboot guest for qemu-lite's integration tests: it programs the PIC and the PIT
 * (channel 0, mode 2, 1 kHz), takes timer interrupts with HLT in between, echoes serial input
 * taken on IRQ 4, and reports through the debug-exit port at 0xf4:
 *   - prints "ticks\n" after 20 timer interrupts;
 *   - echoes each received byte; on 'q' writes 0x21 (status 0x43);
 *   - if it receives nothing, after 200 ticks it writes 0x10 to the debug-exit port.
 * Built by the test with gcc -m32 -nostdlib -Wl,-Ttext=0x100000.
 */
	.set MB_MAGIC, 0x1badb002
	.set MB_FLAGS, 0x00000003
	.section .text
	.globl _start
	.align 4
mb_header:
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

_start:
	mov $stack_top, %esp
	lgdt gdt_desc
	ljmp $0x08, $1f
1:	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	/* IDT: vectors 0x20 (IRQ 0) and 0x24 (IRQ 4); everything else a fault handler. */
	mov $idt, %edi
	mov $0, %ecx
2:	mov $fault, %eax
	cmp $0x20, %ecx
	jne 3f
	mov $irq0, %eax
3:	cmp $0x24, %ecx
	jne 4f
	mov $irq4, %eax
4:	mov %ax, (%edi)
	movw $0x08, 2(%edi)
	movw $0x8e00, 4(%edi)
	shr $16, %eax
	mov %ax, 6(%edi)
	add $8, %edi
	inc %ecx
	cmp $256, %ecx
	jne 2b
	lidt idt_desc
	/* PIC: ICW1-4, master base 0x20, slave 0x28; unmask IRQ 0 and 4. */
	mov $0x11, %al
	out %al, $0x20
	out %al, $0xa0
	mov $0x20, %al
	out %al, $0x21
	mov $0x28, %al
	out %al, $0xa1
	mov $0x04, %al
	out %al, $0x21
	mov $0x02, %al
	out %al, $0xa1
	mov $0x01, %al
	out %al, $0x21
	out %al, $0xa1
	mov $0xee, %al
	out %al, $0x21
	mov $0xff, %al
	out %al, $0xa1
	/* PIT channel 0: mode 2, 1193 counts = ~1 kHz. */
	mov $0x34, %al
	out %al, $0x43
	mov $0xa9, %al
	out %al, $0x40
	mov $0x04, %al
	out %al, $0x40
	/* UART: interrupts on received data, OUT2 on. */
	mov $0x3fc, %dx
	mov $0x08, %al
	out %al, %dx
	mov $0x3f9, %dx
	mov $0x01, %al
	out %al, %dx
	sti
idle:
	hlt
	cmpl $20, ticks
	jne 5f
	cmpb $0, said
	jne 5f
	movb $1, said
	mov $msg, %esi
6:	lodsb
	test %al, %al
	jz 5f
	mov $0x3f8, %dx
	out %al, %dx
	jmp 6b
5:	cmpl $200, ticks
	jb idle
	cmpb $0, got_input
	jne idle
	mov $0x10, %eax
	out %eax, $0xf4
	jmp idle

irq0:
	push %eax
	incl ticks
	mov $0x20, %al
	out %al, $0x20
	pop %eax
	iret

irq4:
	push %eax
	push %edx
7:	mov $0x3fd, %dx
	in %dx, %al
	test $1, %al
	jz 8f
	mov $0x3f8, %dx
	in %dx, %al
	movb $1, got_input
	out %al, %dx
	cmp $'q', %al
	jne 7b
	mov $0x21, %eax
	out %eax, $0xf4
	jmp 7b
8:	mov $0x20, %al
	out %al, $0x20
	pop %edx
	pop %eax
	iret

fault:
	mov $0x7f, %eax
	out %eax, $0xf4
	cli
	hlt

	.section .data
	.align 8
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff
	.quad 0x00cf92000000ffff
gdt_desc:
	.word gdt_desc - gdt - 1
	.long gdt
idt_desc:
	.word 256 * 8 - 1
	.long idt
ticks:	.long 0
said:	.byte 0
got_input: .byte 0
msg:	.asciz "ticks\n"
	.section .bss
	.align 8
idt:	.space 256 * 8
	.space 4096
stack_top:
