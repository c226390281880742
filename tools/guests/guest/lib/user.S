/* The CPL-3 access stub (see lib.h): eax = op, ebx = address, ecx = value. */
	.text
	.globl user_stub, user_stub_end, user_stub_done
user_stub:
	cmp $1, %eax
	je 1f
	cmp $2, %eax
	je 2f
#ifdef __x86_64__
	mov (%rbx), %ecx
#else
	mov (%ebx), %ecx
#endif
	jmp user_stub_done
#ifdef __x86_64__
1:	mov %ecx, (%rbx)
#else
1:	mov %ecx, (%ebx)
#endif
	jmp user_stub_done
#ifdef __x86_64__
2:	call *%rbx
#else
2:	call *%ebx
#endif
user_stub_done:
	ud2
user_stub_end:
