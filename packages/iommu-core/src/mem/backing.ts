// Models how a process's anonymous memory is backed by host frames: the profile decides how long
// the physically contiguous runs are, which is what VFIO's pinning coalesces into IOMMU mappings.

import { IommuError } from '../errno.js';
import type { Prng } from '../sim/prng.js';
import { BLOCK_SHIFT, FRAME_USER, GIGA_SHIFT, type FrameAllocator } from './frames.js';

/**
 * '4k' scattered pages, 'thp' / 'hugetlb-2m' 2 MiB pages, 'hugetlb-1g' 1 GiB pages, or a mix:
 * 'fragmented:<p>' leaves a share p in [0, 1] of the 2 MiB regions as scattered 4 KiB pages
 * ('fragmented' = 'fragmented:0.5'). The type admits any number for p; parseBacking checks the range.
 */
export type BackingProfile = '4k' | 'thp' | 'hugetlb-2m' | 'hugetlb-1g' | 'fragmented' | `fragmented:${number}`;

/** The profile names, each usable as is ('fragmented:<p>' takes a share p, see BackingProfile). */
export const BACKING_PROFILES = Object.freeze([
  '4k',
  'thp',
  'hugetlb-2m',
  'hugetlb-1g',
  'fragmented',
] as const satisfies readonly BackingProfile[]);

const BACKING_HELP = `one of ${[...BACKING_PROFILES, 'fragmented:<p>'].join(', ')}; p in [0,1] is the share of 2 MiB regions left as scattered 4 KiB pages`;

/**
 * The frames behind a range of pages: run r covers pages [r << runOrder, (r+1) << runOrder) and
 * starts at pfns[r]. runOrder is 0 (one pfn per page), 9 (2 MiB) or 18 (1 GiB).
 */
export interface Backing {
  readonly npages: number;
  readonly runOrder: number;
  readonly pfns: Uint32Array;
  /**
   * runOrder 0 only: one byte per 2 MiB region of pages (region r = pages [r << 9, (r+1) << 9)), 1
   * where one 2 MiB page (THP) backs the region, which a page fault then maps whole; the 'fragmented'
   * mix and a 'thp' VMA whose tail is not a whole 2 MiB have one. null when every page is a 4 KiB
   * page ('4k') or the runs are the pages (runOrder 9 or 18).
   */
  readonly pmdMapped: Uint8Array | null;
}

/** pfn behind page i of a backing. */
export function backingPfn(b: Backing, i: number): number {
  return b.pfns[i >>> b.runOrder]! + (i & ((1 << b.runOrder) - 1));
}

type ParsedBacking = { kind: '4k' | 'thp' | 'hugetlb-2m' | 'hugetlb-1g' | 'fragmented'; scatter: number };

/** parseBacking without the throw: null for a string that is not a valid profile. */
function tryParseBacking(p: string): ParsedBacking | null {
  if (p === '4k' || p === 'thp' || p === 'hugetlb-2m' || p === 'hugetlb-1g') return { kind: p, scatter: p === '4k' ? 1 : 0 };
  if (p === 'fragmented') return { kind: 'fragmented', scatter: 0.5 };
  const m = /^fragmented:(\d*\.?\d+)$/.exec(p);
  if (m && Number(m[1]) >= 0 && Number(m[1]) <= 1) return { kind: 'fragmented', scatter: Number(m[1]) };
  return null;
}

/** Why `p` is not a profile, with the list of valid names (the text of both errors below). */
export const backingError = (p: unknown): string => `unknown backing '${String(p)}' (${BACKING_HELP})`;

/**
 * Parses a profile name (any string: input from a user or a file). Throws IommuError EINVAL
 * (syscall 'mmap', as the VMA's creation fails) with the list of valid names.
 */
export function parseBacking(p: string): ParsedBacking {
  const r = typeof p === 'string' ? tryParseBacking(p) : null;
  if (r === null) throw new IommuError('EINVAL', 'mmap', backingError(p));
  return r;
}

/** True when p is a valid backing profile (the check createSim and parseBacking make). */
export function isBackingProfile(p: unknown): p is BackingProfile {
  return typeof p === 'string' && tryParseBacking(p) !== null;
}

/** Allocates the frames for npages of a VMA under a backing profile. */
export function allocBacking(fa: FrameAllocator, rng: Prng, npages: number, profile: BackingProfile): Backing {
  const { kind, scatter } = parseBacking(profile);
  if (!(Number.isInteger(npages) && npages >= 1)) throw new IommuError('EINVAL', 'mmap', `bad page count ${npages}`);
  // the run size of the whole-run profiles below ('4k' and 'fragmented' never use it)
  const big = kind === 'hugetlb-1g' ? GIGA_SHIFT : BLOCK_SHIFT;
  if ((kind === 'hugetlb-1g' || kind === 'hugetlb-2m') && npages % (1 << big) !== 0) {
    throw new IommuError('EINVAL', 'mmap', `hugetlbfs length must be a multiple of the huge page size (${kind})`);
  }
  if (npages > fa.freeFrames) throw new IommuError('ENOMEM', 'mmap', `needs ${npages} frames, host has ${fa.freeFrames} free`);
  if (kind === 'hugetlb-1g' || ((kind === 'hugetlb-2m' || kind === 'thp') && npages % (1 << BLOCK_SHIFT) === 0)) {
    const pfns = new Uint32Array(npages >>> big);
    let r = 0;
    try {
      for (; r < pfns.length; r++) pfns[r] = big === GIGA_SHIFT ? fa.allocGiga(FRAME_USER) : fa.allocBlock(FRAME_USER);
    } catch (e) {
      freeBacking(fa, { npages: r << big, runOrder: big, pfns, pmdMapped: null });
      throw e;
    }
    return { npages, runOrder: big, pfns, pmdMapped: null };
  }
  // per-page pfns: 4k, fragmented, or a THP VMA whose tail is not a whole 2 MiB
  const pfns = new Uint32Array(npages);
  const pmdMapped = kind === '4k' ? null : new Uint8Array((npages + (1 << BLOCK_SHIFT) - 1) >>> BLOCK_SHIFT);
  let i = 0;
  try {
    while (i < npages) {
      const left = npages - i;
      const huge = kind !== '4k' && left >= 1 << BLOCK_SHIFT && (kind === 'thp' || rng.next() >= scatter);
      if (huge) {
        const p = fa.allocBlock(FRAME_USER);
        pmdMapped![i >>> BLOCK_SHIFT] = 1; // i is a region start: every region before was whole
        for (let k = 0; k < 1 << BLOCK_SHIFT; k++) pfns[i++] = p + k;
      } else {
        const end = i + (kind === '4k' ? left : Math.min(left, 1 << BLOCK_SHIFT));
        while (i < end) {
          i += fa.allocScatteredRun(pfns, i, end - i);
          if (i < end) pfns[i++] = fa.allocScattered(); // no whole free block left: the slow path
        }
      }
    }
  } catch (e) {
    freeBacking(fa, { npages: i, runOrder: 0, pfns, pmdMapped: null });
    throw e;
  }
  return { npages, runOrder: 0, pfns, pmdMapped };
}

/** Returns every frame of a backing to the allocator. */
export function freeBacking(fa: FrameAllocator, b: Backing): void {
  const run = 1 << b.runOrder;
  for (let r = 0; r < b.pfns.length; r++) {
    const n = Math.min(run, b.npages - r * run);
    for (let k = 0; k < n; k++) fa.freeFrame(b.pfns[r]! + k);
  }
}
