/* Entry for 32-bit guests. The multiboot loader leaves us in 32-bit protected mode, paging off,
 * EAX = 0x2BADB002, EBX = the info structure (Multiboot Spec 3.2); the GDT it used is not ours to
 * keep, so load our own before anything else. */
	.text
	.code32
	.globl _start
_start:
	cli
	mov %eax, %esi
	mov %ebx, %edi
	lgdt gdt_desc
	ljmp $0x08, $1f
1:	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %ax, %fs
	mov %ax, %gs
	mov $boot_stack_top, %esp
	/* Zero .bss (the loader should have, but a guest checks rather than trusts). */
	mov %edi, %edx
	mov $__bss_start, %edi
	mov $__bss_end, %ecx
	sub %edi, %ecx
	xor %eax, %eax
	cld
	shr $2, %ecx
	rep stosl
	mov %esi, mb_magic
	mov %edx, mb_info
	push $0
	popf
	call lib_init
	call main
	push %eax
	call guest_exit_main
2:	hlt
	jmp 2b

	.section .bss
	.align 16
	.globl boot_stack
boot_stack:
	.skip 16384
	.globl boot_stack_top
boot_stack_top:
