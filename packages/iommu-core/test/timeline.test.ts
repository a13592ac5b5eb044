// The kernel timeline: release names and their order, the entry data, the diff between two
// releases, and the VT-d flush behaviour the reference driver takes from it by release.
import { describe, expect, it } from 'vitest';
import {
  CORE_TIMELINE,
  KEY_RELEASES,
  NEWEST_RELEASE,
  OLDEST_RELEASE,
  RELEASES,
  createIotlbGather,
  entriesAt,
  iommuMap,
  iommuTlbRangeAdd,
  iommuTlbSync,
  iommuUnmap,
  iommuUnmapFast,
  isReleaseName,
  namedReleases,
  parseRelease,
  previousRelease,
  releaseAtLeast,
  releaseError,
  timelineDiff,
  timelineFlags,
  SZ_1G,
  SZ_2M,
  SZ_4K,
  type TimelineEntry,
} from '../src/index.js';
import { sortTimeline, timelineMarkdown, withTimelineTable } from '../src/internals.js';
import { checkTimeline } from '../src/testing.js';
import { expectClean, leaves, makeHarness, RW } from './harness.js';

const RANGE = '(a release from v3.19 to v7.1, or mainline)';

describe('releases', () => {
  it('test_release_list: every release from v3.19 to v7.1, in order', () => {
    // 3.19, 4.0..4.20, 5.0..5.19, 6.0..6.19, 7.0..7.1
    expect(RELEASES.length).toBe(1 + 21 + 20 + 20 + 2);
    expect([OLDEST_RELEASE, NEWEST_RELEASE]).toEqual(['v3.19', 'v7.1']);
    expect(RELEASES.slice(0, 3)).toEqual(['v3.19', 'v4.0', 'v4.1']);
    for (const [a, b] of [
      ['v4.20', 'v5.0'],
      ['v5.19', 'v6.0'],
      ['v6.19', 'v7.0'],
    ])
      expect(RELEASES.indexOf(b as never) - RELEASES.indexOf(a as never)).toBe(1);
    expect(parseRelease('mainline')).toBe('v7.1');
    expect(previousRelease('v4.17')).toBe('v4.16');
    expect(previousRelease('v5.0')).toBe('v4.20');
    expect(previousRelease('v3.19')).toBe(null);
    // a name outside the timeline is the caller's bug, with the line releaseError gives it
    expect(() => previousRelease('v3.18' as never)).toThrow(new RangeError(releaseError('v3.18')));
    expect(() => previousRelease('v4.21' as never)).toThrow(
      new RangeError("unknown release 'v4.21' (a release from v3.19 to " + NEWEST_RELEASE + ', or mainline)'),
    );
    expect(releaseAtLeast('v4.17', 'v4.17')).toBe(true);
    expect(releaseAtLeast('v4.16', 'v4.17')).toBe(false);
    expect(releaseAtLeast('mainline', 'v7.1')).toBe(true);
    expect(releaseAtLeast('v5.10', 'v5.9')).toBe(true); // numeric, not string, order
  });

  it.each([
    ['v3.18', `release 'v3.18' is older than v3.19, the oldest this model covers ${RANGE}`],
    ['v2.6', `release 'v2.6' is older than v3.19, the oldest this model covers ${RANGE}`],
    ['v7.2', `release 'v7.2' is newer than v7.1, the newest this model covers ${RANGE}`],
    ['v4.21', `unknown release 'v4.21' ${RANGE}`],
    ['4.17', `unknown release '4.17' (write it as 'v4.17'; a release from v3.19 to v7.1, or mainline)`],
    ['latest', `unknown release 'latest' ${RANGE}`],
    ['', `unknown release '' ${RANGE}`],
    // inside the oldest or newest series but not a release: unknown, neither older nor newer
    ['v3.20', `unknown release 'v3.20' ${RANGE}`],
    ['v3.019', `unknown release 'v3.019' ${RANGE}`],
    ['v7.00', `unknown release 'v7.00' ${RANGE}`],
    ['v7.01', `unknown release 'v7.01' ${RANGE}`],
    ['v10.1', `release 'v10.1' is newer than v7.1, the newest this model covers ${RANGE}`],
    // the whole string is the tag: text before or after it is not a release
    ['xv4.17', `unknown release 'xv4.17' ${RANGE}`],
    ['v3.18x', `unknown release 'v3.18x' ${RANGE}`],
  ])('test_bad_release_name %s', (name, msg) => {
    expect(isReleaseName(name)).toBe(false);
    expect(releaseError(name)).toBe(msg);
    expect(() => parseRelease(name)).toThrow(new RangeError(msg));
  });
});

describe('release names', () => {
  it('test_release_name_values: every release and mainline are names; nothing else is, not even a number', () => {
    for (const r of RELEASES) expect(isReleaseName(r)).toBe(true);
    expect(isReleaseName('v3.19')).toBe(true); // index 0
    expect(isReleaseName('mainline')).toBe(true);
    for (const v of [4.17, 417, null, undefined, ['v4.17'], { toString: () => 'v4.17' }]) expect(isReleaseName(v)).toBe(false);
    // a number is not a tag, even one that reads like a release without its 'v'
    expect(releaseError(4.17)).toBe(`unknown release '4.17' ${RANGE}`);
    expect(releaseError(3.18)).toBe(`unknown release '3.18' ${RANGE}`);
  });
});

const E = (id: string, since: string, extra: Partial<TimelineEntry> = {}): TimelineEntry => ({
  id,
  component: 'iommu-core',
  commit: 'abcdef012345',
  title: `t ${id}`,
  since: since as never,
  effect: 'e',
  verified: 'a pull request says so',
  ...extra,
});

describe('timeline', () => {
  const T = [E('a', 'v4.0'), E('b', 'v4.17'), E('c', 'v4.17', { component: 'amd-iommu' }), E('d', 'v6.18')];

  it('test_entries_at_and_flags', () => {
    expect(entriesAt(T, 'v3.19')).toEqual([]);
    expect(entriesAt(T, 'v4.16').map((e) => e.id)).toEqual(['a']);
    expect(entriesAt(T, 'v4.17').map((e) => e.id)).toEqual(['a', 'b', 'c']);
    expect(entriesAt(T, 'mainline').map((e) => e.id)).toEqual(['a', 'b', 'c', 'd']);
    expect(timelineFlags(T, 'v6.17')).toEqual({ a: true, b: true, c: true, d: false });
    expect(() => entriesAt(T, 'v9.9')).toThrow(RangeError);
  });

  it('test_diff_both_directions', () => {
    const up = timelineDiff(T, 'v4.16', 'mainline');
    expect([up.from, up.to]).toEqual(['v4.16', 'v7.1']);
    expect(up.added.map((e) => e.id)).toEqual(['c', 'b', 'd']); // by release, then component, then id
    expect(up.removed).toEqual([]);
    const down = timelineDiff(T, 'v6.18', 'v4.0');
    expect(down.added).toEqual([]);
    expect(down.removed.map((e) => e.id)).toEqual(['d', 'b', 'c']); // newest first
    expect(timelineDiff(T, 'v4.17', 'v4.17')).toMatchObject({ added: [], removed: [] });
    // a release and mainline are the same kernel when mainline is that release
    expect(timelineDiff(T, 'v7.1', 'mainline')).toMatchObject({ added: [], removed: [] });
  });

  it('test_check_timeline_refuses_bad_data', () => {
    expect(() => checkTimeline(T)).not.toThrow();
    expect(() => checkTimeline([...T, E('a', 'v5.0')])).toThrow("timeline: duplicate id 'a'");
    expect(() => checkTimeline([E('x', 'v5.0', { commit: '000000000000' })])).toThrow(
      "timeline: 'x' commit '000000000000' is not a 12-hex-digit commit id",
    );
    expect(() => checkTimeline([E('x', 'v5.0', { commit: 'abc' })])).toThrow(/is not a 12-hex-digit commit id/);
    expect(() => checkTimeline([E('x', 'v5.0', { verified: 'PENDING' })])).toThrow(
      "timeline: 'x' does not say how its release was verified",
    );
    expect(() => checkTimeline([E('x', 'v4.21')])).toThrow("timeline: 'x' since 'v4.21' is not a release");
  });

  it('test_check_timeline_commit_and_verified_edges: the whole id is 12 hex digits, the note is 12 characters after trimming', () => {
    for (const commit of ['0123456789ab', 'abcdef000000', '100000000000'])
      expect(() => checkTimeline([E('x', 'v5.0', { commit })])).not.toThrow(); // leading or trailing zeros are fine
    for (const commit of ['zzabcdef012345', 'abcdef012345zz', 'ABCDEF012345'])
      expect(() => checkTimeline([E('x', 'v5.0', { commit })])).toThrow(`timeline: 'x' commit '${commit}' is not a 12-hex-digit commit id`);
    const unverified = "timeline: 'x' does not say how its release was verified";
    expect(() => checkTimeline([E('x', 'v5.0', { verified: 'twelve chars' })])).not.toThrow();
    for (const verified of ['eleven char', '      short       ', 'PENDING: look up the shortlog of v5.0'])
      expect(() => checkTimeline([E('x', 'v5.0', { verified })])).toThrow(unverified);
    // the oldest release is a release; mainline is a name for the newest, not a release an entry can cite
    expect(() => checkTimeline([E('x', 'v3.19')])).not.toThrow();
    expect(() => checkTimeline([E('x', 'mainline')])).toThrow("timeline: 'x' since 'mainline' is not a release");
  });

  it('test_sort_timeline_any_input_order: release, then component, then id', () => {
    const want = [
      E('z', 'v4.0'),
      E('b', 'v4.17', { component: 'amd-iommu' }),
      E('a', 'v4.17', { component: 'iommu-core' }),
      E('c', 'v4.17', { component: 'iommu-core' }),
      E('a', 'v4.17', { component: 'vfio-type1' }),
      E('a', 'v6.18'),
    ];
    const perms = (xs: TimelineEntry[]): TimelineEntry[][] =>
      xs.length <= 1 ? [xs] : xs.flatMap((x, i) => perms([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
    const key = (e: TimelineEntry): string => `${e.since}/${e.component}/${e.id}`;
    for (const p of perms(want)) expect(sortTimeline(p).map(key)).toEqual(want.map(key));
  });

  it('test_named_releases: both sides of every entry, the extras, then mainline', () => {
    expect(namedReleases(T, ['v5.12'])).toEqual(['v3.19', 'v4.0', 'v4.16', 'v4.17', 'v5.12', 'v6.17', 'v6.18', 'mainline']);
  });

  it('test_markdown_escapes_pipes', () => {
    const md = timelineMarkdown([E('p', 'v5.0', { title: 'a | b', also: ['0123456789ab other | one'] })]);
    expect(md.split('\n')).toEqual([
      '| entry | release | commit | what it changes in the model | how the release was verified |',
      '|---|---|---|---|---|',
      '| `p` | v5.0 | `abcdef012345` a \\| b; `0123456789ab` other \\| one | e | a pull request says so |',
    ]);
  });

  it('test_markdown_rows: an entry without other commits, and two other commits in a row', () => {
    const md = timelineMarkdown([E('q', 'v5.0', { also: ['0123456789ab one', 'ba9876543210 two'] }), E('p', 'v4.0')]);
    expect(md.split('\n').slice(2)).toEqual([
      '| `p` | v4.0 | `abcdef012345` t p | e | a pull request says so |',
      '| `q` | v5.0 | `abcdef012345` t q; `0123456789ab` one; `ba9876543210` two | e | a pull request says so |',
    ]);
  });

  it('test_with_timeline_table', () => {
    const doc = 'intro\n<!-- timeline:begin -->\nstale\n<!-- timeline:end -->\nrest\n';
    const fresh = withTimelineTable(doc, [E('p', 'v5.0')]);
    expect(fresh).toBe(`intro\n<!-- timeline:begin -->\n${timelineMarkdown([E('p', 'v5.0')])}\n<!-- timeline:end -->\nrest\n`);
    expect(withTimelineTable(fresh, [E('p', 'v5.0')])).toBe(fresh); // current: unchanged
    expect(() => withTimelineTable('no markers', [])).toThrow('no <!-- timeline:begin --> ... <!-- timeline:end --> markers');
    // markers at the very start of the document
    expect(withTimelineTable('<!-- timeline:begin -->x<!-- timeline:end -->', [])).toBe(
      `<!-- timeline:begin -->\n${timelineMarkdown([])}\n<!-- timeline:end -->`,
    );
    expect(() => withTimelineTable('<!-- timeline:end --> <!-- timeline:begin -->', [])).toThrow(/markers/);
  });

  it('test_core_timeline_data', () => {
    expect(() => checkTimeline(CORE_TIMELINE)).not.toThrow();
    // the releases these commits first shipped in, as verified (see each entry's `verified`)
    expect(Object.fromEntries(CORE_TIMELINE.map((e) => [e.id, [e.commit, e.since]]))).toEqual({
      'iommu-tlb-interface': ['add02cfdc9bc', 'v4.14'],
      'iotlb-gather': ['a7d20dc19d9e', 'v5.4'],
      'map-pages': ['647c57764b37', 'v5.15'],
      'vtd-iotlb-sync': ['2a2b8eaa5b25', 'v5.11'],
      'vtd-map-pages': ['3f34f1259776', 'v5.15'],
      'vtd-real-pgsize': ['a886d5a7e67b', 'v5.15'],
    });
    expect(KEY_RELEASES).toEqual(['v3.19', 'v4.16', 'v4.17', 'v5.11', 'v5.12', 'v6.16', 'v6.18']);
  });
});

describe('reference driver by release (VT-d)', () => {
  // 8 pages at IOVA 0x200 from frames that are 4 KiB-aligned only (no 2 MiB leaf possible)
  const map8 = (release: string) => {
    const h = makeHarness({ release: release as never });
    const pfn = h.sim.mem.allocFrames(16, { align: 16 }) + 1;
    iommuMap(h.dom, 0x201, pfn, 8, RW);
    return h;
  };
  const flushes = (h: ReturnType<typeof makeHarness>) => {
    const c = h.sim.counters;
    return [c.invalidations, c.completionWaits, c.iotlbFlushes];
  };

  it('test_vtd_4x_one_invalidation_and_one_wait_per_unmap_call', () => {
    // before v5.11 intel_iommu_unmap flushed its own range and waited, once per ->unmap call, and had
    // no iotlb ops: the core's sync adds nothing. Before v5.15 VT-d reported every power of two, so
    // the core unmapped 0x201..0x208 in naturally aligned chunks: 0x201, 0x202-3, 0x204-7, 0x208
    for (const r of ['v3.19', 'v4.16', 'v4.17', 'v5.10']) {
      const h = map8(r);
      expect(h.drv.release).toBe(r);
      expect(h.drv.ops.iotlbSync).toBeUndefined();
      expect(h.drv.ops.iotlbRangeAdd).toBeUndefined();
      expect(h.drv.ops.flushIotlbAll).toBeUndefined();
      expect(iommuUnmap(h.dom, 0x201, 8)).toBe(8);
      expect(flushes(h)).toEqual([4, 4, 4]);
      expect(h.sim.counters.iotlbSyncs).toBe(1); // the core's sync, which finds no op
      expectClean(h);
    }
  });

  it('test_vtd_4x_one_flush_for_a_2m_leaf', () => {
    const h = makeHarness({ release: 'v4.16' });
    iommuMap(h.dom, 512, h.sim.mem.allocFrames(512, { align: 512 }), 512, RW);
    expect(iommuUnmap(h.dom, 512, 512)).toBe(512);
    expect(flushes(h)).toEqual([1, 1, 1]);
    expectClean(h);
  });

  it('test_vtd_4_17_fast_unmap_still_flushes_inside_unmap', () => {
    // VFIO's 2018 fast path over a 4.17 VT-d: the flushes happen in iommu_unmap_fast, the range add
    // and the sync find no driver op
    const h = map8('v4.17');
    expect(iommuUnmapFast(h.dom, 0x201, 8)).toBe(8);
    expect(flushes(h)).toEqual([4, 4, 4]);
    iommuTlbRangeAdd(h.dom, 0x201, 8);
    iommuTlbSync(h.dom);
    expect(flushes(h)).toEqual([4, 4, 4]);
    expect(h.sim.counters.iotlbRangeAdds).toBe(0); // no driver op: nothing recorded
    expectClean(h);
  });

  it('test_vtd_5_11_one_flush_per_gather', () => {
    for (const r of ['v5.11', 'mainline']) {
      const h = map8(r);
      expect(h.drv.ops.apiEra).toBe('gather');
      const g = createIotlbGather();
      expect(iommuUnmapFast(h.dom, 0x201, 8, g)).toBe(8);
      expect(flushes(h)).toEqual([0, 0, 0]);
      iommuTlbSync(h.dom, g);
      expect(flushes(h)).toEqual([1, 1, 1]);
      expectClean(h);
    }
  });

  it('test_vtd_calls_per_page_before_map_pages', () => {
    // before v5.15 one ops->map/unmap call per page of the size the core chose: with every power of
    // two reported, one per naturally aligned chunk (4: 4K, 8K, 16K, 4K); one per run after
    for (const [r, calls] of [
      ['v5.14', 4],
      ['v5.15', 1],
    ] as const) {
      const h = map8(r);
      expect(h.sim.counters.mapCalls).toBe(calls);
      iommuUnmap(h.dom, 0x201, 8);
      expect(h.sim.counters.unmapCalls).toBe(calls);
    }
    // the table sizes alone reported (a886d5a7e67b switched on early): one call per 4 KiB page
    const h = makeHarness({ release: 'v5.14+vtd-real-pgsize' as never });
    iommuMap(h.dom, 0x201, h.sim.mem.allocFrames(16, { align: 16 }) + 1, 8, RW);
    expect(h.sim.counters.mapCalls).toBe(8);
    expect(h.drv.reportedPgsizeBitmap).toBe(SZ_4K | SZ_2M | SZ_1G);
  });

  it('test_vtd_before_5_15_reports_every_size_and_keeps_its_table_sizes', () => {
    // 2 MiB + 4 KiB at a 2 MiB-aligned IOVA and pfn: the core asks for one 2 MiB and one 4 KiB chunk
    // (one call each); the table holds a 2 MiB leaf and a 4 KiB one, as VT-d's own split did
    const run = (release: string) => {
      const h = makeHarness({ release: release as never });
      const pfn = h.sim.mem.allocFrames(1024, { align: 512 });
      iommuMap(h.dom, 1024, pfn, 513, RW);
      const first = [h.sim.counters.mapCalls, h.sim.counters.pteWrites];
      // 16 KiB over 16 KiB-aligned frames: one 16 KiB call, which VT-d split into four 4 KiB entries
      iommuMap(h.dom, 4096, pfn + 604, 4, RW);
      return { h, pfn, first, second: [h.sim.counters.mapCalls - first[0]!, h.sim.counters.pteWrites - first[1]!] };
    };
    const old = run('v4.0'),
      real = run('v5.14+vtd-real-pgsize');
    expect(old.h.dom.pgsizeBitmap).toBe(0xfffffffffffff000n);
    // the same entries (2 MiB + 4 KiB leaves and their tables) either way; 2 calls either way
    expect(old.first).toEqual(real.first);
    expect(old.first[0]).toBe(2);
    expect(old.second).toEqual([1, 5]); // one call: 4 leaves and the new table's pointer
    expect(real.second).toEqual([4, 5]); // one call per 4 KiB page
    // unmapping one 4 KiB page inside the 2 MiB leaf removes the leaf (the "horrid API" rule), one flush
    expect(iommuUnmap(old.h.dom, 1030, 1)).toBe(512);
    expect(flushes(old.h)).toEqual([1, 1, 1]);
    const p = old.pfn;
    expect(leaves(old.h.dom)).toEqual([
      [1536, p + 512, 12],
      [4096, p + 604, 12],
      [4097, p + 605, 12],
      [4098, p + 606, 12],
      [4099, p + 607, 12],
    ]);
  });

  it('test_vtd_before_5_15_superpages_off_splits_a_2m_chunk_into_4k_entries', () => {
    // intel_iommu=sp_off (pgsizeBitmap SZ_4K) on v4.0: the core still sees every size, hands the
    // aligned 2 MiB over in one call, and the driver writes 512 4 KiB entries for it
    const h = makeHarness({ release: 'v4.0', pgsizeBitmap: SZ_4K });
    expect(h.drv.pgsizeBitmap).toBe(SZ_4K);
    expect(h.dom.pgsizeBitmap).toBe(0xfffffffffffff000n);
    const pfn = h.sim.mem.allocFrames(512, { align: 512 });
    const tables = h.sim.counters.tableAllocs;
    iommuMap(h.dom, 512, pfn, 512, RW);
    expect(h.sim.counters.mapCalls).toBe(1);
    const got = leaves(h.dom);
    expect(got.length).toBe(512);
    expect(got.every(([iova, p, o], i) => iova === 512 + i && p === pfn + i && o === 12)).toBe(true);
    // IOVA page 512 is entry 1 of the first level-1 table: levels 2, 1 and 0 are new, one pointer each
    expect(h.sim.counters.tableAllocs - tables).toBe(3);
    expect(h.sim.counters.pteWrites).toBe(512 + 3);
    // unmapping the whole chunk: one ->unmap call, one invalidation and one wait for its range
    expect(iommuUnmap(h.dom, 512, 512)).toBe(512);
    expect(h.sim.counters.unmapCalls).toBe(1);
    expect(h.sim.counters.pteClears).toBe(512);
    expect(flushes(h)).toEqual([1, 1, 1]);
    expectClean(h);
    // one page of such a chunk can go alone: the driver kept 4 KiB entries (with superpages on, the
    // same unmap removes the 2 MiB leaf: see the test above)
    iommuMap(h.dom, 512, pfn, 512, RW);
    expect(iommuUnmap(h.dom, 515, 1)).toBe(1);
    expect(leaves(h.dom).length).toBe(511);
    expect(iommuUnmap(h.dom, 512, 3)).toBe(3);
    expect(iommuUnmap(h.dom, 516, 508)).toBe(508);
    expectClean(h);
  });

  it('test_vtd_real_pgsize_bitmap_option_overrides_the_release', () => {
    const all = 0xfffffffffffff000n,
      real = SZ_4K | SZ_2M | SZ_1G;
    // v4.0 told to report its table sizes: the core splits, one call per 4 KiB page (no map_pages yet)
    const a = makeHarness({ release: 'v4.0', realPgsizeBitmap: true });
    expect([a.drv.reportedPgsizeBitmap, a.dom.pgsizeBitmap, a.drv.ops.splitsChunks]).toEqual([real, real, false]);
    iommuMap(a.dom, 0x201, a.sim.mem.allocFrames(16, { align: 16 }) + 1, 8, RW);
    expect(a.sim.counters.mapCalls).toBe(8);
    // mainline told to report every size: chunks of 4K, 8K, 16K, 4K at 0x201 (one call each, even
    // with map_pages, since each is a different size) that the driver splits into 8 entries
    const b = makeHarness({ release: 'mainline', realPgsizeBitmap: false });
    expect([b.drv.reportedPgsizeBitmap, b.dom.pgsizeBitmap, b.drv.ops.splitsChunks]).toEqual([all, all, true]);
    const pfn = b.sim.mem.allocFrames(16, { align: 16 }) + 1;
    iommuMap(b.dom, 0x201, pfn, 8, RW);
    expect(b.sim.counters.mapCalls).toBe(4);
    expect(leaves(b.dom)).toEqual(Array.from({ length: 8 }, (_, i) => [0x201 + i, pfn + i, 12]));
    // mainline flushes through the gather: one invalidation for the four unmap calls
    expect(iommuUnmap(b.dom, 0x201, 8)).toBe(8);
    expect(b.sim.counters.unmapCalls).toBe(4);
    expect(flushes(b)).toEqual([1, 1, 1]);
    expectClean(b);
  });

  it('test_vtd_splits_chunks_by_release', () => {
    const splits = (o: Parameters<typeof makeHarness>[0]) => makeHarness(o).drv.ops.splitsChunks;
    expect(splits({ release: 'v3.19' })).toBe(true);
    expect(splits({ release: 'v5.14' })).toBe(true);
    expect(splits({ release: 'v5.15' })).toBe(false);
    expect(splits({ release: 'mainline' })).toBe(false);
    expect(splits({})).toBe(false);
    expect(splits({ release: 'v5.14+vtd-real-pgsize' as never })).toBe(false);
    expect(splits({ release: 'v5.15~vtd-real-pgsize' as never })).toBe(true);
    expect(splits({ release: 'v5.14', realPgsizeBitmap: true })).toBe(false);
    expect(splits({ release: 'v5.15', realPgsizeBitmap: false })).toBe(true);
    expect(splits({ release: 'v4.16', realPgsizeBitmap: undefined })).toBe(true);
  });

  it('test_vtd_explicit_options_still_override_the_release', () => {
    const h = makeHarness({ release: 'v4.16', flushOnUnmap: false, apiEra: '2018' });
    expect(h.drv.ops.iotlbSync).toBeDefined();
    expect(() => makeHarness({ release: 'v3.0' as never })).toThrow(
      `release 'v3.0' is older than v3.19, the oldest this model covers ${RANGE}`,
    );
  });
});

describe('spec timeline table', () => {
  it('test_spec_table_is_generated_from_the_data', async () => {
    const { readFileSync } = await import('node:fs');
    const { withTimelineTable } = await import('@x/iommu-core/internals');
    const { CORE_TIMELINE: data } = await import('../src/index.js');
    const spec = readFileSync(new URL('../docs/spec.md', import.meta.url), 'utf8');
    // regenerate with `pnpm docs:timeline`
    expect(withTimelineTable(spec, data)).toBe(spec);
  });
});
