// Generates the userspace side of a run, the way QEMU drives VFIO: boot maps the guest's memory
// (each RAM section once, or with firmware 'seabios' every map and unmap QEMU's listener does while
// SeaBIOS and Linux initialise the machine, firmware.ts), the assigned device does DMA while the
// guest runs, shutdown unmaps what is mapped; the churn workload is a vIOMMU/DPDK-like stream of
// many small map/DMA/unmap calls. Ops are yielded lazily and all random choices come from one
// seeded PRNG, so a seed fixes the stream.

import { Prng } from '@x/iommu-core/internals';
import { VFIO_DMA_MAP_FLAG_READ, VFIO_DMA_MAP_FLAG_WRITE } from '@x/vfio-type1';
import type { Resolved } from './scenario.js';
import type { RegionName, Section } from './firmware.js';

/** One step of a workload, with guest-RAM offsets resolved to process addresses. */
export type Op =
  | { readonly op: 'phase'; readonly name: string }
  | { readonly op: 'map'; readonly vaddr: bigint; readonly iova: bigint; readonly size: bigint; readonly flags: number }
  | { readonly op: 'unmap'; readonly iova: bigint; readonly size: bigint }
  /** device = index into the container's devices; iova and pages in 4 KiB pages */
  | { readonly op: 'dma'; readonly device: number; readonly iova: number; readonly pages: number; readonly write: boolean };

interface Live {
  iova: bigint;
  size: bigint;
}
const PAGE = 4096n;

/** Where the QEMU process has each host object mapped: guest RAM ('pc.ram') and, for a firmware boot, its ROMs and the GPU's BARs. */
export type ProcessVmas = ReadonlyMap<RegionName, bigint>;

/** A guest range the device may DMA into: writable guest RAM that stays mapped while the guest runs. */
interface DmaTarget {
  readonly gpa: bigint;
  readonly size: bigint;
}

/** The MAP_DMA of a section: read-only sections (ROMs, read-only PAM segments) get READ only (listener.c: section->readonly). */
function mapOf(sec: Section, vmas: ProcessVmas): Op {
  const flags = sec.readonly ? VFIO_DMA_MAP_FLAG_READ : VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
  return { op: 'map', vaddr: vmas.get(sec.region)! + sec.offset, iova: sec.gpa, size: sec.size, flags };
}
const isGuestRam = (sec: Section): boolean => sec.region === 'pc.ram' && !sec.readonly;

/** Where churn IOVAs start: the first 1 GiB boundary above the guest's RAM in GPA space. */
export function churnBase(r: Resolved): bigint {
  const top = r.blocks.reduce((m, b) => (b.gpa + b.size > m ? b.gpa + b.size : m), 0n);
  return (((top + (1n << 30n) - 1n) >> 30n) << 30n) + (1n << 30n);
}

/** The ops of a scenario; `vmas` says where the QEMU process has guest RAM (and the firmware boot's ROMs and BARs) mapped. */
export function* workload(r: Resolved, vmas: ProcessVmas, ndevices: number): Generator<Op> {
  const s = r.scenario;
  const vaddr = vmas.get('pc.ram')!;
  // independent of the sim's own PRNG stream: workload choices never depend on model internals
  const rng = new Prng((s.seed ^ 0x5f3759df) >>> 0);
  const rw = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
  const dmaOn = s.dma.pattern !== 'none';
  let dev = 0;
  const nextDev = (): number => {
    const d = dev;
    dev = (dev + 1) % ndevices;
    return d;
  };

  if (s.workload === 'map-test' || s.workload === 'bar-map') {
    yield* mapTest(r, vmas);
    return;
  }
  const ram = s.workload !== 'churn';
  if (ram) {
    yield { op: 'phase', name: 'boot' };
    if (r.boot === null) {
      for (const b of r.blocks) yield { op: 'map', vaddr: vaddr + b.hostOffset, iova: b.gpa, size: b.size, flags: rw };
    } else {
      // one memory transaction at a time: its region_dels (one UNMAP_DMA each), then its region_adds
      for (const c of r.boot.changes) {
        for (const d of c.del) yield { op: 'unmap', iova: d.gpa, size: d.size };
        for (const a of c.add) yield mapOf(a, vmas);
      }
    }
    if (dmaOn && s.dma.bursts > 0) {
      yield { op: 'phase', name: 'run' };
      // the guest gives the device writable RAM only (never the read-only BIOS area or a BAR)
      yield* ramTraffic(r, r.boot === null ? r.blocks : r.boot.final.filter(isGuestRam), rng, nextDev);
    }
  }
  const live: Live[] = [];
  if (s.workload !== 'boot') {
    yield { op: 'phase', name: 'churn' };
    const base = churnBase(r);
    let slotPages = 1;
    while (slotPages < s.churn.maxPages) slotPages *= 2;
    const slotBytes = BigInt(slotPages) * PAGE;
    const free: number[] = [];
    for (let i = s.churn.live - 1; i >= 0; i--) free.push(i);
    const slotOf = new Map<bigint, number>();
    const guestPages = Number(r.guestBytes / PAGE);
    for (let k = 0; k < s.churn.ops; k++) {
      if (live.length >= s.churn.live) {
        const old = live.shift()!;
        yield { op: 'unmap', iova: old.iova, size: old.size };
        free.push(slotOf.get(old.iova)!);
        slotOf.delete(old.iova);
      }
      const n = 1 + rng.int(s.churn.maxPages);
      const src = rng.int(guestPages - n + 1);
      const slot = free.pop()!; // LIFO: a just-freed IOVA range is reused first, like an IOVA allocator's cache
      const iova = base + BigInt(slot) * slotBytes;
      slotOf.set(iova, slot);
      const size = BigInt(n) * PAGE;
      yield { op: 'map', vaddr: vaddr + BigInt(src) * PAGE, iova, size, flags: rw };
      live.push({ iova, size });
      if (dmaOn) yield { op: 'dma', device: nextDev(), iova: Number(iova / PAGE), pages: Math.min(n, s.dma.pages), write: (k & 1) === 0 };
    }
  }
  yield { op: 'phase', name: 'shutdown' };
  for (const m of live) yield { op: 'unmap', iova: m.iova, size: m.size };
  if (ram) {
    // what boot left mapped, in address order: the RAM sections, or the firmware boot's final sections
    const steady =
      r.boot === null
        ? r.blocks.map((b) => ({ gpa: b.gpa, size: b.size, dma: true }))
        : r.boot.final.map((x) => ({ gpa: x.gpa, size: x.size, dma: isGuestRam(x) }));
    for (const b of steady) {
      // the device's last DMA into a section just before QEMU unmaps it: its IOTLB entries are live
      if (dmaOn && b.dma) {
        const pages = Number(b.size / PAGE);
        const n = Math.min(s.dma.pages, pages);
        yield { op: 'dma', device: nextDev(), iova: Number(b.gpa / PAGE) + rng.int(pages - n + 1), pages: n, write: true };
      }
      yield { op: 'unmap', iova: b.gpa, size: b.size };
    }
  }
}

/** Where the map tests put their one mapping: vfio-pci-mem-dma-map's HIGH_MEM, 4 GiB. */
const MAP_TEST_IOVA = 4n << 30n;

/**
 * The map tests: one MAP_DMA of the whole range (guest RAM, or the GPU's BAR1 for bar-map) at IOVA
 * 4 GiB, then one UNMAP_DMA of it, each in a phase of its own ('map', 'unmap'), as
 * vfio-pci-mem-dma-map times them.
 */
function* mapTest(r: Resolved, vmas: ProcessVmas): Generator<Op> {
  const bar = r.scenario.workload === 'bar-map';
  const vaddr = vmas.get(bar ? 'gpu.bar1' : 'pc.ram')!;
  const size = bar ? r.barBytes : r.guestBytes;
  yield { op: 'phase', name: 'map' };
  yield { op: 'map', vaddr, iova: MAP_TEST_IOVA, size, flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE };
  yield { op: 'phase', name: 'unmap' };
  yield { op: 'unmap', iova: MAP_TEST_IOVA, size };
}

/** DMA bursts over the mapped RAM (`targets`, in address order) following the scenario's pattern. */
function* ramTraffic(r: Resolved, targets: readonly DmaTarget[], rng: Prng, nextDev: () => number): Generator<Op> {
  const s = r.scenario;
  const blocks = targets.map((b) => ({ first: Number(b.gpa / PAGE), pages: Number(b.size / PAGE) }));
  const total = blocks.reduce((a, b) => a + b.pages, 0);
  // a linear page index over all sections -> (section, iova page); bursts never cross a section end
  const at = (lin: number, want: number): { iova: number; pages: number } => {
    let x = lin % total;
    for (const b of blocks) {
      if (x < b.pages) return { iova: b.first + x, pages: Math.min(want, b.pages - x) };
      x -= b.pages;
    }
    throw new Error('unreachable');
  };
  const hotPages = Math.min(total, 4096); // a 16 MiB hot set (ring buffers, descriptors)
  const hotStart = rng.int(total - hotPages + 1);
  const stride = Math.max(1, Math.floor(total / s.dma.bursts));
  for (let k = 0; k < s.dma.bursts; k++) {
    let lin: number;
    if (s.dma.pattern === 'sequential') lin = k * stride;
    else if (s.dma.pattern === 'hotset') lin = rng.next() < 0.9 ? hotStart + rng.int(hotPages) : rng.int(total);
    else lin = rng.int(total);
    const t = at(lin, s.dma.pages);
    yield { op: 'dma', device: nextDev(), iova: t.iova, pages: t.pages, write: (k & 3) !== 0 };
  }
}
