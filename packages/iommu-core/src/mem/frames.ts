// Models the host page allocator at 2 MiB-block granularity: whole free blocks are picked at random
// (seeded) so large pages land scattered like a long-running host's, 1 GiB pages need 512 aligned
// free blocks, and scattered 4 KiB pages are dealt from a few open blocks in permuted order so
// neighbours in a VMA are almost never physically contiguous. The host age a in [0, 1] blends that
// with a freshly booted buddy allocator (a = 0), whose free lists still hold long high-order blocks:
// it hands out the next free memory in address order and splits blocks into ascending 4 KiB pages.

import { IommuError } from '../errno.js';
import type { Prng } from '../sim/prng.js';
import { PAGED_CHUNK_SHIFT, PAGED_MASK, PagedUint8 } from './paged.js';

export const BLOCK_SHIFT = 9; // 512 frames = 2 MiB
export const GIGA_SHIFT = 18; // 262144 frames = 1 GiB
/**
 * Frames per block. A block's first pfn is b * BLOCK, not b << BLOCK_SHIFT: from block 2^22 (8 TiB)
 * on, the shift's int32 result is negative, and 16 TiB hosts (2^32 frames) are modeled.
 */
const BLOCK = 1 << BLOCK_SHIFT;
const BLOCKS_PER_GIGA = 1 << (GIGA_SHIFT - BLOCK_SHIFT);
const OPEN_SCATTER = 16; // blocks 4K scattering draws from at once
/**
 * Slot of the sequential open block (host age < 1 only): its frames are dealt in ascending order
 * (stride 1 from 0), as a buddy allocator splitting a 2 MiB block hands out its 4 KiB pages. It
 * shares the scatter slots' arrays and implicit frame states; at host age 1 it is never opened.
 */
const SEQ_SLOT = OPEN_SCATTER;
const SLOTS = OPEN_SCATTER + 1;

/** Frame states kept per frame. */
export const FRAME_FREE = 0,
  FRAME_KERNEL = 1,
  FRAME_USER = 2;
/**
 * Uniform state value of an open scatter block whose frame states are implicit: frame i of the
 * slot's permutation is in use iff i < scNext. Dealing a 4 KiB frame then writes no per-frame byte
 * (each byte per frame of host memory costs 3-5 ns per page in first-touch faults alone); the block
 * gets explicit bytes only if one of its frames is freed or taken another way while it is open, and
 * becomes a uniform FRAME_USER block once all 512 frames are dealt.
 */
const FRAME_SC_IMPLICIT = 0xff;
/** Largest alignment allocContig takes, in frames (2^31: the largest power of two an int32 bit test reads). */
const MAX_ALIGN = 0x80000000;

/** Returns a host age that is a number in [0, 1] (NaN and infinities are not); RangeError otherwise. */
export function checkHostAge(a: unknown): number {
  if (typeof a !== 'number' || !(a >= 0 && a <= 1)) {
    throw new RangeError(`hostAge must be a number in [0, 1] (1 = long-running host, 0 = freshly booted), got ${String(a)}`);
  }
  return a;
}

export class FrameAllocator {
  readonly nFrames: number;
  readonly nBlocks: number;
  readonly state = new PagedUint8();
  /** Frames in use per block. */
  private readonly used: Uint16Array;
  /** Free whole blocks, unordered; pos[b] = index in freeList or -1. */
  private readonly freeList: Uint32Array;
  private readonly pos: Int32Array;
  private nFree = 0;
  /** Free blocks per 1 GiB region, to find gigantic pages quickly. */
  private readonly gigaFree: Uint16Array;
  // open blocks for scattered 4K pages (slots 0..15) and the sequential one (SEQ_SLOT): block, next i, permutation stride
  private readonly scBlock = new Int32Array(SLOTS).fill(-1);
  private readonly scNext = new Int32Array(SLOTS);
  private readonly scStride = new Int32Array(SLOTS);
  private readonly scStart = new Int32Array(SLOTS);
  /** Per slot: 1 while its block's frame states are implicit (FRAME_SC_IMPLICIT). */
  private readonly scImplicit = new Uint8Array(SLOTS);
  /** Block pickBlock() handed out last (-1: none yet, the next sequential pick is block 0). */
  private lastBlock = -1;
  /** 1 GiB region allocGiga() took last (-1: none yet). */
  private lastGiga = -1;
  // bump block for small contiguous kernel allocations
  private kBlock = -1;
  private kNext = 0;
  /** Set when a block's last frame is freed while the block is held open (see drainEmpty). */
  private heldEmpty = false;
  framesInUse = 0;
  /**
   * Host age a in [0, 1]: 1 = a long-running, fully fragmented host (every pick random), 0 = a freshly
   * booted one (every pick the next free memory in address order); in between, each pick is the
   * fresh host's with probability 1 - a.
   */
  readonly hostAge: number;

  /**
   * nFrames: host RAM in 4 KiB frames (a positive multiple of 512, at most 2^32). hostAge: see the
   * field (default 1). RangeError for either out of range.
   */
  constructor(
    nFrames: number,
    private readonly rng: Prng,
    hostAge = 1,
  ) {
    this.hostAge = checkHostAge(hostAge);
    if (nFrames < BLOCK || nFrames % BLOCK !== 0) {
      throw new RangeError(`host memory must be a positive multiple of 2 MiB (got ${nFrames} frames)`);
    }
    if (nFrames > 2 ** 32) throw new RangeError('host memory above 16 TiB is not modeled (pfns are stored as u32)');
    this.nFrames = nFrames;
    this.nBlocks = nFrames / BLOCK; // not >>>: 2^32 frames would give 0 blocks
    this.used = new Uint16Array(this.nBlocks);
    this.freeList = new Uint32Array(this.nBlocks);
    this.pos = new Int32Array(this.nBlocks);
    for (let b = 0; b < this.nBlocks; b++) {
      this.freeList[b] = b;
      this.pos[b] = b;
    }
    this.nFree = this.nBlocks;
    this.gigaFree = new Uint16Array(Math.ceil(this.nBlocks / BLOCKS_PER_GIGA));
    for (let b = 0; b < this.nBlocks; b++) this.gigaFree[b >>> 9]!++;
  }

  get freeFrames(): number {
    return this.nFrames - this.framesInUse;
  }

  /**
   * True when the next pick follows the fresh host (probability 1 - a). Draws only for 0 < a < 1:
   * a = 1 must draw exactly what it drew before host age existed, so a seed gives the same frames.
   */
  private fresh(): boolean {
    const a = this.hostAge;
    return a < 1 && (a === 0 || this.rng.next() >= a);
  }

  /**
   * The free block a 2 MiB allocation takes (nFree > 0): a random one, or with probability 1 - a the
   * first free block after the one handed out last (a fresh buddy allocator's ascending memory).
   */
  private pickBlock(): number {
    const b = this.fresh() ? this.nextFreeBlock(this.lastBlock + 1) : this.freeList[this.rng.int(this.nFree)]!;
    this.lastBlock = b;
    return b;
  }

  /** First free block at or after `from` in address order, wrapping around (nFree > 0). */
  private nextFreeBlock(from: number): number {
    const pos = this.pos,
      n = this.nBlocks;
    for (let b = from; b < n; b++) if (pos[b]! >= 0) return b;
    for (let b = 0; b < from; b++) if (pos[b]! >= 0) return b;
    throw new Error('BUG: nextFreeBlock with no free block');
  }

  /** One whole free 2 MiB block (random, or the next one on a fresher host: see hostAge); returns its first pfn. */
  allocBlock(kind: number): number {
    if (this.nFree === 0 && this.drainEmpty() === 0)
      throw new IommuError('ENOMEM', 'alloc_pages', 'no free 2 MiB block left in host memory');
    const b = this.pickBlock();
    this.takeBlock(b);
    this.used[b] = BLOCK;
    const pfn = b * BLOCK;
    this.state.fill(pfn, BLOCK, kind);
    this.framesInUse += BLOCK;
    return pfn;
  }

  /**
   * One free, naturally aligned 1 GiB run (hugetlbfs gigantic page); returns its first pfn. The search
   * starts at a random region, or with probability 1 - a right after the region taken last.
   */
  allocGiga(kind: number): number {
    const n = this.gigaFree.length;
    let g = this.fresh() ? (this.lastGiga + 1) % n : this.rng.int(n);
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < n; i++, g = (g + 1) % n) {
        if (this.gigaFree[g] === BLOCKS_PER_GIGA) {
          this.lastGiga = g;
          return this.takeRun(g * BLOCKS_PER_GIGA, BLOCKS_PER_GIGA, kind);
        }
      }
      if (this.drainEmpty() === 0) break;
    }
    throw new IommuError('ENOMEM', 'alloc_gigantic_page', 'no free naturally aligned 1 GiB run in host memory');
  }

  /**
   * One 4 KiB frame for a user page: from a random one of the open scatter blocks, or with
   * probability 1 - a the next frame of the sequential block.
   */
  allocScattered(): number {
    const j = this.fresh() ? SEQ_SLOT : this.rng.int(OPEN_SCATTER);
    const b = this.scBlock[j]!;
    if (b < 0 || this.scNext[j]! >= BLOCK) {
      if (this.nFree === 0 && this.drainEmpty() === 0) return this.allocFromAnyPartial(j);
      if (j === SEQ_SLOT) this.openSeq();
      else this.openScatter(j);
    }
    const pfn = this.deal(j);
    this.framesInUse++;
    return pfn;
  }

  /**
   * n scattered 4 KiB frames for user pages, written to out[at..]: the frames n allocScattered() calls
   * would return, in the same order and from the same random draws, without a call per page.
   * Stops early, returning how many it wrote, once no whole free block is left (the caller goes on
   * with allocScattered(), whose partial-block scan may fail with ENOMEM).
   */
  allocScatteredRun(out: Uint32Array, at: number, n: number): number {
    if (this.hostAge < 1) return this.allocScatteredRunAged(out, at, n);
    const rng = this.rng,
      scBlock = this.scBlock,
      scNext = this.scNext;
    let k = 0;
    // checked before each draw: with a free block left, an open block that is full can be replaced
    for (; k < n && this.nFree > 0; k++) {
      const j = rng.int(OPEN_SCATTER);
      if (scBlock[j]! < 0 || scNext[j]! >= BLOCK) this.openScatter(j);
      out[at + k] = this.deal(j);
    }
    this.framesInUse += k;
    return k;
  }

  /**
   * allocScatteredRun on a host younger than 1: each page first draws (for 0 < a < 1) whether it is
   * the sequential block's next frame. Its own loop so that a = 1 keeps the loop above untouched.
   */
  private allocScatteredRunAged(out: Uint32Array, at: number, n: number): number {
    const rng = this.rng,
      a = this.hostAge,
      scBlock = this.scBlock,
      scNext = this.scNext;
    let k = 0;
    for (; k < n && this.nFree > 0; k++) {
      let j: number;
      if (a === 0 || rng.next() >= a) {
        // fresh(), inlined: one draw per page at most
        j = SEQ_SLOT;
        if (scBlock[j]! < 0 || scNext[j]! >= BLOCK) this.openSeq();
      } else {
        j = rng.int(OPEN_SCATTER);
        if (scBlock[j]! < 0 || scNext[j]! >= BLOCK) this.openScatter(j);
      }
      out[at + k] = this.deal(j);
    }
    this.framesInUse += k;
    return k;
  }

  /** Replaces slot j's block by a random free one, with a random odd stride (a permutation of 0..511). */
  private openScatter(j: number): void {
    const rng = this.rng;
    const b = this.freeList[rng.int(this.nFree)]!;
    this.takeBlock(b);
    // arguments evaluate left to right: the same draws, in the same order, as before openSlot existed
    this.openSlot(j, b, (rng.int(256) << 1) | 1, rng.int(512));
  }

  /** Opens the sequential slot on the block pickBlock() chooses; it deals frames 0, 1, ..., 511 in order. */
  private openSeq(): void {
    const b = this.pickBlock();
    this.takeBlock(b);
    this.openSlot(SEQ_SLOT, b, 1, 0);
  }

  /** Slot j now deals block b (taken off the free list) in the order (start + i * stride) & 511. */
  private openSlot(j: number, b: number, stride: number, start: number): void {
    this.scBlock[j] = b;
    this.scNext[j] = 0;
    this.scStride[j] = stride;
    this.scStart[j] = start;
    const st = this.state;
    if (st.uniformValue(b) === FRAME_FREE) {
      st.fill(b * BLOCK, BLOCK, FRAME_SC_IMPLICIT);
      this.scImplicit[j] = 1;
    } else {
      st.mixBlock(b); // freed frame by frame before: bytes exist already
      this.scImplicit[j] = 0;
    }
  }

  /** The next frame of slot j's permutation, marked in use (framesInUse is the caller's). */
  private deal(j: number): number {
    const b = this.scBlock[j]!,
      i = this.scNext[j]!;
    this.scNext[j] = i + 1;
    const pfn = b * BLOCK + ((this.scStart[j]! + i * this.scStride[j]!) & 511);
    this.used[b]!++;
    if (this.scImplicit[j] === 0) this.state.chunks[pfn >>> PAGED_CHUNK_SHIFT]![pfn & PAGED_MASK] = FRAME_USER;
    else if (i === BLOCK - 1) {
      // all 512 dealt and nothing else touched the block: one uniform byte says so
      this.state.fill(b * BLOCK, BLOCK, FRAME_USER);
      this.scImplicit[j] = 0;
    }
    return pfn;
  }

  /** State of a frame (FRAME_FREE, FRAME_KERNEL or FRAME_USER). */
  stateOf(pfn: number): number {
    const v = this.state.get(pfn);
    if (v !== FRAME_SC_IMPLICIT) return v;
    const j = this.implicitSlot(pfn >>> BLOCK_SHIFT);
    return this.permIndex(j, pfn) < this.scNext[j]! ? FRAME_USER : FRAME_FREE;
  }

  /** Slot whose open block b has implicit states. */
  private implicitSlot(b: number): number {
    for (let j = 0; j < SLOTS; j++) if (this.scBlock[j] === b && this.scImplicit[j] === 1) return j;
    throw new Error(`BUG: block ${b} has implicit frame states but no open scatter slot`);
  }

  /** Position of frame pfn in slot j's permutation: i with (start + i * stride) & 511 = pfn & 511. */
  private permIndex(j: number, pfn: number): number {
    const s = this.scStride[j]!;
    // inverse of the odd stride mod 512 by Newton's iteration (correct bits 3 -> 6 -> 12)
    let inv = s;
    inv = Math.imul(inv, 2 - Math.imul(s, inv));
    inv = Math.imul(inv, 2 - Math.imul(s, inv));
    return Math.imul((pfn - this.scStart[j]!) & 511, inv) & 511;
  }

  /** Gives the block holding pfn explicit per-frame state bytes if it is an implicit scatter block. */
  private explicit(pfn: number): void {
    if (this.state.get(pfn) !== FRAME_SC_IMPLICIT) return;
    const b = pfn >>> BLOCK_SHIFT,
      j = this.implicitSlot(b);
    this.state.fill(b * BLOCK, BLOCK, FRAME_FREE);
    const c = this.state.mixBlock(b),
      base = (b << BLOCK_SHIFT) & PAGED_MASK;
    const start = this.scStart[j]!,
      stride = this.scStride[j]!,
      n = this.scNext[j]!;
    for (let i = 0; i < n; i++) c[base + ((start + i * stride) & 511)] = FRAME_USER;
    this.scImplicit[j] = 0;
  }

  /**
   * n physically contiguous frames aligned to `align` frames (a power of two, at most 2^31); EINVAL for
   * either out of range, ENOMEM when no such run is free.
   */
  allocContig(n: number, align: number, kind: number): number {
    if (!(Number.isInteger(n) && n >= 1)) throw new IommuError('EINVAL', 'alloc_pages', `bad frame count ${n}`);
    // an integer below 2^32: the bit test reads align as an int32, so 1.5 or 2^32 would pass it
    if (!(Number.isInteger(align) && align >= 1 && align <= MAX_ALIGN && (align & (align - 1)) === 0))
      throw new IommuError('EINVAL', 'alloc_pages', `align ${align} is not a power of two up to 2^31 frames`);
    if (n <= BLOCK && align <= BLOCK) {
      let start = (this.kNext + align - 1) & ~(align - 1);
      if (this.kBlock < 0 || start + n > BLOCK) {
        if (n === BLOCK) return this.allocBlock(kind);
        if (this.nFree === 0 && this.drainEmpty() === 0) throw new IommuError('ENOMEM', 'alloc_pages', `no ${n} contiguous free frames`);
        this.kBlock = this.freeList[this.rng.int(this.nFree)]!;
        this.takeBlock(this.kBlock);
        start = 0;
      }
      this.kNext = start + n;
      const pfn = this.kBlock * BLOCK + start;
      for (let i = 0; i < n; i++) this.markUsed(pfn + i, kind);
      return pfn;
    }
    const blocks = Math.ceil(n / BLOCK);
    const step = Math.max(1, align >>> BLOCK_SHIFT);
    // first fit over aligned candidates, starting at a random aligned block for spread; the last
    // candidate may start less than `step` blocks before the end (a run of fewer blocks fits there)
    const cands = Math.ceil(this.nBlocks / step);
    let c = this.rng.int(cands);
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < cands; k++, c = (c + 1) % cands) {
        const b0 = c * step;
        if (b0 + blocks > this.nBlocks) continue;
        let ok = true;
        for (let b = b0; b < b0 + blocks; b++)
          if (this.pos[b]! < 0) {
            ok = false;
            break;
          }
        if (ok) {
          const pfn = this.takeRun(b0, blocks, kind);
          // give back the unused tail of the last block
          for (let f = pfn + n; f < pfn + blocks * BLOCK; f++) this.freeFrame(f);
          return pfn;
        }
      }
      if (this.drainEmpty() === 0) break;
    }
    throw new IommuError('ENOMEM', 'alloc_pages', `no ${n} contiguous free frames aligned to ${align}`);
  }

  /** Returns a frame; a block whose last frame comes back becomes free again. */
  freeFrame(pfn: number): void {
    if (this.stateOf(pfn) === FRAME_FREE) throw new RangeError(`double free of pfn ${pfn}`);
    this.explicit(pfn);
    this.state.set(pfn, FRAME_FREE);
    this.framesInUse--;
    const b = pfn >>> BLOCK_SHIFT;
    if (--this.used[b]! === 0) {
      if (!this.isOpen(b)) this.giveBlock(b);
      else this.heldEmpty = true; // free but held open: drainEmpty() can give it back
    }
  }

  private isOpen(b: number): boolean {
    if (b === this.kBlock) return true;
    for (let j = 0; j < SLOTS; j++) if (this.scBlock[j] === b) return true;
    return false;
  }
  private markUsed(pfn: number, kind: number): void {
    this.explicit(pfn);
    this.state.set(pfn, kind);
    this.used[pfn >>> BLOCK_SHIFT]!++;
    this.framesInUse++;
  }
  private takeRun(b0: number, blocks: number, kind: number): number {
    for (let b = b0; b < b0 + blocks; b++) {
      this.takeBlock(b);
      this.used[b] = BLOCK;
    }
    const pfn = b0 * BLOCK;
    this.state.fill(pfn, blocks * BLOCK, kind);
    this.framesInUse += blocks * BLOCK;
    return pfn;
  }
  private takeBlock(b: number): void {
    const p = this.pos[b]!;
    if (p < 0) throw new Error(`block ${b} is not free`);
    const last = this.freeList[--this.nFree]!;
    this.freeList[p] = last;
    this.pos[last] = p;
    this.pos[b] = -1;
    this.gigaFree[b >>> 9]!--;
  }
  private giveBlock(b: number): void {
    this.pos[b] = this.nFree;
    this.freeList[this.nFree++] = b;
    this.gigaFree[b >>> 9]!++;
  }
  /**
   * Gives back every block that holds no frame in use but is not on the free list: an open scatter
   * or kernel bump block whose frames were all freed (or never dealt), or one dropped from its slot
   * that way. Called only when an allocation finds no fitting free block, as the kernel drains its
   * per-CPU page lists before it gives up, so runs that never get there draw the same blocks as
   * without it. Returns the number of blocks given back.
   */
  private drainEmpty(): number {
    if (!this.heldEmpty) return 0;
    this.heldEmpty = false;
    let n = 0;
    for (let j = 0; j < SLOTS; j++) {
      const b = this.scBlock[j]!;
      if (b >= 0 && this.used[b] === 0) {
        this.scBlock[j] = -1;
        this.scImplicit[j] = 0;
      } // reopens on its next draw
    }
    if (this.kBlock >= 0 && this.used[this.kBlock] === 0) this.kBlock = -1;
    for (let b = 0; b < this.nBlocks; b++) {
      if (this.pos[b]! >= 0 || this.used[b] !== 0 || this.isOpen(b)) continue;
      this.state.fill(b * BLOCK, BLOCK, FRAME_FREE); // implicit or all-free bytes: one uniform byte
      this.giveBlock(b);
      n++;
    }
    return n;
  }
  /**
   * One 4 KiB user frame once no whole free block is left and slot j0 is empty or fully dealt (slow,
   * rare). A frame an open block has still to hand out (a scatter slot's undealt frames, the kernel
   * bump block's tail from kNext) is taken only the way that block hands it out, so its owner can
   * never deal it a second time: first another scatter slot with frames left deals one, then a free
   * frame inside a partly used block is reused, and last the kernel bump block gives its next frame.
   */
  private allocFromAnyPartial(j0: number): number {
    const scBlock = this.scBlock,
      scNext = this.scNext;
    for (let k = 1; k < SLOTS; k++) {
      // the slots after j0, wrapping; SEQ_SLOT sits between 15 and 0 and is never open at host age 1,
      // so the scatter slots are tried in the order they were before it existed
      const j = (j0 + k) % SLOTS;
      if (scBlock[j]! >= 0 && scNext[j]! < BLOCK) {
        const pfn = this.deal(j);
        this.framesInUse++;
        return pfn;
      }
    }
    // every open scatter slot is fully dealt: a free frame in its block was dealt and freed, never dealt again
    const kb = this.kBlock;
    for (let b = 0; b < this.nBlocks; b++) {
      if (this.pos[b]! >= 0 || this.used[b] === BLOCK) continue;
      const f0 = b * BLOCK,
        end = f0 + (b === kb ? this.kNext : BLOCK);
      for (let f = f0; f < end; f++) {
        if (this.stateOf(f) === FRAME_FREE) {
          this.markUsed(f, FRAME_USER);
          return f;
        }
      }
    }
    if (kb >= 0 && this.kNext < BLOCK) {
      const f = kb * BLOCK + this.kNext++; // bumped past, as allocContig would
      this.markUsed(f, FRAME_USER);
      return f;
    }
    throw new IommuError('ENOMEM', 'alloc_pages', 'host memory exhausted');
  }
}
