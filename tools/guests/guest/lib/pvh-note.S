/* The PVH boot ABI's entry note (Xen's docs/misc/pvh.pandoc; xen/include/public/elfnote.h):
 * XEN_ELFNOTE_PHYS32_ENTRY (18), owner "Xen", the 32-bit physical address a PVH loader enters
 * at, in flat 32-bit protected mode with EBX = the hvm_start_info. Linked instead of the
 * multiboot header (guest/lib/link32-pvh.ld puts it in a PT_NOTE segment). The entry records
 * what the loader left in CR0, CR4 and EFLAGS (in .data: _start zeroes .bss) for the guest to
 * check, then goes on as a multiboot entry does, EBX kept for mb_info. PVH gives no stack (ESP
 * is undefined), so PUSHF needs the boot stack first. */
	.section .note.Xen, "a"
	.align 4
	.long 4                 /* namesz: "Xen\0" */
	.long 4                 /* descsz */
	.long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.align 4
	.long pvh_start

	.text
	.code32
	.globl pvh_start
pvh_start:
	mov %cr0, %ecx
	mov %ecx, pvh_entry_cr0
	mov %cr4, %ecx
	mov %ecx, pvh_entry_cr4
	mov $boot_stack_top, %esp
	pushf
	pop %ecx
	mov %ecx, pvh_entry_eflags
	xor %eax, %eax
	jmp _start

	.data
	.align 4
	.globl pvh_entry_cr0, pvh_entry_cr4, pvh_entry_eflags
pvh_entry_cr0:    .long 0
pvh_entry_cr4:    .long 0
pvh_entry_eflags: .long 0
