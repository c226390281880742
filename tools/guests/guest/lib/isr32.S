/* 256 interrupt entry stubs and the common path (32-bit). Vectors that push an error code
 * (SDM Vol. 3 6.13: 8, 10-14, 17, 21) get none pushed here; the others push a 0 so the frame
 * is uniform (struct trap_frame in lib.h). */
	.text
	.code32
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
	pusha
	push %ds
	push %es
	push %fs
	push %gs
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	cld
	push %esp
	call isr_dispatch
	mov %eax, %esp            /* the frame to resume: this one, or another task's */
	pop %gs
	pop %fs
	pop %es
	pop %ds
	popa
	add $8, %esp
	iret

/* int trap_call(void (*fn)(ulong), ulong arg) */
	.globl trap_call
trap_call:
	push %ebp
	push %ebx
	push %esi
	push %edi
	mov %esp, trap_saved_sp
	movl $1, trap_armed
	mov 20(%esp), %eax
	mov 24(%esp), %ecx
	push %ecx
	call *%eax
	add $4, %esp
	movl $0, trap_armed
	mov $-1, %eax
	jmp trap_out

/* Where isr_dispatch sends a caught trap: back on trap_call's stack, at CPL 0. */
	.globl trap_resume
trap_resume:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %fs
	mov %ax, %gs
	mov %ax, %ss
	mov trap_saved_sp, %esp
	movl $0, trap_armed
	mov last_trap, %eax       /* last_trap.vector */
trap_out:
	pop %edi
	pop %esi
	pop %ebx
	pop %ebp
	ret

/* int trap_user(ulong ip, ulong sp, ulong ax, ulong bx, ulong cx): IRET to CPL 3. */
	.globl trap_user
trap_user:
	push %ebp
	push %ebx
	push %esi
	push %edi
	mov %esp, trap_saved_sp
	movl $1, trap_armed
	mov %esp, tss + 4          /* TSS.ESP0: ring-3 traps land just below this frame */
	mov 20(%esp), %esi         /* ip */
	mov 24(%esp), %edi         /* sp */
	mov 28(%esp), %eax
	mov 32(%esp), %ebx
	mov 36(%esp), %ecx
	subl $64, tss + 4
	push $0x3b                 /* ss */
	push %edi                  /* esp */
	push $0x2                  /* eflags: IF clear */
	push $0x33                 /* cs */
	push %esi                  /* eip */
	mov $0x3b, %dx
	mov %dx, %ds
	mov %dx, %es
	mov %dx, %fs
	mov %dx, %gs
	xor %edx, %edx
	xor %esi, %esi
	xor %edi, %edi
	xor %ebp, %ebp
	iret
