import { describe, expect, it } from 'vitest';
import { describeEnding } from '../../src/cli/messages.js';

describe('ending messages', () => {
  it('names the exit reason, what the engine said, and shows the registers for an engine failure', () => {
    const message = describeEnding({
      exitReason: { kind: 'failure', exitReason: 17, detail: 'suberror 1 (emulation failure)' },
      registers: 'RAX=0000000000000000 ...',
    });
    expect(message).toBe(
      'qemu-lite: engine failure: KVM_EXIT_INTERNAL_ERROR: suberror 1 (emulation failure)\nRAX=0000000000000000 ...',
    );
  });

  it('names the accelerator and what it lacks when the engine cannot run the guest', () => {
    const message = describeEnding(
      {
        exitReason: {
          kind: 'failure',
          exitReason: 17,
          detail:
            'the software engine does not run long mode yet (guest set EFER.LME: EFER=0x100 at RIP 0x1000d5)',
          unsupported: true,
        },
        registers: 'RAX=…',
      },
      'vmx',
    );
    expect(message).toBe(
      'qemu-lite: -accel vmx: the software engine does not run long mode yet (guest set EFER.LME: EFER=0x100 at RIP 0x1000d5)',
    );
  });

  it('says nothing for endings the status already tells', () => {
    expect(describeEnding({ exitReason: { kind: 'debug-exit', status: 1 } })).toBeUndefined();
    expect(describeEnding({ exitReason: { kind: 'quit', cause: 'user' } })).toBeUndefined();
    expect(describeEnding({ exitReason: { kind: 'quit', cause: 'signal' } })).toBe(
      'qemu-lite: terminating on signal',
    );
    // The command names the signal, as QEMU's qemu_kill_report does.
    expect(describeEnding({ exitReason: { kind: 'quit', cause: 'signal' } }, 'vmx', 15)).toBe(
      'qemu-lite: terminating on signal 15',
    );
  });
});
