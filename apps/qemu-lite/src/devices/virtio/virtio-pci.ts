/**
 * virtio over PCI, the modern interface only (virtio 1.2 §4.1): a function with vendor 0x1af4
 * and device 0x1040 + the virtio device ID, whose capability list points into one 32-bit memory
 * BAR laid out as QEMU lays out its modern BAR: common configuration at 0x0000, ISR at 0x1000,
 * device configuration at 0x2000, notifications at 0x3000 (multiplier 4, queue n at 4n).
 * Interrupts are INTx (the ISR's bit 0 for used buffers, bit 1 for a configuration change, the
 * line up while the ISR is non-zero and down when it is read, §4.1.4.5) or, where the machine has
 * an APIC to send them to, MSI-X: a table of queues + 1 vectors in BAR 1 (QEMU's
 * `vectors_bar`), which the driver assigns with msix_config and queue_msix_vector (§4.1.5.1.2).
 */
import { type MsiSink, Msix } from '../pci/msix.js';
import { PCI_BASE_ADDRESS_0, PciDevice } from '../pci/pci-device.js';
import { type GuestMemory, GuestMemoryError } from './guest-memory.js';
import { type VirtqChain, Virtqueue, VirtqueueError } from './virtqueue.js';

export const PCI_VENDOR_ID_REDHAT_QUMRANET = 0x1af4;
/** Modern device IDs are 0x1040 + the virtio device ID (§4.1.2.1). */
export const VIRTIO_PCI_DEVICE_ID_BASE = 0x1040;
const PCI_CAP_ID_VNDR = 0x09;

/** Device status bits (§2.1). */
export const VIRTIO_CONFIG_S_ACKNOWLEDGE = 1;
export const VIRTIO_CONFIG_S_DRIVER = 2;
export const VIRTIO_CONFIG_S_DRIVER_OK = 4;
export const VIRTIO_CONFIG_S_FEATURES_OK = 8;
export const VIRTIO_CONFIG_S_NEEDS_RESET = 0x40;
export const VIRTIO_CONFIG_S_FAILED = 0x80;

/** Reserved feature bits (§6). */
export const VIRTIO_RING_F_INDIRECT_DESC = 28;
export const VIRTIO_RING_F_EVENT_IDX = 29;
export const VIRTIO_F_VERSION_1 = 32;

/** virtio_pci_cap.cfg_type (§4.1.4). */
export const VIRTIO_PCI_CAP_COMMON_CFG = 1;
export const VIRTIO_PCI_CAP_NOTIFY_CFG = 2;
export const VIRTIO_PCI_CAP_ISR_CFG = 3;
export const VIRTIO_PCI_CAP_DEVICE_CFG = 4;
export const VIRTIO_PCI_CAP_PCI_CFG = 5;

/** The BAR's regions (QEMU's virtio-pci modern layout). */
export const VIRTIO_COMMON_OFFSET = 0x0000;
export const VIRTIO_ISR_OFFSET = 0x1000;
export const VIRTIO_DEVICE_OFFSET = 0x2000;
export const VIRTIO_NOTIFY_OFFSET = 0x3000;
export const VIRTIO_NOTIFY_OFF_MULTIPLIER = 4;
const VIRTIO_BAR_SIZE = 0x4000;
const REGION_SIZE = 0x1000;
/** Which BAR holds the regions (QEMU uses 4, its `modern_mem_bar_idx`). */
export const VIRTIO_MODERN_BAR = 4;

/** struct virtio_pci_common_cfg (§4.1.4.3). */
export const COMMON = {
  deviceFeatureSelect: 0x00,
  deviceFeature: 0x04,
  driverFeatureSelect: 0x08,
  driverFeature: 0x0c,
  msixConfig: 0x10,
  numQueues: 0x12,
  deviceStatus: 0x14,
  configGeneration: 0x15,
  queueSelect: 0x16,
  queueSize: 0x18,
  queueMsixVector: 0x1a,
  queueEnable: 0x1c,
  queueNotifyOff: 0x1e,
  queueDesc: 0x20,
  queueDriver: 0x28,
  queueDevice: 0x30,
} as const;
export const VIRTIO_MSI_NO_VECTOR = 0xffff;
/** The MSI-X table and PBA's BAR (QEMU's virtio-pci `msix_bar_idx`). */
export const VIRTIO_MSIX_BAR = 1;

/** What a virtio device (block, net, …) gives its transport. */
export interface VirtioDeviceOps {
  /** The virtio device ID (§5: 2 = block). */
  readonly deviceId: number;
  /** PCI class code for the function (QEMU's per device). */
  readonly classCode: number;
  /** Device feature bits 0–31 and 32–63 (the transport adds VERSION_1 and the ring features). */
  readonly features: [number, number];
  /** Each queue's maximum size. */
  readonly queueSizes: number[];
  /** The device configuration structure (§5.x.4), read by the driver. */
  readonly config: Uint8Array;
  /**
   * Handles one chain from queue `queue`; returns the bytes it wrote into the chain's writable
   * buffers (the used element's len). Throws VirtqueueError for a malformed request.
   */
  handle(queue: number, chain: VirtqChain, mem: GuestMemory): number;
  /** Features the driver accepted (FEATURES_OK), low and high words. */
  negotiated?(low: number, high: number): void;
  reset?(): void;
  /**
   * For a queue the device fills on its own (a NIC's receive queue): whether it has something
   * for the driver now. The transport takes that queue's buffers only while this says so, and
   * leaves the rest for later. Absent: every queue is driven by the driver's requests.
   */
  hasPending?(queue: number): boolean;
  /** Called once with the transport, so that such a device can `notify(queue)` when input arrives. */
  attach?(transport: { notify(queue: number): void }): void;
}

export class VirtioPciDevice extends PciDevice {
  readonly queues: Virtqueue[];
  private readonly deviceFeatures: [number, number];
  private driverFeatures: [number, number] = [0, 0];
  private deviceFeatureSelect = 0;
  private driverFeatureSelect = 0;
  private queueSelect = 0;
  status = 0;
  isr = 0;
  private configGeneration = 0;
  /** A queue error stopped the device until the driver resets it (§2.1.2). */
  private broken = false;
  /** The last queue error, for `-d unimp`-style diagnostics and tests. */
  lastError: string | undefined;
  /** Offset of the VIRTIO_PCI_CAP_PCI_CFG capability in config space. */
  private readonly pciCfgCap: number;
  /** MSI-X, when the machine gave an MSI sink (an in-kernel irqchip); else INTx only. */
  readonly msix: Msix | undefined;
  /** msix_config and each queue's queue_msix_vector (§4.1.4.3), VIRTIO_MSI_NO_VECTOR if none. */
  private msixConfigVector = VIRTIO_MSI_NO_VECTOR;
  private readonly queueVectors: Uint16Array;

  constructor(
    name: string,
    readonly device: VirtioDeviceOps,
    private readonly mem: GuestMemory,
    msi?: MsiSink,
  ) {
    super(name, {
      vendorId: PCI_VENDOR_ID_REDHAT_QUMRANET,
      deviceId: VIRTIO_PCI_DEVICE_ID_BASE + device.deviceId,
      // Revision 1: a modern-only device (§4.1.2.1: "non-transitional").
      revision: 1,
      classCode: device.classCode,
      subsystemVendorId: PCI_VENDOR_ID_REDHAT_QUMRANET,
      subsystemId: 0x40 + device.deviceId,
      interruptPin: 1,
    });
    this.deviceFeatures = [
      (device.features[0] | (1 << VIRTIO_RING_F_INDIRECT_DESC) | (1 << VIRTIO_RING_F_EVENT_IDX)) >>> 0,
      (device.features[1] | (1 << (VIRTIO_F_VERSION_1 - 32))) >>> 0,
    ];
    this.queues = device.queueSizes.map((size) => new Virtqueue(mem, size));
    this.queueVectors = new Uint16Array(this.queues.length).fill(VIRTIO_MSI_NO_VECTOR);
    this.registerBar(VIRTIO_MODERN_BAR, {
      size: VIRTIO_BAR_SIZE,
      io: false,
      ops: { read: (o, s) => this.barRead(o, s), write: (o, s, v) => this.barWrite(o, s, v) },
    });
    // The capabilities, last first so that the list reads common, notify, ISR, device, and the
    // configuration-access window (§4.1.4.9), whose bar, offset and length the driver sets.
    this.pciCfgCap = this.addVirtioCap(VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 4);
    this.config[this.pciCfgCap + 4] = 0;
    this.wmask[this.pciCfgCap + 4] = 0xff;
    for (let i = 8; i < 20; i++) this.wmask[this.pciCfgCap + i] = 0xff;
    this.addVirtioCap(VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_DEVICE_OFFSET, Math.max(device.config.length, 4));
    this.addVirtioCap(VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_ISR_OFFSET, 1);
    const notify = this.addVirtioCap(
      VIRTIO_PCI_CAP_NOTIFY_CFG,
      VIRTIO_NOTIFY_OFFSET,
      VIRTIO_NOTIFY_OFF_MULTIPLIER * this.queues.length,
      4,
    );
    this.set32(notify + 16, VIRTIO_NOTIFY_OFF_MULTIPLIER);
    this.addVirtioCap(VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_COMMON_OFFSET, 0x38);
    // One vector per queue and one for configuration changes, as QEMU's virtio-blk/-net give.
    this.msix = msi ? new Msix(this, this.queues.length + 1, VIRTIO_MSIX_BAR, msi) : undefined;
    device.attach?.(this);
  }

  /** struct virtio_pci_cap (§4.1.4): vndr, next, len, cfg_type, bar, id, padding, offset, length. */
  private addVirtioCap(cfgType: number, offset: number, length: number, extra = 0): number {
    const at = this.addCapability(PCI_CAP_ID_VNDR, 16 + extra);
    this.config[at + 2] = 16 + extra;
    this.config[at + 3] = cfgType;
    this.config[at + 4] = VIRTIO_MODERN_BAR;
    this.set32(at + 8, offset);
    this.set32(at + 12, length);
    return at;
  }

  /**
   * Config-space access through the VIRTIO_PCI_CAP_PCI_CFG window (§4.1.4.9.1): touching
   * pci_cfg_data performs a `cap.length`-byte access at `cap.offset` of BAR `cap.bar`. A
   * window the driver set up against the rules (another BAR, length not 1, 2 or 4, offset not
   * aligned, or past the BAR) does nothing and reads back zeros.
   */
  override configRead(offset: number, size: number): number {
    const data = this.pciCfgCap + 16;
    if (offset < data + 4 && offset + size > data) {
      const window = this.pciCfgWindow();
      if (window) this.set32(data, this.barRead(window.offset, window.length));
      else this.set32(data, 0);
    }
    return super.configRead(offset, size);
  }

  override configWrite(offset: number, size: number, value: number): void {
    super.configWrite(offset, size, value);
    this.msix?.configWritten(offset, size);
    const data = this.pciCfgCap + 16;
    if (offset < data + 4 && offset + size > data) {
      const window = this.pciCfgWindow();
      if (window) {
        const mask = window.length === 4 ? 0xffffffff : (1 << (8 * window.length)) - 1;
        this.barWrite(window.offset, window.length, this.get32(data) & mask);
      }
    }
  }

  private pciCfgWindow(): { offset: number; length: number } | undefined {
    const cap = this.pciCfgCap;
    const offset = this.get32(cap + 8);
    const length = this.get32(cap + 12);
    if (this.config[cap + 4] !== VIRTIO_MODERN_BAR) return undefined;
    if (length !== 1 && length !== 2 && length !== 4) return undefined;
    if (offset % length !== 0 || offset + length > VIRTIO_BAR_SIZE) return undefined;
    return { offset, length };
  }

  /** Where the BAR is now, for the guest driver tests: gpa or -1. */
  get barGpa(): number {
    return this.barAddress(VIRTIO_MODERN_BAR);
  }

  private barRead(offset: number, size: number): number {
    const region = offset & ~(REGION_SIZE - 1);
    const at = offset & (REGION_SIZE - 1);
    switch (region) {
      case VIRTIO_COMMON_OFFSET:
        return this.commonRead(at, size);
      case VIRTIO_ISR_OFFSET: {
        // Reading the ISR clears it and lowers INTx (§4.1.4.5.1).
        const value = at === 0 ? this.isr : 0;
        if (at === 0) {
          this.isr = 0;
          this.setIntx(0);
        }
        return value;
      }
      case VIRTIO_DEVICE_OFFSET: {
        let value = 0;
        const bytes = this.device.config;
        for (let i = size - 1; i >= 0; i--)
          value = (value << 8) | (at + i < bytes.length ? bytes[at + i] : 0);
        return value >>> 0;
      }
      default:
        return 0;
    }
  }

  private barWrite(offset: number, size: number, value: number): void {
    const region = offset & ~(REGION_SIZE - 1);
    const at = offset & (REGION_SIZE - 1);
    if (region === VIRTIO_COMMON_OFFSET) this.commonWrite(at, size, value);
    else if (region === VIRTIO_NOTIFY_OFFSET) this.notify((at / VIRTIO_NOTIFY_OFF_MULTIPLIER) | 0);
    // The ISR is read-only; device configuration writes are ignored (block's writeback is not offered).
  }

  private get selected() {
    return this.queues[this.queueSelect];
  }

  private commonRead(at: number, size: number): number {
    const q = this.selected;
    const C = COMMON;
    // 64-bit fields are read as two dwords (§4.1.3.1: the driver accesses them 32 bits at a time).
    const addrField = (base: number, value: number) =>
      at === base ? value >>> 0 : at === base + 4 ? Math.floor(value / 0x100000000) : 0;
    switch (at) {
      case C.deviceFeatureSelect:
        return this.deviceFeatureSelect;
      case C.deviceFeature:
        return this.deviceFeatureSelect < 2 ? this.deviceFeatures[this.deviceFeatureSelect] : 0;
      case C.driverFeatureSelect:
        return this.driverFeatureSelect;
      case C.driverFeature:
        return this.driverFeatureSelect < 2 ? this.driverFeatures[this.driverFeatureSelect] : 0;
      case C.msixConfig:
        return this.msixConfigVector;
      case C.numQueues:
        return this.queues.length;
      case C.deviceStatus:
        return size === 2 ? this.status | (this.configGeneration << 8) : this.status;
      case C.configGeneration:
        return this.configGeneration;
      case C.queueSelect:
        return this.queueSelect;
      case C.queueSize:
        return q ? q.size : 0;
      case C.queueMsixVector:
        return q ? this.queueVectors[this.queueSelect] : VIRTIO_MSI_NO_VECTOR;
      case C.queueEnable:
        return q?.enabled ? 1 : 0;
      case C.queueNotifyOff:
        return q ? this.queueSelect : 0;
      default:
        if (!q) return 0;
        if (at >= C.queueDesc && at < C.queueDesc + 8) return addrField(C.queueDesc, q.descAddr);
        if (at >= C.queueDriver && at < C.queueDriver + 8) return addrField(C.queueDriver, q.driverAddr);
        if (at >= C.queueDevice && at < C.queueDevice + 8) return addrField(C.queueDevice, q.deviceAddr);
        return 0;
    }
  }

  private commonWrite(at: number, size: number, value: number): void {
    const q = this.selected;
    const C = COMMON;
    const setAddr = (base: number, old: number): number =>
      at === base
        ? Math.floor(old / 0x100000000) * 0x100000000 + (value >>> 0)
        : (value >>> 0) * 0x100000000 + (old % 0x100000000);
    switch (at) {
      case C.deviceFeatureSelect:
        this.deviceFeatureSelect = value >>> 0;
        return;
      case C.driverFeatureSelect:
        this.driverFeatureSelect = value >>> 0;
        return;
      case C.driverFeature:
        // Only while negotiating (§3.1.1: before FEATURES_OK), and only what the device offers.
        if (this.driverFeatureSelect < 2 && !(this.status & VIRTIO_CONFIG_S_FEATURES_OK))
          this.driverFeatures[this.driverFeatureSelect] = value >>> 0;
        return;
      case C.deviceStatus:
        this.writeStatus(value & 0xff);
        return;
      case C.msixConfig:
        this.msixConfigVector = this.vectorOrNone(value);
        return;
      case C.queueMsixVector:
        if (q) this.queueVectors[this.queueSelect] = this.vectorOrNone(value);
        return;
      case C.queueSelect:
        this.queueSelect = value & 0xffff;
        return;
      case C.queueSize:
        // A power of two no larger than the maximum (§2.7: split queue sizes are powers of two).
        if (q && !q.enabled && value > 0 && value <= q.maxSize && (value & (value - 1)) === 0) q.size = value;
        return;
      case C.queueEnable:
        // Only 1 may be written (§4.1.4.3.2); a queue is disabled by a device reset.
        if (q && value === 1) q.enabled = true;
        return;
      default:
        if (!q || q.enabled) return;
        if (at === C.queueDesc || at === C.queueDesc + 4) q.descAddr = setAddr(C.queueDesc, q.descAddr);
        else if (at === C.queueDriver || at === C.queueDriver + 4)
          q.driverAddr = setAddr(C.queueDriver, q.driverAddr);
        else if (at === C.queueDevice || at === C.queueDevice + 4)
          q.deviceAddr = setAddr(C.queueDevice, q.deviceAddr);
        void size;
    }
  }

  /**
   * A vector the table has, else VIRTIO_MSI_NO_VECTOR: the driver reads the field back to learn
   * that the device refused it (§4.1.5.1.2.1; QEMU's `virtio_pci_common_write`).
   */
  private vectorOrNone(value: number): number {
    const vector = value & 0xffff;
    return this.msix && vector < this.msix.vectors ? vector : VIRTIO_MSI_NO_VECTOR;
  }

  private writeStatus(value: number): void {
    if (value === 0) {
      this.resetDevice();
      return;
    }
    if (value & VIRTIO_CONFIG_S_FEATURES_OK && !(this.status & VIRTIO_CONFIG_S_FEATURES_OK)) {
      // §2.2.2/§3.1.1: FEATURES_OK stays clear when the driver accepted something we did not
      // offer or (modern interface, §6.1) did not accept VIRTIO_F_VERSION_1.
      const [lo, hi] = this.driverFeatures;
      const subset = (lo & ~this.deviceFeatures[0]) === 0 && (hi & ~this.deviceFeatures[1]) === 0;
      const version1 = (hi & (1 << (VIRTIO_F_VERSION_1 - 32))) !== 0;
      if (!subset || !version1) value &= ~VIRTIO_CONFIG_S_FEATURES_OK;
      else {
        const eventIdx = (lo & (1 << VIRTIO_RING_F_EVENT_IDX)) !== 0;
        for (const q of this.queues) q.eventIdx = eventIdx;
        this.device.negotiated?.(lo >>> 0, hi >>> 0);
      }
    }
    // NEEDS_RESET is the device's to set, not the driver's.
    this.status = (value & ~VIRTIO_CONFIG_S_NEEDS_RESET) | (this.status & VIRTIO_CONFIG_S_NEEDS_RESET);
  }

  /** Device reset (status 0, §2.1.1/§4.1.4.3.2): queues, features, ISR and INTx cleared. */
  resetDevice(): void {
    this.status = 0;
    this.isr = 0;
    this.driverFeatures = [0, 0];
    this.deviceFeatureSelect = 0;
    this.driverFeatureSelect = 0;
    this.queueSelect = 0;
    this.msixConfigVector = VIRTIO_MSI_NO_VECTOR;
    this.queueVectors.fill(VIRTIO_MSI_NO_VECTOR);
    this.broken = false;
    for (const q of this.queues) q.reset();
    this.device.reset?.();
    this.setIntx(0);
  }

  override reset(): void {
    super.reset();
    this.msix?.reset();
    this.resetDevice();
  }

  /** The driver's notification for queue `index`: process every available chain. Never throws. */
  notify(index: number): void {
    const q = this.queues[index];
    if (!q?.enabled || this.broken || !(this.status & VIRTIO_CONFIG_S_DRIVER_OK)) return;
    // Bus mastering off: the device may not DMA (PCI 3.0 6.2.2, bit 2).
    if (!(this.get16(0x04) & 0x4)) return;
    let pushed = false;
    try {
      for (;;) {
        if (this.device.hasPending && !this.device.hasPending(index)) break;
        const chain = q.pop();
        if (!chain) break;
        const written = this.device.handle(index, chain, this.mem);
        q.push(chain.head, written);
        pushed = true;
      }
      if (pushed && q.needsInterrupt()) this.raise(1, this.queueVectors[index]);
    } catch (error) {
      // Whatever the guest put in the rings ends here: an address outside RAM is as much its
      // error as a loop (the virtqueue checks both, GuestMemoryError is the backstop).
      if (!(error instanceof VirtqueueError || error instanceof GuestMemoryError)) throw error;
      this.fail(error.message);
    }
  }

  /**
   * §2.1.2: the device entered an error state: DEVICE_NEEDS_RESET, the queue stops (nothing
   * more is processed until a reset), and a configuration-change interrupt tells the driver.
   */
  private fail(message: string): void {
    this.lastError = message;
    this.broken = true;
    this.status |= VIRTIO_CONFIG_S_NEEDS_RESET;
    this.configGeneration = (this.configGeneration + 1) & 0xff;
    this.raise(2, this.msixConfigVector);
  }

  /**
   * The ISR bits are set either way (QEMU's `virtio_notify`); with MSI-X enabled the message
   * goes to `vector` (none: no interrupt, §4.1.5.1.2) and INTx# stays down (PCI 3.0 6.8.2.3).
   */
  private raise(bits: number, vector: number): void {
    this.isr |= bits;
    if (this.msix?.enabled) {
      if (vector !== VIRTIO_MSI_NO_VECTOR) this.msix.notify(vector);
    } else this.setIntx(1);
  }

  /** The BAR register's offset in config space (for tests that place it by hand). */
  static readonly barOffset = PCI_BASE_ADDRESS_0 + 4 * VIRTIO_MODERN_BAR;
}
