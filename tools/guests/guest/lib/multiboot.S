/* The multiboot v1 header (Multiboot Specification 0.6.96, 3.1.1). Every image carries it in its
 * first 8 KiB. Flags: bit 0 (page-align modules), bit 1 (memory info), bit 16 (the address
 * fields below are valid: a loader may use them instead of the ELF headers; both describe the
 * same single load segment, see link*.ld). */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00010003
	.section .multiboot, "a"
	.align 4
	.globl mb_header
mb_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)
	.long mb_header        /* header_addr */
	.long __image_start    /* load_addr */
	.long __data_end       /* load_end_addr */
	.long __image_end      /* bss_end_addr */
	.long _start           /* entry_addr */
