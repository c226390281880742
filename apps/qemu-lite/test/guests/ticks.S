/*
 * A tiny multiboot guest for qemu-lite's integration tests. It switches to long mode (IRETQ
 * works on every host KVM we know; some hosts' KVM cannot emulate a 32-bit IRET), programs the
 * PIC (base 0x20) and the PIT (channel 0, mode 2, ~1 kHz), and takes interrupts with HLT in
 * between:
 *   - after 20 timer interrupts it prints "ticks\n";
 *   - each byte received on the UART (IRQ 4) is echoed; 'q' writes 0x21 to the debug-exit
 *     port 0xf4 (status 0x43);
 *   - if nothing was received after 3000 ticks (~3 s) it writes 0x10 (status 0x21).
 * Any exception writes 0x7f (status 0xff).
 * Built by the tests: gcc -m32 -nostdlib -static -Wl,-Ttext=0x100000.
 */
	.set MB_MAGIC, 0x1badb002
	.set MB_FLAGS, 0x00000003
	.text
	.code32
	.globl _start
	.align 4
mb_header:
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

_start:
	mov $stack_top, %esp
	/* Identity-map the first 2 MiB with one large page: PML4 -> PDPT -> PD. */
	movl $pdpt + 3, pml4
	movl $pd + 3, pdpt
	movl $0x83, pd
	mov $pml4, %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $0x20, %eax            /* PAE */
	mov %eax, %cr4
	mov $0xc0000080, %ecx     /* EFER.LME */
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax      /* PG | PE */
	mov %eax, %cr0
	lgdt gdt_desc
	ljmp $0x08, $long_entry

	.code64
long_entry:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	lea stack_top(%rip), %rsp
	/* IDT: 16-byte interrupt gates; 0x20 = IRQ 0, 0x24 = IRQ 4, the rest = fault. */
	lea idt(%rip), %rdi
	xor %ecx, %ecx
1:	lea fault(%rip), %rax
	cmp $0x20, %ecx
	jne 2f
	lea irq0(%rip), %rax
2:	cmp $0x24, %ecx
	jne 3f
	lea irq4(%rip), %rax
3:	mov %ax, (%rdi)
	movw $0x08, 2(%rdi)
	movw $0x8e00, 4(%rdi)
	shr $16, %rax
	mov %ax, 6(%rdi)
	shr $16, %rax
	mov %eax, 8(%rdi)
	movl $0, 12(%rdi)
	add $16, %rdi
	inc %ecx
	cmp $256, %ecx
	jne 1b
	lidt idt_desc(%rip)
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
	/* UART: interrupt on received data; OUT2 gates it onto the bus. */
	mov $0x3fc, %dx
	mov $0x08, %al
	out %al, %dx
	mov $0x3f9, %dx
	mov $0x01, %al
	out %al, %dx
	sti
idle:
	hlt
	cmpl $20, ticks(%rip)
	jb 5f
	cmpb $0, said(%rip)
	jne 5f
	movb $1, said(%rip)
	lea msg(%rip), %rsi
	mov $0x3f8, %dx
6:	lodsb
	test %al, %al
	jz 5f
	out %al, %dx
	jmp 6b
5:	cmpl $3000, ticks(%rip)
	jb idle
	cmpb $0, got_input(%rip)
	jne idle
	mov $0x10, %eax
	out %eax, $0xf4
	jmp idle

irq0:
	push %rax
	incl ticks(%rip)
	mov $0x20, %al
	out %al, $0x20
	pop %rax
	iretq

irq4:
	push %rax
	push %rdx
7:	mov $0x3fd, %dx
	in %dx, %al
	test $1, %al
	jz 8f
	mov $0x3f8, %dx
	in %dx, %al
	movb $1, got_input(%rip)
	out %al, %dx
	cmp $'q', %al
	jne 7b
	mov $0x21, %eax
	out %eax, $0xf4
	jmp 7b
8:	mov $0x20, %al
	out %al, $0x20
	pop %rdx
	pop %rax
	iretq

fault:
	mov $0x7f, %eax
	out %eax, $0xf4
	cli
	hlt

	.data
	.align 8
gdt:
	.quad 0
	.quad 0x00af9a000000ffff    /* 64-bit code */
	.quad 0x00cf92000000ffff    /* data */
gdt_desc:
	.word gdt_desc - gdt - 1
	.long gdt
idt_desc:
	.word 256 * 16 - 1
	.long idt, 0
ticks:	.long 0
said:	.byte 0
got_input: .byte 0
msg:	.asciz "ticks\n"
	.bss
	.align 4096
pml4:	.space 4096
pdpt:	.space 4096
pd:	.space 4096
idt:	.space 256 * 16
	.space 4096
stack_top:
