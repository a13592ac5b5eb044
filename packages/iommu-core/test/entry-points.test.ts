// The main entry holds only what users of the package call; engine pieces and test helpers live in
// the subpaths (README "Entry points"). A name added to src/index.ts fails this test until it is listed here.
import { describe, expect, it } from 'vitest';
import * as main from '../src/index.js';
import * as internals from '../src/internals.js';
import * as testing from '../src/testing.js';
import { exportedTwice } from '../src/testing.js';

const MAIN = [
  'BACKING_PROFILES',
  'CORE_TIMELINE',
  'DEFAULT_MACHINE',
  'ENTRY_IDS',
  'ERRNO',
  'HW_EVENTS',
  'IOMMU_CACHE',
  'IOMMU_CAP_CACHE_COHERENCY',
  'IOMMU_CAP_INTR_REMAP',
  'IOMMU_CAP_NOEXEC',
  'IOMMU_DOMAIN_BLOCKED',
  'IOMMU_DOMAIN_DMA',
  'IOMMU_DOMAIN_IDENTITY',
  'IOMMU_DOMAIN_UNMANAGED',
  'IOMMU_FAULT_READ',
  'IOMMU_FAULT_WRITE',
  'IOMMU_MMIO',
  'IOMMU_NOEXEC',
  'IOMMU_PRIV',
  'IOMMU_READ',
  'IOMMU_RESV_DIRECT',
  'IOMMU_RESV_DIRECT_RELAXABLE',
  'IOMMU_RESV_MSI',
  'IOMMU_RESV_RESERVED',
  'IOMMU_RESV_SW_MSI',
  'IOMMU_WRITE',
  'IommuError',
  'IotlbGather',
  'KEY_RELEASES',
  'MACHINES',
  'MACHINE_NAMES',
  'MAX_EVENT_NS',
  'NEWEST_RELEASE',
  'OLDEST_RELEASE',
  'PhysMem',
  'RELEASES',
  'ReferenceDriver',
  'SZ_1G',
  'SZ_2M',
  'SZ_4K',
  'Sim',
  'SimObservers',
  'SysError',
  'TRACE_ALL',
  'TRACE_IOCTL',
  'TRACE_IOMMU',
  'Tracer',
  '__IOMMU_DOMAIN_PAGING',
  'backingPfn',
  'costError',
  'createIotlbGather',
  'createReferenceDriver',
  'createSim',
  'domainMarkFreed',
  'entriesAt',
  'errnoName',
  'iommuFlushIotlbAll',
  'iommuIotlbGatherAddPage',
  'iommuIotlbGatherAddRange',
  'iommuIotlbGatherIsDisjoint',
  'iommuIovaToPhys',
  'iommuMap',
  'iommuPgsize',
  'iommuPgsizeCount',
  'iommuTlbRangeAdd',
  'iommuTlbSync',
  'iommuUnmap',
  'iommuUnmapFast',
  'isBackingProfile',
  'isIommuError',
  'isMachineName',
  'isProfileName',
  'isReleaseName',
  'isSysError',
  'machineCosts',
  'machineError',
  'machineProfile',
  'namedReleases',
  'parseBacking',
  'parseProfile',
  'parseRelease',
  'previousRelease',
  'profileError',
  'releaseAtLeast',
  'releaseError',
  'releaseIndex',
  'timelineDiff',
  'timelineFlags',
  'traceIova',
];

describe('entry points', () => {
  it('test_main_entry_exports_exactly_the_public_api', () => {
    expect(Object.keys(main).sort()).toEqual(MAIN);
  });

  it('test_no_name_is_exported_from_two_entries', () => {
    expect(exportedTwice({ main, internals, testing })).toEqual([]);
  });

  it('test_exported_twice_names_each_repeat_with_both_entries', () => {
    const a = { x: 1, y: 2 },
      b = { y: 3 },
      c = { x: 0, z: 1 };
    expect(exportedTwice({ a, b, c })).toEqual(['y: a and b', 'x: a and c']);
    expect(exportedTwice({ a, c: { z: 1 } })).toEqual([]);
  });
});
