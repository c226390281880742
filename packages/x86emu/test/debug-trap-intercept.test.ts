/**
 * A #DB trap the processor raises itself (single-step, data breakpoint) goes through the exception
 * intercept like any exception, also where VM-entry injection bypasses it (SDM Vol. 3C 25.2: the
 * exception bitmap covers #DB): the VMX model's `injectionBypassesExceptionHook` must not swallow it.
 */
import { describe, expect, it } from 'vitest';
import { StopReason } from '../src/index.js';
import { realMode, runTo } from './machine.js';

const DB = 1;

function machine(source: string) {
  const m = realMode(source, { captureExceptions: true });
  Object.assign(m.intercepts, { exceptionMask: 1 << DB, injectionBypassesExceptionHook: true });
  return m;
}

describe('#DB traps and the exception intercept', () => {
  it('the single-step trap after an instruction run with TF = 1 is offered to the intercept', () => {
    const m = machine('pushf; pop ax; or ax, 0x100; push ax; popf; nop; hlt');
    runTo(m, StopReason.Exception);
    expect(m.exceptions).toEqual([{ vector: DB, errorCode: 0, faultAddress: expect.any(Number) }]);
    expect(m.exceptions[0].faultAddress & 0x4000).toBe(0x4000); // DR6.BS
  });

  it('a data breakpoint trap is offered to the intercept, after the store', () => {
    const m = machine(
      'mov eax, 0x2000; mov dr1, eax; mov eax, 0x500404; mov dr7, eax; mov word ptr [0x2000], 5; hlt',
    );
    runTo(m, StopReason.Exception);
    expect(m.exceptions.map((e) => e.vector)).toEqual([DB]);
    expect(m.exceptions[0].faultAddress & 0xf).toBe(2); // DR6.B1
    expect(m.mem.bytes[0x2000]).toBe(5);
  });
});
