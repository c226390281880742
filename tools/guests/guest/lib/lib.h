/* The guest library: everything a test guest needs, in one header.
 * Built twice: -m32 (protected mode guests) and -m64 (long mode guests); `__x86_64__` tells which. */
#ifndef GUEST_LIB_H
#define GUEST_LIB_H
#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef uintptr_t ulong;

/* GDT selectors (desc.S). The layout leaves room for the 16-byte long-mode TSS descriptor. */
#define SEL_CODE32 0x08
#define SEL_DATA 0x10
#define SEL_CODE16 0x18
#define SEL_DATA16 0x20
#define SEL_CODE64 0x28
#define SEL_UCODE32 0x33
#define SEL_UDATA 0x3b
#define SEL_UCODE64 0x43
#define SEL_TSS 0x48
#define SEL_SPARE 0x58 /* free for a test to fill (gdt_set) */

/* Vectors used by the library. */
#define VEC_IRQ0 0x20   /* master 8259 remapped here, slave at 0x28 */
#define VEC_SYSCALL 0x80 /* DPL 3: a test may hook it */
#define VEC_USER_DONE 0x81 /* DPL 3: ring-3 code ends with `int $0x81` (see trap_user) */
#define TRAP_NONE (-1)

/* Exception vectors (SDM Vol. 3 6.3.1). */
enum { DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7, DF = 8, TS = 10, NP = 11, SS = 12, GP = 13, PF = 14, MF = 16, AC = 17 };

/* #PF error code bits (SDM Vol. 3 4.7). */
#define PFERR_P 1u
#define PFERR_W 2u
#define PFERR_U 4u
#define PFERR_RSVD 8u
#define PFERR_I 16u

/* ---- port I/O and CPU instructions ---- */
static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u16 inw(u16 port) { u16 v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u32 inl(u16 port) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline ulong read_cr0(void) { ulong v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline ulong read_cr2(void) { ulong v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline ulong read_cr3(void) { ulong v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline ulong read_cr4(void) { ulong v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr0(ulong v) { __asm__ volatile("mov %0, %%cr0" ::"r"(v) : "memory"); }
static inline void write_cr2(ulong v) { __asm__ volatile("mov %0, %%cr2" ::"r"(v) : "memory"); }
static inline void write_cr3(ulong v) { __asm__ volatile("mov %0, %%cr3" ::"r"(v) : "memory"); }
static inline void write_cr4(ulong v) { __asm__ volatile("mov %0, %%cr4" ::"r"(v) : "memory"); }
static inline void invlpg(ulong va) { __asm__ volatile("invlpg (%0)" ::"r"(va) : "memory"); }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }

static inline u64 rdmsr(u32 msr) {
  u32 lo, hi;
  __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return ((u64)hi << 32) | lo;
}
static inline void wrmsr(u32 msr, u64 v) {
  __asm__ volatile("wrmsr" ::"c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "memory");
}
static inline u64 rdtsc(void) {
  u32 lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((u64)hi << 32) | lo;
}
struct cpuid { u32 a, b, c, d; };
static inline struct cpuid cpuid(u32 leaf, u32 sub) {
  struct cpuid r;
  __asm__ volatile("cpuid" : "=a"(r.a), "=b"(r.b), "=c"(r.c), "=d"(r.d) : "a"(leaf), "c"(sub));
  return r;
}
static inline ulong read_flags(void) { ulong f; __asm__ volatile("pushf; pop %0" : "=r"(f)); return f; }

#define CR0_PE (1u << 0)
#define CR0_WP (1u << 16)
#define CR0_PG (1u << 31)
#define CR4_PSE (1u << 4)
#define CR4_PAE (1u << 5)
#define CR4_PGE (1u << 7)
#define CR4_SMEP (1u << 20)
#define CR4_SMAP (1u << 21)
#define MSR_EFER 0xc0000080u
#define EFER_SCE (1u << 0)
#define EFER_LME (1u << 8)
#define EFER_LMA (1u << 10)
#define EFER_NXE (1u << 11)
#define FLAGS_IF (1u << 9)
#define FLAGS_AC (1u << 18)

/* ---- libc bits ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
/* The kernel command line (multiboot), "" if none; cmdline_u32("key", d) reads key=<decimal>. */
const char *cmdline(void);
u32 cmdline_u32(const char *key, u32 fallback);

/* ---- serial (8250 at 0x3f8) and formatted output ---- */
void serial_init(void);
void serial_putc(char c);
void puts_raw(const char *s);
/* printf subset: %d %u %x %s %c, width and '0' flag, 'l' and 'll' (hex only for 64-bit). */
int printf(const char *fmt, ...);
int vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);
int snprintf(char *buf, size_t n, const char *fmt, ...);

/* ---- the report: `PASS name`, `FAIL name: expected X got Y`, `SKIP name: why`, `SUMMARY: ...` ---- */
void report_begin(const char *guest);
void pass(const char *fmt, ...);
void fail(const char *detail, const char *fmt, ...);
void skip(const char *why, const char *fmt, ...);
/* report(ok, name...): PASS or a FAIL without values. */
int report(int ok, const char *fmt, ...);
/* check_eq(expected, got, name...): PASS when equal, else FAIL with both values in hex. */
int check_eq(u64 expected, u64 got, const char *fmt, ...);
/* Ends the guest: prints the summary and writes the failure count to the debug-exit port. */
__attribute__((noreturn)) void report_end(void);
/* Prints the SUMMARY line only (for a guest that ends another way: an ACPI power-off, a reset). */
void report_summary(void);
__attribute__((noreturn)) void debug_exit(u8 v);
int report_failures(void);

/* ---- descriptors, traps, ring 3 ---- */
void gdt_set(u16 sel, u32 base, u32 limit, u8 access, u8 flags);
void idt_set(int vec, void *handler_stub, int dpl);
void *idt_stub(int vec);

/* What the last trapped exception or interrupt was; written by the common handler. */
struct trap_info {
  int vector;
  ulong error_code;
  ulong cr2;
  ulong ip;
  ulong cs;
  ulong sp; /* only valid when the trap came from ring 3 (or always in long mode) */
  ulong ss;
  ulong ax, bx, cx, dx; /* the interrupted code's registers */
  u32 count; /* number of traps recorded so far */
};
extern volatile struct trap_info last_trap;

/* trap_call(fn, arg): calls fn(arg); an exception in it is caught and makes trap_call return
 * its vector (last_trap tells the rest); a normal return gives TRAP_NONE. */
int trap_call(void (*fn)(ulong), ulong arg);
/* trap_user(ip, sp, ax, bx, cx): runs at CPL 3 from ip with stack sp and the given registers,
 * IF clear. Returns VEC_USER_DONE when the code executes `int $0x81`, or the vector of the
 * exception that stopped it. */
int trap_user(ulong ip, ulong sp, ulong ax, ulong bx, ulong cx);
/* A handler for a vector that returns normally (interrupts, INT n tests). */
struct trap_frame;
typedef void (*trap_handler)(struct trap_frame *f);
void set_handler(int vec, trap_handler h);
/* A handler may set this to another saved frame (another task's stack): the common path then
 * returns into that frame instead (a context switch, see guest/demo). */
extern struct trap_frame *volatile switch_to_frame;
extern u8 user_stack[]; /* 4 KiB, used by tests that do not page */
#define USER_STACK_TOP ((ulong)user_stack + 4096)

#ifdef __x86_64__
struct trap_frame {
  u64 r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
  u64 vector, error_code, ip, cs, flags, sp, ss;
};
#else
struct trap_frame {
  u32 gs, fs, es, ds;
  u32 rdi, rsi, rbp, rsp_dummy, rbx, rdx, rcx, rax; /* pusha order, reversed */
  u32 vector, error_code, ip, cs, flags, sp, ss; /* sp/ss only when the trap came from ring 3 */
};
#endif

/* ---- 8259 PIC and 8254 PIT ---- */
void pic_init(void); /* remap to 0x20/0x28, all masked */
void pic_mask(int irq, int masked);
void pic_eoi(int irq);
u8 pic_irr(void); /* master IRR via OCW3 */
void pit_periodic(u16 divisor); /* channel 0, mode 2 (rate generator) */
extern volatile u32 pit_ticks; /* incremented by the library's IRQ 0 handler */
void pit_irq_install(void);

/* ---- paging (pgtable.c) ---- */
enum pg_mode { PG_2LEVEL, PG_PAE, PG_4LEVEL };
#define PTE_P (1u << 0)
#define PTE_W (1u << 1)
#define PTE_U (1u << 2)
#define PTE_PWT (1u << 3)
#define PTE_PCD (1u << 4)
#define PTE_A (1u << 5)
#define PTE_D (1u << 6)
#define PTE_PS (1u << 7)
#define PTE_G (1u << 8)
#define PTE_NX (1ull << 63)
/* A page from the page pool, zeroed; physical = virtual (the pool is identity mapped). */
void *alloc_page(void);
void pool_reset_to(void *mark);
void *pool_mark(void);
/* A new, empty address space root (PAE: a PDPT with 4 present PDs, so PDPTEs never change). */
ulong pg_new_root(enum pg_mode m);
/* Map [va, va+size) to pa with `flags` on the leaf (and P|W|U on the tables above).
 * page_size: 4096, or the mode's large page (4 MiB 2-level, 2 MiB PAE/4-level). */
void pg_map(enum pg_mode m, ulong root, ulong va, u64 pa, u64 size, u64 flags, u64 page_size);
/* The entry that maps va at `level` (1 = pte, 2 = pde, 3 = pdpte, 4 = pml4e); NULL if a table
 * above is missing or maps a large page. For 2-level, entries are 32-bit; the pointer is to u32. */
void *pg_entry(enum pg_mode m, ulong root, ulong va, int level);
u64 pg_get(enum pg_mode m, void *entry);
void pg_set(enum pg_mode m, void *entry, u64 v);
/* Identity map the first `bytes` of memory (kernel, pool) with `flags`, large pages where possible. */
void pg_identity(enum pg_mode m, ulong root, u64 bytes, u64 flags);
/* Switch paging on in mode m with root. Long-mode builds are always paged (boot64.S): there
 * pg_enable loads root and pg_disable returns to the boot tables. */
void pg_enable(enum pg_mode m, ulong root);
void pg_disable(void);
/* The paging modes this build can test: 2-level and PAE (32-bit builds), 4-level (64-bit). */
#ifdef __x86_64__
#define TEST_MODES {PG_4LEVEL}
#else
#define TEST_MODES {PG_2LEVEL, PG_PAE}
#endif
const char *pg_mode_name(enum pg_mode m);
int pg_levels(enum pg_mode m);
/* Large page size of a mode: 4 MiB (2-level), 2 MiB (PAE, 4-level). */
u64 pg_large(enum pg_mode m);
/* A root identity mapping the first 64 MiB (kernel: supervisor, writable) for tests. */
ulong pg_test_root(enum pg_mode m);
/* Test mappings live at TEST_VA, user code and stacks at USER_VA: far from the identity map and
 * from each other, so they share no paging-structure entry at any level (a test may change the
 * bits of any entry on TEST_VA's walk without touching the kernel's or the user code's). */
#ifdef __x86_64__
#define TEST_VA 0x8000000000ul /* PML4 slot 1 */
#define USER_VA 0x10000000000ul /* PML4 slot 2 */
#else
#define TEST_VA 0x40000000ul /* PAE PDPT slot 1, 2-level PDE 256 */
#define USER_VA 0x80000000ul /* PAE PDPT slot 2, 2-level PDE 512 */
#endif
#define MEM_IDENTITY (64ul << 20)
/* Makes all of the first 64 MiB reachable from CPL 3 (trap_user on any code): a no-op with
 * paging off (32-bit); in long mode, loads a U=1 identity map (undo with pg_disable). */
void user_flat_begin(void);
/* cpu feature helpers */
int has_nx(void);
int has_smep(void);
int has_smap(void);
int has_pge(void);

/* User stub (user.S): at CPL 3 with eax=op, ebx=addr, ecx=value: op 0 reads [addr] into ecx,
 * 1 writes ecx to [addr], 2 calls addr; then executes ud2 (so a clean run ends in #UD at
 * user_stub_done). Position independent: tests copy it to a user page. */
extern u8 user_stub[], user_stub_end[], user_stub_done[];
enum { OP_READ = 0, OP_WRITE = 1, OP_EXEC = 2 };

/* Where the image ends (linker script). */
extern char __image_start[], __image_end[];
extern u32 mb_magic, mb_info;
/* hvm_start_info.magic (xen/include/public/arch-x86/hvm/start_info.h): a PVH loader's EBX. */
#define XEN_HVM_START_MAGIC 0x336ec578

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif
