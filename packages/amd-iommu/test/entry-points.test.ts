// The main entry holds only what users of the package call; engine pieces and test helpers live in
// the subpaths (README "Entry points"). A name added to src/index.ts fails this test until it is listed here.
import { describe, expect, it } from 'vitest';
import { exportedTwice } from '@x/iommu-core/testing';
import * as main from '../src/index.js';
import * as internals from '../src/internals.js';
import * as testing from '../src/testing.js';

const MAIN = [
  'AMD_IOMMU_PGSIZES',
  'AMD_PROFILES',
  'AMD_PROFILE_NAMES',
  'AMD_TIMELINE',
  'AmdIommu',
  'CMD_NAMES',
  'EVENT_FLAG_GN',
  'EVENT_FLAG_I',
  'EVENT_FLAG_NX',
  'EVENT_FLAG_PE',
  'EVENT_FLAG_PR',
  'EVENT_FLAG_RW',
  'EVENT_FLAG_RZ',
  'EVENT_FLAG_TN',
  'EVENT_FLAG_US',
  'EVENT_ILLEGAL_COMMAND_ERROR',
  'EVENT_IO_PAGE_FAULT',
  'EVENT_NAMES',
  'amdProfile',
  'createAmdIommu',
];

describe('entry points', () => {
  it('test_main_entry_exports_exactly_the_public_api', () => {
    expect(Object.keys(main).sort()).toEqual(MAIN);
  });

  it('test_no_name_is_exported_from_two_entries', () => {
    expect(exportedTwice({ main, internals, testing })).toEqual([]);
  });
});
