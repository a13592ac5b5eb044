// Scenario building blocks: sizes, the QEMU layout, validation and the workload stream.

import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { qemuLayout } from '../src/scenario/layout.js';
import { defaultScenario, mergeScenario, resolveScenario } from '../src/scenario/scenario.js';
import { fmtSize, parseSize } from '../src/scenario/size.js';
import { churnBase, workload, type ProcessVmas } from '../src/scenario/workload.js';
import type { RegionName } from '../src/scenario/firmware.js';

const G = 1n << 30n,
  M = 1n << 20n;

/** Guest RAM at `base` and every other host object a firmware boot maps 1 TiB apart above it. */
function vmasAt(base: bigint, names: readonly RegionName[] = []): ProcessVmas {
  return new Map<RegionName, bigint>([
    ['pc.ram', base],
    ...names.map((n, i): [RegionName, bigint] => [n, base + BigInt(i + 1) * (1n << 40n)]),
  ]);
}

describe('scenario', () => {
  it('test_parse_size', () => {
    expect(parseSize('64G', '--guest')).toBe(64n * G);
    expect(parseSize('64GiB', '--guest')).toBe(64n * G);
    expect(parseSize('1.5G', '--guest')).toBe(1536n * M);
    expect(parseSize('640K', '--guest')).toBe(640n << 10n);
    expect(parseSize('0x1000', '--guest')).toBe(4096n);
    expect(parseSize('4096', '--guest')).toBe(4096n);
    expect(() => parseSize('12Q', '--guest')).toThrow(UsageError);
    expect(() => parseSize('0', '--guest')).toThrow(/must be positive/);
    expect(() => parseSize('1.0001K', '--guest')).toThrow(/whole number of bytes/);
  });

  it('test_qemu_layout_q35', () => {
    // q35: 2 GiB below the PCI hole once RAM >= 0xb0000000; the VGA window splits the low alias
    expect(qemuLayout(64n * G, 'q35', null, true)).toEqual([
      { name: 'ram-below-4g@0', gpa: 0n, size: 0xa0000n, hostOffset: 0n },
      { name: 'ram-below-4g@0xc0000', gpa: 0xc0000n, size: 2n * G - 0xc0000n, hostOffset: 0xc0000n },
      { name: 'ram-above-4g', gpa: 4n * G, size: 62n * G, hostOffset: 2n * G },
    ]);
    expect(qemuLayout(2n * G, 'q35', null, false)).toEqual([{ name: 'ram-below-4g', gpa: 0n, size: 2n * G, hostOffset: 0n }]);
    expect(qemuLayout(0xb0000000n, 'q35', null, false).map((b) => b.size)).toEqual([2n * G, 0xb0000000n - 2n * G]);
  });

  it('test_qemu_layout_pc_and_override', () => {
    expect(qemuLayout(8n * G, 'pc', null, false).map((b) => [b.gpa, b.size])).toEqual([
      [0n, 3n * G],
      [4n * G, 5n * G],
    ]);
    expect(qemuLayout(3n * G, 'pc', null, false).map((b) => [b.gpa, b.size])).toEqual([[0n, 3n * G]]);
    expect(qemuLayout(8n * G, 'q35', 1n * G, false).map((b) => [b.gpa, b.size, b.hostOffset])).toEqual([
      [0n, G, 0n],
      [4n * G, 7n * G, G],
    ]);
    expect(() => qemuLayout(8n * G, 'q35', 3840n * M, false)).toThrow(/PCI hole/);
    expect(() => qemuLayout(1n * G, 'q35', 2n * G, false)).toThrow(/more than the guest/);
  });

  it('test_resolve_rejects_impossible', () => {
    const s = defaultScenario();
    s.host.memory = '32G';
    expect(() => resolveScenario(s)).toThrow(/--host-memory: the host \(32G\) is smaller than the guest \(64G\)/);
    const t = defaultScenario();
    t.devices = 1;
    t.groups = 2;
    expect(() => resolveScenario(t)).toThrow(/--devices: 1 devices cannot fill 2 groups/);
    const u = defaultScenario();
    u.guest.memory = '1536M';
    u.host.backing = 'hugetlb-1g';
    expect(() => resolveScenario(u)).toThrow(/--guest: 1536M is not a multiple of 1 GiB/);
  });

  it('test_merge_rejects_unknown_fields', () => {
    expect(() => mergeScenario(defaultScenario(), { vfio: { tlbSyncMx: 4 } }, 'f.json')).toThrow(/unknown field 'vfio.tlbSyncMx'/);
    expect(mergeScenario(defaultScenario(), { vfio: { tlbSyncMax: 4 } }, 'f.json').vfio.tlbSyncMax).toBe(4);
  });

  it('test_workload_deterministic', () => {
    const s = defaultScenario();
    s.guest.memory = '8G';
    s.workload = 'boot+churn';
    s.churn.ops = 500;
    const r = resolveScenario(s);
    const vmas = vmasAt(
      0x7f0000000000n,
      r.boot!.regions.map((x) => x.name),
    );
    const a = [...workload(r, vmas, 2)];
    const b = [...workload(r, vmas, 2)];
    expect(a).toEqual(b);
    const maps = a.filter((o) => o.op === 'map');
    const unmaps = a.filter((o) => o.op === 'unmap');
    // the 8 GiB q35 SeaBIOS boot maps 36 times (test/firmware.test.ts lists them), then 500 churn maps
    expect(maps).toHaveLength(36 + 500);
    expect(unmaps).toHaveLength(maps.length); // shutdown unmaps everything left
    s.seed = 2;
    expect([...workload(resolveScenario(s), vmas, 2)]).not.toEqual(a);
    // firmware none: each RAM section mapped once
    s.guest.firmware = 'none';
    expect([...workload(resolveScenario(s), vmasAt(0x7f0000000000n), 2)].filter((o) => o.op === 'map')).toHaveLength(r.blocks.length + 500);
  });

  it('test_churn_iovas_never_overlap_live', () => {
    const s = defaultScenario();
    s.guest.memory = '4G';
    s.workload = 'churn';
    s.churn.ops = 3000;
    s.churn.live = 16;
    s.churn.maxPages = 13;
    const r = resolveScenario(s);
    const live = new Map<bigint, bigint>();
    const base = churnBase(r);
    expect(base).toBe(7n * G); // first GiB boundary above 4G + 2G, plus a GiB of gap
    for (const o of workload(r, vmasAt(0n), 1)) {
      if (o.op === 'map') {
        expect(o.iova >= base).toBe(true);
        for (const [iova, size] of live) expect(o.iova + o.size <= iova || o.iova >= iova + size).toBe(true);
        live.set(o.iova, o.size);
        expect(live.size).toBeLessThanOrEqual(16);
      } else if (o.op === 'unmap') {
        expect(live.get(o.iova)).toBe(o.size);
        live.delete(o.iova);
      }
    }
    expect(live.size).toBe(0);
  });
});

describe('fmtSize', () => {
  it('test_fmt_size_exact_while_short_else_two_decimals', () => {
    expect([64n << 30n, 2n << 20n, 640n << 10n, 1026n << 20n, 4097n, 9999n << 10n].map(fmtSize)).toEqual([
      '64 GiB',
      '2 MiB',
      '640 KiB',
      '1026 MiB',
      '4.00 KiB',
      '9999 KiB',
    ]);
    // the review's example: a 1 GiB guest's peak unmapped+pinned printed as 1047808 KiB
    expect(fmtSize(1047808n << 10n)).toBe('1023.25 MiB');
    expect(fmtSize(10000n << 10n)).toBe('9.77 MiB');
    expect(fmtSize(20000n << 20n)).toBe('19.53 GiB');
  });
});
