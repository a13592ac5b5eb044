// A specification model of one VFIO type1 container (spec vfio-type1 §1.3–§1.5, §3–§8, §11–§13: docs/spec.md), the
// oracle of test/differential.test.ts. Written from the spec and the kernel's rules, not from src/: plain Maps of pages
// (IOVA page -> pfn and owning dma), a list of dmas, counters. No page tables, no batching, no unmap paths;
// the only chunking it knows is the pin loop's "physically contiguous run", because in the 4.x eras which
// errno a map gets (ENOMEM vs the driver's EFAULT) depends on where a chunk ends (spec §5.1, §5.2).
//
// Eras: 'v4' = the 4.15–4.20 checks (profiles v4.16 and v4.17), 'main' = E-6.18 (profile mainline).
// Addresses at the ioctl boundary are bigint bytes; below it IOVA pages and virtual pages are numbers.

export type Era = 'v4' | 'main';
export type Errno = 'EPERM' | 'ENOENT' | 'ENOMEM' | 'EFAULT' | 'EBUSY' | 'EEXIST' | 'ENODEV' | 'EINVAL' | 'ENOSPC' | 'EOVERFLOW';
/** errno numbers (include/uapi/asm-generic/errno-base.h, errno.h), negated as the ioctl returns them. */
export const ERRNO_OF: Readonly<Record<Errno, number>> = {
  EPERM: -1,
  ENOENT: -2,
  ENOMEM: -12,
  EFAULT: -14,
  EBUSY: -16,
  EEXIST: -17,
  ENODEV: -19,
  EINVAL: -22,
  ENOSPC: -28,
  EOVERFLOW: -75,
};
export type Res<T> = { ok: T } | { err: Errno };

const U64_MAX = (1n << 64n) - 1n;
const PAGE = 4096n;
/** uapi flags (spec §1.5). */
export const MAP_READ = 1,
  MAP_WRITE = 2,
  MAP_VADDR = 4;
export const UNMAP_DIRTY = 1,
  UNMAP_ALL = 2,
  UNMAP_VADDR = 4;
/** IOMMU_READ / IOMMU_WRITE: what a device may do through the mapping. */
export const IOMMU_READ = 1,
  IOMMU_WRITE = 2;

/** An IOMMU group as the model sees it: the facts its driver reports (input, not under test). */
export interface GroupSpec {
  readonly id: number;
  /** Groups behind the same driver share one domain (same ops, same coherency: spec §6.7 step 8). */
  readonly driver: string;
  readonly pgsizeBitmap: bigint;
  /** Last IOVA page of the domain aperture (inclusive; the first is 0). */
  readonly apertureLast: number;
  /** Reserved regions that carve the iova_list (every type but DIRECT_RELAXABLE), pages, inclusive. */
  readonly resv: readonly { start: number; last: number }[];
  readonly devices: readonly number[];
}

/** What the process's VMAs back a virtual page with (input): a pfn (-1: no VMA), and whether it has no struct page (MMIO). */
export interface Backing {
  pfnOf(vpage: number): number;
  reservedOf(vpage: number): boolean;
}

export interface ModelOptions {
  era: Era;
  /** dma_entry_limit (mainline only; 4.x has no limit). */
  dmaEntryLimit: number;
  /** RLIMIT_MEMLOCK >> PAGE_SHIFT (Infinity = unlimited). */
  memlockPages: number;
  capIpcLock: boolean;
  disableHugepages: boolean;
}

export interface ModelDma {
  id: number;
  iova: number;
  npages: number;
  vaddr: number;
  prot: number;
  lockedPages: number;
}
export interface PageEntry {
  pfn: number;
  dma: number;
}
export interface MapArgs {
  argsz: number;
  flags: number;
  vaddr: bigint;
  iova: bigint;
  size: bigint;
}
export interface UnmapArgs {
  argsz: number;
  flags: number;
  iova: bigint;
  size: bigint;
}
/** A 4.x v1 unmap that starts inside a dma: the kernel's rb-tree walk decides which later dmas go (spec §6.0). */
export type UnmapPicker = (candidates: readonly ModelDma[]) => readonly ModelDma[];
export interface DmaOutcome {
  ok: boolean;
  fault: { iova: number; reason: 'no-domain' | 'not-present' | 'permission' } | null;
  written: number[];
}

export class SpecModel {
  /** Groups set to the container, in the order they were added. */
  groups: GroupSpec[] = [];
  /** SET_IOMMU done (and not released by the last group leaving). */
  set = false;
  v2 = false;
  /** IOVA page -> the pfn a device reaches there and the dma that owns it. */
  readonly pages = new Map<number, PageEntry>();
  readonly dmas = new Map<number, ModelDma>();
  dmaAvail = 0;
  lockedVm = 0;
  /** Page pins held (one per non-reserved page per dma). */
  pinned = 0;
  /** pfn -> device writes that reached it. */
  readonly written = new Map<number, number>();
  private nextId = 1;

  constructor(
    readonly o: ModelOptions,
    readonly mem: Backing,
  ) {}

  // ---- derived state -------------------------------------------------------------------------

  /** Groups attached to IOMMU domains (all of the container's, once SET_IOMMU is done). */
  attached(): GroupSpec[] {
    return this.set ? this.groups : [];
  }

  /** spec §3: AND of the domains' bitmaps from all-ones; sub-page bits fold into PAGE_SIZE. */
  pgsizeBitmap(): bigint {
    let b = U64_MAX;
    for (const g of this.attached()) b &= g.pgsizeBitmap;
    if ((b & (PAGE - 1n)) !== 0n) b = (b & ~(PAGE - 1n)) | PAGE;
    return b;
  }

  /** The alignment unit: the smallest page size (lowest set bit). The kernel leaves an empty intersection undefined (§11.20). */
  pgsize(): bigint {
    const b = this.pgsizeBitmap();
    if (b === 0n) throw new Error('model: empty page-size intersection (undefined in the kernel)');
    return b & -b;
  }

  /** spec §8 (5.4+): aperture intersection minus every attached group's reserved regions, inclusive page ranges. */
  iovaList(): [number, number][] {
    const gs = this.attached();
    if (gs.length === 0) return [];
    let list: [number, number][] = [[0, Math.min(...gs.map((g) => g.apertureLast))]];
    for (const g of gs) {
      for (const r of g.resv) {
        const next: [number, number][] = [];
        for (const [s, e] of list) {
          if (r.last < s || r.start > e) {
            next.push([s, e]);
            continue;
          }
          if (r.start > s) next.push([s, r.start - 1]);
          if (r.last < e) next.push([r.last + 1, e]);
        }
        list = next;
      }
    }
    return list;
  }

  /** dmas overlapping IOVA pages [lo, hi], ascending. */
  overlapping(lo: number, hi: number): ModelDma[] {
    const out: ModelDma[] = [];
    for (const d of this.dmas.values()) if (d.iova <= hi && lo <= d.iova + d.npages - 1) out.push(d);
    return out.sort((a, b) => a.iova - b.iova);
  }

  /** The dma holding IOVA page p, or null. */
  containing(p: number): ModelDma | null {
    const e = this.pages.get(p);
    return e === undefined ? null : this.dmas.get(e.dma)!;
  }

  /** The pfn a device of an attached group reaches at IOVA page p, or -1. */
  reach(p: number): number {
    return this.pages.get(p)?.pfn ?? -1;
  }

  sortedDmas(): ModelDma[] {
    return [...this.dmas.values()].sort((a, b) => a.iova - b.iova);
  }

  // ---- VFIO_IOMMU_MAP_DMA (§4.1 mainline 6.18, §4.3 4.x, §5 pin + map) --------------------------

  map(m: MapArgs): Res<0> {
    if (!this.set) return { err: 'EINVAL' }; // container.c: no IOMMU driver yet
    const { argsz, flags, vaddr, iova, size } = m;
    const pg = this.pgsize();
    const prot = (flags & MAP_WRITE ? IOMMU_WRITE : 0) | (flags & MAP_READ ? IOMMU_READ : 0);
    if (this.o.era === 'main') {
      if (argsz < 32 || (flags & ~(MAP_READ | MAP_WRITE | MAP_VADDR)) !== 0) return { err: 'EINVAL' };
      if (size === 0n) return { err: 'EINVAL' };
      if (iova + size - 1n > U64_MAX || vaddr + size - 1n > U64_MAX) return { err: 'EOVERFLOW' };
      const vaddrOp = (flags & MAP_VADDR) !== 0;
      if ((prot !== 0 && vaddrOp) || (prot === 0 && !vaddrOp)) return { err: 'EINVAL' };
      if (((size | iova | vaddr) & (pg - 1n)) !== 0n) return { err: 'EINVAL' };
      const [lo, hi] = pageSpan(iova, size);
      const hit = this.overlapping(lo, hi).length > 0;
      // VADDR: these sequences never invalidate a vaddr, so a hit is never vaddr_invalid
      if (vaddrOp) return { err: hit ? 'EINVAL' : 'ENOENT' };
      if (hit) return { err: 'EEXIST' };
      if (this.dmaAvail === 0) return { err: 'ENOSPC' };
      if (!this.iovaList().some(([s, e]) => s <= lo && hi <= e)) return { err: 'EINVAL' };
      return this.pinAndMap(lo, Number(vaddr / PAGE), hi - lo + 1, prot, Infinity);
    }
    if (argsz < 32 || (flags & ~(MAP_READ | MAP_WRITE)) !== 0) return { err: 'EINVAL' };
    if (prot === 0 || size === 0n || ((size | iova | vaddr) & (pg - 1n)) !== 0n) return { err: 'EINVAL' };
    if (iova + size - 1n > U64_MAX || vaddr + size - 1n > U64_MAX) return { err: 'EINVAL' };
    const [lo, hi] = pageSpan(iova, size);
    if (this.overlapping(lo, hi).length > 0) return { err: 'EEXIST' };
    // pre-5.4: no iova_list; the driver's iommu_map refuses IOVAs beyond its aperture with its own errno
    // (the reference driver is VT-d-like: EFAULT), when the chunk holding them is mapped
    const aperture = Math.min(...this.attached().map((g) => g.apertureLast));
    return this.pinAndMap(lo, Number(vaddr / PAGE), hi - lo + 1, prot, aperture);
  }

  /**
   * vfio_pin_map_dma (§5.1, §5.2): pages in vaddr order; a chunk is a physically contiguous run of pages with
   * the same reserved-ness (one page with disable_hugepages). A page with no VMA behind it fails the call
   * (EFAULT) where a chunk would start on it; each non-reserved page is charged, and the first one past
   * RLIMIT_MEMLOCK (without CAP_IPC_LOCK) fails the call with ENOMEM. A pinned chunk is then mapped: beyond
   * `apertureLast` the driver refuses it (EFAULT). Any failure leaves nothing behind (the dma is removed).
   */
  private pinAndMap(iova: number, vaddr: number, n: number, prot: number, apertureLast: number): Res<0> {
    const { memlockPages, capIpcLock, disableHugepages } = this.o;
    let acct = 0;
    const charge = (): boolean => {
      if (!capIpcLock && this.lockedVm + acct + 1 > memlockPages) return false;
      acct++;
      return true;
    };
    for (let i = 0; i < n; ) {
      const p0 = this.mem.pfnOf(vaddr + i);
      if (p0 < 0) return { err: 'EFAULT' };
      const r0 = this.mem.reservedOf(vaddr + i);
      if (!r0 && !charge()) return { err: 'ENOMEM' };
      let j = i + 1;
      if (!disableHugepages) {
        for (; j < n; j++) {
          const p = this.mem.pfnOf(vaddr + j);
          if (p < 0 || p !== p0 + (j - i) || this.mem.reservedOf(vaddr + j) !== r0) break;
          if (!r0 && !charge()) return { err: 'ENOMEM' };
        }
      }
      if (iova + j - 1 > apertureLast) return { err: 'EFAULT' };
      i = j;
    }
    const d: ModelDma = { id: this.nextId++, iova, npages: n, vaddr, prot, lockedPages: acct };
    this.dmas.set(d.id, d);
    for (let k = 0; k < n; k++) this.pages.set(iova + k, { pfn: this.mem.pfnOf(vaddr + k), dma: d.id });
    this.lockedVm += acct;
    this.pinned += acct;
    if (this.o.era === 'main') this.dmaAvail--;
    return { ok: 0 };
  }

  // ---- VFIO_IOMMU_UNMAP_DMA (§6.0 mainline, §6.0b 4.x, result rules, §11.2–4) --------------------

  /** Bytes unmapped, or the errno. `pick` resolves the one case the spec leaves to the rb-tree shape. */
  unmap(u: UnmapArgs, pick: UnmapPicker): Res<bigint> {
    if (!this.set) return { err: 'EINVAL' };
    const { argsz, flags, iova, size } = u;
    const pg = this.pgsize();
    let lo: number, hi: number;
    const all = this.o.era === 'main' && (flags & UNMAP_ALL) !== 0;
    if (this.o.era === 'main') {
      if (argsz < 24 || (flags & ~(UNMAP_DIRTY | UNMAP_ALL | UNMAP_VADDR)) !== 0) return { err: 'EINVAL' };
      const dirty = (flags & UNMAP_DIRTY) !== 0;
      if (dirty && (flags & (UNMAP_ALL | UNMAP_VADDR)) !== 0) return { err: 'EINVAL' };
      if (dirty && argsz < 48) return { err: 'EINVAL' };
      if (dirty || (flags & UNMAP_VADDR) !== 0) throw new Error('model: GET_DIRTY_BITMAP with a bitmap and VADDR unmaps are not modeled');
      if ((iova & (pg - 1n)) !== 0n) return { err: 'EINVAL' };
      if (all) {
        if (iova !== 0n || size !== 0n) return { err: 'EINVAL' };
        lo = 0;
        hi = Number(U64_MAX / PAGE);
      } else {
        if (size === 0n || (size & (pg - 1n)) !== 0n) return { err: 'EINVAL' };
        if (iova + size - 1n > U64_MAX) return { err: 'EOVERFLOW' };
        [lo, hi] = pageSpan(iova, size);
      }
    } else {
      if (argsz < 24 || flags !== 0) return { err: 'EINVAL' };
      if ((iova & (pg - 1n)) !== 0n) return { err: 'EINVAL' };
      if (size === 0n || (size & (pg - 1n)) !== 0n) return { err: 'EINVAL' };
      // 4.15–4.20: `iova + size < iova` in u64, so a range ending exactly at 2^64 is refused too
      if (iova + size > U64_MAX) return { err: 'EINVAL' };
      [lo, hi] = pageSpan(iova, size);
    }
    if (this.v2 && !all) {
      const a = this.containing(lo),
        z = this.containing(hi);
      if ((a !== null && a.iova !== lo) || (z !== null && z.iova + z.npages - 1 !== hi)) return { err: 'EINVAL' };
    }
    const over = this.overlapping(lo, hi);
    let gone: readonly ModelDma[];
    if (all || this.v2 || over.length === 0 || over[0]!.iova >= lo) gone = over;
    else if (this.o.era === 'main')
      gone = []; // v1: the lowest one starts before iova: stop
    else {
      // v1 in 4.x: each vfio_find_dma walks from the root; which dmas starting inside the range go before the
      // walk meets the one that starts before iova depends on the tree shape ("implementation-defined")
      const cands = over.filter((d) => d.iova >= lo);
      gone = pick(cands);
      for (const d of gone) if (!cands.includes(d)) throw new Error(`model: picked dma ${d.iova} is not a candidate`);
    }
    let total = 0n;
    for (const d of gone) {
      total += BigInt(d.npages) * PAGE;
      this.remove(d);
    }
    return { ok: total };
  }

  private remove(d: ModelDma): void {
    for (let k = 0; k < d.npages; k++) this.pages.delete(d.iova + k);
    this.dmas.delete(d.id);
    this.lockedVm -= d.lockedPages;
    this.pinned -= d.lockedPages;
    if (this.o.era === 'main') this.dmaAvail++;
  }

  private releaseAll(): void {
    for (const d of this.sortedDmas()) this.remove(d);
    this.set = false;
  }

  // ---- VFIO_IOMMU_GET_INFO (§7.1 mainline with 8-byte cap alignment, pre-5.4 no caps) ------------

  /** Writes into buf what the kernel copies back; returns the ioctl's result. buf holds the caller's argsz. */
  getInfo(buf: Uint8Array): Res<0> {
    if (!this.set) return { err: 'EINVAL' };
    const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const argsz = v.getUint32(0, true);
    if (argsz < 16) return { err: 'EINVAL' };
    const bitmap = this.pgsizeBitmap();
    if (this.o.era === 'v4') {
      v.setUint32(4, 1, true); // VFIO_IOMMU_INFO_PGSIZES; argsz untouched
      v.setBigUint64(8, bitmap, true);
      return { ok: 0 };
    }
    const ranges = this.iovaList();
    const need = 24 + 32 + 16 + 16 + 16 * ranges.length; // header, MIGRATION, DMA_AVAIL (12 -> 16), IOVA_RANGE
    const head = new Uint8Array(24),
      h = new DataView(head.buffer);
    h.setUint32(0, argsz < need ? need : argsz, true);
    h.setUint32(4, 1 | 2, true); // PGSIZES | CAPS: the caps always exist
    h.setBigUint64(8, bitmap, true);
    h.setUint32(16, argsz < need ? 0 : 24, true); // cap_offset; pad stays 0
    buf.set(head.subarray(0, Math.min(argsz, 24)), 0);
    if (argsz >= need) {
      // MIGRATION @24 -> 56
      v.setUint16(24, 2, true);
      v.setUint16(26, 1, true);
      v.setUint32(28, 56, true);
      v.setUint32(32, 0, true);
      v.setUint32(36, 0, true);
      v.setBigUint64(40, this.pgsize(), true);
      v.setBigUint64(48, 0x10000000n, true);
      // DMA_AVAIL @56 -> 72, 4 bytes of pad
      v.setUint16(56, 3, true);
      v.setUint16(58, 1, true);
      v.setUint32(60, 72, true);
      v.setUint32(64, this.dmaAvail, true);
      v.setUint32(68, 0, true);
      // IOVA_RANGE @72, last in the chain
      v.setUint16(72, 1, true);
      v.setUint16(74, 1, true);
      v.setUint32(76, 0, true);
      v.setUint32(80, ranges.length, true);
      v.setUint32(84, 0, true);
      ranges.forEach(([s, e], i) => {
        v.setBigUint64(88 + 16 * i, BigInt(s) * PAGE, true);
        v.setBigUint64(96 + 16 * i, BigInt(e) * PAGE + PAGE - 1n, true);
      });
    }
    return { ok: 0 };
  }

  // ---- groups and the container (§1.4, §6.6, §6.7, container.c / group.c) ------------------------

  /** VFIO_GROUP_SET_CONTAINER. */
  addGroup(g: GroupSpec): Res<0> {
    if (this.groups.includes(g)) return { err: 'EINVAL' }; // the group already has a container
    if (this.set && this.o.era === 'main') {
      // 5.4+: the new aperture must hold every dma, and no reserved region of the group may cover one
      const ap = g.apertureLast;
      for (const d of this.dmas.values()) {
        if (d.iova + d.npages - 1 > ap) return { err: 'EINVAL' };
        if (g.resv.some((r) => r.start <= d.iova + d.npages - 1 && d.iova <= r.last)) return { err: 'EINVAL' };
      }
      if (this.iovaListWith(g).length === 0) return { err: 'EINVAL' };
    }
    // a new driver's domain gets every dma replayed (same pfns, no new pins); a known driver's domain is shared
    this.groups.push(g);
    return { ok: 0 };
  }

  private iovaListWith(g: GroupSpec): [number, number][] {
    this.groups.push(g);
    try {
      return this.iovaList();
    } finally {
      this.groups.pop();
    }
  }

  /** VFIO_GROUP_UNSET_CONTAINER: the last group takes the type1 instance and every mapping with it. */
  removeGroup(g: GroupSpec): Res<0> {
    const i = this.groups.indexOf(g);
    if (i < 0) return { err: 'EINVAL' };
    this.groups.splice(i, 1);
    if (this.groups.length === 0 && this.set) this.releaseAll();
    return { ok: 0 };
  }

  /**
   * VFIO_CHECK_EXTENSION (§1.3). Before SET_IOMMU (or after the last group left) container.c asks type1 with
   * no instance. Every domain here is cache-coherent (the reference driver's default), so DMA_CC is 1 once set.
   */
  checkExtension(ext: number): number {
    if (ext === 1 || ext === 3) return 1; // TYPE1, TYPE1v2
    if (ext === 4) return this.set ? 1 : 0; // DMA_CC: needs an instance; all domains coherent
    if (this.o.era === 'v4') return ext === 6 ? 1 : 0; // NESTING offered in 4.x; no UNMAP_ALL / UPDATE_VADDR
    if (ext === 9) return 1; // UNMAP_ALL
    if (ext === 10) return this.set ? 1 : 0; // UPDATE_VADDR: an instance without emulated groups
    return 0; // NESTING (6) is gone from mainline; others unknown
  }

  /** VFIO_SET_IOMMU. */
  setIommu(type: number): Res<0> {
    if (this.groups.length === 0 || this.set) return { err: 'EINVAL' };
    if (type !== 1 && type !== 3) return { err: 'ENODEV' }; // no driver offers it (6: not generated)
    this.set = true;
    this.v2 = type === 3;
    this.dmaAvail = this.o.dmaEntryLimit;
    return { ok: 0 };
  }

  /** close(): groups detached, everything released; the model is a fresh container afterwards. */
  close(): void {
    if (this.set) this.releaseAll();
    this.groups = [];
    this.set = false;
  }

  // ---- a device of an attached group issuing DMA ------------------------------------------------

  /** Pages in order; stops at the first one it cannot reach (no domain, not mapped, missing permission). */
  dma(g: GroupSpec, iova: number, n: number, write: boolean): DmaOutcome {
    if (!this.attached().includes(g)) return { ok: false, fault: { iova, reason: 'no-domain' }, written: [] };
    const need = write ? IOMMU_WRITE : IOMMU_READ,
      written: number[] = [];
    for (let i = 0; i < n; i++) {
      const e = this.pages.get(iova + i);
      if (e === undefined) return { ok: false, fault: { iova: iova + i, reason: 'not-present' }, written };
      if ((this.dmas.get(e.dma)!.prot & need) === 0) return { ok: false, fault: { iova: iova + i, reason: 'permission' }, written };
      if (write) {
        written.push(e.pfn);
        this.written.set(e.pfn, (this.written.get(e.pfn) ?? 0) + 1);
      }
    }
    return { ok: true, fault: null, written };
  }
}

/** First and last IOVA page of a validated (aligned, non-wrapping, non-empty) byte range. */
function pageSpan(iova: bigint, size: bigint): [number, number] {
  return [Number(iova / PAGE), Number((iova + size - 1n) / PAGE)];
}
