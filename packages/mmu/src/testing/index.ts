/**
 * Test helpers for the MMU and its users: a fake host over one ArrayBuffer, and builders for
 * guest page tables. Imported as `@kvm/mmu/testing`.
 */
export { FakeHost, type FakeHostOptions, FakeVcpuHost } from './fake-host.js';
export {
  G_A,
  G_D,
  G_G,
  G_P,
  G_PCD,
  G_PS,
  G_PWT,
  G_U,
  G_W,
  GuestPageTables,
  type GuestPagingMode,
  type MapOptions,
} from './guest-tables.js';
