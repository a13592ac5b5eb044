// Models the event log (spec amd-iommu §8): a ring of 16-byte entries the hardware writes at the
// tail; software drains head -> tail, zeroing what it consumed. IO_PAGE_FAULT layout: DeviceID
// 15:0, DomainID 47:32, flags 56:48, event code 63:60, address 127:64.

export const EVENT_IO_PAGE_FAULT = 2;
export const EVENT_ILLEGAL_COMMAND_ERROR = 5;
/** Event names of the spec's event codes 1..9. */
export type AmdEventName =
  | 'ILLEGAL_DEV_TABLE_ENTRY'
  | 'IO_PAGE_FAULT'
  | 'DEV_TAB_HARDWARE_ERROR'
  | 'PAGE_TAB_HARDWARE_ERROR'
  | 'ILLEGAL_COMMAND_ERROR'
  | 'COMMAND_HARDWARE_ERROR'
  | 'IOTLB_INV_TIMEOUT'
  | 'INVALID_DEVICE_REQUEST'
  | 'INVALID_PPR_REQUEST';
/** The events the emulated hardware logs (ioPageFault, illegalCommand): what AmdEvent.type can be. */
export type AmdEventType = 'IO_PAGE_FAULT' | 'ILLEGAL_COMMAND_ERROR';
/** Event names by event code (bits 63:60). */
export const EVENT_NAMES: Readonly<Record<number, AmdEventName>> = Object.freeze({
  1: 'ILLEGAL_DEV_TABLE_ENTRY',
  2: 'IO_PAGE_FAULT',
  3: 'DEV_TAB_HARDWARE_ERROR',
  4: 'PAGE_TAB_HARDWARE_ERROR',
  5: 'ILLEGAL_COMMAND_ERROR',
  6: 'COMMAND_HARDWARE_ERROR',
  7: 'IOTLB_INV_TIMEOUT',
  8: 'INVALID_DEVICE_REQUEST',
  9: 'INVALID_PPR_REQUEST',
});
/** IO_PAGE_FAULT flags (bits 56:48, numbered from bit 48; Linux reads them as (dword1 >> 16) & 0xFFF). */
export const EVENT_FLAG_GN = 1 << 0,
  EVENT_FLAG_NX = 1 << 1,
  EVENT_FLAG_US = 1 << 2,
  EVENT_FLAG_I = 1 << 3,
  EVENT_FLAG_PR = 1 << 4,
  EVENT_FLAG_RW = 1 << 5,
  EVENT_FLAG_PE = 1 << 6,
  EVENT_FLAG_RZ = 1 << 7,
  EVENT_FLAG_TN = 1 << 8;

const EVENT_LOG_ENTRIES = 512;

/** A decoded event-log entry. `iova` is the faulting IOVA page; `address` the raw byte address. */
export interface AmdEvent {
  /** EVENT_NAMES[code]: the two kinds of event this hardware logs. */
  readonly type: AmdEventType;
  readonly code: number;
  readonly deviceId: number;
  readonly domainId: number;
  readonly iova: number;
  readonly address: bigint;
  readonly flags: number;
  /** The raw 128-bit entry. */
  readonly raw: bigint;
}

export class EventLog {
  readonly words: Int32Array;
  head = 0;
  tail = 0;
  /** Status EventOverflow: an event was dropped because the ring was full. */
  overflow = false;
  dropped = 0;

  constructor(readonly entries = EVENT_LOG_ENTRIES) {
    this.words = new Int32Array(entries * 4);
  }
  get bytes(): number {
    return this.entries * 16;
  }

  /** Hardware: appends an entry; false (and EventOverflow) when the ring is full. */
  private put(w0: number, w1: number, w2: number, w3: number): boolean {
    const next = (this.tail + 16) % this.bytes;
    if (next === this.head) {
      this.overflow = true;
      this.dropped++;
      return false;
    }
    const e = this.tail >>> 2;
    this.words[e] = w0;
    this.words[e + 1] = w1;
    this.words[e + 2] = w2;
    this.words[e + 3] = w3;
    this.tail = next;
    return true;
  }

  /** Hardware: logs an IO_PAGE_FAULT for a device access to IOVA page `page`. */
  ioPageFault(deviceId: number, domainId: number, page: number, flags: number): boolean {
    return this.put(
      deviceId & 0xffff,
      (domainId & 0xffff) | ((flags & 0x1ff) << 16) | (EVENT_IO_PAGE_FAULT << 28),
      (page % 0x100000) << 12,
      Math.floor(page / 0x100000) | 0,
    );
  }

  /** Hardware: logs ILLEGAL_COMMAND_ERROR with the command's physical address (here its ring offset). */
  illegalCommand(ringOffset: number): boolean {
    return this.put(0, EVENT_ILLEGAL_COMMAND_ERROR << 28, ringOffset, 0);
  }

  /**
   * Software: decodes and consumes every entry from head to tail, zeroing them (Linux
   * iommu_poll_events). Throws Error (a model bug) at an entry with a code this hardware never
   * writes (only possible by writing `words` directly); that entry and the ones after it stay.
   */
  drain(out: AmdEvent[]): number {
    let n = 0;
    while (this.head !== this.tail) {
      const e = this.head >>> 2,
        wd = this.words;
      const w0 = wd[e]!,
        w1 = wd[e + 1]!,
        w2 = wd[e + 2]!,
        w3 = wd[e + 3]!;
      const code = w1 >>> 28;
      const type: AmdEventType | null =
        code === EVENT_IO_PAGE_FAULT ? 'IO_PAGE_FAULT' : code === EVENT_ILLEGAL_COMMAND_ERROR ? 'ILLEGAL_COMMAND_ERROR' : null;
      if (type === null)
        throw new Error(
          `BUG: event code ${code} (${EVENT_NAMES[code] ?? 'reserved'}) in the log; this hardware writes only IO_PAGE_FAULT and ILLEGAL_COMMAND_ERROR`,
        );
      const raw = (BigInt(w3 >>> 0) << 96n) | (BigInt(w2 >>> 0) << 64n) | (BigInt(w1 >>> 0) << 32n) | BigInt(w0 >>> 0);
      const address = (BigInt(w3 >>> 0) << 32n) | BigInt(w2 >>> 0);
      out.push({
        type,
        code,
        deviceId: w0 & 0xffff,
        domainId: w1 & 0xffff,
        iova: (w3 >>> 0) * 0x100000 + (w2 >>> 12),
        address,
        flags: (w1 >>> 16) & 0xfff,
        raw,
      });
      wd.fill(0, e, e + 4);
      this.head = (this.head + 16) % this.bytes;
      n++;
    }
    this.overflow = false;
    return n;
  }
}
