// Models the memory VFIO pins from: processes (mm_struct) with VMAs backed by PhysMem frames or by
// device MMIO (VM_PFNMAP, pfns without struct page), RLIMIT_MEMLOCK, CAP_IPC_LOCK and
// mm->locked_vm; which pages of a VMA are present yet (faulted in).

import { type Backing, type BackingProfile, type Sim, backingPfn } from '@x/iommu-core';
import { EV, type Meter } from '@x/iommu-core/internals';
import { VfioError, rethrowAsVfio } from './errors.js';
import { checkU64 } from './uapi.js';

/**
 * What backs an mmap: a PhysMem profile ('4k', 'thp', 'hugetlb-2m', 'hugetlb-1g', 'fragmented',
 * 'fragmented:<p>' with p in [0, 1]) or 'mmio' (a device BAR).
 */
export type MmapBacking = BackingProfile | 'mmio';
/** Process.mmap() options; a property set to undefined is the same as one left out. */
export interface MmapOptions {
  /** Default: the sim's backing (createSim({ backing }), 'thp' unless set). */
  backing?: MmapBacking | undefined;
  /**
   * true (default): every page is present from the start (MAP_POPULATE, or memory the process has
   * touched already). false: no page is faulted in yet; the first pin of a page faults it in and
   * clears it (get_user_pages on a fresh anonymous VMA), counted as pageFaults and pageZeroes.
   * Ignored for 'mmio' (a BAR has no pages to clear).
   */
  populate?: boolean | undefined;
}
/** Host.spawn() options; a property set to undefined is the same as one left out. */
export interface SpawnOptions {
  /** RLIMIT_MEMLOCK in bytes, a u64 (0 .. 2^64-1); null or absent = RLIM_INFINITY. */
  memlockLimit?: bigint | null | undefined;
  /** CAP_IPC_LOCK: pins are not charged against RLIMIT_MEMLOCK. Default false. */
  capIpcLock?: boolean | undefined;
}
/**
 * What a process needs of its host: the machine its frames come from, and pfns for a device BAR.
 * Host is one; the process does not reach the host's groups or containers.
 */
export interface MmHost {
  readonly sim: Sim;
  /** MMIO pfns for an npages BAR mapping (never RAM), naturally aligned. */
  allocMmio(npages: number): number;
}

const PAGE_SHIFT = 12n;
/** First user address handed out by mmap (bytes); VMAs are placed 1 GiB-aligned upward from it. */
const MMAP_BASE_PAGE = 0x7f0000000000 / 4096;
const VMA_ALIGN_PAGES = 1 << 18;
/** MMIO pfns start here: above any RAM frame (< 2^32) and below the page-table pfns (2^36). */
export const MMIO_PFN_BASE = 2 ** 34;

/** Largest page-table mapping vfio-pci installs for a BAR (a PUD: 1 GiB), in log2 pages. */
export const PUD_ORDER = 18;
const PMD_ORDER = 9;

/** A virtual memory area: npages from startPage, backed by RAM frames or by MMIO pfns. */
export class Vma {
  /**
   * log2 pages of one folio: 0 for scattered 4 KiB pages, 9 for THP / hugetlb-2m, 18 for
   * hugetlb-1g. MMIO VMAs: 0 (pfns without struct page).
   */
  readonly folioOrder: number;
  /** hugetlbfs memory: GUP walks it once per folio in every release (THP only since v6.6). */
  readonly hugetlb: boolean;
  /**
   * Which pages are present, or null when all are (populated at mmap, or MMIO). Per fault unit:
   * one byte per backing run (a 2 MiB or 1 GiB page) when the backing has runs, else one bit per
   * 4 KiB page (bit i & 7 of byte i >>> 3); a PMD-mapped 2 MiB region sets its 512 bits together.
   * Pages stay present after an unpin (put_page does not unmap them); only munmap drops the VMA.
   */
  readonly populated: Uint8Array | null;

  constructor(
    readonly startPage: number,
    readonly npages: number,
    /** RAM frames, or null for an MMIO VMA. */
    readonly backing: Backing | null,
    /** First MMIO pfn (MMIO VMAs only), else -1. */
    readonly mmioPfn: number,
    readonly profile: string,
    /** false: no page is present yet (see MmapOptions.populate). */
    populate = true,
  ) {
    this.folioOrder = backing === null ? 0 : backing.runOrder;
    this.hugetlb = profile.startsWith('hugetlb');
    this.populated =
      populate || backing === null ? null : new Uint8Array(backing.runOrder !== 0 ? backing.pfns.length : (npages + 7) >>> 3);
  }
  get endPage(): number {
    return this.startPage + this.npages;
  }
  get mmio(): boolean {
    return this.backing === null;
  }
  /**
   * MMIO VMAs: pages from idx to the end of the page-table mapping that holds it. vfio-pci's
   * huge_fault maps a BAR with PUD (1 GiB) and PMD (2 MiB) entries where the address and the pfn
   * are both aligned and the whole mapping lies inside the VMA, else 4 KiB PTEs.
   */
  mappingLeft(idx: number): number {
    for (const o of [PUD_ORDER, PMD_ORDER]) {
      const size = 2 ** o,
        base = idx - (idx % size);
      if ((this.startPage + base) % size === 0 && (this.mmioPfn + base) % size === 0 && base + size <= this.npages)
        return base + size - idx;
    }
    return 1;
  }

  /**
   * log2 pages of the folios behind pages [idx, idx + n) of this VMA, the smallest of them: the
   * backing's run order, or for a backing mixing 2 MiB pages and scattered 4 KiB pages (the
   * 'fragmented' mix, a 'thp' VMA with a partial 2 MiB tail) 9 when both ends lie in THP regions,
   * else 0. A physically contiguous run does not cross from one kind into the other in practice.
   */
  folioOrderAt(idx: number, n: number): number {
    const b = this.backing;
    if (b === null) return 0;
    if (b.runOrder !== 0) return b.runOrder;
    const pm = b.pmdMapped;
    return pm !== null && pm[idx >>> 9] === 1 && pm[(idx + n - 1) >>> 9] === 1 ? 9 : 0;
  }

  /** pfn behind page idx of this VMA. */
  pfnAt(idx: number): number {
    return this.backing === null ? this.mmioPfn + idx : backingPfn(this.backing, idx);
  }
  /**
   * Pages from idx (at most max) whose pfns continue pfnAt(idx) contiguously. Works per backing run
   * (2 MiB / 1 GiB) when the backing has runs, per page otherwise.
   */
  contigFrom(idx: number, max: number): number {
    const lim = Math.min(max, this.npages - idx);
    const b = this.backing;
    if (b === null) return lim;
    if (b.runOrder === 0) {
      const p = b.pfns;
      let n = 1,
        expect = p[idx]! + 1;
      while (n < lim && p[idx + n] === expect) {
        n++;
        expect++;
      }
      return n;
    }
    const run = 1 << b.runOrder,
      p = b.pfns;
    let r = idx >>> b.runOrder;
    let n = Math.min(lim, run - (idx & (run - 1)));
    let expect = p[r]! + (idx & (run - 1)) + n;
    while (n < lim && p[r + 1] === expect) {
      r++;
      const k = Math.min(run, lim - n);
      n += k;
      expect += k;
    }
    return n;
  }

  /**
   * Faults in the pages among [idx, idx + n) that are not present yet, as get_user_pages does on a
   * VMA mmapped without MAP_POPULATE: each 4 KiB page, or the whole 2 MiB / 1 GiB page around it,
   * is mapped and cleared (clear_page / clear_huge_page) once. Charges pageFaults (one per fault)
   * and pageZeroes (4 KiB pages cleared) to meter, once per call. A no-op for a populated VMA.
   */
  faultIn(idx: number, n: number, meter: Meter): void {
    const pop = this.populated;
    if (pop === null || n <= 0) return;
    const b = this.backing!,
      end = idx + n;
    let faults = 0,
      zeroes = 0;
    if (b.runOrder !== 0) {
      // a run is one huge page: one fault maps and clears all of it
      for (let r = idx >>> b.runOrder, last = (end - 1) >>> b.runOrder; r <= last; r++) {
        if (pop[r] === 0) {
          pop[r] = 1;
          faults++;
        }
      }
      zeroes = faults * (1 << b.runOrder);
    } else {
      const pmd = b.pmdMapped;
      let i = idx;
      while (i < end) {
        const r = i >>> 9;
        if (pmd !== null && pmd[r] === 1) {
          // a THP region of a mixed backing: one fault for its 2 MiB page, bytes r*64 .. r*64+63 set together
          if ((pop[i >>> 3]! & (1 << (i & 7))) === 0) {
            pop.fill(0xff, r << 6, (r + 1) << 6);
            faults++;
            zeroes += 512;
          }
          i = Math.min(end, (r + 1) << 9);
        } else if ((i & 7) === 0 && i + 8 <= end) {
          // eight 4 KiB pages at once: a byte never straddles a 2 MiB region
          const v = pop[i >>> 3]!;
          if (v !== 0xff) {
            let c = v - ((v >>> 1) & 0x55); // popcount of the byte: pages already present
            c = (c & 0x33) + ((c >>> 2) & 0x33);
            c = (c + (c >>> 4)) & 0x0f;
            faults += 8 - c;
            zeroes += 8 - c;
            pop[i >>> 3] = 0xff;
          }
          i += 8;
        } else {
          const bit = 1 << (i & 7);
          if ((pop[i >>> 3]! & bit) === 0) {
            pop[i >>> 3] = pop[i >>> 3]! | bit;
            faults++;
            zeroes++;
          }
          i++;
        }
      }
    }
    if (faults !== 0) {
      meter.charge(EV.pageFaults, faults);
      meter.charge(EV.pageZeroes, zeroes);
    }
  }

  /** Pages of [idx, idx + n) that are present (all of them for a populated VMA). */
  presentPages(idx: number, n: number): number {
    const pop = this.populated;
    if (pop === null) return n;
    const b = this.backing!;
    let k = 0;
    for (let i = idx; i < idx + n; i++) {
      if (b.runOrder !== 0 ? pop[i >>> b.runOrder] !== 0 : (pop[i >>> 3]! & (1 << (i & 7))) !== 0) k++;
    }
    return k;
  }
}

/** A process: its VMAs, RLIMIT_MEMLOCK, CAP_IPC_LOCK and locked_vm (pages). */
export class Process {
  /** mm->locked_vm in pages. */
  lockedVm = 0;
  /** RLIMIT_MEMLOCK in pages (Infinity = RLIM_INFINITY). */
  readonly memlockPages: number;
  readonly vmas: Vma[] = [];
  /** VMAs whose pages are not all present yet (Vma.populated !== null): 0 lets pinning skip fault-in. */
  unpopulatedVmas = 0;
  /** The VMA findVma() found last (pinning and unmapping walk a VMA page by page), or null. */
  vmaHint: Vma | null = null;
  private nextPage = MMAP_BASE_PAGE;

  /**
   * memlockLimit: RLIMIT_MEMLOCK in bytes, a u64, or null for RLIM_INFINITY. A negative limit (or one
   * past 2^64-1) is a RangeError and a number a TypeError: setrlimit() takes an unsigned rlim_t, and
   * a limit below 0 pages would make every later MAP_DMA fail with ENOMEM.
   */
  constructor(
    readonly host: MmHost,
    readonly pid: number,
    readonly memlockLimit: bigint | null,
    readonly capIpcLock: boolean,
  ) {
    if (memlockLimit !== null) {
      if (typeof memlockLimit !== 'bigint')
        throw new TypeError(
          `memlockLimit: expected a bigint (bytes) or null (RLIM_INFINITY), got ${typeof memlockLimit} ${String(memlockLimit)}`,
        );
      if (memlockLimit < 0n)
        throw new RangeError(`memlockLimit: ${memlockLimit} is negative (RLIMIT_MEMLOCK is an unsigned byte count; null = RLIM_INFINITY)`);
      checkU64('memlockLimit', memlockLimit);
    }
    this.memlockPages = memlockLimit === null ? Infinity : Number(memlockLimit >> PAGE_SHIFT);
  }

  /**
   * mmap(): a new VMA of size bytes. backing: a PhysMem profile ('4k', 'thp', 'hugetlb-2m',
   * 'hugetlb-1g', 'fragmented[:p]') or 'mmio' (a device BAR: reserved pfns, never pinned or charged).
   * Returns the VMA's start address. Throws VfioError (syscall 'mmap'): EINVAL for a size of 0 or not
   * a multiple of 4 KiB, an unknown backing, or a hugetlb length that is not a multiple of the huge
   * page; ENOMEM when the host cannot back it (the core allocator's error, re-thrown as a VfioError of
   * the same code and errno, kept as `cause`). A size that is not a u64 bigint is a TypeError /
   * RangeError (a programming error, like the typed ioctl calls), and so is a populate that is not a
   * boolean (TypeError). populate false leaves the pages to be faulted in when first pinned.
   */
  mmap(size: bigint, opts: MmapOptions = {}): bigint {
    checkU64('mmap size', size);
    const populate = opts.populate ?? true;
    if (typeof populate !== 'boolean')
      throw new TypeError(`mmap populate: expected true, false or undefined, got ${typeof populate} ${String(populate)}`);
    if (size === 0n || (size & 0xfffn) !== 0n)
      throw new VfioError('EINVAL', 'mmap', `size 0x${size.toString(16)} must be a positive multiple of 4 KiB`);
    const npages = Number(size >> PAGE_SHIFT);
    // typed for users; a JS caller's string is still checked at run time by the core's parseBacking
    const profile = (opts.backing ?? this.host.sim.backing) as MmapBacking;
    const start = this.nextPage;
    let vma: Vma;
    if (profile === 'mmio') {
      vma = new Vma(start, npages, null, this.host.allocMmio(npages), profile);
    } else {
      let b: Backing;
      try {
        b = this.host.sim.mem.allocBacking(npages, profile);
      } catch (e) {
        rethrowAsVfio(e, 'mmap');
      }
      vma = new Vma(start, npages, b, -1, profile, populate);
      if (vma.populated !== null) this.unpopulatedVmas++;
    }
    this.vmas.push(vma);
    this.nextPage = Math.ceil((start + npages) / VMA_ALIGN_PAGES) * VMA_ALIGN_PAGES + VMA_ALIGN_PAGES;
    return BigInt(start) << PAGE_SHIFT;
  }

  /**
   * munmap() of a whole VMA (vaddr = its start): its RAM frames go back to the allocator. Model
   * limit: a VMA with a page still pinned is refused with EBUSY (Linux would unmap it and free those
   * pages at their last unpin). Throws VfioError EINVAL when no VMA starts at vaddr; a vaddr that is not
   * a u64 bigint is a TypeError / RangeError.
   */
  munmap(vaddr: bigint): void {
    checkU64('munmap vaddr', vaddr);
    const start = Number(vaddr >> PAGE_SHIFT);
    const i = this.vmas.findIndex((v) => v.startPage === start);
    if (i < 0 || (vaddr & 0xfffn) !== 0n) throw new VfioError('EINVAL', 'munmap', `no VMA starts at 0x${vaddr.toString(16)}`);
    const v = this.vmas[i]!,
      mem = this.host.sim.mem;
    if (v.backing !== null) {
      for (let k = 0; k < v.npages; k++) {
        if (mem.pinCount(v.pfnAt(k)) > 0) throw new VfioError('EBUSY', 'munmap', `page ${k} of the VMA is pinned`);
      }
      mem.freeBacking(v.backing);
    }
    if (v.populated !== null) this.unpopulatedVmas--;
    this.vmas.splice(i, 1);
    if (this.vmaHint === v) this.vmaHint = null;
  }

  /** The VMA holding a virtual page, or null (binary search; VMAs are created in ascending order). */
  findVma(vpage: number): Vma | null {
    const v = this.vmas;
    let lo = 0,
      hi = v.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1,
        m = v[mid]!;
      if (vpage < m.startPage) hi = mid - 1;
      else if (vpage >= m.endPage) lo = mid + 1;
      else {
        this.vmaHint = m;
        return m;
      }
    }
    return null;
  }

  /** pfn behind a virtual page, or -1 when no VMA holds it. */
  pfnOf(vpage: number): number {
    const v = this.findVma(vpage);
    return v === null ? -1 : v.pfnAt(vpage - v.startPage);
  }
}
