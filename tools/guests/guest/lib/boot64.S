/* Entry for long-mode guests: the loader leaves us in 32-bit protected mode (multiboot); build
 * 4-level tables identity mapping the first 4 GiB with 2 MiB pages, set CR4.PAE, EFER.LME, then
 * CR0.PG (SDM Vol. 3 10.8.5), and far jump to a 64-bit code segment. Assembled into the 64-bit
 * object with .code32 for the first part. */
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
	/* PML4[0] -> PDPT; PDPT[0..3] -> PD0..3; PD entries: 2 MiB pages, P|W|PS. */
	mov $boot_pml4, %edi
	lea 0x3(%edi), %eax
	add $0x1000, %eax
	mov %eax, (%edi)
	mov $boot_pdpt, %edi
	mov $boot_pd, %eax
	or $3, %eax
	mov $4, %ecx
2:	mov %eax, (%edi)
	add $8, %edi
	add $0x1000, %eax
	loop 2b
	mov $boot_pd, %edi
	mov $0x83, %eax
	xor %edx, %edx
	mov $2048, %ecx
3:	mov %eax, (%edi)
	mov %edx, 4(%edi)
	add $8, %edi
	add $0x200000, %eax
	adc $0, %edx
	loop 3b
	mov %cr4, %eax
	or $0x20, %eax
	mov %eax, %cr4
	mov $boot_pml4, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax
	mov %eax, %cr0
	ljmp $0x28, $long_entry

	.code64
long_entry:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %ax, %fs
	mov %ax, %gs
	mov $boot_stack_top, %rsp
	push $0
	popf
	call lib_init
	call main
	mov %eax, %edi
	call guest_exit_main
4:	hlt
	jmp 4b

	.section .bss
	.align 4096
	.globl boot_pml4, boot_pdpt, boot_pd
boot_pml4:
	.skip 4096
boot_pdpt:
	.skip 4096
boot_pd:
	.skip 4 * 4096
	.align 16
	.globl boot_stack
boot_stack:
	.skip 16384
	.globl boot_stack_top
boot_stack_top:
