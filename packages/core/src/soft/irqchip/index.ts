export { APIC_DEST, APIC_DM, type LapicIrq } from './apic-irq.js';
export { IOAPIC_DEFAULT_BASE_ADDRESS, IOAPIC_NUM_PINS, KvmIoapic } from './ioapic.js';
export { KVM_MAX_IRQ_ROUTES } from './irq-routing.js';
export { KVM_USERSPACE_IRQ_SOURCE_ID, KvmIrqchip } from './irqchip.js';
export { APIC, APIC_BASE_MSR, KvmLapic } from './lapic.js';
export { KvmPic } from './pic.js';
