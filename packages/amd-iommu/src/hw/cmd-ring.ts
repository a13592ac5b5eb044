// Models the command buffer (spec amd-iommu §5.1): a ring of 16-byte entries in memory with head
// and tail byte offsets. Software writes at the tail and bumps the tail register; the hardware
// consumes from head to tail in order. Like QEMU, our hardware runs the commands synchronously
// inside the tail write, so the ring never fills (Linux keeps two slots spare anyway).

import { cmdBigInt } from './commands.js';

/** Linux: 512 entries, 8 KiB (MMIO_CMD_SIZE_512: size field 9). */
export const CMD_RING_ENTRIES = 512;

export class CmdRing {
  readonly entries: number;
  /** Ring memory, 4 words per entry. */
  readonly words: Int32Array;
  /** Byte offsets, like the head (0x2000) and tail (0x2008) registers. */
  head = 0;
  tail = 0;
  /** Commands ever written. */
  written = 0;

  constructor(entries = CMD_RING_ENTRIES) {
    if (!(Number.isInteger(Math.log2(entries)) && entries >= 2))
      throw new RangeError(`ring entries must be a power of two >= 2, got ${entries}`);
    this.entries = entries;
    this.words = new Int32Array(entries * 4);
  }

  get bytes(): number {
    return this.entries * 16;
  }

  /** Word offset of the slot at the tail, where software builds the next command. */
  slot(): number {
    return this.tail >>> 2;
  }

  /** Software: the command at slot() is complete; advance the cached tail. Returns the new tail. */
  advance(): number {
    this.tail = (this.tail + 16) % this.bytes;
    this.written++;
    return this.tail;
  }

  /** Bytes free between tail and head, as Linux computes it ((head - next_tail) mod size). */
  free(): number {
    const next = (this.tail + 16) % this.bytes;
    return (this.head - next + this.bytes) % this.bytes;
  }

  /** The 128-bit command n entries before the tail (n = 1: the newest) as a bigint. */
  recent(n: number): bigint {
    const off = (this.tail - 16 * n + 16 * this.entries * 2) % this.bytes;
    return cmdBigInt(this.words, off >>> 2);
  }
}
