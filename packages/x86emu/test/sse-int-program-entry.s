# Entry of sse-int-program.c on x86emu: a stack, the output buffer in RDI, then HLT.
.intel_syntax noprefix
.code64
.section .text.entry
.globl _start
_start:
  mov rsp, 0x80000
  mov rdi, 0x300000
  call run
  hlt
