// Models how QEMU lays out x86 guest RAM in guest-physical space (hw/i386/pc_q35.c, pc_piix.c):
// one memory backend of the guest's size, aliased as "ram-below-4g" from GPA 0 up to the start of
// the 32-bit PCI hole and as "ram-above-4g" from 4 GiB up. VFIO's memory listener maps each RAM
// section it sees as one VFIO_IOMMU_MAP_DMA, with IOVA = GPA; the legacy VGA window
// (0xa0000-0xbffff) is MMIO, so with it the low alias is seen as two sections.

import { UsageError } from '../errors.js';
import { shortSize } from './size.js';

/** One RAM section: one DMA mapping of `size` bytes at IOVA `gpa`, from `hostOffset` in the guest's RAM backend. */
export interface RamBlock {
  readonly name: string;
  readonly gpa: bigint;
  readonly size: bigint;
  readonly hostOffset: bigint;
}

const GiB = 1n << 30n;
const VGA_START = 0xa0000n,
  VGA_END = 0xc0000n;
/** QEMU's largest allowed ram-below-4g (pc: max-ram-below-4g caps at 0xe0000000). */
const MAX_BELOW_4G = 0xe0000000n;

/**
 * Default low-memory size: q35 puts 2 GiB below 4 GiB once RAM reaches 0xb0000000 (else all of it);
 * pc (i440fx, gigabyte_align) puts 3 GiB below once RAM reaches 0xe0000000 (else all of it).
 */
export function defaultBelow4g(guest: bigint, machine: 'q35' | 'pc'): bigint {
  if (machine === 'q35') return guest >= 0xb0000000n ? 2n * GiB : guest;
  return guest >= 0xe0000000n ? 3n * GiB : guest;
}

/** The RAM sections of a guest, in GPA order. */
export function qemuLayout(
  guest: bigint,
  machine: 'q35' | 'pc',
  below4g: bigint | null,
  vgaHole: boolean,
  flag = '--below-4g',
): RamBlock[] {
  const low = below4g ?? defaultBelow4g(guest, machine);
  if (below4g !== null) {
    const bad = (msg: string): never => {
      throw new UsageError(flag, msg, 'guest.below4g');
    };
    if (below4g > guest) bad(`${shortSize(below4g)} below 4 GiB is more than the guest's ${shortSize(guest)}`);
    if (below4g > MAX_BELOW_4G)
      bad(`${shortSize(below4g)} reaches into the PCI hole (at most ${shortSize(MAX_BELOW_4G)}, QEMU's max-ram-below-4g limit)`);
    if (below4g % (2n << 20n) !== 0n) bad(`${shortSize(below4g)} is not a multiple of 2 MiB`);
  }
  const blocks: RamBlock[] = [];
  if (vgaHole && low > VGA_END) {
    blocks.push({ name: 'ram-below-4g@0', gpa: 0n, size: VGA_START, hostOffset: 0n });
    blocks.push({ name: 'ram-below-4g@0xc0000', gpa: VGA_END, size: low - VGA_END, hostOffset: VGA_END });
  } else if (low > 0n) {
    blocks.push({ name: 'ram-below-4g', gpa: 0n, size: low, hostOffset: 0n });
  }
  if (guest > low) blocks.push({ name: 'ram-above-4g', gpa: 4n * GiB, size: guest - low, hostOffset: low });
  return blocks;
}
