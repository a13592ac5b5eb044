// Reach accounting through the engine (pagetable/account.ts): a frame reached by more leaves than a
// byte holds, runs across a reach chunk's edge and across the end of RAM, and frames outside RAM
// (MMIO) that have no reach at all. Every map is undone and the counts must come back to zero.
import { describe, expect, it } from 'vitest';
import { iommuIovaToPhys, iommuMap, iommuUnmap } from '../src/index.js';
import { RW, makeHarness } from './harness.js';

const CHUNK = 1 << 16;

describe('reach accounting', () => {
  it('test_reach_spill: one frame behind 200 single-page leaves, then 200 unmaps', () => {
    const h = makeHarness({}, 1n << 30n);
    const pfn = 4242;
    for (let i = 0; i < 200; i++) iommuMap(h.dom, 1000 + 2 * i, pfn, 1, RW);
    expect([h.sim.mem.reach4k.get(pfn), h.sim.mem.reach4k.spill.get(pfn)]).toEqual([200, 200]);
    expect(h.sim.mem.reach4k.get(pfn + 1)).toBe(0);
    for (let i = 0; i < 200; i++) expect(iommuUnmap(h.dom, 1000 + 2 * i, 1)).toBe(1);
    expect([h.sim.mem.reach4k.get(pfn), h.sim.mem.reach4k.spill.size, h.sim.mem.reach4k.allZero()]).toEqual([0, 0, true]);
  });

  it('test_reach_spill_in_runs: two frames behind 130 two-page runs each (the fused 4 KiB run loop past a byte)', () => {
    const h = makeHarness({}, 1n << 30n);
    const pfn = 5000;
    for (let i = 0; i < 130; i++) iommuMap(h.dom, 1 + 4 * i, pfn, 2, RW); // odd iovas: 4 KiB leaves, one run each
    const r = h.sim.mem.reach4k;
    expect([r.get(pfn - 1), r.get(pfn), r.get(pfn + 1), r.get(pfn + 2)]).toEqual([0, 130, 130, 0]);
    expect(r.spill.size).toBe(2);
    for (let i = 0; i < 130; i++) expect(iommuUnmap(h.dom, 1 + 4 * i, 2)).toBe(2);
    expect([r.allZero(), r.spill.size]).toEqual([true, 0]);
  });

  it('test_run_over_pfn_carry: a 4 KiB run whose frames cross a multiple of 2^20 translates every page', () => {
    const h = makeHarness({}, 1n << 30n);
    const pfn = 0x100000 - 2; // past RAM: MMIO-like, the codec's low 20 pfn bits wrap inside the run
    iommuMap(h.dom, 1, pfn, 5, RW);
    expect([1, 2, 3, 4, 5].map((i) => iommuIovaToPhys(h.dom, i))).toEqual([pfn, pfn + 1, pfn + 2, pfn + 3, pfn + 4]);
  });

  it('test_reach_runs_over_chunk_edge: three 300-page runs over frame 65536, counted once per run per frame', () => {
    const h = makeHarness({}, 1n << 30n);
    const pfn = CHUNK - 100;
    for (const iova of [1, 2001, 4001]) iommuMap(h.dom, iova, pfn, 300, RW); // misaligned iovas: 4 KiB leaves
    const r = h.sim.mem.reach4k;
    expect([r.get(pfn - 1), r.get(pfn), r.get(CHUNK - 1), r.get(CHUNK), r.get(pfn + 299), r.get(pfn + 300)]).toEqual([0, 3, 3, 3, 3, 0]);
    for (const iova of [1, 2001, 4001]) expect(iommuUnmap(h.dom, iova, 300)).toBe(300);
    expect(r.allZero()).toBe(true);
  });

  it('test_reach_ram_end_and_mmio: frames past RAM translate but hold no reach', () => {
    const h = makeHarness({}, (1n << 30n) + (2n << 20n)); // RAM ends inside a reach chunk
    const ram = h.sim.mem.nFrames;
    expect(ram % CHUNK).toBe(512);
    iommuMap(h.dom, 1, ram - 5, 10, RW); // 5 frames of RAM, then 5 past it
    iommuMap(h.dom, 3001, ram + 1000, 300, RW); // MMIO far above RAM
    for (let i = 0; i < 130; i++) iommuMap(h.dom, 5001 + 2 * i, ram + 7, 1, RW); // one MMIO frame, 130 leaves
    const r = h.sim.mem.reach4k;
    expect([r.get(ram - 6), r.get(ram - 5), r.get(ram - 1), r.get(ram), r.get(ram + 4)]).toEqual([0, 1, 1, 0, 0]);
    expect([iommuIovaToPhys(h.dom, 10), iommuIovaToPhys(h.dom, 3300), iommuIovaToPhys(h.dom, 5001 + 2 * 129)]).toEqual([
      ram + 4,
      ram + 1299,
      ram + 7,
    ]);
    expect(iommuUnmap(h.dom, 1, 10)).toBe(10);
    expect(iommuUnmap(h.dom, 3001, 300)).toBe(300);
    for (let i = 0; i < 130; i++) iommuUnmap(h.dom, 5001 + 2 * i, 1);
    expect([r.allZero(), r.spill.size, h.sim.violations]).toEqual([true, 0, []]);
  });

  it('test_reach_first_frame_past_ram: 130 leaves on frame nFrames, whose byte would share a RAM chunk, count nothing', () => {
    const h = makeHarness({}, (1n << 30n) + (2n << 20n));
    const ram = h.sim.mem.nFrames;
    for (let i = 0; i < 130; i++) iommuMap(h.dom, 1 + 2 * i, ram, 1, RW); // past 127 leaves: the slow path
    const r = h.sim.mem.reach4k;
    expect([r.get(ram - 1), r.get(ram), r.spill.size, iommuIovaToPhys(h.dom, 259)]).toEqual([0, 0, 0, ram]);
    for (let i = 0; i < 130; i++) expect(iommuUnmap(h.dom, 1 + 2 * i, 1)).toBe(1);
    expect([r.get(ram), r.spill.size, r.allZero()]).toEqual([0, 0, true]);
  });
});
