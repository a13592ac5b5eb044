// Public types against what the code does: options that may be `undefined` (exactOptionalPropertyTypes),
// AmdEvent.type as the union of the events the hardware logs, commands() keyed by CmdName.
// Regression for the TypeScript-user API review (items 2 and 3).
import { describe, expect, expectTypeOf, it } from 'vitest';
import { IOMMU_READ, IOMMU_RESV_MSI, createSim, iommuMap, type IotlbPolicy } from '@x/iommu-core';
import {
  AMD_PROFILES,
  CMD_NAMES,
  type EVENT_IO_PAGE_FAULT,
  type EVENT_NAMES,
  createAmdIommu,
  type AmdEvent,
  type AmdEventName,
  type AmdEventType,
  type AmdIommuOptions,
  type CmdName,
} from '../src/index.js';
import { AmdIommuHw, createAmdv1Format } from '../src/internals.js';
import { DEV, RW, setup } from './helpers.js';

const maybe = <T>(v: T | undefined): T | undefined => v;

describe('amd_iommu options', () => {
  it('test_options_undefined_is_absent', () => {
    const all: { [K in keyof Required<AmdIommuOptions>]: undefined } = {
      profile: undefined,
      quirks: undefined,
      iotlbEntries: undefined,
      iotlbPolicy: undefined,
      vaBits: undefined,
      resvRegions: undefined,
      name: undefined,
    };
    const a = createAmdIommu(createSim({ memory: 1n << 30n, seed: 1 }), all);
    const b = createAmdIommu(createSim({ memory: 1n << 30n, seed: 1 }), {});
    for (const amd of [a, b]) {
      // one default release for every factory: openContainer() defaults to mainline too
      expect(amd.profile).toBe('mainline');
      expect(amd.name).toBe('amd-iommu mainline');
      expect(amd.quirks).toEqual(AMD_PROFILES.mainline!.quirks);
      expect([amd.hw.iotlb.capacity, amd.hw.iotlb.policy, amd.hw.cmdRing.entries]).toEqual([1024, 'lru', 512]);
      expect(amd.resvRegions(DEV)).toEqual([{ start: 0xfee00, last: 0xfeeff, type: IOMMU_RESV_MSI }]);
      expect(amd.domainAlloc().geometry.apertureEnd).toBe(2 ** 52 - 1); // vaBits 64
    }
  });

  it('test_options_undefined_quirk_keeps_profile', () => {
    // a spread of { keepTables: undefined } would have replaced mainline's false with undefined
    const amd = createAmdIommu(createSim({ memory: 1n << 30n, seed: 1 }), {
      profile: 'mainline',
      quirks: { ebusyOnPresent: true, keepTables: undefined, semaphoreOne: maybe<boolean>(undefined) },
    });
    expect(amd.quirks).toEqual({ ...AMD_PROFILES.mainline!.quirks, ebusyOnPresent: true });
    expect(Object.values(amd.quirks).every((v) => typeof v === 'boolean')).toBe(true);
  });

  it('test_hw_and_format_options_undefined_is_absent', () => {
    const sim = createSim({ memory: 1n << 30n, seed: 1 });
    const hw = new AmdIommuHw(sim, { iotlbEntries: undefined, iotlbPolicy: maybe<IotlbPolicy>(undefined), cmdEntries: undefined });
    expect([hw.iotlb.capacity, hw.iotlb.policy, hw.cmdRing.entries]).toEqual([1024, 'lru', 512]);
    // forceCoherence undefined: FC set, as by default
    const leaf = (fmt: ReturnType<typeof createAmdv1Format>): number[] => {
      const words = new Int32Array(2);
      fmt.installLeaves(words, 0, 0, 0x1234, 12, IOMMU_READ, 1);
      return [...words];
    };
    const dflt = leaf(createAmdv1Format());
    expect(leaf(createAmdv1Format({ forceCoherence: undefined }))).toEqual(dflt);
    expect(leaf(createAmdv1Format({ forceCoherence: false }))).not.toEqual(dflt);
  });
});

describe('amd_iommu event and command names', () => {
  it('test_event_type_union', () => {
    expectTypeOf<AmdEvent['type']>().toEqualTypeOf<'IO_PAGE_FAULT' | 'ILLEGAL_COMMAND_ERROR'>();
    expectTypeOf<AmdEventType>().toEqualTypeOf<AmdEvent['type']>();
    expectTypeOf<(typeof EVENT_NAMES)[typeof EVENT_IO_PAGE_FAULT]>().toEqualTypeOf<AmdEventName>();
    const f = setup({ profile: 'mainline' });
    expect(f.amd.dma(DEV, 0x10, 1, 'read')).toBe(false); // not mapped: IO_PAGE_FAULT
    const ring = f.amd.hw.cmdRing;
    ring.words.fill(0, ring.slot(), ring.slot() + 4); // opcode 0: ILLEGAL_COMMAND_ERROR
    ring.advance();
    f.amd.hw.doorbell();
    expect(f.amd.eventLog().map((e) => [e.type, e.code])).toEqual([
      ['IO_PAGE_FAULT', 2],
      ['ILLEGAL_COMMAND_ERROR', 5],
    ]);
  });

  it('test_event_unknown_code_throws', () => {
    // only a write to the log's memory can put another code there; drain refuses it and keeps it
    const f = setup({ profile: 'mainline' });
    const log = f.amd.hw.events;
    log.words[(log.tail >>> 2) + 1] = 3 << 28; // DEV_TAB_HARDWARE_ERROR
    log.tail += 16;
    expect(() => f.amd.eventLog()).toThrow(
      new Error('BUG: event code 3 (DEV_TAB_HARDWARE_ERROR) in the log; this hardware writes only IO_PAGE_FAULT and ILLEGAL_COMMAND_ERROR'),
    );
    expect([log.head, log.tail]).toEqual([0, 16]);
  });

  it('test_commands_keyed_by_cmd_name', () => {
    const f = setup({ profile: 'v4.17' });
    const c = f.amd.commands();
    expectTypeOf(c).toEqualTypeOf<Record<CmdName, number>>();
    expectTypeOf<keyof typeof c>().toEqualTypeOf<CmdName>();
    expect(Object.keys(c)).toEqual(CMD_NAMES.slice(1));
    iommuMap(f.dom, 0x10, f.sim.mem.allocFrames(1), 1, RW);
    expect(c).toEqual({
      // the attach: DTE, domain flush, wait
      COMPLETION_WAIT: 1,
      INVALIDATE_DEVTAB_ENTRY: 1,
      INVALIDATE_IOMMU_PAGES: 1,
      INVALIDATE_IOTLB_PAGES: 0,
      INVALIDATE_INTERRUPT_TABLE: 0,
      PREFETCH_IOMMU_PAGES: 0,
      COMPLETE_PPR_REQUEST: 0,
      INVALIDATE_IOMMU_ALL: 0,
    });
  });
});
