#!/usr/bin/env node
/**
 * The qemu-lite command's entry: catch SIGINT/SIGTERM/SIGHUP first (cli/signals.ts, a module
 * with no imports), then load the rest with a dynamic import. A static import of the command
 * would make node evaluate all of qemu-lite before the handlers exist (0.3-0.8 s here, in which
 * `timeout` or Ctrl-C killed the process with 128 + N and no word). The machine's thread is started
 * next (machine-thread.ts, which imports nothing of qemu-lite either).
 */
import { shutdownSignals } from './cli/signals.js';
import { prestartMachineThread } from './machine-thread.js';

/** Arguments after which the command only prints (`help` is -d's and -device's value). */
const PRINT_ONLY = new Set(['-h', '-help', '--help', '-version', '--version', 'help']);

shutdownSignals.install();
// The machine's thread loads qemu-lite on the other core meanwhile (machine-thread.ts), unless
// the command only prints something (-h, -version, -d help, -device help).
const argv = process.argv.slice(2);
if (!argv.some((a) => PRINT_ONLY.has(a))) prestartMachineThread();

const { main } = await import('./cli/command.js');

main(argv).then(
  (status) => process.exit(status),
  (error) => {
    process.stderr.write(`qemu-lite: internal error: ${(error as Error)?.stack ?? error}\n`);
    process.exit(1);
  },
);
