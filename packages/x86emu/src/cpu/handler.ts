import type { Insn } from '../decoder/insn.js';
import type { Cpu } from './cpu.js';

/** An instruction's implementation; the dispatch table holds one per opcode-table row. */
export type Handler = (cpu: Cpu, insn: Insn) => void;
