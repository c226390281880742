/**
 * One guest run on v86 (the npm package: its JavaScript CPU with the wasm JIT), in a process of
 * its own: v86 ends a run by throwing from the isa-debug-exit port handler (0xF4, "Test exited
 * with code"), out of its own timer loop, so the process is the unit of a run.
 *
 *   node v86-child.js <multiboot ELF> <command line>
 *
 * v86 loads a 32-bit multiboot ELF itself (no BIOS: with no `bios` it enters the image at once,
 * in flat protected mode, EAX = 0x2BADB002, EBX = the multiboot info with the command line) and
 * gives COM1's bytes to `serial0-output-byte`: they go to stdout. The exit status is the guest's
 * debug-exit value, 99 if v86 stopped any other way; its last stderr line `cpu-ms=<n>` the process's
 * CPU time.
 */
import { readFileSync } from 'node:fs';

interface V86Emulator {
  add_listener(event: 'serial0-output-byte', fn: (byte: number) => void): void;
}
type V86Ctor = new (options: Record<string, unknown>) => V86Emulator;

const [image, cmdline = ''] = process.argv.slice(2);
const v86Url = import.meta.resolve('v86');
const { V86 } = (await import(v86Url)) as { V86: V86Ctor };
const elf = readFileSync(image);
const serial: number[] = [];
process.on('uncaughtException', (error) => {
  process.stdout.write(Buffer.from(serial));
  // The run's CPU time, whole process (start-up included, as the bench's other rows), for the bench.
  const cpu = process.cpuUsage();
  process.stderr.write(`cpu-ms=${(cpu.user + cpu.system) / 1000}\n`);
  // v86 logs "Test exited with code 0xNN" before throwing "HALT"; the code is the guest's.
  process.exit(String(error) === 'HALT' ? exitCode : 99);
});
let exitCode = 0;
const log = console.log;
console.log = (...args: unknown[]) => {
  const m = /Test exited with code 0x([0-9a-f]+)/i.exec(String(args[0]));
  if (m) exitCode = Number.parseInt(m[1], 16);
  else log(...args);
};
const emulator = new V86({
  wasm_path: new URL('./v86.wasm', v86Url).pathname,
  multiboot: { buffer: elf.buffer.slice(elf.byteOffset, elf.byteOffset + elf.byteLength) },
  cmdline,
  memory_size: 64 << 20,
  autostart: true,
  disable_speaker: true,
  log_level: 0,
});
emulator.add_listener('serial0-output-byte', (byte) => serial.push(byte));
