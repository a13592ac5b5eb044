// Public API hardening (TypeScript-user review of @x/vfio-type1, items 1-7): values the typed calls
// cannot represent in their uapi field are TypeError / RangeError before anything happens; values
// they can represent keep the kernel's errno; mmap errors are VfioErrors; isVfioError across copies;
// undefined option properties read as absent; clear messages and ioctl names in errors.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { IommuError, SysError as CoreSysError, createReferenceDriver, createSim, releaseAtLeast } from '@x/iommu-core';
import {
  DMA_MAP_MINSZ,
  Host,
  PROFILE_NAMES,
  PROFILES,
  SysError,
  VFIO_CHECK_EXTENSION,
  VFIO_GET_API_VERSION,
  VFIO_IOMMU_ENABLE,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_SET_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  VfioError,
  decodeDmaMap,
  decodeDmaUnmap,
  decodeInfo,
  encodeDmaMap,
  encodeDmaUnmap,
  encodeInfoRequest,
  isVfioError,
} from '../src/index.js';
import { K4, M2, RW, expectCleanClose, makeEnv, snapshot, type Env, thrown } from './helpers.js';

const TOP = 1n << 64n;
const U64_MSG = 'is outside u64 (0 to 2^64-1)';
const U32_MSG = 'is not a u32 (an integer in 0 to 2^32-1)';
const FLAGS_MSG = 'is not a u32 flags word (an integer in 0 to 2^32-1, or the int32 of a bitwise expression)';

/** Everything "before anything happens" covers: the state snapshot, the container's counters, the modeled clock, the meter. */
function fullState(e: Env) {
  return { snap: snapshot(e), stats: e.c.iommu === null ? null : e.c.stats(), now: e.sim.clock.now, counters: { ...e.sim.counters } };
}

/** Expects fn to throw exactly `cls: message` and to leave every counter and the state as they were. */
function expectProgrammingError(e: Env, fn: () => unknown, cls: typeof TypeError | typeof RangeError, message: string): void {
  const before = fullState(e);
  const err = thrown(fn);
  expect(err).toBeInstanceOf(cls);
  expect(err).not.toBeInstanceOf(VfioError);
  expect(isVfioError(err)).toBe(false);
  expect((err as Error).message).toBe(message);
  expect(fullState(e)).toEqual(before);
}

let e: Env | undefined;
afterEach(() => {
  if (e !== undefined) expectCleanClose(e);
  e = undefined;
});

/** A mainline v2 container with dma A = [0x100000, 0x300000) mapped from a 16 MiB THP VMA. */
function withA(profile: (typeof PROFILE_NAMES)[number] = 'mainline'): { env: Env; va: bigint } {
  const env = makeEnv({ profile });
  e = env;
  const va = env.proc.mmap(8n * M2, { backing: 'thp' });
  env.c.mapDma({ vaddr: va, iova: 0x100000n, size: M2, flags: RW });
  return { env, va };
}

describe('item 1: typed fields outside their uapi field are programming errors', () => {
  it('test_map_dma_iova_past_u64_is_range_error', () => {
    const { env, va } = withA();
    // used to wrap mod 2^64 and map at 0x100000 (here: EEXIST against A; at a free IOVA, a mapping)
    expectProgrammingError(
      env,
      () => env.c.mapDma({ vaddr: va + M2, iova: TOP + 0x400000n, size: K4, flags: 3 }),
      RangeError,
      `vfio_iommu_type1_dma_map.iova: 18446744073713745920 ${U64_MSG}`,
    );
    expectProgrammingError(
      env,
      () => env.c.mapDma({ vaddr: va, iova: TOP + 0x100000n, size: K4, flags: 3 }),
      RangeError,
      `vfio_iommu_type1_dma_map.iova: 18446744073710600192 ${U64_MSG}`,
    );
  });

  it('test_unmap_dma_negative_size_is_range_error', () => {
    const { env } = withA();
    // used to encode 2^64-4096, unmap everything and return { size: 4096n }... of A's 2 MiB
    expectProgrammingError(
      env,
      () => env.c.unmapDma({ iova: 0n, size: -4096n }),
      RangeError,
      `vfio_iommu_type1_dma_unmap.size: -4096 ${U64_MSG}`,
    );
    expect(env.c.mappings().map((m) => m.iova)).toEqual([0x100000n]);
  });

  it('test_map_dma_flags_not_u32_is_range_error', () => {
    const { env, va } = withA();
    const at = { vaddr: va + M2, iova: 0x40000000n, size: K4 };
    expectProgrammingError(env, () => env.c.mapDma({ ...at, flags: 1.5 }), RangeError, `vfio_iommu_type1_dma_map.flags: 1.5 ${FLAGS_MSG}`);
    expectProgrammingError(
      env,
      () => env.c.mapDma({ ...at, flags: 2 ** 32 + 3 }),
      RangeError,
      `vfio_iommu_type1_dma_map.flags: 4294967299 ${FLAGS_MSG}`,
    );
    expectProgrammingError(
      env,
      () => env.c.mapDma({ ...at, flags: -(2 ** 31) - 1 }),
      RangeError,
      `vfio_iommu_type1_dma_map.flags: -2147483649 ${FLAGS_MSG}`,
    );
    expectProgrammingError(env, () => env.c.mapDma({ ...at, flags: NaN }), RangeError, `vfio_iommu_type1_dma_map.flags: NaN ${FLAGS_MSG}`);
    expectProgrammingError(
      env,
      () => env.c.unmapDma({ iova: 0x100000n, size: M2, flags: 0.5 }),
      RangeError,
      `vfio_iommu_type1_dma_unmap.flags: 0.5 ${FLAGS_MSG}`,
    );
  });

  it('test_map_dma_argsz_not_u32_is_range_error', () => {
    const { env, va } = withA();
    const m = { vaddr: va + M2, iova: 0x40000000n, size: K4, flags: RW };
    expectProgrammingError(env, () => env.c.mapDma({ ...m, argsz: 32.5 }), RangeError, `vfio_iommu_type1_dma_map.argsz: 32.5 ${U32_MSG}`);
    expectProgrammingError(
      env,
      () => env.c.mapDma({ ...m, argsz: 2 ** 32 }),
      RangeError,
      `vfio_iommu_type1_dma_map.argsz: 4294967296 ${U32_MSG}`,
    );
    expectProgrammingError(env, () => env.c.mapDma({ ...m, argsz: -1 }), RangeError, `vfio_iommu_type1_dma_map.argsz: -1 ${U32_MSG}`);
    expectProgrammingError(
      env,
      () => env.c.unmapDma({ iova: 0x100000n, size: M2, argsz: 24.5 }),
      RangeError,
      `vfio_iommu_type1_dma_unmap.argsz: 24.5 ${U32_MSG}`,
    );
  });

  it('test_encode_checks_every_field', () => {
    const m = { vaddr: 0n, iova: 0n, size: K4, flags: RW };
    expect(() => encodeDmaMap({ ...m, vaddr: -1n })).toThrow(new RangeError(`vfio_iommu_type1_dma_map.vaddr: -1 ${U64_MSG}`));
    expect(() => encodeDmaMap({ ...m, size: TOP })).toThrow(
      new RangeError(`vfio_iommu_type1_dma_map.size: 18446744073709551616 ${U64_MSG}`),
    );
    expect(() => encodeDmaUnmap({ iova: -K4, size: K4 })).toThrow(new RangeError(`vfio_iommu_type1_dma_unmap.iova: -4096 ${U64_MSG}`));
    const bitmap = { pgsize: K4, size: 64n, data: 0x1000n };
    expect(() => encodeDmaUnmap({ iova: 0n, size: K4, flags: 1, bitmap: { ...bitmap, pgsize: -K4 } })).toThrow(
      new RangeError(`vfio_bitmap.pgsize: -4096 ${U64_MSG}`),
    );
    expect(() => encodeDmaUnmap({ iova: 0n, size: K4, flags: 1, bitmap: { ...bitmap, size: TOP } })).toThrow(
      new RangeError(`vfio_bitmap.size: 18446744073709551616 ${U64_MSG}`),
    );
    expect(() => encodeDmaUnmap({ iova: 0n, size: K4, flags: 1, bitmap: { ...bitmap, data: -1n } })).toThrow(
      new RangeError(`vfio_bitmap.data: -1 ${U64_MSG}`),
    );
  });

  it('test_number_for_bigint_is_type_error', () => {
    const { env, va } = withA();
    const m = { vaddr: va + M2, iova: 0x40000000n, size: K4, flags: RW };
    // used to fail with "Cannot mix BigInt and other types, use explicit conversions"
    expectProgrammingError(
      env,
      () => env.c.mapDma({ ...m, size: 4096 as unknown as bigint }),
      TypeError,
      'vfio_iommu_type1_dma_map.size: expected a bigint (u64), got number 4096',
    );
    expectProgrammingError(
      env,
      () => env.c.mapDma({ ...m, vaddr: undefined as unknown as bigint }),
      TypeError,
      'vfio_iommu_type1_dma_map.vaddr: expected a bigint (u64), got undefined',
    );
    expectProgrammingError(
      env,
      () => env.c.mapDma({ ...m, flags: 3n as unknown as number }),
      TypeError,
      'vfio_iommu_type1_dma_map.flags: expected a number (u32 flags), got bigint 3n',
    );
    expectProgrammingError(
      env,
      () => env.c.mapDma({ ...m, argsz: '32' as unknown as number }),
      TypeError,
      "vfio_iommu_type1_dma_map.argsz: expected a number (u32), got string '32'",
    );
    expectProgrammingError(
      env,
      () => env.c.unmapDma({ iova: 0x100000, size: M2 } as unknown as { iova: bigint; size: bigint }),
      TypeError,
      'vfio_iommu_type1_dma_unmap.iova: expected a bigint (u64), got number 1048576',
    );
  });

  it('test_representable_values_keep_kernel_errno', () => {
    for (const profile of PROFILE_NAMES) {
      const { env, va } = withA(profile);
      const free = { vaddr: va + M2, iova: 0x40000000n, size: K4 };
      // flags 0xffffffff fits __u32: the kernel's unknown-flags EINVAL decides
      let err = thrown(() => env.c.mapDma({ ...free, flags: 0xffffffff }));
      expect(err).toMatchObject({
        name: 'VfioError',
        code: 'EINVAL',
        errno: -22,
        syscall: 'VFIO_IOMMU_MAP_DMA',
        message: 'EINVAL: unknown flags 0xffffffff, VFIO_IOMMU_MAP_DMA',
      });
      // a bitwise expression with bit 31 is a negative int32: its bit pattern is what the kernel reads
      expect(RW | 0x80000000).toBeLessThan(0);
      expect(decodeDmaMap(encodeDmaMap({ ...free, flags: RW | 0x80000000 })).flags).toBe(0x80000003);
      err = thrown(() => env.c.mapDma({ ...free, flags: RW | 0x80000000 }));
      expect(err).toMatchObject({ code: 'EINVAL', errno: -22, message: 'EINVAL: unknown flags 0x80000003, VFIO_IOMMU_MAP_DMA' });
      err = thrown(() => env.c.unmapDma({ iova: 0x100000n, size: M2, flags: 0xffffffff }));
      expect(err).toMatchObject({
        code: 'EINVAL',
        errno: -22,
        syscall: 'VFIO_IOMMU_UNMAP_DMA',
        message: 'EINVAL: unknown flags 0xffffffff, VFIO_IOMMU_UNMAP_DMA',
      });
      // iova + size past 2^64 with both fields in u64: the release's wrap errno (EOVERFLOW from v6.18)
      const wrap = releaseAtLeast(profile, 'v6.18') ? { code: 'EOVERFLOW', errno: -75 } : { code: 'EINVAL', errno: -22 };
      expect(thrown(() => env.c.mapDma({ ...free, iova: TOP - K4, size: 2n * K4, flags: RW }))).toMatchObject({
        ...wrap,
        syscall: 'VFIO_IOMMU_MAP_DMA',
        message: `${wrap.code}: iova 0xfffffffffffff000 or vaddr 0x${(va + M2).toString(16)} + size 0x2000 wraps, VFIO_IOMMU_MAP_DMA`,
      });
      if (releaseAtLeast(profile, 'v4.15')) {
        expect(thrown(() => env.c.unmapDma({ iova: TOP - K4, size: 2n * K4 }))).toMatchObject({
          ...wrap,
          syscall: 'VFIO_IOMMU_UNMAP_DMA',
          message: `${wrap.code}: iova 0xfffffffffffff000 + size 0x2000 wraps, VFIO_IOMMU_UNMAP_DMA`,
        });
      } else {
        // 71a7d3d78e3c (v4.15) added the unmap wrap test; before it a wrapping unmap found nothing
        expect(env.c.unmapDma({ iova: TOP - K4, size: 2n * K4 })).toEqual({ size: 0n });
      }
      // the u64 extremes are representable: the kernel's checks answer (alignment here)
      expect(thrown(() => env.c.mapDma({ vaddr: TOP - 1n, iova: 0n, size: 1n, flags: RW }))).toMatchObject({
        code: 'EINVAL',
        errno: -22,
        message: 'EINVAL: size/iova/vaddr not aligned to 0x1000, VFIO_IOMMU_MAP_DMA',
      });
      expect(env.c.unmapDma({ iova: 0n, size: 0x100000n, argsz: 0xffffffff, flags: 0 })).toEqual({ size: 0n });
      expect(env.c.mappings().length).toBe(1);
      expectCleanClose(env);
      e = undefined;
    }
  });

  it('test_raw_ioctl_bytes_are_not_checked', () => {
    const { env, va } = withA();
    // the bytes of `size: -4096n` as DataView wraps them: 2^64-4096 from iova 0x40000000 wraps -> the kernel's EOVERFLOW
    const b = new Uint8Array(DMA_MAP_MINSZ),
      v = new DataView(b.buffer);
    v.setUint32(0, 32, true);
    v.setUint32(4, RW, true);
    v.setBigUint64(8, va + M2, true);
    v.setBigUint64(16, 0x40000000n, true);
    v.setBigUint64(24, -4096n, true);
    expect(thrown(() => env.c.ioctl(VFIO_IOMMU_MAP_DMA, b))).toMatchObject({
      name: 'VfioError',
      code: 'EOVERFLOW',
      errno: -75,
      syscall: 'VFIO_IOMMU_MAP_DMA',
    });
    // an UNMAP struct with size 2^64-4096 from 0: nothing in u64 stops it; v2 with A inside removes A whole
    const u = new Uint8Array(24),
      uv = new DataView(u.buffer);
    uv.setUint32(0, 24, true);
    uv.setBigUint64(8, 0n, true);
    uv.setBigUint64(16, -4096n, true);
    expect(env.c.ioctl(VFIO_IOMMU_UNMAP_DMA, u)).toBe(0);
    expect(uv.getBigUint64(16, true)).toBe(M2);
    expect(env.c.mappings()).toEqual([]);
  });
});

describe('item 2: spawn rejects a negative RLIMIT_MEMLOCK', () => {
  it('test_spawn_negative_memlock_is_range_error', () => {
    const sim = createSim({ memory: 1n << 30n, seed: 1 });
    const host = new Host(sim);
    const err = thrown(() => host.spawn({ memlockLimit: -1n }));
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toBe('memlockLimit: -1 is negative (RLIMIT_MEMLOCK is an unsigned byte count; null = RLIM_INFINITY)');
    expect(() => host.spawn({ memlockLimit: TOP })).toThrow(new RangeError(`memlockLimit: 18446744073709551616 ${U64_MSG}`));
    expect(() => host.spawn({ memlockLimit: 4096 as unknown as bigint })).toThrow(
      new TypeError('memlockLimit: expected a bigint (bytes) or null (RLIM_INFINITY), got number 4096'),
    );
    expect(host.processes).toEqual([]);
    // the limits that are valid still are: 0 (every pin charged fails), RLIM_INFINITY as null or 2^64-1
    expect(host.spawn({ memlockLimit: 0n }).memlockPages).toBe(0);
    expect(host.spawn({ memlockLimit: null }).memlockPages).toBe(Infinity);
    expect(host.spawn({ memlockLimit: TOP - 1n }).memlockPages).toBe(2 ** 52 - 1);
    expect(host.processes.map((p) => p.pid)).toEqual([1000, 1001, 1002]); // rejected spawns took no pid
  });

  it('test_zero_memlock_still_enomem_from_the_kernel', () => {
    e = makeEnv({ profile: 'mainline', memlockLimit: 0n });
    const va = e.proc.mmap(M2, { backing: 'thp' });
    const env = e;
    expect(thrown(() => env.c.mapDma({ vaddr: va, iova: 0n, size: M2, flags: RW }))).toMatchObject({
      name: 'VfioError',
      code: 'ENOMEM',
      errno: -12,
      syscall: 'VFIO_IOMMU_MAP_DMA',
    });
  });
});

describe('item 3: mmap throws VfioError; SysError re-exported', () => {
  it('test_mmap_unknown_backing_is_vfio_einval', () => {
    const sim = createSim({ memory: 1n << 30n, seed: 1 });
    const p = new Host(sim).spawn();
    const free0 = sim.mem.usage();
    const err = thrown(() => p.mmap(M2, { backing: 'thp2' as 'thp' })) as VfioError;
    expect(err).toBeInstanceOf(VfioError);
    expect(err).toMatchObject({ name: 'VfioError', code: 'EINVAL', errno: -22, syscall: 'mmap' });
    expect(err.cause).toBeInstanceOf(IommuError);
    // the core's detail, unchanged (its entry point is mmap too)
    expect(err.message).toBe((err.cause as Error).message);
    expect(err.message).toMatch(/^EINVAL: unknown backing 'thp2' \(one of .*\), mmap$/);
    expect(p.vmas).toEqual([]);
    expect(sim.mem.usage()).toEqual(free0);
    const huge = thrown(() => p.mmap(M2, { backing: 'hugetlb-1g' }));
    expect(huge).toMatchObject({
      name: 'VfioError',
      code: 'EINVAL',
      errno: -22,
      syscall: 'mmap',
      message: 'EINVAL: hugetlbfs length must be a multiple of the huge page size (hugetlb-1g), mmap',
    });
    expect(p.mmap(M2, { backing: 'fragmented:0.25' })).toBe(0x7f0000000000n);
  });

  it('test_mmap_host_full_is_vfio_enomem', () => {
    const sim = createSim({ memory: 64n << 20n, seed: 1 });
    const p = new Host(sim).spawn();
    const err = thrown(() => p.mmap(1n << 30n, { backing: 'thp' })) as VfioError;
    expect(err).toBeInstanceOf(VfioError);
    expect(err).toBeInstanceOf(SysError);
    expect(err).toMatchObject({
      name: 'VfioError',
      code: 'ENOMEM',
      errno: -12,
      syscall: 'mmap',
      message: 'ENOMEM: needs 262144 frames, host has 16384 free, mmap',
    });
    expect(err.cause).toBeInstanceOf(IommuError);
    expect(p.vmas).toEqual([]);
    // an allocator failure below mmap keeps its entry point in the detail
    const sim3 = createSim({ memory: 2n << 30n, seed: 1 });
    const p3 = new Host(sim3).spawn();
    p3.mmap(M2, { backing: '4k' });
    const used = sim3.mem.usage();
    expect(thrown(() => p3.mmap(1n << 30n, { backing: 'hugetlb-1g' }))).toMatchObject({
      name: 'VfioError',
      code: 'ENOMEM',
      errno: -12,
      syscall: 'mmap',
      message: 'ENOMEM: no free naturally aligned 1 GiB run in host memory (alloc_gigantic_page), mmap',
    });
    expect(p3.vmas.length).toBe(1);
    expect(sim3.mem.usage()).toEqual(used);
  });

  it('test_sys_error_reexported', () => {
    expect(SysError).toBe(CoreSysError);
    const err = new VfioError('EINVAL', 'VFIO_IOMMU_MAP_DMA', 'x');
    expect(err).toBeInstanceOf(SysError);
    expect(new IommuError('EINVAL', 'iommu_map', 'x')).toBeInstanceOf(SysError);
  });
});

describe('item 4: isVfioError', () => {
  it('test_is_vfio_error_narrows_real_errors', () => {
    const { env } = withA();
    const err = thrown(() => env.c.mapDma({ vaddr: 0n, iova: 1n, size: K4, flags: RW }));
    expect(isVfioError(err)).toBe(true);
    for (const x of [
      new RangeError('r'),
      new IommuError('EINVAL', 'iommu_map', 'x'),
      new CoreSysError('EINVAL', 's', 'd'),
      null,
      undefined,
      'VfioError',
      { code: 'EINVAL', errno: -22 },
      { name: 'VfioError', code: 'EINVAL', errno: -22, syscall: 'VFIO_IOMMU_MAP_DMA', message: 'm' },
    ]) {
      expect(isVfioError(x)).toBe(false);
    }
    // the brand sits on the prototype: an error's own keys are what they were
    expect(Object.keys(err as object).sort()).toEqual(['code', 'errno', 'name', 'syscall']);
    expect(Object.getOwnPropertySymbols(err)).toEqual([]);
    expect((VfioError.prototype as unknown as Record<symbol, unknown>)[Symbol.for('@x/vfio-type1.VfioError')]).toBe(true);
  });

  it('test_is_vfio_error_across_module_copies', async () => {
    // a second instance of the module, as when the CJS and the ESM build are both loaded
    const path = '../src/errors.js?second-copy';
    const copy = (await import(/* @vite-ignore */ path)) as typeof import('../src/errors.js');
    expect(copy.VfioError).not.toBe(VfioError);
    const other = new copy.VfioError('EBADF', 'VFIO_IOMMU_MAP_DMA', 'container fd is closed');
    expect(other instanceof VfioError).toBe(false);
    expect(isVfioError(other)).toBe(true);
    expect(copy.isVfioError(new VfioError('EINVAL', 's', 'd'))).toBe(true);
  });

  it('test_is_vfio_error_cjs_and_esm_builds', (ctx) => {
    const require = createRequire(import.meta.url);
    const cjsPath = new URL('../dist/index.cjs', import.meta.url);
    if (!existsSync(cjsPath)) {
      ctx.skip('dist/index.cjs not built (run the package build first)');
      return;
    }
    const cjs = require(cjsPath.pathname) as typeof import('../src/index.js');
    const core = require('@x/iommu-core') as typeof import('@x/iommu-core');
    const sim = core.createSim({ memory: 1n << 30n, seed: 1 });
    const host = new cjs.Host(sim);
    const c = host.openContainer(host.spawn());
    c.close();
    const err = thrown(() => c.mapDma({ vaddr: 0n, iova: 0n, size: K4, flags: RW }));
    expect(err).toMatchObject({ name: 'VfioError', code: 'EBADF', errno: -9, syscall: 'VFIO_IOMMU_MAP_DMA' });
    expect(err instanceof VfioError).toBe(false); // the ESM (here: source) class
    expect(isVfioError(err)).toBe(true);
    expect(cjs.isVfioError(new VfioError('EINVAL', 's', 'd'))).toBe(true);
  });
});

describe('item 5: undefined option properties read as absent', () => {
  it('test_undefined_options_equal_defaults', () => {
    const sim = createSim({ memory: 1n << 30n, seed: 1, backing: '4k' });
    const drv = createReferenceDriver(sim);
    const host = new Host(sim);
    const g = host.addGroup(drv, { devices: undefined });
    expect(g.devices.length).toBe(1);
    const p = host.spawn({ memlockLimit: undefined, capIpcLock: undefined });
    expect([p.memlockLimit, p.memlockPages, p.capIpcLock]).toEqual([null, Infinity, false]);
    const va = p.mmap(M2, { backing: undefined });
    expect(p.vmas[0]!.profile).toBe('4k'); // the sim's default backing
    const c = host.openContainer(p, {
      profile: undefined,
      unmapPath: undefined,
      tlbSyncMax: undefined,
      dmaEntryLimit: undefined,
      disableHugepages: undefined,
      allowUnsafeInterrupts: undefined,
      mapTryHarder: undefined,
    });
    const d = host.openContainer(host.spawn(), {});
    expect(c.spec).toBe(d.spec);
    expect(c.profile).toBe('mainline');
    expect(c.dmaAvail).toBe(65535);
    c.addGroup(g);
    c.setIommu(VFIO_TYPE1v2_IOMMU);
    expect([
      c.iommu!.unmapPath,
      c.iommu!.tryHarder,
      c.iommu!.tlbSyncMax,
      c.iommu!.disableHugepages,
      c.iommu!.allowUnsafeInterrupts,
    ]).toEqual(['mainline', null, 512, false, false]);
    c.mapDma({ argsz: undefined, vaddr: va, iova: 0n, size: M2, flags: RW });
    expect(c.unmapDma({ argsz: undefined, flags: undefined, bitmap: undefined, iova: 0n, size: M2 })).toEqual({ size: M2 });
    expect(encodeDmaUnmap({ iova: 0n, size: K4, flags: undefined, argsz: undefined, bitmap: undefined })).toEqual(
      encodeDmaUnmap({ iova: 0n, size: K4 }),
    );
    c.close();
    d.close();
    expect(sim.violations).toEqual([]);
  });
});

describe('item 6: checkExtension answers 0 or 1', () => {
  it('test_check_extension_values', () => {
    e = makeEnv({ profile: 'mainline' });
    const answers = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0xffffffff].map((x) => e!.c.checkExtension(x));
    expect(answers).toEqual([0, 1, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0]);
    expect(e.c.ioctl(VFIO_CHECK_EXTENSION, 3)).toBe(1);
  });
});

describe('item 7: messages', () => {
  it('test_decode_info_short_buffer_message', () => {
    expect(() => decodeInfo(new Uint8Array(8))).toThrow(
      new RangeError('decodeInfo: struct vfio_iommu_type1_info: the buffer is 8 bytes, shorter than the 16-byte minimum'),
    );
    expect(() => decodeDmaMap(new Uint8Array(31))).toThrow(
      new RangeError('decodeDmaMap: struct vfio_iommu_type1_dma_map: the buffer is 31 bytes, shorter than the 32-byte minimum'),
    );
    expect(() => decodeDmaUnmap(new Uint8Array(16))).toThrow(
      new RangeError('decodeDmaUnmap: struct vfio_iommu_type1_dma_unmap: the buffer is 16 bytes, shorter than the 24-byte minimum'),
    );
    expect(decodeInfo(new Uint8Array(16))).toEqual({ argsz: 0, flags: 0, iovaPgsizes: 0n });
  });

  it('test_decode_info_cap_past_buffer_message', () => {
    e = makeEnv({ profile: 'mainline' });
    const b = encodeInfoRequest(512);
    e.c.ioctl(VFIO_IOMMU_GET_INFO, b);
    const full = decodeInfo(b);
    expect([full.argsz, full.capOffset]).toEqual([512, 24]);
    expect(full.iovaRanges?.length).toBe(2);
    // MIGRATION at 24, DMA_AVAIL at 56, IOVA_RANGE with 2 ranges at 72..120: cut at 100
    expect(() => decodeInfo(b.subarray(0, 100))).toThrow(
      new RangeError(
        'decodeInfo: the IOVA_RANGE capability with 2 ranges at offset 72 ends at byte 120, past the end of the 100-byte buffer',
      ),
    );
  });

  it('test_encode_info_request_validates', () => {
    expect(() => encodeInfoRequest(-1)).toThrow(new RangeError(`encodeInfoRequest: vfio_iommu_type1_info.argsz: -1 ${U32_MSG}`));
    expect(() => encodeInfoRequest(24, -1)).toThrow(
      new RangeError('encodeInfoRequest: buffer length -1 is not a byte count (an integer >= 0)'),
    );
    expect(() => encodeInfoRequest(24, 2.5)).toThrow(
      new RangeError('encodeInfoRequest: buffer length 2.5 is not a byte count (an integer >= 0)'),
    );
    expect(() => encodeInfoRequest(24n as unknown as number)).toThrow(
      new TypeError('encodeInfoRequest: vfio_iommu_type1_info.argsz: expected a number (u32), got bigint 24n'),
    );
    // a buffer length that is not a number is a TypeError, not a byte count out of range; null reads as null
    const notNumber = thrown(() => encodeInfoRequest(24, '24' as unknown as number));
    expect(notNumber).toBeInstanceOf(TypeError);
    expect(notNumber).toMatchObject({ message: "encodeInfoRequest: buffer length: expected a number, got string '24'" });
    expect(() => encodeInfoRequest(null as unknown as number)).toThrow(
      new TypeError('encodeInfoRequest: vfio_iommu_type1_info.argsz: expected a number (u32), got null'),
    );
    expect([...encodeInfoRequest(0x01020304, 2)]).toEqual([4, 3]); // a short buffer holds the first bytes of argsz
    expect([...encodeInfoRequest(16)]).toEqual([16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('test_mmap_size_messages', () => {
    const sim = createSim({ memory: 1n << 30n, seed: 1 });
    const p = new Host(sim).spawn();
    expect(() => p.mmap(-4096n)).toThrow(new RangeError(`mmap size: -4096 ${U64_MSG}`));
    expect(() => p.mmap(4096 as unknown as bigint)).toThrow(new TypeError('mmap size: expected a bigint (u64), got number 4096'));
    expect(thrown(() => p.mmap(4097n))).toMatchObject({
      name: 'VfioError',
      code: 'EINVAL',
      errno: -22,
      syscall: 'mmap',
      message: 'EINVAL: size 0x1001 must be a positive multiple of 4 KiB, mmap',
    });
    expect(thrown(() => p.mmap(0n))).toMatchObject({
      name: 'VfioError',
      code: 'EINVAL',
      errno: -22,
      syscall: 'mmap',
      message: 'EINVAL: size 0x0 must be a positive multiple of 4 KiB, mmap',
    });
    expect(() => p.munmap(-4096n)).toThrow(new RangeError(`munmap vaddr: -4096 ${U64_MSG}`));
    expect(p.vmas).toEqual([]);
  });

  it('test_ioctl_number_not_u32_message', () => {
    const { env } = withA();
    expectProgrammingError(
      env,
      () => env.c.ioctl(1.5),
      RangeError,
      'ioctl: request 1.5 is not an ioctl number (an integer in 0 to 0xffffffff)',
    );
    expectProgrammingError(
      env,
      () => env.c.ioctl(-1),
      RangeError,
      'ioctl: request -1 is not an ioctl number (an integer in 0 to 0xffffffff)',
    );
    expectProgrammingError(
      env,
      () => env.c.ioctl(2 ** 32 + VFIO_IOMMU_MAP_DMA, new Uint8Array(32)),
      RangeError,
      'ioctl: request 4294982513 is not an ioctl number (an integer in 0 to 0xffffffff)',
    );
    expectProgrammingError(
      env,
      () => env.c.ioctl(BigInt(VFIO_IOMMU_MAP_DMA) as unknown as number),
      TypeError,
      'ioctl: the request must be an ioctl number, got bigint',
    );
    // an integer the container does not handle is still the kernel's ENOTTY
    expect(thrown(() => env.c.ioctl(0x3b99))).toMatchObject({
      name: 'VfioError',
      code: 'ENOTTY',
      errno: -25,
      syscall: 'ioctl(0x3b99)',
      message: 'ENOTTY: type1 does not handle this ioctl, ioctl(0x3b99)',
    });
  });

  it('test_closed_container_errors_name_the_ioctl', () => {
    e = makeEnv({ profile: 'mainline' });
    const env = e;
    const g2 = env.host.addGroup(env.drv, { devices: 1 });
    env.c.close();
    const closed = (syscall: string) => ({
      name: 'VfioError',
      code: 'EBADF',
      errno: -9,
      syscall,
      message: `EBADF: container fd is closed, ${syscall}`,
    });
    const calls: [() => unknown, string][] = [
      [() => env.c.mapDma({ vaddr: 0n, iova: 0n, size: K4, flags: RW }), 'VFIO_IOMMU_MAP_DMA'],
      [() => env.c.unmapDma({ iova: 0n, size: K4 }), 'VFIO_IOMMU_UNMAP_DMA'],
      [() => env.c.getInfo(), 'VFIO_IOMMU_GET_INFO'],
      [() => env.c.getApiVersion(), 'VFIO_GET_API_VERSION'],
      [() => env.c.checkExtension(VFIO_TYPE1v2_IOMMU), 'VFIO_CHECK_EXTENSION'],
      [() => env.c.setIommu(VFIO_TYPE1v2_IOMMU), 'VFIO_SET_IOMMU'],
      [() => env.c.addGroup(g2), 'VFIO_GROUP_SET_CONTAINER'],
      [() => env.c.removeGroup(env.group), 'VFIO_GROUP_UNSET_CONTAINER'],
      [() => env.c.ioctl(VFIO_IOMMU_MAP_DMA, new Uint8Array(32)), 'VFIO_IOMMU_MAP_DMA'],
      [() => env.c.ioctl(VFIO_IOMMU_UNMAP_DMA, new Uint8Array(24)), 'VFIO_IOMMU_UNMAP_DMA'],
      [() => env.c.ioctl(VFIO_GET_API_VERSION), 'VFIO_GET_API_VERSION'],
      [() => env.c.ioctl(VFIO_SET_IOMMU, 3), 'VFIO_SET_IOMMU'],
      [() => env.c.ioctl(VFIO_IOMMU_ENABLE), 'ioctl(0x3b73)'], // not a container ioctl here: its number
    ];
    for (const [f, syscall] of calls) expect(thrown(f)).toMatchObject(closed(syscall));
    expect(g2.container).toBe(null);
  });
});

describe('profiles', () => {
  it('test_profile_names_match_profiles', () => {
    expect(PROFILE_NAMES).toEqual(Object.keys(PROFILES));
    expect(PROFILE_NAMES.map((p) => PROFILES[p]!.name)).toEqual(PROFILE_NAMES);
    // the releases the published experiments compare are all named, oldest first, mainline last
    const key = ['v3.19', 'v4.16', 'v4.17', 'v5.11', 'v5.12', 'v6.16', 'v6.18'];
    expect(PROFILE_NAMES.filter((p) => key.includes(p))).toEqual(key);
    expect(PROFILE_NAMES.at(-1)).toBe('mainline');
  });
});
