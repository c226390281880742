#!/usr/bin/env node
/**
 * The qemu-lite command's entry: catch SIGINT/SIGTERM/SIGHUP first (cli/signals.ts, a module
 * with no imports), then load the rest with a dynamic import. A static import of the command
 * would make node evaluate all of qemu-lite before the handlers exist (0.3-0.8 s here, in which
 * `timeout` or Ctrl-C killed the process with 128 + N and no word).
 */
import { shutdownSignals } from './cli/signals.js';

shutdownSignals.install();

const { main } = await import('./cli/command.js');

main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (error) => {
    process.stderr.write(`qemu-lite: internal error: ${(error as Error)?.stack ?? error}\n`);
    process.exit(1);
  },
);
