/**
 * The monitor's terminal side, on the main thread: bytes typed (or piped) in become command
 * lines, echoed with backspace handled when the terminal is raw; each line goes to the machine's
 * thread, whose output is printed with the `(qemu) ` prompt after it, as QEMU's readline does.
 */

export const MONITOR_PROMPT = '(qemu) ';

export class MonitorConsole {
  private line = '';

  constructor(
    private readonly send: (line: string) => void,
    private readonly write: (text: string) => void,
    /** Echo typed characters (a raw terminal); a pipe's lines are not echoed. */
    private readonly echo: boolean,
  ) {}

  /** Prints QEMU's greeting and the first prompt. */
  start(version: string): void {
    this.write(`QEMU ${version} monitor - type 'help' for more information\n${MONITOR_PROMPT}`);
  }

  feed(data: Uint8Array): void {
    for (const byte of data) {
      if (byte === 0x0d || byte === 0x0a) {
        if (byte === 0x0a && this.echo && this.line === '') continue; // CR LF from a terminal
        if (this.echo) this.write('\n');
        const line = this.line;
        this.line = '';
        if (line.trim() === '') this.write(MONITOR_PROMPT);
        else this.send(line);
      } else if (byte === 0x7f || byte === 0x08) {
        if (this.line.length > 0) {
          this.line = this.line.slice(0, -1);
          if (this.echo) this.write('\b \b');
        }
      } else if (byte >= 0x20 && byte < 0x7f) {
        this.line += String.fromCharCode(byte);
        if (this.echo) this.write(String.fromCharCode(byte));
      }
    }
  }

  /** Output of the last command, then the prompt. */
  output(text: string): void {
    this.write(`${text}${MONITOR_PROMPT}`);
  }
}
