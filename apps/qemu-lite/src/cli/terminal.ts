/**
 * The console side of the serial port on the main thread: raw mode while the guest runs, QEMU's
 * Ctrl-A escape keys, and a terminal that is always put back — on a normal exit, on an error,
 * and on SIGINT/SIGTERM/SIGHUP.
 */

export const CTRL_A = 0x01;

export const ESCAPE_HELP = `
C-a h    print this help
C-a x    exit qemu-lite
C-a c    switch between the console and the monitor
C-a C-a  send C-a to the guest
`;

export interface EscapeActions {
  /** Bytes for the guest. */
  input(bytes: Uint8Array): void;
  quit(): void;
  help(): void;
  /** Ctrl-A c: switch between the serial console and the monitor (QEMU's mux). */
  monitor?(): void;
}

/**
 * QEMU's mux escape state machine: Ctrl-A starts an escape; the next byte says what to do.
 * Everything else passes through. One instance per console.
 */
export class EscapeDecoder {
  private pendingEscape = false;

  constructor(private readonly actions: EscapeActions) {}

  feed(data: Uint8Array): void {
    let start = 0;
    for (let i = 0; i < data.length; i++) {
      const byte = data[i];
      if (this.pendingEscape) {
        this.pendingEscape = false;
        start = i + 1;
        switch (byte) {
          case 0x78: // x
          case 0x58:
            this.actions.quit();
            return;
          case 0x68: // h
          case 0x48:
          case 0x3f: // ?
            this.actions.help();
            break;
          case CTRL_A:
            this.actions.input(new Uint8Array([CTRL_A]));
            break;
          case 0x63: // c
          case 0x43:
            this.actions.monitor?.();
            break;
          default:
            break; // an unknown escape is swallowed, as in QEMU
        }
      } else if (byte === CTRL_A) {
        if (i > start) this.actions.input(data.subarray(start, i));
        this.pendingEscape = true;
        start = i + 1;
      }
    }
    if (!this.pendingEscape && start < data.length) this.actions.input(data.subarray(start));
  }
}

/** Puts stdin in raw mode (when it is a terminal) and returns the function that restores it. */
export function enterRawMode(): () => void {
  const stdin = process.stdin;
  if (!stdin.isTTY) return () => {};
  const wasRaw = stdin.isRaw;
  stdin.setRawMode(true);
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    try {
      stdin.setRawMode(wasRaw);
    } catch {
      // the terminal is gone (SIGHUP)
    }
  };
  // Whatever ends the process, the terminal comes back.
  process.once('exit', restore);
  return restore;
}
