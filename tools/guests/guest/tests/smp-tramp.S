/* The APs' start-up code (SDM Vol. 3A 9.4.4, "MP initialization example"): the BSP copies it
 * to SMP_TRAMP_BASE (a 4 KiB-aligned page below 1 MiB) and sends INIT-SIPI-SIPI with vector
 * SMP_TRAMP_BASE >> 12, so each AP starts here in real mode at CS = 0x0800, IP = 0. It loads a
 * flat GDT of its own (the same selectors as desc.S), enters protected mode, takes a stack
 * (LOCK XADD on tr_stack_next, so no two APs share one) and, in 64-bit builds, turns on PAE,
 * EFER.LME and paging with the BSP's CR3 (SDM Vol. 3A 10.8.5), then calls tr_entry. The BSP
 * fills tr_stack_next, tr_entry and tr_cr3 before the SIPI. Position dependent: every address
 * below is SMP_TRAMP_BASE + (symbol - smp_tramp_start). */
#define SMP_TRAMP_BASE 0x8000
#define AP_STACK_SIZE 4096
#define AT(sym) (SMP_TRAMP_BASE + (sym) - smp_tramp_start)

	.text
	.globl smp_tramp_start, smp_tramp_end, tr_stack_next, tr_entry, tr_cr3
	.code16
smp_tramp_start:
	cli
	cld
	mov %cs, %ax
	mov %ax, %ds
	lgdtl tr_gdt_desc - smp_tramp_start
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $0x08, $AT(tr_pm32)

	.code32
tr_pm32:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %ax, %fs
	mov %ax, %gs
	mov $AP_STACK_SIZE, %ebp
	lock xadd %ebp, AT(tr_stack_next)
	add $AP_STACK_SIZE, %ebp
	mov %ebp, %esp
#ifdef __x86_64__
	mov %cr4, %eax
	or $0x20, %eax
	mov %eax, %cr4
	mov AT(tr_cr3), %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000000, %eax
	mov %eax, %cr0
	ljmp $0x28, $AT(tr_lm64)
	.code64
tr_lm64:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %ax, %fs
	mov %ax, %gs
	mov %ebp, %esp /* zero-extends: RSP's upper half is not defined across the mode switch */
	push $0
	popf
	mov AT(tr_entry), %rax
	call *%rax
1:	cli
	hlt
	jmp 1b
#else
	push $0
	popf
	mov AT(tr_entry), %eax
	call *%eax
1:	cli
	hlt
	jmp 1b
#endif

	.align 8
tr_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff /* 0x08: 32-bit code, flat */
	.quad 0x00cf92000000ffff /* 0x10: data, flat */
	.quad 0
	.quad 0
	.quad 0x00af9a000000ffff /* 0x28: 64-bit code */
tr_gdt_end:
tr_gdt_desc:
	.word tr_gdt_end - tr_gdt - 1
	.long AT(tr_gdt)
	.align 8
tr_stack_next:
	.quad 0
tr_entry:
	.quad 0
tr_cr3:
	.quad 0
smp_tramp_end:
