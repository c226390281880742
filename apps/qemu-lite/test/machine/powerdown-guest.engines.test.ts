/**
 * `system_powerdown` through the monitor on a running guest, on every engine and both interrupt
 * models: a real-mode guest (below) sets PWRBTN_EN, masks every 8259 line but IRQ 9 (vector 0x71
 * as SeaBIOS left the chips) and the cascade, says `R` and halts; the test then sends `system_powerdown`. The SCI wakes it; its
 * handler finds PWRBTN_STS, clears it, says `P` and powers off through PM1a_CNT (SLP_EN, S5), as
 * an ACPI OS answering the button would. Without the SCI the guest would halt for ever (timeout).
 */
import { describe, expect, it } from 'vitest';
import { type GuestSession, runGuest } from '../../src/index.js';
import { hostSkipReason } from '../helpers.js';

/** Assembled with GNU as (`.code16`, origin 0x1000); the listing is `objdump -m i8086`'s. */
const GUEST = Buffer.from(
  [
    'fa', //             cli
    '31c0 8ed8 8ed0', // xor ax,ax ; mov ds,ax ; mov ss,ax
    'bc0080', //         mov sp,0x8000
    'c706c4012f10', //   mov word [0x71*4],0x102f      ; IVT 0x71 (IRQ 9) → isr
    'c706c6010000', //   mov word [0x71*4+2],0
    'ba0206 b80001 ef', // mov dx,0x602 ; mov ax,0x100 ; out dx,ax   ; PM1a_EN = PWRBTN_EN
    'b0fb e621', //      mov al,0xfb ; out 0x21,al    ; only the cascade open on the master
    'b0fd e6a1', //      mov al,0xfd ; out 0xa1,al    ; only IRQ 9 (IR1) on the slave
    'baf803 b052 ee', // mov dx,0x3f8 ; mov al,'R' ; out dx,al
    'fb', //             sti
    'f4 ebfd', //        idle: hlt ; jmp idle
    'ba0006 ed', //      isr (0x102f): mov dx,0x600 ; in ax,dx    ; PM1a_STS
    'a90001 740e', //    test ax,0x100 ; jz eoi       ; PWRBTN_STS?
    'ef', //             out dx,ax                    ; write 1s back: clear them
    'baf803 b050 ee', // mov dx,0x3f8 ; mov al,'P' ; out dx,al
    'ba0406 b80020 ef', // mov dx,0x604 ; mov ax,0x2000 ; out dx,ax  ; SLP_EN, SLP_TYP 0 (S5)
    'b020 e6a0 e620', // eoi: mov al,0x20 ; out 0xa0,al ; out 0x20,al
    'cf', //             iret
  ]
    .join('')
    .replace(/ /g, ''),
  'hex',
);

const runs: { name: string; accel: string; kernelIrqchip: boolean; skip?: string }[] = [];
for (const accel of ['vmx', 'svm', 'kvm'])
  for (const kernelIrqchip of [true, false])
    runs.push({
      name: `${accel}${kernelIrqchip ? '' : ', kernel-irqchip=off'}`,
      accel,
      kernelIrqchip,
      skip: accel === 'kvm' ? hostSkipReason : undefined,
    });

describe.each(runs)('system_powerdown on -accel $name', ({ accel, kernelIrqchip, skip }) => {
  it.skipIf(skip !== undefined)(
    `raises PWRBTN_STS and the SCI; the guest's handler powers off${skip ? ` (skipped: ${skip})` : ''}`,
    async () => {
      let session: GuestSession | undefined;
      let serial = '';
      let pressed = false;
      const monitorOut: string[] = [];
      const r = await runGuest({
        flat: { image: GUEST, loadAddr: 0x1000, entry: 0x1000, mode: 'real' },
        accel,
        kernelIrqchip,
        timeoutMs: 20_000,
        onStart: (s) => {
          session = s;
        },
        onMonitorOutput: (text) => monitorOut.push(text),
        onSerial: (chunk) => {
          serial += Buffer.from(chunk).toString('latin1');
          if (!pressed && serial.includes('R')) {
            pressed = true;
            session?.monitor('system_powerdown');
          }
        },
      });
      expect(r.serial).toBe('RP');
      expect(r.exitReason).toEqual({ kind: 'poweroff' });
      expect(r.status).toBe(0);
      expect(monitorOut.join('')).not.toMatch(/no ACPI|unknown command/);
    },
  );
});
