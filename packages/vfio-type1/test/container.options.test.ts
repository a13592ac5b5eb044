// openContainer() options and the container's own surface, with exact values: each option's
// bounds and message, its default per release (the kernel facts: the fast unmap path came in v4.17,
// the gather in v5.4, map_try_harder() went in v5.0, dma_entry_limit came in v5.1), the ioctl
// request checks, the `syscall` every error names, and what stats(), mappings(), dmaAvail, check()
// and close() return.
import { afterEach, describe, expect, it } from 'vitest';
import { IOMMU_RESV_RESERVED, createReferenceDriver, createSim } from '@x/iommu-core';
import { createAmdIommu } from '@x/amd-iommu';
import {
  VFIO_CHECK_EXTENSION,
  VFIO_DMA_CC_IOMMU,
  VFIO_GET_API_VERSION,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_SET_IOMMU,
  Container,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  Host,
  VfioError,
  encodeDmaMap,
  encodeInfoRequest,
  type ContainerOptions,
  type Profile,
} from '../src/index.js';
import { K4, M2, RW, domOf, expectCleanClose, makeEnv, type Env, thrown } from './helpers.js';

let e: Env | undefined;
afterEach(() => {
  if (e !== undefined && !e.c.closed) expectCleanClose(e);
  e = undefined;
});

/** A container opened with opts on a fresh host; the RangeError's message when it is refused. */
function refusal(opts: ContainerOptions): string {
  const env = makeEnv({ noSet: true });
  e = env;
  const before = env.host.containers.length;
  const err = thrown(() => env.host.openContainer(env.proc, opts));
  expect(err).toBeInstanceOf(RangeError);
  // a refused open leaves no container behind
  expect(env.host.containers.length).toBe(before);
  return (err as Error).message;
}

describe('container options: bounds and messages', () => {
  it('test_unknown_unmap_path', () => {
    expect(refusal({ unmapPath: 'bogus' as never })).toBe("unknown unmapPath 'bogus' (slow, fast, mainline)");
  });

  it('test_unknown_map_try_harder', () => {
    expect(refusal({ mapTryHarder: 'harder' as never })).toBe("unknown mapTryHarder 'harder' (landed, rfc-v2, suggested, false)");
    expect(refusal({ mapTryHarder: true as never })).toBe("unknown mapTryHarder 'true' (landed, rfc-v2, suggested, false)");
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('test_tlb_sync_max_refused %s', (n) => {
    expect(refusal({ tlbSyncMax: n })).toBe(`tlbSyncMax must be an integer >= 1, got ${n}`);
  });

  it.each([-1, 1.5, 2 ** 32, Number.NaN])('test_dma_entry_limit_not_u32 %s', (n) => {
    expect(refusal({ profile: 'mainline', dmaEntryLimit: n })).toBe(`dmaEntryLimit must be a u32, got ${n}`);
  });

  it.each<Profile>(['v4.17', 'v5.0'])('test_dma_entry_limit_before_v5_1 %s', (profile) => {
    expect(refusal({ profile, dmaEntryLimit: 100 })).toBe(`dmaEntryLimit is not a parameter of ${profile} (dma_entry_limit came in v5.1)`);
  });

  it('test_bounds_accepted', () => {
    const env = makeEnv({ profile: 'v5.1', noSet: true });
    e = env;
    for (const dmaEntryLimit of [0, 0xffffffff]) {
      const c = env.host.openContainer(env.proc, { profile: 'v5.1', dmaEntryLimit, tlbSyncMax: 1 });
      expect(c.dmaAvail).toBe(dmaEntryLimit);
      c.close();
    }
  });
});

describe('container options: defaults per release', () => {
  // [profile, unmap path, map_try_harder, dma_entry_limit a parameter]
  it.each<[Profile, string, string | null]>([
    ['v4.16', 'slow', 'landed'],
    ['v4.17', 'fast', 'landed'],
    ['v4.20', 'fast', 'landed'],
    ['v5.0', 'fast', null],
    ['v5.3', 'fast', null],
    ['v5.4', 'mainline', null],
    ['mainline', 'mainline', null],
  ])('test_defaults %s', (profile, unmapPath, tryHarder) => {
    const env = makeEnv({ profile });
    e = env;
    const iommu = env.c.iommu!;
    expect(iommu.unmapPath).toBe(unmapPath);
    expect(iommu.tryHarder).toBe(tryHarder);
    expect(iommu.tlbSyncMax).toBe(512);
    expect(iommu.dmaAvail).toBe(65535);
    expect(env.c.profile).toBe(profile);
  });

  it('test_default_profile_is_mainline', () => {
    const env = makeEnv({ noSet: true });
    e = env;
    const c = env.host.openContainer(env.proc);
    expect(c.profile).toBe('mainline');
    expect(c.dmaAvail).toBe(65535);
    c.close();
  });

  it.each<[ContainerOptions, string, string | null, number]>([
    [{ profile: 'v4.17', unmapPath: 'slow' }, 'slow', 'landed', 512],
    [{ profile: 'v4.17', mapTryHarder: false }, 'fast', null, 512],
    [{ profile: 'v4.17', mapTryHarder: 'rfc-v2', tlbSyncMax: 1 }, 'fast', 'rfc-v2', 1],
    [{ profile: 'mainline', mapTryHarder: 'suggested', unmapPath: 'fast', tlbSyncMax: 7 }, 'fast', 'suggested', 7],
    [{ profile: 'mainline', unmapPath: undefined, mapTryHarder: undefined, tlbSyncMax: undefined }, 'mainline', null, 512],
  ])('test_options_reach_the_iommu %o', (opts, unmapPath, tryHarder, tlbSyncMax) => {
    const env = makeEnv(opts);
    e = env;
    const iommu = env.c.iommu!;
    expect([iommu.unmapPath, iommu.tryHarder, iommu.tlbSyncMax]).toEqual([unmapPath, tryHarder, tlbSyncMax]);
  });

  it('test_module_parameters_reach_the_iommu', () => {
    const env = makeEnv({ profile: 'mainline', dmaEntryLimit: 3, disableHugepages: true, allowUnsafeInterrupts: true });
    e = env;
    const iommu = env.c.iommu!;
    expect([iommu.dmaAvail, iommu.disableHugepages, iommu.allowUnsafeInterrupts]).toEqual([3, true, true]);
    const plain = makeEnv({ profile: 'mainline' });
    expect([plain.c.iommu!.disableHugepages, plain.c.iommu!.allowUnsafeInterrupts]).toEqual([false, false]);
    expectCleanClose(plain);
  });
});

describe('container ioctl: request checks and names', () => {
  it('test_request_not_a_number', () => {
    const env = makeEnv({ noSet: true });
    e = env;
    const err = thrown(() => env.c.ioctl('0x3b64' as never));
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toBe('ioctl: the request must be an ioctl number, got string');
  });

  it.each([-1, 2 ** 32, 0x3b64 + 0.5])('test_request_not_u32 %s', (cmd) => {
    const env = makeEnv({ noSet: true });
    e = env;
    const err = thrown(() => env.c.ioctl(cmd));
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toBe(`ioctl: request ${cmd} is not an ioctl number (an integer in 0 to 0xffffffff)`);
  });

  it.each([0, 0xffffffff])('test_request_bounds_accepted %s', (cmd) => {
    const env = makeEnv({});
    e = env;
    expect(thrown(() => env.c.ioctl(cmd, new Uint8Array(8)))).toMatchObject({ code: 'ENOTTY', syscall: `ioctl(0x${cmd.toString(16)})` });
  });

  // the ioctl numbers are _IO(';', 100 + n): 0x3b64 + n
  it.each<[string, number]>([
    ['VFIO_GET_API_VERSION', 0x3b64],
    ['VFIO_CHECK_EXTENSION', 0x3b65],
    ['VFIO_SET_IOMMU', 0x3b66],
    ['VFIO_IOMMU_GET_INFO', 0x3b70],
    ['VFIO_IOMMU_MAP_DMA', 0x3b71],
    ['VFIO_IOMMU_UNMAP_DMA', 0x3b72],
    ['ioctl(0x3b73)', 0x3b73],
    ['ioctl(0x3b67)', 0x3b67],
  ])('test_closed_fd_names_the_ioctl %s', (name, cmd) => {
    const env = makeEnv({});
    e = env;
    expectCleanClose(env);
    const err = thrown(() => env.c.ioctl(cmd, new Uint8Array(40)));
    expect(err).toBeInstanceOf(VfioError);
    expect(err).toMatchObject({ code: 'EBADF', errno: -9, syscall: name, message: `EBADF: container fd is closed, ${name}` });
  });

  it('test_handled_ioctl_numbers', () => {
    expect([VFIO_GET_API_VERSION, VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU]).toEqual([0x3b64, 0x3b65, 0x3b66]);
    expect([VFIO_IOMMU_GET_INFO, VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA]).toEqual([0x3b70, 0x3b71, 0x3b72]);
  });

  it('test_state_error_messages', () => {
    const env = makeEnv({ profile: 'mainline', noSet: true });
    e = env;
    const m = encodeDmaMap({ vaddr: env.proc.mmap(M2, { backing: 'thp' }), iova: 0n, size: M2, flags: RW });
    expect(thrown(() => env.c.ioctl(VFIO_IOMMU_MAP_DMA, m))).toMatchObject({
      message: 'EINVAL: no IOMMU driver set on the container, VFIO_IOMMU_MAP_DMA',
    });
    expect(thrown(() => env.c.ioctl(0x3b73, m))).toMatchObject({
      message: 'EINVAL: no IOMMU driver set on the container, ioctl(0x3b73)',
    });
    expect(thrown(() => env.c.stats())).toMatchObject({ code: 'EINVAL', message: 'EINVAL: no IOMMU driver set on the container, stats' });
    env.c.setIommu(VFIO_TYPE1v2_IOMMU);
    expect(thrown(() => env.c.ioctl(0x3b73, m))).toMatchObject({
      code: 'ENOTTY',
      message: 'ENOTTY: type1 does not handle this ioctl, ioctl(0x3b73)',
    });
    for (const [cmd, name] of [
      [VFIO_IOMMU_MAP_DMA, 'VFIO_IOMMU_MAP_DMA'],
      [VFIO_IOMMU_UNMAP_DMA, 'VFIO_IOMMU_UNMAP_DMA'],
      [VFIO_IOMMU_GET_INFO, 'VFIO_IOMMU_GET_INFO'],
    ] as const) {
      expect(thrown(() => env.c.ioctl(cmd, 0))).toMatchObject({
        code: 'EFAULT',
        message: `EFAULT: argument is not a user buffer, ${name}`,
      });
    }
    // the failed calls above were all refused before type1 ran: nothing counted as a type1 error
    expect(env.c.stats().errors).toBe(0);
    expect(thrown(() => env.c.setIommu(VFIO_TYPE1v2_IOMMU))).toMatchObject({
      message: 'EINVAL: an IOMMU driver is already set, VFIO_SET_IOMMU',
    });
    expect(thrown(() => env.c.setIommu(42))).toMatchObject({ code: 'EINVAL' });
    const bare = env.host.openContainer(env.proc, {});
    expect(thrown(() => bare.setIommu(VFIO_TYPE1v2_IOMMU))).toMatchObject({
      message: 'EINVAL: the container has no group, VFIO_SET_IOMMU',
    });
    bare.close();
  });

  it('test_set_iommu_other_type_message', () => {
    const env = makeEnv({ profile: 'mainline', noSet: true });
    e = env;
    expect(thrown(() => env.c.ioctl(VFIO_SET_IOMMU, 2))).toMatchObject({
      code: 'ENODEV',
      message: 'ENODEV: no IOMMU driver supports type 2, VFIO_SET_IOMMU',
    });
    // SET_IOMMU with a buffer, not a number: type -1, no driver
    expect(thrown(() => env.c.ioctl(VFIO_SET_IOMMU, new Uint8Array(4)))).toMatchObject({
      message: 'ENODEV: no IOMMU driver supports type -1, VFIO_SET_IOMMU',
    });
    // CHECK_EXTENSION with a buffer asks about extension 0, which nothing is
    expect(env.c.ioctl(VFIO_CHECK_EXTENSION, new Uint8Array(4))).toBe(0);
    expect(env.c.iommu).toBe(null);
  });

  it('test_type1_errors_are_counted_get_info_errors_are_not', () => {
    const env = makeEnv({ profile: 'mainline' });
    e = env;
    const va = env.proc.mmap(M2, { backing: 'thp' });
    // size 0: EINVAL from type1 itself
    expect(thrown(() => env.c.mapDma({ vaddr: va, iova: 0n, size: 0n, flags: RW }))).toMatchObject({ code: 'EINVAL' });
    expect(env.c.stats().errors).toBe(1);
    expect(thrown(() => env.c.unmapDma({ iova: 1n, size: K4 }))).toMatchObject({ code: 'EINVAL' });
    expect(env.c.stats().errors).toBe(2);
    // GET_INFO with argsz below its minimum fails, and is not a map/unmap error
    const info = encodeInfoRequest(16);
    new DataView(info.buffer).setUint32(0, 4, true);
    expect(thrown(() => env.c.ioctl(VFIO_IOMMU_GET_INFO, info))).toMatchObject({ code: 'EINVAL', syscall: 'VFIO_IOMMU_GET_INFO' });
    expect(env.c.stats().errors).toBe(2);
  });
});

describe('container state after calls', () => {
  it('test_mappings_in_bytes', () => {
    const env = makeEnv({ profile: 'mainline' });
    e = env;
    const va = env.proc.mmap(4n * M2, { backing: 'thp' });
    env.c.mapDma({ vaddr: va + M2, iova: 0x40000000n, size: M2, flags: 1 });
    env.c.mapDma({ vaddr: va, iova: 0x200000n, size: 2n * K4, flags: RW });
    expect(env.c.mappings()).toEqual([
      { iova: 0x200000n, vaddr: va, size: 2n * K4, prot: RW, lockedPages: 2 },
      { iova: 0x40000000n, vaddr: va + M2, size: M2, prot: 1, lockedPages: 512 },
    ]);
    expect(env.c.dmaAvail).toBe(65533);
  });

  it('test_no_mappings_before_set_iommu', () => {
    const env = makeEnv({ profile: 'mainline', noSet: true, dmaEntryLimit: 9 });
    e = env;
    expect(env.c.mappings()).toEqual([]);
    expect(env.c.dmaAvail).toBe(9);
  });

  it('test_stats_kept_after_the_last_group_left', () => {
    const env = makeEnv({ profile: 'mainline' });
    e = env;
    const va = env.proc.mmap(M2, { backing: 'thp' });
    env.c.mapDma({ vaddr: va, iova: 0n, size: M2, flags: RW });
    env.c.removeGroup(env.group);
    expect(env.c.iommu).toBe(null);
    expect(env.c.groups).toEqual([]);
    expect(env.group.container).toBe(null);
    const s = env.c.stats();
    expect([s.mapCalls, s.unmapChunks]).toEqual([1, 1]);
    // a copy each time: the caller cannot change the kept counters
    s.mapCalls = 99;
    s.regionsPerUnmapUnpin[1] = 99;
    s.regionsPerSync[1] = 99;
    s.regionsPerUnmap[1] = 99;
    const again = env.c.stats();
    expect([again.mapCalls, again.regionsPerUnmapUnpin, again.regionsPerSync, again.regionsPerUnmap]).toEqual([1, { 1: 1 }, { 1: 1 }, {}]);
    expect(env.c.mappings()).toEqual([]);
  });

  it('test_check_returns_only_new_violations', () => {
    const env = makeEnv({ profile: 'mainline' });
    e = env;
    expect(env.c.check()).toEqual([]);
    const va = env.proc.mmap(M2, { backing: 'thp' });
    env.c.mapDma({ vaddr: va, iova: 0n, size: M2, flags: RW });
    expect(env.c.check()).toEqual([]);
    expect(env.sim.checker.violations).toEqual([]);
  });

  it('test_close_leaves_the_host_once', () => {
    const env = makeEnv({ profile: 'mainline' });
    e = env;
    const other = env.host.openContainer(env.proc, {});
    expect(env.host.containers).toEqual([env.c, other]);
    expectCleanClose(env);
    expect(env.host.containers).toEqual([other]);
    env.c.close();
    expect(env.host.containers).toEqual([other]);
    expect(env.c.closed).toBe(true);
    other.close();
    expect(env.host.containers).toEqual([]);
  });

  it.each([
    ['VFIO_GROUP_SET_CONTAINER', (env: Env) => env.c.addGroup(env.group)],
    ['VFIO_GROUP_UNSET_CONTAINER', (env: Env) => env.c.removeGroup(env.group)],
    ['VFIO_SET_IOMMU', (env: Env) => env.c.setIommu(VFIO_TYPE1v2_IOMMU)],
    ['VFIO_CHECK_EXTENSION', (env: Env) => env.c.checkExtension(VFIO_TYPE1v2_IOMMU)],
  ] as const)('test_closed_container_method %s', (name, call) => {
    const env = makeEnv({ profile: 'mainline' });
    e = env;
    expectCleanClose(env);
    expect(thrown(() => call(env))).toMatchObject({ code: 'EBADF', syscall: name });
  });

  // the reason an errno from pinning or the IOMMU driver carries (type1's own checks carry theirs)
  it('test_driver_errno_reasons', () => {
    const env = makeEnv({ profile: 'mainline', memlockLimit: 4096n });
    e = env;
    const big = env.proc.mmap(M2, { backing: 'hugetlb-2m' });
    expect(thrown(() => env.c.mapDma({ vaddr: big, iova: 0n, size: M2, flags: RW }))).toMatchObject({
      message: 'ENOMEM: RLIMIT_MEMLOCK exceeded or allocation failure while pinning/mapping, VFIO_IOMMU_MAP_DMA',
    });
    expect(thrown(() => env.c.mapDma({ vaddr: 0x1000n, iova: 0n, size: K4, flags: RW }))).toMatchObject({
      message: 'EFAULT: a page of the vaddr range could not be pinned, or the IOMMU refused the address, VFIO_IOMMU_MAP_DMA',
    });
    expect(env.c.stats().errors).toBe(2);
    expectCleanClose(env);
    // a 2 MiB chunk over the table a 4 KiB mapping left (replaceEmptyTables: false), no map_try_harder
    const env2 = makeEnv({ profile: 'mainline', drv: { replaceEmptyTables: false } });
    e = env2;
    const small = env2.proc.mmap(K4, { backing: '4k' });
    env2.c.mapDma({ vaddr: small, iova: 0n, size: K4, flags: RW });
    env2.c.unmapDma({ iova: 0n, size: K4 });
    const huge = env2.proc.mmap(M2, { backing: 'hugetlb-2m' });
    expect(thrown(() => env2.c.mapDma({ vaddr: huge, iova: 0n, size: M2, flags: RW }))).toMatchObject({
      message: 'EBUSY: the IOMMU refused to map over an existing mapping, VFIO_IOMMU_MAP_DMA',
    });
  });

  // any other errno from the driver's map_pages: the errno itself, with the generic reason
  it('test_driver_errno_reason_other', () => {
    // v4.16 had no iova list, so a map past the AMD IOMMU's 40-bit aperture reaches the driver: -ERANGE
    const sim = createSim({ memory: 1n << 30n, seed: 7 });
    const host = new Host(sim);
    const g = host.addGroup(createAmdIommu(sim, { profile: 'v4.16', vaBits: 40 }), { devices: 1 });
    const proc = host.spawn({});
    const c = host.openContainer(proc, { profile: 'v4.16' });
    c.addGroup(g);
    c.setIommu(VFIO_TYPE1v2_IOMMU);
    const va = proc.mmap(K4, { backing: '4k' });
    expect(thrown(() => c.mapDma({ vaddr: va, iova: 1n << 40n, size: K4, flags: RW }))).toMatchObject({
      code: 'ERANGE',
      errno: -34,
      message: 'ERANGE: the IOMMU driver failed the map, VFIO_IOMMU_MAP_DMA',
    });
    expect([c.stats().errors, sim.mem.pinnedPages, proc.lockedVm]).toEqual([1, 0, 0]);
    c.close();
    // a driver whose map_pages fails with EIO (the reference driver's ops, map_pages replaced)
    const env = makeEnv({ profile: 'mainline' });
    e = env;
    const dom = domOf(env);
    const ops = dom.ops;
    Object.defineProperty(dom, 'ops', {
      configurable: true,
      value: {
        ...ops,
        mapPages: (d: typeof dom) => {
          d.mapped = 0;
          return -5;
        },
      },
    });
    const small = env.proc.mmap(K4, { backing: '4k' });
    expect(thrown(() => env.c.mapDma({ vaddr: small, iova: 0n, size: K4, flags: RW }))).toMatchObject({
      code: 'EIO',
      errno: -5,
      message: 'EIO: the IOMMU driver failed the map, VFIO_IOMMU_MAP_DMA',
    });
    Object.defineProperty(dom, 'ops', { value: ops });
    expect(env.c.mappings()).toEqual([]);
  });
});

describe('container: groups, drivers and calls leave nothing behind', () => {
  /** A reference driver of the container's release whose every IOVA is reserved: no usable iova list. */
  const allReserved = (env: Env) =>
    createReferenceDriver(env.sim, {
      release: 'mainline',
      name: 'full',
      resvRegions: [{ start: 0, last: 2 ** 40 - 1, type: IOMMU_RESV_RESERVED }],
    });

  it('test_get_api_version_ignores_its_argument', () => {
    const env = makeEnv({ profile: 'mainline' });
    e = env;
    expect(env.c.ioctl(VFIO_GET_API_VERSION, VFIO_TYPE1v2_IOMMU)).toBe(0);
    expect(env.c.ioctl(VFIO_GET_API_VERSION, new Uint8Array(4))).toBe(0);
  });

  it('test_set_iommu_unwinds_the_groups_attached_before_a_failure', () => {
    const env = makeEnv({ profile: 'mainline', noSet: true });
    e = env;
    const bad = env.host.addGroup(allReserved(env), { devices: 1 });
    env.c.addGroup(bad);
    expect(thrown(() => env.c.setIommu(VFIO_TYPE1v2_IOMMU))).toMatchObject({
      code: 'EINVAL',
      message: `EINVAL: attaching group ${bad.id} failed, VFIO_SET_IOMMU`,
    });
    // the first group, attached before the failure, is detached again; nothing is set
    expect(env.c.iommu).toBe(null);
    expect(env.drv.deviceDomain(env.group.devices[0]!)).toBe(null);
    expect(bad.drv.deviceDomain(bad.devices[0]!)).toBe(null);
    expect(env.sim.checker.callStack).toEqual([]);
    env.c.removeGroup(bad);
    env.c.setIommu(VFIO_TYPE1_IOMMU);
    expect(env.drv.deviceDomain(env.group.devices[0]!)).not.toBe(null);
  });

  it('test_add_group_after_set_iommu_failure', () => {
    const env = makeEnv({ profile: 'mainline' });
    e = env;
    const bad = env.host.addGroup(allReserved(env), { devices: 1 });
    expect(thrown(() => env.c.addGroup(bad))).toMatchObject({
      code: 'EINVAL',
      syscall: 'VFIO_GROUP_SET_CONTAINER',
      message: 'EINVAL: attach failed (EINVAL), VFIO_GROUP_SET_CONTAINER',
    });
    expect(bad.container).toBe(null);
    expect(env.c.groups).toEqual([env.group]);
    expect(env.sim.checker.callStack).toEqual([]);
  });

  it('test_group_errors_name_the_group', () => {
    const env = makeEnv({ profile: 'mainline' });
    e = env;
    const other = env.host.openContainer(env.proc, {});
    const g2 = env.host.addGroup(env.drv, { devices: 1 });
    expect(thrown(() => other.addGroup(env.group))).toMatchObject({
      message: `EINVAL: group ${env.group.id} is already set to a container, VFIO_GROUP_SET_CONTAINER`,
    });
    expect(thrown(() => other.removeGroup(g2))).toMatchObject({
      message: `EINVAL: group ${g2.id} is not in this container, VFIO_GROUP_UNSET_CONTAINER`,
    });
    expect(g2.id).toBe(env.group.id + 1);
    other.close();
  });

  it('test_remove_group_leaves_the_call_stack_empty', () => {
    const env = makeEnv({ profile: 'mainline' });
    e = env;
    const g2 = env.host.addGroup(env.drv, { devices: 1 });
    env.c.addGroup(g2);
    env.c.removeGroup(g2);
    expect(env.sim.checker.callStack).toEqual([]);
    env.c.close();
    expect(env.sim.checker.callStack).toEqual([]);
  });

  it('test_driver_without_release_joins_any_container', () => {
    const env = makeEnv({ profile: 'v4.17', noSet: true });
    e = env;
    // a driver that models no release (a copy of the reference driver without one): the container
    // accepts it whatever its own release
    const drv = Object.assign(Object.create(Object.getPrototypeOf(env.drv)), env.drv, { name: 'plain', release: undefined });
    const g = env.host.addGroup(drv, { devices: 1 });
    env.c.addGroup(g);
    expect(env.c.groups.length).toBe(2);
    env.c.removeGroup(g);
  });

  it('test_mixed_release_message_names_mainline', () => {
    const env = makeEnv({ profile: 'mainline', noSet: true });
    e = env;
    const old = env.host.addGroup(createReferenceDriver(env.sim, { release: 'v4.17' }), { devices: 1 });
    const err = thrown(() => env.c.addGroup(old));
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toBe(
      `group ${old.id}'s IOMMU driver ref models v4.17 but the container models ${env.c.spec.release} (mainline): create both for one release, or pass mixReleases: true to openContainer`,
    );
    expect(env.c.spec.release).toMatch(/^v\d+\.\d+$/);
    const mixed = env.host.openContainer(env.proc, { profile: 'mainline', mixReleases: true });
    mixed.addGroup(old);
    mixed.close();
  });

  // v4.17: IOMMU_CACHE only where the driver is coherent (mainline sets it always)
  it('test_dma_cc_iommu_needs_every_domain_coherent', () => {
    const env = makeEnv({ profile: 'v4.17' });
    e = env;
    expect(env.c.checkExtension(VFIO_DMA_CC_IOMMU)).toBe(1);
    const nc = env.host.addGroup(createReferenceDriver(env.sim, { release: 'v4.17', cacheCoherent: false, name: 'nc' }), { devices: 1 });
    env.c.addGroup(nc);
    expect(env.c.iommu!.domains.length).toBe(2);
    expect(env.c.checkExtension(VFIO_DMA_CC_IOMMU)).toBe(0);
    env.c.removeGroup(nc);
    expect(env.c.checkExtension(VFIO_DMA_CC_IOMMU)).toBe(1);
  });

  it('test_trace_only_when_on', () => {
    const env = makeEnv({ profile: 'mainline' });
    e = env;
    const va = env.proc.mmap(M2, { backing: 'thp' });
    env.c.mapDma({ vaddr: va, iova: 0n, size: K4, flags: RW });
    expect(env.sim.trace.events).toEqual([]);
    env.sim.trace.on = true;
    env.c.unmapDma({ iova: 0n, size: K4 });
    const ev = env.sim.trace.events.filter((x) => x.name.startsWith('VFIO_'));
    expect(ev.map((x) => [x.ph, x.name])).toEqual([
      ['B', 'VFIO_IOMMU_UNMAP_DMA'],
      ['E', 'VFIO_IOMMU_UNMAP_DMA'],
    ]);
    env.sim.trace.on = false;
  });

  it.each<[Profile, number]>([
    ['v4.17', 1],
    ['mainline', 2],
  ])('test_get_info_asks_again_only_for_capabilities %s', (profile, ioctls) => {
    const env = makeEnv({ profile });
    e = env;
    const n0 = env.sim.counters['vfio.ioctls']!;
    const info = env.c.getInfo();
    // mainline reports capabilities (the iova ranges, dma_avail): a second call with the argsz the first returned
    expect(env.sim.counters['vfio.ioctls']! - n0).toBe(ioctls);
    expect(info.capOffset === undefined).toBe(ioctls === 1);
  });

  // the accounting check runs after the calls that can change it (MAP/UNMAP, group changes, close),
  // not after GET_INFO; check() runs it on demand and returns only what it added
  it('test_accounting_checked_after_map_not_after_get_info', () => {
    const env = makeEnv({ profile: 'mainline' });
    e = env;
    const va = env.proc.mmap(M2, { backing: 'thp' });
    env.c.mapDma({ vaddr: va, iova: 0n, size: K4, flags: RW });
    env.proc.lockedVm += 5; // charged by someone else: locked_vm no longer matches the containers
    env.c.getInfo();
    expect(env.sim.checker.violations).toEqual([]);
    const found = env.c.check();
    expect(found.map((v) => [v.kind, v.detail])).toEqual([
      ['locked-vm-mismatch', `pid ${env.proc.pid} locked_vm 6 pages, its containers charged 1`],
    ]);
    expect(env.c.check().length).toBe(1);
    expect(env.sim.checker.violations.length).toBe(2);
    env.c.mapDma({ vaddr: va + K4, iova: K4, size: K4, flags: RW });
    expect(env.sim.checker.violations.length).toBe(3);
    expect(env.sim.checker.violations[2]!.call).toBe('VFIO_IOMMU_MAP_DMA');
    env.proc.lockedVm -= 5;
    env.sim.checker.violations.length = 0;
  });

  // close() of a closed fd does nothing: no second accounting check, no change to the host's list
  it('test_second_close_checks_nothing', () => {
    const env = makeEnv({ profile: 'mainline' });
    e = env;
    expectCleanClose(env);
    env.proc.lockedVm += 1;
    env.c.close();
    expect(env.sim.checker.violations).toEqual([]);
    env.proc.lockedVm -= 1;
  });

  // a Container constructed directly (not through openContainer) is not in host.containers: its
  // close() leaves the containers that are alone
  it('test_close_of_an_unlisted_container', () => {
    const env = makeEnv({ profile: 'mainline' });
    e = env;
    const loose = new Container(env.host, env.proc, { profile: 'mainline' });
    expect(env.host.containers).toEqual([env.c]);
    loose.close();
    expect(loose.closed).toBe(true);
    expect(env.host.containers).toEqual([env.c]);
  });
});
