// Container-level ioctls: API version, CHECK_EXTENSION per era, SET_IOMMU rules, fd-state errors.
import { afterEach, describe, expect, it } from 'vitest';
import {
  VFIO_API_VERSION,
  VFIO_CHECK_EXTENSION,
  VFIO_DMA_CC_IOMMU,
  VFIO_GET_API_VERSION,
  VFIO_IOMMU_DIRTY_PAGES,
  VFIO_IOMMU_ENABLE,
  VFIO_IOMMU_MAP_DMA,
  VFIO_NOIOMMU_IOMMU,
  VFIO_SET_IOMMU,
  VFIO_SPAPR_TCE_IOMMU,
  VFIO_TYPE1_IOMMU,
  VFIO_TYPE1_NESTING_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  VFIO_UNMAP_ALL,
  VFIO_UPDATE_VADDR,
  encodeDmaMap,
  type Profile,
} from '../src/index.js';
import { M2, RW, expectCleanClose, makeEnv, type Env } from './helpers.js';

let e: Env;
afterEach(() => {
  if (e !== undefined && !e.c.closed) expectCleanClose(e);
});

const EXTS = [
  VFIO_TYPE1_IOMMU,
  VFIO_SPAPR_TCE_IOMMU,
  VFIO_TYPE1v2_IOMMU,
  VFIO_DMA_CC_IOMMU,
  VFIO_TYPE1_NESTING_IOMMU,
  VFIO_NOIOMMU_IOMMU,
  VFIO_UNMAP_ALL,
  VFIO_UPDATE_VADDR,
  42,
];

describe('container', () => {
  it('test_api_version', () => {
    e = makeEnv({ noSet: true });
    expect(VFIO_API_VERSION).toBe(0);
    expect(e.c.ioctl(VFIO_GET_API_VERSION)).toBe(0);
    expect(e.c.getApiVersion()).toBe(0);
    expect([VFIO_GET_API_VERSION, VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU, VFIO_IOMMU_MAP_DMA]).toEqual([0x3b64, 0x3b65, 0x3b66, 0x3b71]);
  });

  it.each<[Profile, number[], number[]]>([
    //               before SET_IOMMU              after SET_IOMMU(v2)
    ['v4.16', [1, 0, 1, 0, 1, 0, 0, 0, 0], [1, 0, 1, 1, 1, 0, 0, 0, 0]],
    ['v4.17', [1, 0, 1, 0, 1, 0, 0, 0, 0], [1, 0, 1, 1, 1, 0, 0, 0, 0]],
    ['mainline', [1, 0, 1, 0, 0, 0, 1, 0, 0], [1, 0, 1, 1, 0, 0, 1, 1, 0]],
  ])('test_check_extension profile=%s', (profile, before, after) => {
    e = makeEnv({ profile, noSet: true });
    expect(EXTS.map((x) => e.c.ioctl(VFIO_CHECK_EXTENSION, x))).toEqual(before);
    e.c.setIommu(VFIO_TYPE1v2_IOMMU);
    expect(EXTS.map((x) => e.c.checkExtension(x))).toEqual(after);
  });

  it('test_set_iommu_rules', () => {
    e = makeEnv({ profile: 'mainline', noSet: true });
    const bare = e.host.openContainer(e.proc, {});
    expect(() => bare.setIommu(VFIO_TYPE1v2_IOMMU)).toThrow(
      expect.objectContaining({ code: 'EINVAL', errno: -22, syscall: 'VFIO_SET_IOMMU' }),
    );
    bare.close();
    expect(() => e.c.setIommu(VFIO_SPAPR_TCE_IOMMU)).toThrow(expect.objectContaining({ code: 'ENODEV', errno: -19 }));
    expect(() => e.c.ioctl(VFIO_SET_IOMMU, VFIO_TYPE1_NESTING_IOMMU)).toThrow(expect.objectContaining({ code: 'ENODEV' }));
    expect(e.c.iommu).toBe(null);
    expect(e.c.ioctl(VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU)).toBe(0);
    expect(e.c.iommu!.v2).toBe(false);
    expect(() => e.c.setIommu(VFIO_TYPE1v2_IOMMU)).toThrow(expect.objectContaining({ code: 'EINVAL', errno: -22 }));
  });

  it('test_nesting_is_v2_in_4x', () => {
    e = makeEnv({ profile: 'v4.17', noSet: true });
    e.c.setIommu(VFIO_TYPE1_NESTING_IOMMU);
    expect(e.c.iommu!.v2).toBe(true);
  });

  it('test_ioctl_state_errors', () => {
    e = makeEnv({ profile: 'mainline', noSet: true });
    const va = e.proc.mmap(M2, { backing: 'thp' });
    const m = encodeDmaMap({ vaddr: va, iova: 0n, size: M2, flags: RW });
    expect(() => e.c.ioctl(VFIO_IOMMU_MAP_DMA, m)).toThrow(
      expect.objectContaining({ code: 'EINVAL', errno: -22, syscall: 'VFIO_IOMMU_MAP_DMA' }),
    );
    expect(() => e.c.ioctl(VFIO_IOMMU_ENABLE)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    e.c.setIommu(VFIO_TYPE1v2_IOMMU);
    expect(() => e.c.ioctl(VFIO_IOMMU_ENABLE)).toThrow(expect.objectContaining({ code: 'ENOTTY', errno: -25 }));
    expect(() => e.c.ioctl(VFIO_IOMMU_DIRTY_PAGES, new Uint8Array(8))).toThrow(expect.objectContaining({ code: 'ENOTTY' }));
    expect(() => e.c.ioctl(VFIO_IOMMU_MAP_DMA, 5)).toThrow(expect.objectContaining({ code: 'EFAULT', errno: -14 }));
    expect(e.c.ioctl(VFIO_IOMMU_MAP_DMA, m)).toBe(0);
  });

  it('test_group_set_twice_einval', () => {
    e = makeEnv({ profile: 'v4.17' });
    const other = e.host.openContainer(e.proc, { profile: 'v4.17' });
    expect(() => other.addGroup(e.group)).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'VFIO_GROUP_SET_CONTAINER' }));
    expect(() => other.removeGroup(e.group)).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'VFIO_GROUP_UNSET_CONTAINER' }));
    other.close();
  });

  it('test_close_is_final', () => {
    e = makeEnv({ profile: 'mainline' });
    const va = e.proc.mmap(4n * M2, { backing: 'thp' });
    e.c.mapDma({ vaddr: va, iova: 0n, size: 4n * M2, flags: RW });
    expectCleanClose(e);
    expect(e.group.container).toBe(null);
    expect(e.c.stats().mapCalls).toBe(1);
    expect(e.c.stats().unmapChunks).toBe(4);
    expect(() => e.c.getInfo()).toThrow(expect.objectContaining({ code: 'EBADF', errno: -9 }));
  });
});
