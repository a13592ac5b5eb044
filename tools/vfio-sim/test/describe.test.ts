// The one-line description of a case's scenario and the table header's shared part: every workload,
// driver, device count, host age, populate and DMA wording, the host size joined with its backing,
// and `varies:` naming what differs between cases. Expected lines written out from the scenario.

import { describe, expect, it } from 'vitest';
import type { CaseResult, CommandResult } from '../src/engine/result.js';
import { describeScenario, renderTable } from '../src/report/table.js';
import { defaultScenario, type Scenario } from '../src/scenario/scenario.js';
import { metricsOf } from './made-result.js';

/** A 1 GiB q35 guest without firmware boot, changed by `f`, as the case a report describes. */
function caseOf(f: (s: Scenario) => void = () => {}): CaseResult {
  const s = defaultScenario();
  s.guest = { ...s.guest, memory: '1G', firmware: 'none' };
  f(s);
  return { scenario: s } as unknown as CaseResult;
}
const BASE = 'guest 1 GiB (q35: 1 GiB below 4G + 0 B above, 2 DMA mappings), host 5 GiB thp, host age 0.02, machine lizhe-2025';

describe('scenario descriptions', () => {
  it.each([
    ['default', () => {}, `${BASE}, AMD-Vi, 1 device/1 group, DMA random, boot + shutdown, seed 1`],
    [
      'reference driver, devices and groups, no DMA',
      (s: Scenario) => {
        s.driver = 'reference';
        s.devices = 3;
        s.groups = 2;
        s.dma = { ...s.dma, pattern: 'none' };
      },
      `${BASE}, reference (VT-d-like), 3 devices/2 groups, no DMA, boot + shutdown, seed 1`,
    ],
    [
      'churn alone',
      (s: Scenario) => {
        s.workload = 'churn';
        s.churn = { ...s.churn, ops: 77 };
        s.seed = 9;
      },
      'guest 1 GiB (q35: 1 GiB below 4G + 0 B above, RAM not mapped at boot (vIOMMU)), host 5 GiB thp, host age 0.02, machine lizhe-2025, AMD-Vi, 1 device/1 group, DMA random, churn 77 ops, seed 9',
    ],
    [
      'boot and churn',
      (s: Scenario) => {
        s.workload = 'boot+churn';
        s.churn = { ...s.churn, ops: 5 };
      },
      `${BASE}, AMD-Vi, 1 device/1 group, DMA random, boot + churn 5 ops + shutdown, seed 1`,
    ],
    [
      'map test',
      (s: Scenario) => {
        s.workload = 'map-test';
      },
      'process RAM 1 GiB (one mapping at IOVA 4 GiB), host 5 GiB thp, host age 0.02, machine lizhe-2025, AMD-Vi, 1 device/1 group, one MAP_DMA + UNMAP_DMA of the guest RAM, seed 1',
    ],
    [
      'BAR map',
      (s: Scenario) => {
        s.workload = 'bar-map';
        s.guest = { ...s.guest, gpuBar: '16G' };
      },
      'process RAM 1 GiB (one mapping at IOVA 4 GiB), host 5 GiB thp, host age 0.02, machine lizhe-2025, AMD-Vi, 1 device/1 group, one MAP_DMA + UNMAP_DMA of a 16 GiB BAR, seed 1',
    ],
    [
      'a fully aged host, not populated, another machine and backing',
      (s: Scenario) => {
        s.host = { ...s.host, age: 1, populate: false, machine: 'vtd-2015', backing: 'hugetlb-1g', memory: '3G' };
      },
      'guest 1 GiB (q35: 1 GiB below 4G + 0 B above, 2 DMA mappings), host 3 GiB hugetlb-1g, not pre-populated, machine vtd-2015, AMD-Vi, 1 device/1 group, DMA random, boot + shutdown, seed 1',
    ],
    [
      'memory above 4 GiB on pc',
      (s: Scenario) => {
        s.guest = { ...s.guest, memory: '8G', machine: 'pc' };
      },
      'guest 8 GiB (pc: 3 GiB below 4G + 5 GiB above, 3 DMA mappings), host 12 GiB thp, host age 0.02, machine lizhe-2025, AMD-Vi, 1 device/1 group, DMA random, boot + shutdown, seed 1',
    ],
  ])('test_describe_%s', (_name, f, want) => {
    expect(describeScenario(caseOf(f))).toBe(want);
  });

  it('test_replayed_stream_has_no_scenario', () => {
    expect(describeScenario({ scenario: null } as unknown as CaseResult)).toBe('replayed stream');
  });

  it('test_header_names_what_varies', () => {
    const header = (cases: CaseResult[]) => {
      const res = { schema: 'vfio-sim/result@2', command: 'compare', cases, sweep: null } as unknown as CommandResult;
      return renderTable(res).split('\n')[0]!;
    };
    const at = (c: CaseResult, label: string) => ({ ...c, label, metrics: metricsOf(), counters: {}, timeNs: {} }) as unknown as CaseResult;
    // the host size and its backing read as one part; a varying backing leaves the size alone
    expect(
      header([
        at(
          caseOf((s) => (s.host = { ...s.host, backing: '4k' })),
          'a',
        ),
        at(caseOf(), 'b'),
      ]),
    ).toBe(
      'vfio-sim compare: guest 1 GiB (q35: 1 GiB below 4G + 0 B above, 2 DMA mappings), host 5 GiB, host age 0.02, machine lizhe-2025, AMD-Vi, 1 device/1 group, DMA random, boot + shutdown, seed 1; varies: backing',
    );
    // two parts vary: both named, in the description's order; a default-valued part still counts
    expect(
      header([
        at(
          caseOf((s) => {
            s.seed = 2;
            s.host = { ...s.host, age: 1 };
          }),
          'a',
        ),
        at(caseOf(), 'b'),
      ]),
    ).toBe(
      'vfio-sim compare: guest 1 GiB (q35: 1 GiB below 4G + 0 B above, 2 DMA mappings), host 5 GiB thp, machine lizhe-2025, AMD-Vi, 1 device/1 group, DMA random, boot + shutdown; varies: host age, seed',
    );
    // every other part named when it varies; the host size varying leaves the backing a part of its own
    expect(
      header([
        at(
          caseOf((s) => {
            s.host = { ...s.host, populate: false, machine: 'vtd-2015', memory: '6G' };
            s.driver = 'reference';
            s.devices = 2;
            s.dma = { ...s.dma, pattern: 'none' };
            s.workload = 'churn';
          }),
          'a',
        ),
        at(caseOf(), 'b'),
      ]),
    ).toBe(
      'vfio-sim compare: thp backing, host age 0.02, seed 1; varies: guest, host memory, populate, machine, driver, devices, DMA, workload',
    );
    expect(
      header([
        at(
          caseOf((s) => (s.host = { ...s.host, memory: '6G' })),
          'a',
        ),
        at(caseOf(), 'b'),
      ]),
    ).toBe(
      'vfio-sim compare: guest 1 GiB (q35: 1 GiB below 4G + 0 B above, 2 DMA mappings), thp backing, host age 0.02, machine lizhe-2025, AMD-Vi, 1 device/1 group, DMA random, boot + shutdown, seed 1; varies: host memory',
    );
    expect(header([at(caseOf(), 'a'), at({ scenario: null } as unknown as CaseResult, 'b')])).toBe('vfio-sim compare: replayed stream');
  });
});
