/** The monitor's terminal side: Ctrl-A c switches to it, lines with echo and backspace, the prompt. */
import { describe, expect, it } from 'vitest';
import { EscapeDecoder } from '../../src/cli/terminal.js';
import { MONITOR_PROMPT, MonitorConsole } from '../../src/monitor/console.js';

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

describe('the monitor console', () => {
  it("is switched to by Ctrl-A c, and what follows is not the guest's", () => {
    let switches = 0;
    const input: number[] = [];
    const d = new EscapeDecoder({
      input: (b) => input.push(...b),
      quit: () => {},
      help: () => {},
      monitor: () => switches++,
    });
    d.feed(bytes('ab\x01cd\x01C'));
    expect(switches).toBe(2);
    expect(input).toEqual([...bytes('abd')]);
  });

  it('sends whole lines, echoes on a terminal, handles backspace, and prompts after output', () => {
    const sent: string[] = [];
    let screen = '';
    const m = new MonitorConsole(
      (l) => sent.push(l),
      (t) => {
        screen += t;
      },
      true,
    );
    m.start('1.0');
    m.feed(bytes('info regz\x7fisters\r'));
    expect(sent).toEqual(['info registers']);
    expect(screen).toBe(
      `QEMU 1.0 monitor - type 'help' for more information\n${MONITOR_PROMPT}info regz\b \bisters\n`,
    );
    m.output('RAX=0\n');
    expect(screen.endsWith(`RAX=0\n${MONITOR_PROMPT}`)).toBe(true);
    m.feed(bytes('\r'));
    expect(sent).toHaveLength(1); // an empty line only prompts again
  });

  it('does not echo piped input', () => {
    let screen = '';
    const sent: string[] = [];
    const m = new MonitorConsole(
      (l) => sent.push(l),
      (t) => {
        screen += t;
      },
      false,
    );
    m.feed(bytes('stop\ncont\n'));
    expect(sent).toEqual(['stop', 'cont']);
    expect(screen).toBe('');
  });
});
