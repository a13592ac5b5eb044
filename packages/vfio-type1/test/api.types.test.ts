// Public types as a strict TypeScript user sees them (TypeScript-user review of @x/vfio-type1, items
// 3-6): consumer modules compiled with strict + noUncheckedIndexedAccess + exactOptionalPropertyTypes
// must have no diagnostics; each `@ts-expect-error` line must be an error (else TS2578 is reported).
import { beforeAll, describe, expect, it } from 'vitest';
import { typecheck } from './typecheck.js';

const FILES = {
  // item 5: optional properties take an explicit undefined (a value read from a config that may lack it)
  'options.mts': `
    import {
      Host, type AddGroupOptions, type ContainerOptions, type DmaMap, type DmaUnmap, type IommuInfo, type MmapOptions,
      type Profile, type SpawnOptions, type TryHarder, type UnmapPath,
    } from '@x/vfio-type1';
    import { createReferenceDriver, createSim } from '@x/iommu-core';
    declare const cfg: {
      profile: Profile | undefined; unmapPath: UnmapPath | undefined; n: number | undefined; b: boolean | undefined;
      limit: bigint | null | undefined; tryHarder: TryHarder | false | undefined;
    };
    const o: ContainerOptions = { profile: cfg.profile, unmapPath: cfg.unmapPath, tlbSyncMax: cfg.n, dmaEntryLimit: cfg.n,
      disableHugepages: cfg.b, allowUnsafeInterrupts: cfg.b, mapTryHarder: cfg.tryHarder };
    const s: SpawnOptions = { memlockLimit: cfg.limit, capIpcLock: cfg.b };
    const m: MmapOptions = { backing: undefined };
    const g: AddGroupOptions = { devices: cfg.n };
    export const map: DmaMap = { argsz: cfg.n, flags: 3, vaddr: 0n, iova: 0n, size: 4096n };
    export const unmap: DmaUnmap = { argsz: cfg.n, flags: cfg.n, iova: 0n, size: 4096n, bitmap: undefined };
    export const info: IommuInfo = { argsz: 16, flags: 1, iovaPgsizes: 4096n, capOffset: undefined, iovaRanges: undefined,
      dmaAvail: undefined, migration: undefined };
    const sim = createSim({ memory: 1n << 30n });
    const host = new Host(sim);
    const p = host.spawn(s);
    host.addGroup(createReferenceDriver(sim), g);
    p.mmap(4096n, m);
    host.openContainer(p, o).unmapDma({ iova: 0n, size: 4096n, flags: cfg.n });
    // @ts-expect-error -- flags is required on MAP_DMA
    export const noFlags: DmaMap = { vaddr: 0n, iova: 0n, size: 4096n };
    // @ts-expect-error -- iova is a bigint
    export const numIova: DmaUnmap = { iova: 0, size: 4096n };
  `,
  // items 3, 4, 6: mmap backings, isVfioError narrowing, SysError, checkExtension's 0 | 1, PROFILE_NAMES
  'api.mts': `
    import {
      PROFILE_NAMES, SysError, VfioError, isVfioError, type Container, type MmapBacking, type Process, type Profile,
    } from '@x/vfio-type1';
    import { IommuError, type BackingProfile } from '@x/iommu-core';
    declare const c: Container;
    declare const p: Process;
    export const ext: 0 | 1 = c.checkExtension(3);
    // @ts-expect-error -- CHECK_EXTENSION answers 0 or 1
    export const two: 2 = c.checkExtension(3);
    for (const backing of ['4k', 'thp', 'hugetlb-2m', 'hugetlb-1g', 'fragmented', 'fragmented:0.25', 'mmio'] as const) p.mmap(4096n, { backing });
    p.mmap(4096n, { backing: 'fragmented:0.25' });
    // @ts-expect-error -- not a backing profile
    p.mmap(4096n, { backing: 'thp2' });
    declare const name: string;
    // @ts-expect-error -- any string is not a backing; check it first (isBackingProfile or a switch)
    p.mmap(4096n, { backing: name });
    export const core: MmapBacking = 'thp' as BackingProfile;
    export function describe(e: unknown): string {
      if (isVfioError(e)) {
        const v: VfioError = e;
        const base: SysError = e;
        return \`\${v.code} \${v.errno} \${base.syscall}\`;
      }
      // @ts-expect-error -- not narrowed: unknown
      return e.code;
    }
    export const sys: SysError = new IommuError('EINVAL', 'iommu_map', 'x');
    export const profiles: readonly Profile[] = PROFILE_NAMES;
    for (const profile of PROFILE_NAMES) { const one: Profile = profile; void one; }
  `,
};

let diags: Record<string, string[]>;
beforeAll(() => {
  diags = typecheck(FILES);
}, 60_000);

describe('api_types strict consumer (strict, noUncheckedIndexedAccess, exactOptionalPropertyTypes)', () => {
  it('test_options_accept_explicit_undefined', () => {
    expect(diags['options.mts']).toEqual([]);
  });
  it('test_mmap_backing_is_typed', () => {
    expect(diags['api.mts']).toEqual([]);
  });
  it('test_typecheck_reports_errors', () => {
    // the harness itself: a wrong type is reported (so the empty lists above mean something)
    const bad = typecheck({ 'bad.mts': "import { Host } from '@x/vfio-type1';\nexport const h: string = Host;\n" });
    expect(bad['bad.mts']).toEqual(["2:14 TS2322: Type 'typeof Host' is not assignable to type 'string'."]);
  }, 60_000);
});
