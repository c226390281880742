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

  it('says nothing for endings the status already tells', () => {
    expect(describeEnding({ exitReason: { kind: 'debug-exit', status: 1 } })).toBeUndefined();
    expect(describeEnding({ exitReason: { kind: 'quit', cause: 'user' } })).toBeUndefined();
    expect(describeEnding({ exitReason: { kind: 'quit', cause: 'signal' } })).toBe(
      'qemu-lite: terminating on signal',
    );
  });
});
