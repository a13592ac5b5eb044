// The main entry holds only what users of the package call; engine pieces and test helpers live in
// the subpaths (README "Entry points"). A name added to src/index.ts fails this test until it is listed here.
import { describe, expect, it } from 'vitest';
import { exportedTwice } from '@x/iommu-core/testing';
import * as main from '../src/index.js';
import * as internals from '../src/internals.js';

const MAIN = [
  'Container',
  'DMA_MAP_MINSZ',
  'DMA_UNMAP_BITMAP_MINSZ',
  'DMA_UNMAP_MINSZ',
  'Group',
  'Host',
  'INFO_MINSZ',
  'INFO_SIZE',
  'PROFILES',
  'PROFILE_NAMES',
  'Process',
  'SysError',
  'VFIO_API_VERSION',
  'VFIO_CHECK_EXTENSION',
  'VFIO_DMA_CC_IOMMU',
  'VFIO_DMA_MAP_FLAG_READ',
  'VFIO_DMA_MAP_FLAG_VADDR',
  'VFIO_DMA_MAP_FLAG_WRITE',
  'VFIO_DMA_UNMAP_FLAG_ALL',
  'VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP',
  'VFIO_DMA_UNMAP_FLAG_VADDR',
  'VFIO_EEH',
  'VFIO_GET_API_VERSION',
  'VFIO_GROUP_GET_STATUS',
  'VFIO_GROUP_SET_CONTAINER',
  'VFIO_GROUP_UNSET_CONTAINER',
  'VFIO_IOMMU_DIRTY_PAGES',
  'VFIO_IOMMU_DISABLE',
  'VFIO_IOMMU_ENABLE',
  'VFIO_IOMMU_GET_INFO',
  'VFIO_IOMMU_INFO_CAPS',
  'VFIO_IOMMU_INFO_PGSIZES',
  'VFIO_IOMMU_MAP_DMA',
  'VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE',
  'VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION',
  'VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL',
  'VFIO_IOMMU_UNMAP_DMA',
  'VFIO_NOIOMMU_IOMMU',
  'VFIO_SET_IOMMU',
  'VFIO_SPAPR_TCE_IOMMU',
  'VFIO_SPAPR_TCE_v2_IOMMU',
  'VFIO_TIMELINE',
  'VFIO_TYPE1_IOMMU',
  'VFIO_TYPE1_NESTING_IOMMU',
  'VFIO_TYPE1v2_IOMMU',
  'VFIO_UNMAP_ALL',
  'VFIO_UPDATE_VADDR',
  'VfioDomain',
  'VfioError',
  'VfioIommu',
  'VfioStats',
  'Vma',
  'decodeDmaMap',
  'decodeDmaUnmap',
  'decodeInfo',
  'encodeDmaMap',
  'encodeDmaUnmap',
  'encodeInfoRequest',
  'isVfioError',
  'profileSpec',
];

describe('entry points', () => {
  it('test_main_entry_exports_exactly_the_public_api', () => {
    expect(Object.keys(main).sort()).toEqual(MAIN);
  });

  it('test_no_name_is_exported_from_two_entries', () => {
    expect(exportedTwice({ main, internals })).toEqual([]);
  });
});
