// Models host physical memory: the frame allocator with its backing profiles, the page-table
// arena, per-frame pin counts (what GUP pinning holds) and reach counts (how many PTEs and IOTLB
// entries translate to the frame), which let the safety checker test "unpinned while a device can
// still reach it" in O(1) per page.

import { POW2_TABLE as POW2 } from './pgsize.js';
import { TableArena } from './mem/arena.js';
import { allocBacking, freeBacking, type Backing, type BackingProfile } from './mem/backing.js';
import { FRAME_FREE, FRAME_KERNEL, FRAME_USER, FrameAllocator } from './mem/frames.js';
import { BlockedInt32, PAGED_CHUNK_SHIFT, PAGED_MASK, PagedCount8, PagedInt32 } from './mem/paged.js';
import { SimObservers } from './observe.js';
import type { SafetyChecker } from './sim/checker.js';
import { FP_PIN, FP_TABLE_ALLOC, type FaultInjector } from './sim/faults.js';
import { EV, type Meter } from './sim/meter.js';
import type { Prng } from './sim/prng.js';

export { FRAME_FREE, FRAME_KERNEL, FRAME_USER };

export class PhysMem {
  /** Frames of host RAM (pfns 0 .. nFrames-1). */
  readonly nFrames: number;
  readonly frames: FrameAllocator;
  readonly tables = new TableArena();
  /** Pin counts: a base per 2 MiB block plus a per-frame delta where pins are not block-uniform. */
  readonly pins = new BlockedInt32();
  // reach counts at three granularities so a 2 MiB or 1 GiB leaf costs one increment
  /** One byte per frame (a frame mapped at 127+ IOVAs spills); the engine counts runs in its chunks. */
  readonly reach4k = new PagedCount8();
  readonly reach2m = new PagedInt32();
  readonly reach1g = new PagedInt32();
  /** Frames a device wrote (sparse): pfn -> number of DMA writes. */
  readonly dmaWritten = new Map<number, number>();
  /** Frames pinned right now (pages). */
  pinnedPages = 0;

  /** hostAge: how fragmented the host's allocator is, 1 (long-running, default) .. 0 (freshly booted); see FrameAllocator. */
  constructor(
    bytes: bigint,
    private readonly meter: Meter,
    private readonly rng: Prng,
    private readonly faults: FaultInjector,
    private readonly checker: SafetyChecker,
    hostAge = 1,
    private readonly observers: SimObservers = new SimObservers(),
  ) {
    if (bytes <= 0n || bytes % (2n << 20n) !== 0n) throw new RangeError(`memory must be a positive multiple of 2 MiB, got ${bytes}`);
    this.nFrames = Number(bytes >> 12n);
    this.frames = new FrameAllocator(this.nFrames, rng, hostAge);
  }

  isRam(pfn: number): boolean {
    return pfn >= 0 && pfn < this.nFrames;
  }
  frameState(pfn: number): number {
    return this.isRam(pfn) ? this.frames.stateOf(pfn) : FRAME_FREE;
  }

  /** npages physically contiguous kernel-owned frames (no pinning needed); returns the first pfn. */
  allocFrames(npages: number, opts: { align?: number | undefined } = {}): number {
    return this.frames.allocContig(npages, opts.align ?? 1, FRAME_KERNEL);
  }
  freeFrames(pfn: number, npages: number): void {
    for (let i = 0; i < npages; i++) this.frames.freeFrame(pfn + i);
  }

  /**
   * Frames for a process VMA under a backing profile ('4k', 'thp', 'hugetlb-2m', 'hugetlb-1g',
   * 'fragmented', 'fragmented:<p>'). Throws IommuError (syscall 'mmap') EINVAL for an unknown profile,
   * a bad page count or a hugetlb length that is not whole huge pages, ENOMEM with nothing left allocated.
   */
  allocBacking(npages: number, profile: BackingProfile): Backing {
    return allocBacking(this.frames, this.rng, npages, profile);
  }
  freeBacking(b: Backing): void {
    freeBacking(this.frames, b);
  }

  /**
   * pfn..pfn+npages-1 are whole frames of host RAM: u32 integers (nFrames <= 2^32), npages >= 1. The
   * pin/unpin argument check: a few integer comparisons per call on the per-page path, no allocation.
   */
  private ramRange(pfn: number, npages: number): boolean {
    return npages >>> 0 === npages && npages !== 0 && pfn >>> 0 === pfn && pfn + npages <= this.nFrames;
  }

  /**
   * Pins npages frames from pfn (GUP). Returns false, pinning nothing, when the fault injector
   * fails this pin. Counts `pins` per page. RangeError (a caller's bug, not an errno) when npages is
   * not a positive integer or the frames are not all host RAM (pfns 0 .. nFrames-1).
   */
  pin(pfn: number, npages: number): boolean {
    if (!this.ramRange(pfn, npages)) throw badFrameRange('pin', pfn, npages, this.nFrames);
    if (this.faults.hit(FP_PIN)) return false;
    this.pins.addRun(pfn, npages, 1);
    this.pinnedPages += npages;
    this.meter.charge(EV.pins, npages);
    if (this.observers.on) this.observers.pin(pfn, npages);
    return true;
  }

  /**
   * Drops one pin on each of npages frames. A frame whose last pin goes while a PTE or an IOTLB
   * entry still reaches it is a safety violation: the page could be reused under the device.
   * A whole 2 MiB block whose pins are uniform costs one update; other frames are walked a chunk at
   * a time; reach is read once per 2 MiB block plus the 4K count. RangeError for the arguments pin()
   * refuses.
   */
  unpin(pfn: number, npages: number): void {
    if (!this.ramRange(pfn, npages)) throw badFrameRange('unpin', pfn, npages, this.nFrames);
    if (this.observers.on) this.observers.unpin(pfn, npages);
    if (npages === 1) {
      // a scattered 4 KiB page, the 4k backing's every region: no block loop
      this.unpinFrame(pfn);
      this.pinnedPages--;
      this.meter.charge(EV.unpins, 1);
      return;
    }
    const pins = this.pins,
      base = pins.base,
      delta = pins.delta,
      r4 = this.reach4k;
    let i = pfn,
      left = npages;
    while (left > 0) {
      const blk = i >>> 9;
      const r4c = r4.chunks[i >>> PAGED_CHUNK_SHIFT];
      const off = i & PAGED_MASK;
      if ((i & 511) === 0 && left >= 512 && pins.uniform(blk)) {
        const v = base.add(blk, -1);
        if (v <= 0) this.unpinBlockLast(i, v, r4c, off);
        i += 512;
        left -= 512;
        continue;
      }
      // the rest of this block frame by frame: pins = base + delta
      const c = delta.chunkFor(i);
      const b0 = base.get(blk);
      const m = Math.min(left, 512 - (i & 511));
      let blkReach = -1;
      pins.touched.set(blk, 1);
      for (let k = off; k < off + m; k++) {
        // the delta byte in place; -127 would leave the byte's range and -128 is a spilled entry
        const x = c[k]!;
        let dv = x - 1;
        if (x > -127) c[k] = dv;
        else dv = delta.add(i + (k - off), -1);
        const v = b0 + dv;
        if (v > 0) continue;
        const f = i + (k - off);
        if (v < 0) {
          delta.set(f, -b0);
          this.pinnedPages++;
          this.checker.report('unpin-underflow', f, 'unpin of a frame that is not pinned');
          continue;
        }
        if (blkReach < 0) blkReach = this.reach2m.get(blk) | this.reach1g.get(f >>> 18);
        if (blkReach !== 0 || (r4c !== undefined && r4c[k] !== 0)) {
          this.checker.report('unpin-while-reachable', f, 'last pin dropped while a PTE or IOTLB entry still translates to the frame');
        }
      }
      i += m;
      left -= m;
    }
    this.pinnedPages -= npages;
    this.meter.charge(EV.unpins, npages);
  }

  /** unpin() of one frame f: the per-frame path of the loop above, reports included. */
  private unpinFrame(f: number): void {
    const pins = this.pins,
      delta = pins.delta,
      blk = f >>> 9;
    const c = delta.chunkFor(f),
      k = f & PAGED_MASK;
    const x = c[k]!;
    let dv = x - 1;
    if (x > -127) c[k] = dv;
    else dv = delta.add(f, -1);
    pins.touched.set(blk, 1);
    const b0 = pins.base.get(blk),
      v = b0 + dv;
    if (v > 0) return;
    if (v < 0) {
      delta.set(f, -b0);
      this.pinnedPages++;
      this.checker.report('unpin-underflow', f, 'unpin of a frame that is not pinned');
    } else if (this.isReachable(f)) {
      this.checker.report('unpin-while-reachable', f, 'last pin dropped while a PTE or IOTLB entry still translates to the frame');
    }
  }

  /** A uniform block's pins went to v <= 0 at once: the per-frame reports, in frame order. */
  private unpinBlockLast(f0: number, v: number, r4c: Int8Array | undefined, off: number): void {
    if (v < 0) {
      this.pins.base.set(f0 >>> 9, 0);
      for (let k = 0; k < 512; k++) {
        this.pinnedPages++;
        this.checker.report('unpin-underflow', f0 + k, 'unpin of a frame that is not pinned');
      }
      return;
    }
    const blkReach = this.reach2m.get(f0 >>> 9) | this.reach1g.get(f0 >>> 18);
    if (blkReach === 0 && r4c === undefined) return;
    for (let k = 0; k < 512; k++) {
      if (blkReach !== 0 || r4c![off + k] !== 0) {
        this.checker.report('unpin-while-reachable', f0 + k, 'last pin dropped while a PTE or IOTLB entry still translates to the frame');
      }
    }
  }

  pinCount(pfn: number): number {
    return this.pins.get(pfn);
  }

  /**
   * Adjusts the reach count of the frames a translation of 2^order bytes at pfn covers. Only host
   * RAM is counted: a leaf over MMIO (VM_PFNMAP pfns lie far above RAM) reaches nothing that can be
   * pinned or freed, and the chunked counts index by 32-bit shifts, which such pfns would wrap.
   */
  reachAdd(pfn: number, order: number, d: number): void {
    if (pfn >= this.nFrames) return;
    if (order < 21) {
      this.reachAddRun4k(pfn, POW2[order - 12]!, d);
    } else if (order < 30) {
      const b = pfn / 512,
        n = POW2[order - 21]!;
      for (let i = 0; i < n; i++) this.reach2m.add(b + i, d);
    } else {
      const b = pfn / 262144,
        n = POW2[order - 30]!;
      for (let i = 0; i < n; i++) this.reach1g.add(b + i, d);
    }
  }

  /** reach4k.addRun over n 4 KiB frames from pfn, limited to RAM. */
  reachAddRun4k(pfn: number, n: number, d: number): void {
    if (pfn < this.nFrames) this.reach4k.addRun(pfn, Math.min(n, this.nFrames - pfn), d);
  }

  /** True while some PTE or IOTLB entry translates to the frame. */
  isReachable(pfn: number): boolean {
    if (pfn >= this.nFrames) return false;
    return (this.reach4k.get(pfn) | this.reach2m.get(pfn >>> 9) | this.reach1g.get(pfn >>> 18)) !== 0;
  }

  /** Allocates a zeroed page-table page; -1 when the fault injector fails this allocation. */
  allocTable(): number {
    if (this.faults.hit(FP_TABLE_ALLOC)) return -1;
    this.meter.charge(EV.tableAllocs, 1);
    return this.tables.alloc();
  }
  freeTable(pfn: number): void {
    this.tables.free(pfn);
    this.meter.charge(EV.tableFrees, 1);
  }

  /**
   * A device access to a frame, after translation. Checks that the frame is safe to touch: RAM that
   * is free, or user memory nobody pins, is a violation. Writes are remembered (sparse).
   */
  dmaAccess(pfn: number, write: boolean, domain: number, iova: number, via: 'pte' | 'iotlb'): void {
    if (this.isRam(pfn)) {
      const st = this.frames.stateOf(pfn);
      if (st === FRAME_FREE)
        this.checker.report('dma-to-free-frame', pfn, 'device reached a frame that is back in the allocator', { domain, iova, via });
      else if (st === FRAME_USER && this.pins.get(pfn) === 0)
        this.checker.report('dma-to-unpinned', pfn, 'device reached a user page nobody pins', { domain, iova, via });
    }
    if (write) this.dmaWritten.set(pfn, (this.dmaWritten.get(pfn) ?? 0) + 1);
  }

  /** Pages pinned, tables in use and frames in use, for leak checks. */
  usage(): { pinnedPages: number; tables: number; framesInUse: number } {
    return { pinnedPages: this.pinnedPages, tables: this.tables.inUse, framesInUse: this.frames.framesInUse };
  }
}

export type { Backing };

// pin and unpin carry probe points: observe them (sim.observe), never replace them; read-only on
// the prototype, so assigning mem.unpin throws a TypeError in strict code
for (const m of ['pin', 'unpin'] as const) Object.defineProperty(PhysMem.prototype, m, { writable: false, configurable: false });

/** The RangeError for a pin/unpin whose range is not whole frames of host RAM (cold path). */
function badFrameRange(op: string, pfn: number, npages: number, nFrames: number): RangeError {
  if (!(Number.isInteger(npages) && npages > 0)) return new RangeError(`${op}: npages must be a positive integer, got ${npages}`);
  if (!(Number.isInteger(pfn) && pfn >= 0)) return new RangeError(`${op}: pfn must be a non-negative integer, got ${pfn}`);
  return new RangeError(`${op}: frames ${pfn}..${pfn + npages - 1} are not all host RAM (pfns 0..${nFrames - 1})`);
}
