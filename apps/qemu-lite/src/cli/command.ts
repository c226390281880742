/**
 * The qemu-lite command (started by cli.ts): a thin layer over `runGuest`. The main thread owns
 * the terminal, the signals and the timer service; the machine runs in its worker.
 */
import { readFileSync } from 'node:fs';
import { LOG_ITEMS } from '../config.js';
import { engineByName } from '../engines.js';
import { MONITOR_PROMPT, MonitorConsole } from '../monitor/console.js';
import { type GuestSession, runGuest } from '../run-guest.js';
import { parseArgs, USAGE, UsageError } from './args.js';
import { describeEnding } from './messages.js';
import { shutdownSignals } from './signals.js';
import { ESCAPE_HELP, EscapeDecoder, enterRawMode } from './terminal.js';

function version(): string {
  // Bundled, this module is a chunk in dist/; from source it is src/cli/command.ts.
  const at = import.meta.url.endsWith('.ts') ? '../../package.json' : '../package.json';
  const pkg = JSON.parse(readFileSync(new URL(at, import.meta.url), 'utf8')) as {
    version: string;
  };
  return `qemu-lite ${pkg.version}`;
}

/** Runs the command; resolves to the process's exit status. */
export async function main(argv: string[]): Promise<number> {
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
      'isa-debug-exit  iobase=, iosize=\nisa-debugcon    iobase=, readback=\npc-testdev\nloader          file=, addr=, cpu-num=0\nvirtio-blk-pci  drive=, serial=, logical_block_size=, physical_block_size=\nvirtio-net-pci  netdev=, mac=\nvirtio-rng-pci\nvirtio-serial-pci\nvirtconsole     chardev=\n',
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
  // A signal asks the guest to stop (QEMU: status 0, "terminating on signal N"); if it does not,
  // a later signal or the watchdog leaves at once, terminal restored (cli/signals.ts).
  const attachSignals = (s: GuestSession) =>
    shutdownSignals.attach({
      request: () => s.quit('signal'),
      force: (signo) => {
        restoreTerminal();
        process.stderr.write(`qemu-lite: terminating on signal ${signo}: the guest did not stop\n`);
        process.exit(128 + signo);
      },
    });
  // The monitor: on stdin with -monitor stdio, else behind Ctrl-A c on the serial console.
  const tty = process.stdin.isTTY === true;
  const writeOut = (text: string) => process.stdout.write(tty ? text.replace(/\n/g, '\r\n') : text);
  const monitor = new MonitorConsole((line) => session?.monitor(line), writeOut, tty);
  let inMonitor = parsed.monitorStdio === true;
  const decoder = new EscapeDecoder({
    // -chardev stdio on the virtconsole: the keyboard types into the guest's hvc0, not the UART.
    input: (bytes) =>
      inMonitor
        ? monitor.feed(bytes)
        : parsed.consoleStdin
          ? session?.sendConsoleInput(bytes)
          : session?.sendInput(bytes),
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
        attachSignals(s);
        if (parsed.monitorStdio) monitor.start(version().replace('qemu-lite ', ''));
        process.stdin.on('data', onData);
        process.stdin.resume();
      },
    });
    restoreTerminal();
    const message = describeEnding(result, parsed.options.accel, shutdownSignals.received);
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
