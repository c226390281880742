/* Mode switching for the modes guest. rm_run() goes 32-bit protected mode -> 16-bit protected
 * mode (a 16-bit code segment) -> real mode (CR0.PE=0, SDM Vol. 3 10.9.2) -> runs the real-mode
 * tests -> protected mode again (CR0.PE=1, far jump) and returns to C. The 16-bit code runs from
 * a copy at RM_BASE (below 1 MiB); it is written with offsets relative to rm_start so the copy
 * needs no relocation. Results go to rm_results (in the copy). */
#define RM_BASE 0x7000
#define R(x) (RM_BASE + (x) - rm_start)
#define RES(i) R(rm_results + 4 * (i))

	.text
	.code32
	.globl rm_run
rm_run:
	push %ebp
	push %ebx
	push %esi
	push %edi
	mov %esp, saved_esp
	sidt saved_idt
	ljmp $0x18, $R(pm16)

	.globl pm32_back
pm32_back:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %ax, %fs
	mov %ax, %gs
	mov saved_esp, %esp
	lidt saved_idt
	pop %edi
	pop %esi
	pop %ebx
	pop %ebp
	ret

	.data
saved_esp: .long 0
saved_idt: .word 0
	.long 0

	.section .rodata
	.globl rm_start, rm_end, rm_results, rm_src
	.code16
rm_start:
pm16:
	/* 16-bit protected mode: CS is a 16-bit segment (D=0), data segments 64 KiB. */
	mov $0x20, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $0x6ff0, %sp
	/* Default operand size 16: PUSH moves SP by 2, with 0x66 by 4. */
	mov %sp, %bx
	push %ax
	sub %sp, %bx
	mov %bx, RES(0)
	pop %ax
	mov %sp, %bx
	pushl $0
	sub %sp, %bx
	mov %bx, RES(1)
	popl %eax
	/* Leave protected mode. */
	mov %cr0, %eax
	and $0xfffffffe, %eax
	mov %eax, %cr0
	ljmp $0, $R(rm)
rm:
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $0x6ff0, %sp
	/* Real-mode IVT at 0: vector 0x30 -> rm_int30 (offset:segment). */
	lidt R(rm_ivt_desc)
	movw $R(rm_int30), 0xc0
	movw $0, 0xc2
	/* Arithmetic: 16-bit add with carry out, flags. */
	mov $0x1234, %ax
	add $0xedcc, %ax
	pushf
	pop %bx
	mov %ax, RES(2)
	and $0x8d5, %bx
	mov %bx, RES(3)
	/* MUL/DIV 16-bit. */
	mov $0x1234, %ax
	mov $0x100, %bx
	mul %bx
	mov %ax, RES(4)
	mov %dx, RES(5)
	mov $0x0012, %dx
	mov $0x3401, %ax
	div %bx
	mov %ax, RES(6)
	mov %dx, RES(7)
	/* 32-bit operands in real mode (0x66 prefix). */
	mov $0x12345678, %eax
	add $0x11111111, %eax
	mov %eax, RES(8)
	/* SUB with borrow, SBB, NEG, signed flags. */
	mov $5, %ax
	sub $7, %ax
	sbb $0, %ax
	pushf
	pop %bx
	and $0x8d5, %bx
	mov %ax, RES(9)
	mov %bx, RES(10)
	/* Segmentation: linear = seg * 16 + offset. Write through ES=0x0600:0x0010, read 0:0x6010. */
	mov $0x0600, %ax
	mov %ax, %es
	movw $0xbeef, %es:0x10
	xor %ax, %ax
	mov %ax, %es
	mov 0x6010, %ax
	mov %ax, RES(11)
	/* Strings: REP MOVSB, REP STOSW, REPE CMPSB, REPNE SCASB, LODSW. */
	cld
	mov $R(rm_src), %si
	mov $0x6100, %di
	mov $16, %cx
	rep movsb
	mov %cx, RES(12)
	mov 0x610c, %eax
	mov %eax, RES(13)
	mov $0x6200, %di
	mov $0xa55a, %ax
	mov $8, %cx
	rep stosw
	mov 0x620e, %ax
	mov %ax, RES(14)
	mov %di, RES(15)
	mov $R(rm_src), %si
	mov $0x6100, %di
	movb $0, 0x6105
	mov $16, %cx
	repe cmpsb
	mov %cx, RES(16)        /* mismatch at index 5: 16 - 6 = 10 left */
	mov $0x6100, %di
	mov $'g', %al
	mov $16, %cx
	repne scasb
	mov %di, RES(17)
	mov $R(rm_src), %si
	lodsw
	mov %ax, RES(18)
	mov %si, RES(19)
	/* Stack: PUSHA/POPA move SP by 16; CALL/RET; ENTER/LEAVE; PUSHF/POPF restore flags. */
	mov %sp, %bx
	pusha
	mov %sp, RES(26)
	popa                    /* restores BX (= SP before PUSHA) */
	sub RES(26), %bx
	mov %bx, RES(20)
	mov %sp, %bx
	call rm_sub
rm_after_call:
	mov %ax, RES(21)
	sub %sp, %bx
	mov %bx, RES(22)
	mov %sp, %bx
	enter $8, $0
	mov %sp, %cx
	leave
	sub %cx, %bx
	mov %bx, RES(23)
	stc
	pushf
	clc
	popf
	setc %al
	mov %al, RES(24)
	/* Real-mode INT n through the IVT, and IRET back. */
	mov $0x77, %cx
	int $0x30
	mov %cx, RES(25)
	/* Back to protected mode: GDTR still holds our GDT. */
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $0x08, $pm32_back

rm_sub:
	mov %sp, %si
	mov (%si), %ax          /* the return address */
	sub $R(rm_after_call), %ax /* 0 when CALL pushed the right IP */
	ret
rm_int30:
	add $0x100, %cx
	iret
	.align 4
rm_ivt_desc:
	.word 0x3ff
	.long 0
rm_src:
	.ascii "abcdefghijklmnop"
	.align 4
rm_results:
	.fill 32, 4, 0
rm_end:
