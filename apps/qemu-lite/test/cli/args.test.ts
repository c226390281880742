import { describe, expect, it } from 'vitest';
import { parseArgs, parseKeyValues, UsageError } from '../../src/cli/args.js';

function usageError(argv: string[]): string {
  try {
    parseArgs(argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('command line', () => {
  it('takes QEMU spellings for a multiboot boot with debug-exit', () => {
    const { options } = parseArgs([
      '-m',
      '256M',
      '-kernel',
      'k.elf',
      '-append',
      'console=ttyS0 quiet',
      '-smp',
      '1',
      '-nographic',
      '-serial',
      'stdio',
      '-no-reboot',
      '-accel',
      'kvm',
      '-device',
      'isa-debug-exit,iobase=0xf4,iosize=0x04',
    ]);
    expect(options.memory).toBe(256 * 2 ** 20);
    expect(options.kernel).toBe('k.elf');
    expect(options.append).toBe('console=ttyS0 quiet');
    expect(options.serialToStdout).toBe(true);
    expect(options.noReboot).toBe(true);
    expect(options.accel).toBe('kvm');
    expect(options.debugExit).toEqual({ iobase: 0xf4, iosize: 4 });
  });

  it('accepts double-dash forms and -m size=, and a bare -m number is MiB', () => {
    expect(parseArgs(['--m', 'size=1G', '--kernel', 'k']).options.memory).toBe(2 ** 30);
    expect(parseArgs(['-m', '64', '-kernel', 'k']).options.memory).toBe(64 * 2 ** 20);
  });

  it('names an unknown flag in the error, as QEMU does', () => {
    expect(usageError(['-kernel', 'k', '-frobnicate'])).toBe('-frobnicate: invalid option');
    expect(usageError(['-vga', 'std'])).toBe('-vga: invalid option');
  });

  it('says which flag lacks its argument', () => {
    expect(usageError(['-kernel'])).toBe('-kernel: requires an argument');
  });

  it('takes -smp as QEMU spells it and refuses a topology QEMU refuses, in its words', () => {
    expect(parseArgs(['-smp', '4']).options.smp).toEqual({ cpus: 4 });
    expect(parseArgs(['-smp', 'cpus=2,sockets=1,cores=2,threads=1,maxcpus=2']).options.smp).toEqual({
      cpus: 2,
      sockets: 1,
      cores: 2,
      threads: 1,
      maxcpus: 2,
    });
    expect(usageError(['-smp', '0'])).toBe(
      'Invalid CPU topology: CPU topology parameters must be greater than zero (cpus=0)',
    );
    expect(usageError(['-smp', '4,sockets=3'])).toBe(
      'Invalid CPU topology: product of the hierarchy must match maxcpus: sockets (3) * cores (1) * threads (1) != maxcpus (4)',
    );
    expect(usageError(['-smp', '17'])).toBe(
      "Invalid SMP CPUs 17. The max CPUs supported by machine 'pc' is 16",
    );
    expect(usageError(['-smp', '2,dies=2'])).toBe(
      "-smp: unknown property 'dies' (known: cpus, sockets, cores, threads, maxcpus)",
    );
    expect(usageError(['-smp', 'two'])).toBe('-smp: cpus=two is not a number');
  });

  it('refuses unknown devices or device properties', () => {
    expect(usageError(['-device', 'e1000'])).toBe('-device e1000: no such device here (try -device help)');
    expect(usageError(['-device', 'isa-debug-exit,iobase=0xf4,width=4'])).toBe(
      "-device isa-debug-exit: unknown property 'width' (known: iobase, iosize)",
    );
  });

  it('gives isa-debug-exit QEMU defaults (0x501, 1 byte)', () => {
    expect(parseArgs(['-kernel', 'k', '-device', 'isa-debug-exit']).options.debugExit).toEqual({
      iobase: 0x501,
      iosize: 1,
    });
  });

  it('reads a raw binary through -device loader', () => {
    const { options } = parseArgs(['-device', 'loader,file=g.bin,addr=0x100000,cpu-num=0']);
    expect(options.flat).toEqual({ image: 'g.bin', loadAddr: 0x100000, entry: 0x100000 });
  });

  it('turns the kernel irqchip on through -accel or -machine', () => {
    expect(parseArgs(['-accel', 'kvm,kernel-irqchip=on']).options.kernelIrqchip).toBe(true);
    expect(parseArgs(['-machine', 'pc,kernel-irqchip=off']).options.kernelIrqchip).toBe(false);
    expect(parseArgs(['-machine', 'kernel-irqchip=on']).options.kernelIrqchip).toBe(true);
  });

  it("reads -icount shift=N|auto (and QEMU's bare N or auto)", () => {
    expect(parseArgs(['-icount', 'shift=3']).options.icount).toEqual({ shift: 3 });
    expect(parseArgs(['-icount', '0']).options.icount).toEqual({ shift: 0 });
    expect(parseArgs(['-icount', 'shift=auto']).options.icount).toEqual({ shift: 'auto' });
    expect(parseArgs(['-icount', 'auto']).options.icount).toEqual({ shift: 'auto' });
    expect(usageError(['-icount', 'shift=11'])).toBe(
      '-icount shift=11: shift must be an integer from 0 to 10',
    );
    expect(usageError(['-icount', 'shift=1,sleep=off'])).toMatch(/unknown property 'sleep'/);
  });

  it("reads QEMU's -cpu host|max with features taken out or asked for", () => {
    expect(parseArgs(['-cpu', 'max,-rdrand,-serialize']).options.cpuFeatures).toEqual({
      rdrand: false,
      serialize: false,
    });
    expect(parseArgs(['-cpu', 'host']).options.cpuFeatures).toEqual({});
    expect(usageError(['-cpu', 'qemu64'])).toMatch(/^-cpu qemu64: qemu-lite has one CPU model per engine/);
    expect(usageError(['-cpu', 'max,-avx'])).toMatch(/^-cpu: no feature 'avx'/);
  });

  it("reads QEMU's -seed N (RDRAND's seed), an integer", () => {
    expect(parseArgs(['-seed', '42']).options.seed).toBe(42);
    expect(parseArgs(['-seed', '0']).options.seed).toBe(0);
    expect(usageError(['-seed', '-1'])).toBe('-seed -1: the seed must be an integer from 0 to 2^53 - 1');
    expect(usageError(['-seed', '0x10'])).toMatch(/^-seed 0x10: the seed must be an integer/);
    expect(usageError(['-seed', '9007199254740993'])).toMatch(/^-seed 9007199254740993/);
  });

  it('refuses kernel-irqchip=split with the reason (no userspace I/O APIC here)', () => {
    expect(usageError(['-machine', 'kernel-irqchip=split'])).toMatch(
      /^kernel-irqchip=split: qemu-lite has no userspace I\/O APIC/,
    );
    expect(usageError(['-accel', 'kvm,kernel-irqchip=split'])).toMatch(/^kernel-irqchip=split/);
    expect(usageError(['-machine', 'kernel-irqchip=maybe'])).toBe("kernel-irqchip: 'maybe' is not on or off");
  });

  it('parses -d lists and refuses unknown log items', () => {
    expect(parseArgs(['-d', 'exits,int']).options.log).toEqual(['exits', 'int']);
    expect(parseArgs(['-d', 'help']).logHelp).toBe(true);
    expect(usageError(['-d', 'in_asm'])).toBe('-d in_asm: unknown log item (try -d help)');
  });

  it('splits multiboot modules on commas, keeping each module command line', () => {
    expect(parseArgs(['-initrd', 'a.bin arg1,b.bin']).options.initrd).toEqual([
      { image: 'a.bin', cmdline: 'a.bin arg1' },
      { image: 'b.bin', cmdline: 'b.bin' },
    ]);
  });

  it('boots the demo with debug-exit and exit statistics when given no arguments', () => {
    const parsed = parseArgs([]);
    expect(parsed.demo).toBe(true);
    expect(parsed.options.kernel).toBeUndefined();
    expect(parsed.options.log).toEqual(['exits']);
    expect(parsed.options.debugExit).toEqual({ iobase: 0xf4, iosize: 4 });
  });

  it('keeps the demo runnable whatever other flags are given (its debug-exit port, the exit table)', () => {
    for (const argv of [
      ['-accel', 'kvm'],
      ['-d', 'int'],
      ['-m', '64M', '-nographic', '-no-reboot'],
    ]) {
      const parsed = parseArgs(argv);
      expect(parsed.demo, argv.join(' ')).toBe(true);
      expect(parsed.options.debugExit, argv.join(' ')).toEqual({ iobase: 0xf4, iosize: 4 });
      expect(parsed.options.log, argv.join(' ')).toContain('exits');
    }
    expect(parseArgs(['-d', 'int']).options.log).toEqual(['exits', 'int']);
    // The demo's own port given explicitly is fine; a different one would never end the demo.
    expect(parseArgs(['-device', 'isa-debug-exit,iobase=0xf4,iosize=4']).demo).toBe(true);
    expect(usageError(['-device', 'isa-debug-exit'])).toBe(
      '-device isa-debug-exit: the bundled demo (no -kernel) reports through iobase=0xf4,iosize=4',
    );
    // With a guest of the user's, no demo and no device unless asked for.
    const own = parseArgs(['-kernel', 'k.elf', '-accel', 'kvm']);
    expect(own.demo).toBe(false);
    expect(own.options.debugExit).toBe(false);
    expect(parseArgs(['-device', 'loader,file=f,addr=0x1000']).demo).toBe(false);
  });

  it('rejects -kernel together with -device loader, and stray arguments', () => {
    expect(usageError(['-kernel', 'k', '-device', 'loader,file=f,addr=0'])).toBe(
      '-kernel and -device loader both give a guest: choose one',
    );
    expect(usageError(['k.elf'])).toBe('k.elf: unexpected argument (a kernel is given with -kernel FILE)');
  });

  it("reads QEMU's key=value syntax with ,, as a literal comma", () => {
    const { first, props } = parseKeyValues('loader,file=a,,b.bin,addr=0x10');
    expect(first).toBe('loader');
    expect(props.get('file')).toBe('a,b.bin');
    expect(props.get('addr')).toBe('0x10');
  });

  it('-debugcon and -device isa-debugcon: the output, the port and the readback', () => {
    expect(parseArgs(['-kernel', 'k', '-debugcon', 'file:/tmp/d.txt']).options.debugcon).toEqual({
      output: { file: '/tmp/d.txt' },
    });
    expect(
      parseArgs(['-kernel', 'k', '-device', 'isa-debugcon,iobase=0x402,readback=0', '-debugcon', 'stdio'])
        .options.debugcon,
    ).toEqual({ output: 'stdio', iobase: 0x402, readback: 0 });
    expect(parseArgs(['-kernel', 'k', '-debugcon', 'none']).options.debugcon).toBeUndefined();
    expect(usageError(['-kernel', 'k', '-device', 'isa-debugcon'])).toBe(
      '-device isa-debugcon needs an output: -debugcon stdio|file:PATH',
    );
    expect(usageError(['-debugcon', 'tcp:1234'])).toMatch(/^-debugcon tcp:1234: only stdio, file:PATH/);
    expect(usageError(['-debugcon', 'file:'])).toMatch(/^-debugcon file:: only/);
    expect(usageError(['-device', 'isa-debugcon,chardev=c0'])).toMatch(/unknown property 'chardev'/);
  });

  it('-device pc-testdev', () => {
    expect(parseArgs(['-kernel', 'k', '-device', 'pc-testdev']).options.pcTestdev).toBe(true);
    expect(parseArgs(['-kernel', 'k']).options.pcTestdev).toBeUndefined();
    expect(usageError(['-device', 'pc-testdev,iobase=1'])).toMatch(/unknown property 'iobase'/);
  });
});
