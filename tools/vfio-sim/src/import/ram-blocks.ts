// Infers the QEMU process's memory from the host addresses a trace maps. Sections whose host address
// minus IOVA is the same are one RAMBlock seen through its aliases (ram-below-4g and its PAM pieces),
// and sections whose host ranges overlap or touch are one mapping too (pc.bios and its isa-bios
// alias; ram-above-4g right after ram-below-4g in pc.ram). Each block becomes one mmap line sized to
// cover everything mapped from it, aligned to the backing's page (2 MiB; 1 GiB for hugetlb-1g) so a
// section keeps its offset within a huge page. The replayed process places areas as @x/vfio-type1's
// Process.mmap does: 1 GiB-aligned upward from 0x7f0000000000, a 1 GiB gap after each (replay
// checks every mmap line's vaddr, so a change there shows at once).

import type { TraceMap } from './listener.js';

export interface HostBlock {
  /** The trace's host address of the block's first byte (aligned down) and its size (aligned up). */
  readonly host: bigint;
  readonly size: bigint;
  /** Where the replayed process maps it. */
  readonly vaddr: bigint;
  /** Every section mapped from it lies in a vfio-pci BAR: device MMIO (never pinned). */
  readonly mmio: boolean;
  /** Sections (MAP_DMA calls) mapped from it. */
  readonly sections: number;
}

const MMAP_BASE = 0x7f0000000000n,
  VMA_ALIGN = 1n << 30n;

/** One block per group of sections (see the file comment), ascending by host address. */
export function inferBlocks(maps: readonly TraceMap[], align: bigint): HostBlock[] {
  // union-find over the sections: same host - iova offset, then overlapping or touching host ranges
  const parent = maps.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  const union = (a: number, b: number): void => {
    parent[find(a)] = find(b);
  };
  const byOffset = new Map<bigint, number>();
  maps.forEach((m, i) => {
    const k = m.host - m.iova,
      j = byOffset.get(k);
    if (j === undefined) byOffset.set(k, i);
    else union(i, j);
  });
  const groups = new Map<number, { lo: bigint; hi: bigint; mmio: boolean; sections: number }>();
  maps.forEach((m, i) => {
    const r = find(i),
      g = groups.get(r);
    if (g === undefined) groups.set(r, { lo: m.host, hi: m.host + m.size, mmio: m.mmio, sections: 1 });
    else {
      if (m.host < g.lo) g.lo = m.host;
      if (m.host + m.size > g.hi) g.hi = m.host + m.size;
      g.mmio &&= m.mmio;
      g.sections++;
    }
  });
  // aligned hulls, merged where they overlap or touch (a RAM section in a block makes it RAM)
  const hulls = [...groups.values()]
    .map((g) => ({ ...g, lo: (g.lo / align) * align, hi: ((g.hi + align - 1n) / align) * align }))
    .sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  const merged: typeof hulls = [];
  for (const h of hulls) {
    const top = merged[merged.length - 1];
    if (top !== undefined && h.lo <= top.hi) {
      if (h.hi > top.hi) top.hi = h.hi;
      top.mmio &&= h.mmio;
      top.sections += h.sections;
    } else merged.push({ ...h });
  }
  let next = MMAP_BASE;
  return merged.map((h) => {
    const size = h.hi - h.lo,
      vaddr = next;
    next = ((vaddr + size + VMA_ALIGN - 1n) / VMA_ALIGN) * VMA_ALIGN + VMA_ALIGN;
    return { host: h.lo, size, vaddr, mmio: h.mmio, sections: h.sections };
  });
}

/** The block holding host address `host` (it is there: every section's block was inferred from it). */
export function blockOf(blocks: readonly HostBlock[], host: bigint): HostBlock {
  for (const b of blocks) if (host >= b.host && host < b.host + b.size) return b;
  throw new Error(`no host block holds 0x${host.toString(16)}`);
}
