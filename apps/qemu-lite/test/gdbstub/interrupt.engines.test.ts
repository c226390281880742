/**
 * Ctrl-C from a gdb client: the stub's socket gets 0x03 while the guest runs, the main thread
 * kicks the vCPU out of KVM_RUN, and the stop reply is T02 (SIGINT); after `D` (detach) the guest
 * runs on to its end. Spoken at the packet level, as gdb would, over the stub's unix socket.
 */
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { encodePacket } from '../../src/gdbstub/packet.js';
import { runGuest } from '../../src/index.js';
import { hostSkipReason } from '../helpers.js';

const demo = fileURLToPath(new URL('../../../../tools/guests/out/demo.elf', import.meta.url));

/** A minimal client: sends bytes, waits for a reply packet matching `re`. */
function client(path: string) {
  const socket = connect(path);
  let buffer = '';
  const waiters: { re: RegExp; resolve: (m: string) => void }[] = [];
  socket.on('data', (d: Buffer) => {
    buffer += d.toString('latin1');
    for (const w of [...waiters]) {
      const m = w.re.exec(buffer);
      if (m) {
        buffer = buffer.slice(m.index + m[0].length);
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m[0]);
      }
    }
  });
  return {
    send: (text: string) => socket.write(text, 'latin1'),
    expect: (re: RegExp, ms = 20_000) =>
      new Promise<string>((resolve, reject) => {
        waiters.push({ re, resolve });
        setTimeout(() => reject(new Error(`no ${re} within ${ms} ms; got ${JSON.stringify(buffer)}`)), ms);
      }),
    close: () => socket.destroy(),
  };
}

for (const accel of ['vmx', 'kvm']) {
  const skip = accel === 'kvm' ? hostSkipReason : undefined;
  describe.skipIf(skip !== undefined)(
    `Ctrl-C from gdb on -accel ${accel}${skip ? ` (skipped: ${skip})` : ''}`,
    () => {
      it('stops the running guest with SIGINT, and detaching lets it finish', async () => {
        const path = join(mkdtempSync(join(tmpdir(), 'qemu-lite-gdb-')), 'gdb.sock');
        let steps: Promise<string[]> | undefined;
        // Ctrl-C goes once the first task has printed: eleven more turns, 10 ms of PIT each, remain.
        let firstTurn: () => void = () => {};
        const running = new Promise<void>((resolve) => {
          firstTurn = resolve;
        });
        let serial = '';
        const result = await runGuest({
          kernel: demo,
          accel,
          memory: '64M',
          timeoutMs: 60_000,
          noReboot: true,
          debugExit: { iobase: 0xf4, iosize: 4 },
          gdb: `unix:${path}`,
          startStopped: true,
          onSerial: (chunk) => {
            serial += Buffer.from(chunk).toString('latin1');
            if (serial.includes('turn 1:')) firstTurn();
          },
          onGdbListening: () => {
            steps = (async () => {
              const c = client(path);
              const seen: string[] = [];
              c.send(`+${encodePacket('?')}`);
              seen.push(await c.expect(/\$T05[^#]*#[0-9a-f]{2}/));
              c.send(encodePacket('c'));
              await running;
              c.send('\x03');
              seen.push(await c.expect(/\$T02[^#]*#[0-9a-f]{2}/));
              c.send(encodePacket('D'));
              seen.push(await c.expect(/\$OK#9a/));
              c.close();
              return seen;
            })();
          },
        });
        const seen = await steps;
        expect(seen).toEqual(['$T05thread:01;#07', '$T02thread:01;#04', '$OK#9a']);
        expect(result.exitReason.kind).toBe('debug-exit');
        expect(result.serial).toContain('[delta] turn 3');
      }, 90_000);

      it("reports the guest's end to an attached gdb with W and its status", async () => {
        const path = join(mkdtempSync(join(tmpdir(), 'qemu-lite-gdb-')), 'gdb.sock');
        let reply: Promise<string> | undefined;
        const result = await runGuest({
          kernel: demo,
          accel,
          memory: '64M',
          timeoutMs: 60_000,
          noReboot: true,
          debugExit: { iobase: 0xf4, iosize: 4 },
          gdb: `unix:${path}`,
          startStopped: true,
          onGdbListening: () => {
            reply = (async () => {
              const c = client(path);
              c.send(`+${encodePacket('c')}`);
              const end = await c.expect(/\$W[0-9a-f]{2}#[0-9a-f]{2}/);
              c.close();
              return end;
            })();
          },
        });
        // The demo writes 0 to debug-exit: status (0 << 1) | 1.
        expect(result.status).toBe(1);
        expect(await reply).toBe(encodePacket('W01'));
      }, 90_000);
    },
  );
}
