/**
 * The guests this package builds: one entry per image in out/, with what it needs, how it is
 * expected to end and what it covers. The Makefile's GUESTS32/GUESTS64 lists and this table
 * name the same images (a test checks that every image listed here exists after a build).
 */
import { fileURLToPath } from 'node:url';

/** How a guest ends when everything in it behaves as on real hardware. */
export type Outcome =
  /** Wrote 0 to the debug-exit port: every check passed (VMM status 1). */
  | 'pass'
  /** Triple-faulted: the VMM reports a shutdown (qemu-lite: exitReason 'reset'). */
  | 'shutdown'
  /** Every check passed, then the guest entered ACPI S5: the VMM powered off (status 0). */
  | 'poweroff';

/** What a guest needs from the engine beyond a 64-bit CPU. */
export type Need =
  /** Takes exceptions or interrupts through the IDT with paging off (32-bit protected mode). */
  | 'unpaged-exceptions'
  /** Runs SSE2 code at CPL 0 with paging off (32-bit protected mode). */
  | 'unpaged-sse'
  /** Enables 2-level or PAE paging from 32-bit protected mode. */
  | 'legacy-paging'
  /** Runs in long mode (every 64-bit guest). */
  | 'long-mode'
  /** Receives hardware interrupts (PIT through the 8259 PIC). */
  | 'interrupts'
  /** Delivers software interrupts (INT n, INT3) through the IDT. */
  | 'software-interrupts'
  /** Checks data breakpoints (DR7 R/W = 01 or 11) on its memory accesses. */
  | 'data-breakpoints'
  /** Models FERR# (x87 errors with CR0.NE = 0) onto IRQ 13, with the PC's port 0F0H latch. */
  | 'ferr'
  /**
   * qemu-lite's PC beyond the bare runner's machine: ACPI tables and PM registers, the in-kernel
   * PIT's port 0x61, the devices `GuestInfo.devices` names.
   */
  | 'pc-platform';

/** QEMU devices a guest is run with (qemu-lite's runGuest options; QEMU's -device). */
export type GuestDevice = 'pc-testdev';

export type GuestKind = 'test' | 'demo' | 'bench';

export interface GuestInfo {
  /** Image name: out/<name>.elf. */
  readonly name: string;
  /** Absolute path of the image (tools/guests/out/<name>.elf; present after the build). */
  readonly image: string;
  readonly kind: GuestKind;
  /** 32-bit protected-mode build, or long-mode build (64-bit code, 32-bit multiboot ELF). */
  readonly bits: 32 | 64;
  readonly needs: readonly Need[];
  readonly expect: Outcome;
  /** Guest RAM for the run (the guests identity map and test within the first 64 MiB). */
  readonly memory: string;
  readonly description: string;
  /** Devices the run adds (`-device pc-testdev`); none by default. */
  readonly devices?: readonly GuestDevice[];
}

const outDir = new URL('../out/', import.meta.url);

/** Absolute path of a guest's image (built by `make` into tools/guests/out). */
export function imagePath(name: string): string {
  return fileURLToPath(new URL(`${name}.elf`, outDir));
}

const MEM = '64M';

type Entry = Omit<GuestInfo, 'image'>;

function pair(
  name: string,
  description: string,
  needs32: Need[],
  needs64: Need[] = [
    'long-mode',
    ...needs32.filter((n) => n !== 'legacy-paging' && n !== 'unpaged-exceptions'),
  ],
): Entry[] {
  return [
    { name, kind: 'test', bits: 32, needs: needs32, expect: 'pass', memory: MEM, description },
    { name: `${name}64`, kind: 'test', bits: 64, needs: needs64, expect: 'pass', memory: MEM, description },
  ];
}

const ENTRIES: readonly Entry[] = [
  {
    name: 'modes',
    kind: 'test',
    bits: 32,
    needs: [],
    expect: 'pass',
    memory: MEM,
    description:
      '32-bit and 16-bit code segments, protected mode -> real mode -> protected mode, real-mode arithmetic, ' +
      'string, stack and segmentation instructions, INT n through the IVT',
  },
  {
    name: 'long',
    kind: 'test',
    bits: 64,
    needs: ['long-mode'],
    expect: 'pass',
    memory: MEM,
    description:
      'long mode entry state, 64-bit arithmetic, REX registers, RIP-relative addressing, zero extension, ' +
      'canonical addresses (#GP, #SS), 1 GiB pages, compatibility mode by far call and far return',
  },
  {
    name: 'sse64',
    kind: 'test',
    bits: 64,
    needs: ['long-mode'],
    expect: 'pass',
    memory: MEM,
    description:
      'C built with gcc -O2 -msse4.2 run at CPL 3: SSE2 scalar and packed float/double arithmetic and ' +
      'conversions, SSE3/SSE4.1 (HADDPD, ADDSUBPS, DPPS, BLENDVPS, ROUNDPS/SD), PCMPISTRI strlen/strpbrk, ' +
      'CRC32C, doubles printed digit by digit, every MXCSR rounding mode, FTZ/DAZ, #XM with the destination kept',
  },
  ...pair(
    'mmu',
    'the permission matrix: U/S, R/W, XD at every level of the walk, CR0.WP, SMEP/SMAP; supervisor and user ' +
      'reads, writes and fetches; exact #PF error code and CR2 for each',
    ['legacy-paging'],
  ),
  ...pair(
    'paging',
    '4 KiB and large pages (4 MiB, 2 MiB) mixed in one table, A/D bits set by the walk, INVLPG and CR3 ' +
      'reloads against stale translations, XD (and XD reserved with NXE clear), global pages',
    ['legacy-paging'],
  ),
  ...pair(
    'ctxswitch',
    'N = 2, 8, 32 address spaces switched by CR3 writes in a loop, touching memory in each',
    ['legacy-paging'],
  ),
  ...pair(
    'ptwrite',
    'writes to live page tables: a fork-like flood, a misaligned write straddling two ptes, cmpxchg8b on a ' +
      'pte, a page table recycled as code and executed, a pte write that removes permissions',
    ['legacy-paging'],
  ),
  ...pair(
    'exceptions',
    '#DE, #UD, #GP and #NP with error codes, #PF, faulting IP; IRET to CPL 3 and back by an exception with ' +
      'the TSS stack switch; privileged instructions at CPL 3',
    ['unpaged-exceptions', 'legacy-paging'],
  ),
  ...pair(
    'softint',
    'INT3, INT n and IRET, INT n from CPL 3 through DPL-3 and DPL-0 gates (#GP error code), INTO',
    ['unpaged-exceptions', 'software-interrupts'],
    ['long-mode', 'software-interrupts'],
  ),
  ...pair(
    'dbgregs',
    'the guest debugging itself: DR0-DR3/DR7 read back, TF single-steps a sequence (a #DB trap per ' +
      'instruction, DR6.BS, the POPF that clears TF included), an instruction breakpoint in DR0 (a fault, ' +
      'DR6.B0, continued with RF), write and read/write watchpoints in DR1/DR2 (traps after the access), INT3; ' +
      'twice, so that a debugger stopping it in between (qemu-lite gdbstub tests) must leave it all as it was',
    ['unpaged-exceptions', 'software-interrupts', 'data-breakpoints'],
    ['long-mode', 'software-interrupts', 'data-breakpoints'],
  ),
  ...pair(
    'interrupts',
    'PIT IRQ 0 through the 8259: held off by CLI, by the IMR and by an unacknowledged in-service IRQ; ' +
      'delivered after STI and its one-instruction shadow; HLT woken by an interrupt',
    ['unpaged-exceptions', 'interrupts'],
    ['long-mode', 'interrupts'],
  ),
  {
    name: 'fpuerr',
    kind: 'test',
    bits: 32,
    needs: ['unpaged-exceptions', 'interrupts', 'ferr'],
    expect: 'pass',
    memory: MEM,
    description:
      'x87 errors with CR0.NE = 0: an unmasked #Z asserts FERR# at the next FWAIT, which runs on, and IRQ 13 ' +
      'arrives through the 8259; its handler clears the latch with OUT 0F0H, so a second error is a second IRQ 13; ' +
      'with CR0.NE = 1 the same error is #MF at the FWAIT and no IRQ 13',
  },
  ...pair(
    'apic',
    'the local APIC of the in-kernel irqchip: base MSR, ID and version, a self-IPI held by IF and by an ' +
      'in-service vector until EOI, TPR (and CR8) masking and PPR, the timer one-shot, periodic and ' +
      'TSC-deadline',
    ['unpaged-exceptions', 'interrupts'],
    ['long-mode', 'interrupts'],
  ),
  ...pair(
    'ioapic',
    'the I/O APIC: version and ID through IOREGSEL/IOWIN, a level-triggered pin fed by the UART: remote IRR ' +
      'set by the delivery and cleared by EOI, TMR, redelivery while the line stays asserted, masking',
    ['unpaged-exceptions', 'interrupts'],
    ['long-mode', 'interrupts'],
  ),
  ...pair(
    'nmi',
    'NMIs from the local APIC (self-NMI through the ICR): taken with IF = 0 through vector 2, a second one ' +
      'held while the handler runs (across its VM exits) and delivered right after its IRET, never nested',
    ['unpaged-exceptions', 'interrupts'],
    ['long-mode', 'interrupts'],
  ),
  ...pair(
    'hpet',
    "QEMU's HPET (-machine hpet=on): its ID, period and timer capabilities, the counter halted until enabled " +
      'and writable then, 100 MHz against the ACPI PM timer, a level timer’s status bit at its comparator and ' +
      'its write-1-to-clear, a periodic comparator moving on by its period',
    ['unpaged-exceptions'],
    ['long-mode'],
  ),
  ...pair(
    'pctestdev',
    "QEMU's pc-testdev (-device pc-testdev): the scratch register at 0xe0 and its byte view at 0xe8, the " +
      'page flush at 0xe4, ISA IRQ lines at 0x2000 + n through the 8259 (an edge per interrupt, word writes ' +
      'split over two lines), reads of 0 from both, 64 KiB of I/O memory at 0xff000000 at every width and ' +
      'through REP MOVSB/STOSD',
    ['unpaged-exceptions', 'interrupts', 'pc-platform'],
    ['long-mode', 'interrupts', 'pc-platform'],
  ).map((e) => ({ ...e, devices: ['pc-testdev'] as const })),
  ...pair(
    'pmtimer',
    'the ACPI PM timer at port 0x608: monotonic, 3 ticks per PIT tick against channel 2 (gated and read at ' +
      'port 0x61), the TSC at a steady rate against it and at what CPUID leaf 0x15 says',
    ['pc-platform'],
  ),
  ...pair(
    'acpi',
    'the RSDP by the BIOS-area scan, RSDT and XSDT, every checksum, the FADT (PM blocks, SCI, reset register, ' +
      'FACS, DSDT), the MADT, the HPET table against the HPET, \\_S5 in the DSDT; then S5 power-off through ' +
      'PM1a_CNT (-append reset=1: the FADT reset register, reset=2: port 0xcf9, ending in a reset)',
    ['pc-platform'],
  ).map((e) => ({ ...e, expect: 'poweroff' as const })),
  ...pair(
    'cpu',
    'CPUID leaves, RDMSR/WRMSR of EFER, SYSENTER_*, TSC, PAT (and STAR/LSTAR/... in 64-bit), #GP on bad ' +
      'MSRs and values, RDTSC monotonic',
    ['unpaged-exceptions'],
  ),
  ...pair(
    'io',
    'IN/OUT of bytes, words and dwords (immediate and DX ports), REP INS/OUTS forwards and backwards, ' +
      'unmapped ports read all-ones',
    [],
  ),
  {
    name: 'cr3oob',
    kind: 'test',
    bits: 32,
    needs: ['legacy-paging'],
    expect: 'pass',
    memory: MEM,
    description:
      'PAE: a PDE pointing beyond memory is a not-present #PF; MOV to CR3 with invalid PDPTEs (reserved bits, ' +
      'a PDPT beyond memory) is #GP(0), CR3 unchanged; under AMD nested paging (no PDPTE registers) a #PF with ' +
      'RSVD at the first access through the bad PDPTE instead',
  },
  {
    name: 'cr3oob64',
    kind: 'test',
    bits: 64,
    needs: ['long-mode'],
    expect: 'shutdown',
    memory: MEM,
    description:
      'long mode: a PML4 entry pointing beyond memory is a not-present #PF; CR3 beyond memory ends in a shutdown exit, never a hang',
  },
  {
    name: 'triplefault',
    kind: 'test',
    bits: 32,
    needs: [],
    expect: 'shutdown',
    memory: MEM,
    description: 'an exception with an empty IDT: #GP, #DF, then a triple fault and a shutdown exit',
  },
  {
    name: 'triplefault64',
    kind: 'test',
    bits: 64,
    needs: ['long-mode'],
    expect: 'shutdown',
    memory: MEM,
    description: 'the same triple fault in long mode',
  },
  {
    name: 'demo',
    kind: 'demo',
    bits: 64,
    needs: ['long-mode', 'interrupts'],
    expect: 'pass',
    memory: MEM,
    description:
      'what qemu-lite boots with no arguments: four tasks in their own address spaces taking turns on the ' +
      'PIT interrupt, then a shutdown through the debug-exit port',
  },
  {
    name: 'bench-int',
    kind: 'bench',
    bits: 64,
    needs: ['long-mode'],
    expect: 'pass',
    memory: MEM,
    description: 'CPU-bound integer workload (xorshift, mixing, CRC-32) over 4 KiB pages; prints a checksum',
  },
  {
    name: 'bench-ctxsw',
    kind: 'bench',
    bits: 64,
    needs: ['long-mode'],
    expect: 'pass',
    memory: MEM,
    description:
      '16 address spaces x 100 rounds of CR3 switches and pte rewrites with INVLPG; prints a checksum',
  },
  {
    name: 'bench-int32',
    kind: 'bench',
    bits: 32,
    needs: ['legacy-paging'],
    expect: 'pass',
    memory: MEM,
    description:
      'bench-int for 32-bit protected mode with 32-bit (2-level) paging, or paging off with paging=0 on the ' +
      'command line (then it needs nothing); same checksum as bench-int',
  },
  {
    name: 'bench-ctxsw32',
    kind: 'bench',
    bits: 32,
    needs: ['legacy-paging'],
    expect: 'pass',
    memory: MEM,
    description: 'bench-ctxsw for 32-bit protected mode with 32-bit (2-level) paging; prints a checksum',
  },
  {
    name: 'bench-sse32',
    kind: 'bench',
    bits: 32,
    needs: ['unpaged-sse'],
    expect: 'pass',
    memory: MEM,
    description:
      'an SSE2 loop with paging off (packed single/double arithmetic, packed integer, a PCMPEQB/PMOVMSKB ' +
      'strlen scan, aligned and unaligned moves, conversions), each part checked against scalar code; ' +
      'prints a checksum, debug-exit status 1 on a mismatch',
  },
];

export const GUESTS: readonly GuestInfo[] = ENTRIES.map((e) => ({ ...e, image: imagePath(e.name) }));

/**
 * Images the build makes that are not in `GUESTS`: they need a device or a machine the shared
 * suite does not give them, so their own tests run them (`virtioblk64`, a disk:
 * apps/qemu-lite/test/virtio-blk.engines.test.ts; `virtionet64`, a NIC and a peer:
 * apps/qemu-lite/test/virtio-net.engines.test.ts; `virtiocon64`, a virtio console:
 * apps/qemu-lite/test/cli-chardev.test.ts; `bench-vblk`, virtio-blk throughput: apps/qemu-lite/bench/virtio.mjs;
 * `smp` and `smp64`, several vCPUs:
 * apps/qemu-lite/test/smp-guest.engines.test.ts; `pvh`, entered by a PVH loader with modules
 * (its Xen entry note in place of the multiboot header): apps/qemu-lite/test/pvh.engines.test.ts).
 */
export const DEVICE_GUESTS: readonly string[] = [
  'virtioblk64',
  'virtionet64',
  'virtiocon64',
  'bench-vblk',
  'smp',
  'smp64',
  'pvh',
];

/** The entry for a guest name; undefined if there is none. */
export function guestByName(name: string): GuestInfo | undefined {
  return GUESTS.find((g) => g.name === name);
}
