// Profile names: a release with single timeline entries switched on ('+id') or off ('~id'), the
// one syntax every package reads, and what the switches do to a timeline's flags.
import { describe, expect, it } from 'vitest';
import {
  CORE_TIMELINE,
  ENTRY_IDS,
  RELEASES,
  isProfileName,
  parseProfile,
  profileError,
  releaseAtLeast,
  timelineFlags,
} from '../src/index.js';

const RANGE = '(a release from v3.19 to v7.1, or mainline)';
const unknownEntry = (id: string, name: string): string =>
  `unknown timeline entry '${id}' in profile '${name}' (see \`vfio-sim timeline\` for the entry ids)`;

describe('profile names', () => {
  it.each([
    ['v4.0', { release: 'v4.0', on: [], off: [] }],
    ['mainline', { release: 'v7.1', on: [], off: [] }],
    ['v4.0+remove-fgsp', { release: 'v4.0', on: ['remove-fgsp'], off: [] }],
    ['v6.18~folio-batch-acct', { release: 'v6.18', on: [], off: ['folio-batch-acct'] }],
    ['v5.10+vtd-iotlb-sync~iotlb-gather+gup-thp-fast', { release: 'v5.10', on: ['vtd-iotlb-sync', 'gup-thp-fast'], off: ['iotlb-gather'] }],
    // switching on what the release already has is allowed and changes nothing
    ['mainline+map-pages', { release: 'v7.1', on: ['map-pages'], off: [] }],
  ])('test_good_profile %s', (name, want) => {
    expect(isProfileName(name)).toBe(true);
    expect(parseProfile(name)).toEqual(want);
    expect(profileError(name)).toBe(`'${name}' is a valid profile`);
    expect(parseProfile(name)).toBe(parseProfile(name)); // parsed once
    // the parse is memoised: every caller gets the same object, so it must be read-only
    const p = parseProfile(name);
    expect([Object.isFrozen(p), Object.isFrozen(p.on), Object.isFrozen(p.off)]).toEqual([true, true, true]);
  });

  it.each([
    ['v4.0+nope', unknownEntry('nope', 'v4.0+nope')],
    ['v4.0+remove-fgsp+remove-fgsp', "profile 'v4.0+remove-fgsp+remove-fgsp' names entry 'remove-fgsp' twice"],
    ['v4.0+remove-fgsp~remove-fgsp', "profile 'v4.0+remove-fgsp~remove-fgsp' names entry 'remove-fgsp' twice"],
    ['v4.0~', unknownEntry('', 'v4.0~')],
    ['v4.0+', unknownEntry('', 'v4.0+')],
    ['v9.9+x', `release 'v9.9' is newer than v7.1, the newest this model covers ${RANGE}`],
    ['+map-pages', `unknown release '' ${RANGE}`],
    ['v4.0 +map-pages', `unknown release 'v4.0 ' ${RANGE}`],
    ['v4.0+Map-Pages', unknownEntry('Map-Pages', 'v4.0+Map-Pages')],
  ])('test_bad_profile %s', (name, msg) => {
    expect(isProfileName(name)).toBe(false);
    expect(profileError(name)).toBe(msg);
    expect(() => parseProfile(name)).toThrow(new RangeError(msg));
    expect(() => timelineFlags(CORE_TIMELINE, name)).toThrow(new RangeError(msg));
  });

  it('test_profile_not_a_string', () => {
    for (const v of [5, undefined, null]) {
      expect(isProfileName(v)).toBe(false);
      expect(profileError(v)).toBe(`unknown release '${String(v)}' ${RANGE}`);
    }
  });

  it('test_release_at_least_ignores_switches', () => {
    expect(releaseAtLeast('v4.0+remove-fgsp', 'v4.0')).toBe(true);
    expect(releaseAtLeast('v4.0+remove-fgsp', 'v6.16')).toBe(false);
    expect(releaseAtLeast('v6.18~folio-batch-acct', 'v6.18')).toBe(true);
    expect(releaseAtLeast('mainline~map-pages', 'v7.1')).toBe(true);
  });
});

describe('timeline flags with switches', () => {
  it('test_flags_plus_and_tilde', () => {
    const v510 = timelineFlags(CORE_TIMELINE, 'v5.10');
    expect(v510).toEqual({
      'iommu-tlb-interface': true,
      'iotlb-gather': true,
      'map-pages': false,
      'vtd-iotlb-sync': false,
      'vtd-map-pages': false,
      'vtd-real-pgsize': false,
    });
    expect(timelineFlags(CORE_TIMELINE, 'v5.10+vtd-iotlb-sync')).toEqual({ ...v510, 'vtd-iotlb-sync': true });
    expect(timelineFlags(CORE_TIMELINE, 'v5.10~iotlb-gather')).toEqual({ ...v510, 'iotlb-gather': false });
    expect(timelineFlags(CORE_TIMELINE, 'v5.10+vtd-real-pgsize~iommu-tlb-interface')).toEqual({
      ...v510,
      'vtd-real-pgsize': true,
      'iommu-tlb-interface': false,
    });
    const main = timelineFlags(CORE_TIMELINE, 'mainline');
    expect(Object.values(main).every((x) => x)).toBe(true);
    expect(timelineFlags(CORE_TIMELINE, 'mainline+map-pages')).toEqual(main);
    expect(timelineFlags(CORE_TIMELINE, 'mainline~map-pages~vtd-map-pages')).toEqual({
      ...main,
      'map-pages': false,
      'vtd-map-pages': false,
    });
  });

  it('test_other_timelines_switches_leave_these_flags_alone', () => {
    // '+remove-fgsp' and '~folio-batch-acct' are vfio-type1 entries: the core's flags are the release's
    expect(timelineFlags(CORE_TIMELINE, 'v4.0+remove-fgsp')).toEqual(timelineFlags(CORE_TIMELINE, 'v4.0'));
    expect(timelineFlags(CORE_TIMELINE, 'v6.18~folio-batch-acct')).toEqual(timelineFlags(CORE_TIMELINE, 'v6.18'));
  });

  it('test_each_switch_moves_only_its_entry_in_every_release', () => {
    for (const r of RELEASES) {
      const base = timelineFlags(CORE_TIMELINE, r);
      for (const e of CORE_TIMELINE) {
        expect(timelineFlags(CORE_TIMELINE, `${r}+${e.id}`), `${r}+${e.id}`).toEqual({ ...base, [e.id]: true });
        expect(timelineFlags(CORE_TIMELINE, `${r}~${e.id}`), `${r}~${e.id}`).toEqual({ ...base, [e.id]: false });
      }
    }
  });
});

describe('entry ids', () => {
  it('test_entry_ids_unique_and_hold_the_core_timeline', () => {
    expect(new Set(ENTRY_IDS).size).toBe(ENTRY_IDS.length);
    for (const e of CORE_TIMELINE) expect(ENTRY_IDS, e.id).toContain(e.id);
    for (const id of ENTRY_IDS) {
      expect(id, id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/); // no '+' / '~' that would split a profile name
      expect(isProfileName(`v4.0+${id}`), id).toBe(true);
    }
  });
});
