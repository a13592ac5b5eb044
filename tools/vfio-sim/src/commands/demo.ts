// vfio-sim demo: fixed call sequences that show the bugs around the 2018 review of
// map_try_harder()'s unwind, on the AMD-Vi v4.17 driver (whose -EBUSY on a large page over a
// leftover 4 KiB table is what sends VFIO down map_try_harder), with the checker's report.
//   try-harder-leak: the landed unwind's off-by-one leaves page 0 of the chunk mapped, unpinned;
//   review-bug:      the RFC v2 unwind syncs only if its LAST fast unmap returned pages; when it
//                    returns 0 while pages are queued, no sync runs and a device keeps reaching
//                    frames that went back to the allocator. That last unmap (page 1) always finds
//                    a page, so the zero is injected as a driver under-report (the PTE is cleared,
//                    0 is returned); on the same run 'suggested' warns, syncs (v4.17's sync flushes
//                    the whole domain) and leaves nothing behind.

import { createSim, type Violation } from '@x/iommu-core';
import { createAmdIommu } from '@x/amd-iommu';
import { Host, VFIO_TYPE1v2_IOMMU, type TryHarder } from '@x/vfio-type1';
import { UsageError } from '../errors.js';

export const DEMOS = ['review-bug', 'try-harder-leak'] as const;
export type DemoName = (typeof DEMOS)[number];
const VARIANTS: readonly TryHarder[] = ['landed', 'rfc-v2', 'suggested'];

export interface DemoResult {
  demo: DemoName;
  variant: TryHarder;
  /** The call sequence with each result, in order. */
  calls: string[];
  violations: Violation[];
}

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

/** Runs one demo; deterministic (seed 1). */
export function runDemo(name: DemoName, variant?: TryHarder): DemoResult {
  const v = variant ?? (name === 'review-bug' ? 'rfc-v2' : 'landed');
  const sim = createSim({ memory: 1n << 30n, seed: 1 });
  const amd = createAmdIommu(sim, { profile: 'v4.17', iotlbEntries: 4096 });
  const host = new Host(sim);
  const group = host.addGroup(amd, { devices: 1 });
  const dev = group.devices[0]!;
  const proc = host.spawn({});
  const c = host.openContainer(proc, { profile: 'v4.17', mapTryHarder: v });
  const calls: string[] = [];
  const log = (s: string): void => {
    calls.push(s);
  };
  const tryCall = (what: string, fn: () => unknown): void => {
    try {
      const r = fn();
      log(`${what} = ${r === undefined ? 0 : JSON.stringify(r, (_k, x) => (typeof x === 'bigint' ? hex(x) : x))}`);
    } catch (e) {
      const x = e as { code?: string; errno?: number };
      log(`${what} = ${x.errno} (${x.code})`);
    }
  };
  c.addGroup(group);
  c.setIommu(VFIO_TYPE1v2_IOMMU);
  log(`container: profile v4.17, AMD-Vi v4.17 driver, map_try_harder unwind '${v}', device ${hex(dev)}`);
  const small = proc.mmap(1n << 12n, { backing: '4k' });
  tryCall(`MAP_DMA { vaddr ${hex(small)}, iova 0x0, size 0x1000, R|W }`, () =>
    c.mapDma({ vaddr: small, iova: 0n, size: 1n << 12n, flags: 3 }),
  );
  tryCall('UNMAP_DMA { iova 0x0, size 0x1000 }', () => c.unmapDma({ iova: 0n, size: 1n << 12n }));
  log('  (the driver keeps the now empty 4 KiB table under IOVA 0..2M)');
  const va = proc.mmap(2n << 20n, { backing: 'hugetlb-2m' });
  const pfn0 = proc.pfnOf(Number(va >> 12n));
  log(`mmap 2 MiB hugetlb at ${hex(va)}: pfns ${hex(pfn0)}..${hex(pfn0 + 511)}`);
  sim.faults.arm('map', 102);
  log("fault: iommu_map of page 100 fails (-ENOMEM) [faults.arm('map', 102)]");
  let off = (): void => {};
  if (name === 'review-bug') {
    sim.faults.arm('unmapFastUnderreport', 100);
    log("fault: the unwind's last iommu_unmap_fast clears its page but returns 0 [faults.arm('unmapFastUnderreport', 100)]");
    // the device is already using the buffer: once page 99 is mapped it reads pages 0..99
    off = sim.observe({
      mapPagesEnd: (_dom, iova, _pfn, _order, _count, ret) => {
        if (iova === 99 && ret === 0) log(`  device ${hex(dev)} reads IOVA pages 0..99 during the map = ${amd.dma(dev, 0, 100, 'read')}`);
      },
    });
  }
  const s0 = sim.counters.iotlbSyncs;
  tryCall(`MAP_DMA { vaddr ${hex(va)}, iova 0x0, size 0x200000, R|W }`, () => c.mapDma({ vaddr: va, iova: 0n, size: 2n << 20n, flags: 3 }));
  off();
  sim.faults.disarm();
  const st = c.stats();
  log(
    `  map_try_harder mapped ${st.tryHarderPages} pages one by one; IOTLB syncs in the call: ${sim.counters.iotlbSyncs - s0}; pinned pages now: ${sim.mem.pinnedPages}`,
  );
  if (name === 'review-bug') {
    proc.munmap(va);
    log(`munmap ${hex(va)}: the 512 frames go back to the allocator`);
    log(
      `device ${hex(dev)} writes IOVA page 50 = ${amd.dma(dev, 50, 1, 'write')} (IO_PAGE_FAULTs: ${amd.eventLog().filter((e: { type: string }) => e.type === 'IO_PAGE_FAULT').length})`,
    );
  }
  tryCall('close()', () => c.close());
  return { demo: name, variant: v, calls, violations: [...sim.violations] };
}

/** One line per violation: kind, pfn, how it is reached (domain, iova, pte/iotlb), during which call. */
function formatViolation(x: Violation): string {
  const where = x.iova >= 0 ? ` iova page ${hex(x.iova)} domain ${x.domain} via ${x.via}` : '';
  return `${x.kind} pfn ${x.pfn >= 0 ? hex(x.pfn) : '-'}${where}${x.call ? ` in ${x.call}` : ''}: ${x.detail}`;
}

export function demoCommand(name: string, opts: { variant?: string; json?: boolean }): number {
  if (!(DEMOS as readonly string[]).includes(name)) throw new UsageError('demo', `'${name}' is not one of ${DEMOS.join(', ')}`);
  if (opts.variant !== undefined && !(VARIANTS as readonly string[]).includes(opts.variant)) {
    throw new UsageError('--variant', `'${opts.variant}' is not one of ${VARIANTS.join(', ')}`);
  }
  const r = runDemo(name as DemoName, opts.variant as TryHarder | undefined);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  } else {
    let n = 0;
    const lines = [
      `demo ${r.demo} (unwind '${r.variant}')`,
      ...r.calls.map((s) => (s.startsWith('  ') ? `    ${s.trim()}` : `${String(++n).padStart(2)}. ${s}`)),
      `violations: ${r.violations.length}`,
    ];
    // long runs of the same finding are shown as first, ..., last
    const v = r.violations;
    const shown = v.length > 6 ? [...v.slice(0, 3), null, ...v.slice(-2)] : v;
    for (const x of shown) lines.push(x === null ? `  ... ${v.length - 5} more of the same kind` : `  ${formatViolation(x)}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return 0;
}
