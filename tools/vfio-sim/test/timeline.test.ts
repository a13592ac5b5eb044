// `vfio-sim timeline`, release names on --profile, the compare header that names what separates
// its columns, and the reference driver's per-release flushing as the CLI runs it.
import { describe, expect, it } from 'vitest';
import { cliJson, inProcess } from './helpers.js';

describe('timeline command', () => {
  it('test_timeline_between_two_releases', async () => {
    const r = await inProcess(['timeline', 'v4.16', 'v4.17']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'v4.16 -> v4.17: 2 entries added',
        '',
        'release  entry           component   commit        title',
        '-------  --------------  ----------  ------------  -------------------------------------------------------------',
        '+v4.17   amd-fast-flush  amd-iommu   eb5ecd1a40e2  iommu/amd: Add support for fast IOTLB flushing',
        '+v4.17   fast-unmap      vfio-type1  6bd06f5a486c  vfio/type1: Adopt fast IOTLB flush interface when unmap IOVAs',
        '',
        'more: vfio-sim timeline v4.16 v4.17 --json   # what each entry changes in the model, and how its release was verified',
        '',
      ].join('\n'),
    );
    // A..B is the same; a backwards diff lists what is removed
    expect((await inProcess(['timeline', 'v4.16..v4.17'])).stdout).toBe(r.stdout);
    const back = await inProcess(['timeline', 'v4.17', 'v4.16']);
    expect(back.stdout.split('\n')[0]).toBe('v4.17 -> v4.16: 2 entries removed');
    expect(back.stdout).toContain('-v4.17   fast-unmap');
  });

  it('test_timeline_json', async () => {
    const r = await inProcess(['timeline', 'v5.11', 'v5.12', '--json', '--driver', 'amd']);
    const j = JSON.parse(r.stdout) as {
      from: string;
      to: string;
      added: { id: string; commit: string; since: string; effect: string; verified: string }[];
      removed: unknown[];
    };
    expect([j.from, j.to, j.removed]).toEqual(['v5.11', 'v5.12', []]);
    expect(j.added.map((x) => [x.id, x.commit, x.since])).toEqual([
      ['batched-pinning', '4d83de6da265', 'v5.12'],
      ['unmap-all-vaddr', 'c3cbab24db38', 'v5.12'],
    ]);
    for (const x of j.added) expect(x.effect.length * x.verified.length).toBeGreaterThan(0);
  });

  it('test_timeline_profile_of_one_release_and_driver_filter', async () => {
    const all = JSON.parse((await inProcess(['timeline', 'mainline', '--json'])).stdout) as {
      release: string;
      resolved: string;
      entries: { component: string }[];
    };
    expect([all.release, all.resolved, all.entries.length]).toEqual(['mainline', 'v7.1', 36]);
    const ref = JSON.parse((await inProcess(['timeline', 'mainline', '--json', '--driver', 'reference'])).stdout) as typeof all;
    expect(ref.entries.some((x) => x.component === 'amd-iommu')).toBe(false);
    expect(ref.entries.length).toBe(36 - 9);
    const old = JSON.parse((await inProcess(['timeline', 'v3.19', '--json'])).stdout) as typeof all;
    expect(old.entries).toEqual([]);
  });

  it.each([
    [
      ['timeline', 'v3.18'],
      "vfio-sim: timeline: release 'v3.18' is older than v3.19, the oldest this model covers (a release from v3.19 to v7.1, or mainline)",
    ],
    [['timeline', 'v4.16', 'v4.99'], "vfio-sim: timeline: unknown release 'v4.99' (a release from v3.19 to v7.1, or mainline)"],
    [['timeline', 'a', 'b', 'c'], 'vfio-sim: timeline: takes at most two releases, got 3'],
    [['timeline', '--driver', 'intel'], "vfio-sim: --driver: 'intel' is not one of amd, reference"],
    [['run', '--profile', 'v4.15.1'], "vfio-sim: --profile: unknown release 'v4.15.1' (a release from v3.19 to v7.1, or mainline)"],
    [
      ['compare', '--profile', 'v4.16,v7.2'],
      "vfio-sim: --profile: release 'v7.2' is newer than v7.1, the newest this model covers (a release from v3.19 to v7.1, or mainline)",
    ],
    [
      ['run', '--superpages', 'off'],
      "vfio-sim: --superpages: 'off' applies to --driver reference (VT-d-like); AMD-Vi's page sizes come from its page-table format",
    ],
    [['run', '--superpages', 'maybe', '--driver', 'reference'], "vfio-sim: --superpages: 'maybe' is not on or off"],
  ])('test_bad_release_input %j', async (args, msg) => {
    const r = await inProcess(args);
    expect(r).toEqual({ code: 2, stdout: '', stderr: `${msg}\n` });
  });
});

describe('releases in runs', () => {
  it('test_compare_header_names_the_entries_between_columns', async () => {
    const r = await inProcess(['compare', '--guest', '1G', '--profile', 'v5.11,v5.12', '--driver', 'reference']);
    const lines = r.stdout.split('\n');
    expect(lines[1]).toBe('cases: v5.11 | v5.12');
    expect(lines[2]).toBe('timeline entries between the releases (commits: vfio-sim timeline v5.11 v5.12):');
    expect(lines[3]).toBe('  v5.11 -> v5.12: batched-pinning, unmap-all-vaddr');
    expect(lines[4]).toBe('');
    // one release: no timeline lines
    const one = await inProcess(['compare', '--guest', '1G', '--profile', 'v5.12', '--backing', '4k,thp']);
    expect(one.stdout).not.toContain('timeline entries');
  });

  it('test_reference_driver_4x_one_flush_per_iommu_unmap', async () => {
    // before v5.11 VT-d flushed inside ->unmap and had no sync op: one invalidation and one wait per
    // ->unmap call, none from the core's sync. Before v5.15 it reported every power of two, so the
    // core handed it one naturally aligned chunk of a run per call (host age 1: one 2 MiB block per run)
    const { res } = await cliJson([
      'run',
      '--guest',
      '4G',
      '--firmware',
      'none',
      '--driver',
      'reference',
      '--profile',
      'v4.16',
      '--dma',
      'none',
      '--host-age',
      '1',
    ]);
    const c = res.cases[0]!,
      m = c.metrics;
    expect(m.iotlbSyncs).toBe(m.regions); // slow path: one iommu_unmap per region
    expect(m.invalidations).toBe(c.counters.unmapCalls);
    expect(m.completionWaits).toBe(c.counters.unmapCalls);
    // around the VGA hole: the 160 pages below it are two chunks (128 + 32) and the 320 from 0xc0000
    // to the first 2 MiB boundary two more (64 + 256); every other region is one 2 MiB chunk
    expect(c.counters.unmapCalls).toBe(2 + 2 + (m.regions - 2));
    // v4.17 on VT-d: the fast path's syncs find nothing to flush; the flushes happened in the unmaps
    const { res: r17 } = await cliJson([
      'run',
      '--guest',
      '4G',
      '--firmware',
      'none',
      '--driver',
      'reference',
      '--profile',
      'v4.17',
      '--dma',
      'none',
      '--host-age',
      '1',
    ]);
    const n = r17.cases[0]!.metrics;
    expect(n.invalidations).toBe(r17.cases[0]!.counters.unmapCalls);
    expect(n.invalidations).toBe(m.invalidations);
    expect(n.iotlbSyncs).toBeLessThan(n.regions);
  });

  it('test_superpages_off_maps_4k_leaves', async () => {
    const { res } = await cliJson([
      'compare',
      '--guest',
      '1G',
      '--firmware',
      'none',
      '--driver',
      'reference',
      '--profile',
      'v4.16',
      '--superpages',
      'on,off',
      '--dma',
      'none',
    ]);
    expect(res.cases.map((c) => c.label)).toEqual(['superpages=on', 'superpages=off']);
    const [on, off] = res.cases.map((c) => c.metrics);
    // 1 GiB of THP (the VGA hole's 32 pages not mapped): one 4 KiB leaf per page without superpages,
    // 2 MiB leaves with them; every table allocated but the root is linked by one more PTE write
    expect(off!.pteWrites - (off!.tableAllocs - 1)).toBe(262144 - 32);
    expect(on!.pteWrites - (on!.tableAllocs - 1)).toBe(160 + 320 + 511);
  });
});
