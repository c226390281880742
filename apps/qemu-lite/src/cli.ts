#!/usr/bin/env node
/**
 * The qemu-lite command: a thin layer over `runGuest`. The main thread owns the terminal, the
 * signals and the timer service; the machine runs in its worker.
 */
import { readFileSync } from 'node:fs';
import { parseArgs, USAGE, UsageError } from './cli/args.js';
import { describeEnding } from './cli/messages.js';
import { ESCAPE_HELP, EscapeDecoder, enterRawMode } from './cli/terminal.js';
import { LOG_ITEMS } from './config.js';
import { engineByName } from './engines.js';
import { MONITOR_PROMPT, MonitorConsole } from './monitor/console.js';
import { type GuestSession, runGuest } from './run-guest.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return `qemu-lite ${pkg.version}`;
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`qemu-lite: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  if (parsed.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (parsed.version) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (parsed.logHelp) {
    for (const [item, what] of Object.entries(LOG_ITEMS))
      process.stdout.write(`${item.padEnd(10)} ${what}\n`);
    return 0;
  }
  if (parsed.deviceHelp) {
    process.stdout.write(
      'isa-debug-exit  iobase=, iosize=\nisa-debugcon    iobase=, readback=\npc-testdev\nloader          file=, addr=, cpu-num=0\nvirtio-blk-pci  drive=, serial=, logical_block_size=, physical_block_size=\nvirtio-net-pci  netdev=, mac=\nvirtio-rng-pci\nvirtio-serial-pci\nvirtconsole\n',
    );
    return 0;
  }
  if (parsed.options.accel !== undefined && !engineByName(parsed.options.accel)) {
    process.stderr.write(
      `qemu-lite: -accel ${parsed.options.accel}: invalid accelerator (kvm, host, vmx, svm)\n`,
    );
    return 1;
  }

  const restoreTerminal = enterRawMode();
  let session: GuestSession | undefined;
  let signalled = false;
  // First signal: stop the guest cleanly. A second one (or one before the guest runs): leave now,
  // terminal restored, whatever the machine's thread is doing.
  const onSignal = () => {
    if (session && !signalled) {
      signalled = true;
      session.quit('signal');
      return;
    }
    restoreTerminal();
    process.exit(130);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  // The monitor: on stdin with -monitor stdio, else behind Ctrl-A c on the serial console.
  const tty = process.stdin.isTTY === true;
  const writeOut = (text: string) => process.stdout.write(tty ? text.replace(/\n/g, '\r\n') : text);
  const monitor = new MonitorConsole((line) => session?.monitor(line), writeOut, tty);
  let inMonitor = parsed.monitorStdio === true;
  const decoder = new EscapeDecoder({
    input: (bytes) => (inMonitor ? monitor.feed(bytes) : session?.sendInput(bytes)),
    quit: () => session?.quit('user'),
    help: () => process.stdout.write(ESCAPE_HELP.replace(/\n/g, '\r\n')),
    monitor: () => {
      inMonitor = !inMonitor;
      if (inMonitor) writeOut(`\n${MONITOR_PROMPT}`);
    },
  });
  const onData = (data: Buffer) => decoder.feed(data);
  try {
    const result = await runGuest({
      ...parsed.options,
      captureSerial: false,
      onMonitorOutput: (text) => monitor.output(text),
      onStart: (s) => {
        session = s;
        if (parsed.monitorStdio) monitor.start(version().replace('qemu-lite ', ''));
        process.stdin.on('data', onData);
        process.stdin.resume();
      },
    });
    restoreTerminal();
    const message = describeEnding(result, parsed.options.accel);
    if (message) process.stderr.write(`${message}\n`);
    // The bundled demo says "all good" by writing 0 to the debug-exit port, which QEMU's
    // convention turns into status 1. With no arguments the user ran the demo, not a test:
    // its success is status 0 (a -kernel guest keeps the convention).
    if (parsed.demo && result.exitReason.kind === 'debug-exit' && result.status === 1) {
      process.stderr.write('qemu-lite: the demo guest finished and reported success\n');
      return 0;
    }
    return result.status;
  } catch (error) {
    restoreTerminal();
    process.stderr.write(`qemu-lite: ${(error as Error).message}\n`);
    return 1;
  } finally {
    restoreTerminal();
    process.stdin.off('data', onData);
    process.stdin.pause();
  }
}

main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (error) => {
    process.stderr.write(`qemu-lite: internal error: ${(error as Error)?.stack ?? error}\n`);
    process.exit(1);
  },
);
