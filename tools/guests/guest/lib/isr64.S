/* 256 interrupt entry stubs and the common path (64-bit); see isr32.S. */
	.text
	.code64
	.altmacro
	.macro stub v
	.align 16
isr_stub_\v:
	.if !(\v == 8 || (\v >= 10 && \v <= 14) || \v == 17 || \v == 21)
	push $0
	.endif
	push $\v
	jmp isr_common
	.endm
	.globl isr_stubs
	.align 16
isr_stubs:
	.set i, 0
	.rept 256
	stub %i
	.set i, i + 1
	.endr

isr_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	cld
	mov %rsp, %rdi
	mov %rsp, %rbx
	and $-16, %rsp
	call isr_dispatch
	mov %rax, %rsp            /* the frame to resume: this one, or another task's */
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp
	iretq

	.globl trap_call
trap_call:
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, trap_saved_sp
	movl $1, trap_armed
	mov %rdi, %rax
	mov %rsi, %rdi
	sub $8, %rsp
	call *%rax
	add $8, %rsp
	movl $0, trap_armed
	mov $-1, %eax
	jmp trap_out

	.globl trap_resume
trap_resume:
	mov trap_saved_sp, %rsp
	movl $0, trap_armed
	movslq last_trap, %rax
trap_out:
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	ret

/* int trap_user(ip rdi, sp rsi, ax rdx, bx rcx, cx r8) */
	.globl trap_user
trap_user:
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, trap_saved_sp
	movl $1, trap_armed
	lea -64(%rsp), %rax
	mov %rax, tss + 4          /* TSS.RSP0 */
	mov %rdx, %rax
	mov %rcx, %rbx
	mov %r8, %rcx
	push $0x3b
	push %rsi
	push $0x2
	push $0x43
	push %rdi
	xor %edx, %edx
	xor %esi, %esi
	xor %edi, %edi
	xor %ebp, %ebp
	iretq
