// parseReplay on its own, in process: each header default as README "Replay format" states it,
// each field check's exact words, and where a problem is reported (file and line). The CLI cases in
// replay-format.test.ts show a few of these end to end; here every check has its own case, the
// expected lines written out from the README's rules.

import { describe, expect, it } from 'vitest';
import { parseReplay, type CostEvents } from '../src/engine/record.js';
import { UsageError } from '../src/errors.js';

const HEADER = '{"op":"header","format":"vfio-sim-replay","version":1';
const GIB = 1n << 30n,
  MIB = 1n << 20n;

/** The UsageError parseReplay throws for these lines of file `f.jsonl` (its message). */
function problem(lines: readonly string[], costEvents?: CostEvents): string {
  try {
    parseReplay(lines.join('\n'), 'f.jsonl', costEvents);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('parseReplay accepted the file');
}
/** The problems of a header with these fields after format and version. */
const headerProblem = (fields: string, costEvents?: CostEvents) => problem([`${HEADER}${fields}}`], costEvents);
/** The problems of one line after a minimal header. */
const lineProblem = (line: string) => problem([`${HEADER}}`, line]);

const mmap = (size: bigint, extra = '') => `{"op":"mmap","size":"0x${size.toString(16)}"${extra}}`;

describe('replay header defaults', () => {
  it('test_minimal_header_is_a_run_default_machine', () => {
    const { header, lines, lineNos } = parseReplay([`${HEADER}}`, mmap(GIB)].join('\n'), 'f.jsonl');
    // strictly: no hostAge or hardware key at all when the header has none (not one set to undefined)
    expect(header).toStrictEqual({
      op: 'header',
      format: 'vfio-sim-replay',
      version: 1,
      label: 'mainline',
      machine: {
        // RAM + 4 GiB and RAM + 1 GiB
        hostMemory: String(5n * GIB),
        seed: 1,
        backing: 'thp',
        cost: {},
        driver: 'amd',
        profile: 'mainline',
        iotlbEntries: 1024,
        superpages: true,
        groups: 1,
        devices: 1,
        memlockLimit: String(2n * GIB),
        capIpcLock: false,
        container: { tlbSyncMax: 512, unmapPath: null, disableHugepages: false, dmaEntryLimit: 65535 },
      },
      scenario: null,
    });
    expect(lines).toEqual([{ op: 'mmap', size: '0x40000000', backing: 'thp' }]);
    expect(lineNos).toEqual([2]);
  });

  it('test_host_and_memlock_follow_the_ram_mmaps', () => {
    // 3 MiB of RAM (rounded up to 2 MiB with the 4 GiB) and a BAR that counts for neither
    const { header, lines } = parseReplay(
      [`${HEADER}}`, mmap(2n * MIB, ',"backing":"4k"'), mmap(MIB), mmap(256n * MIB, ',"backing":"mmio","name":"gpu.bar1"')].join('\n'),
      'f.jsonl',
    );
    expect(header.machine.hostMemory).toBe(String(4n * GIB + 4n * MIB));
    expect(header.machine.memlockLimit).toBe(String(GIB + 3n * MIB));
    // an mmap without backing takes the machine's; one with a backing keeps it
    expect(lines.map((l) => (l.op === 'mmap' ? l.backing : null))).toEqual(['4k', 'thp', 'mmio']);
    // exactly 2 MiB of RAM needs no rounding
    expect(parseReplay([`${HEADER}}`, mmap(2n * MIB)].join('\n'), 'f').header.machine.hostMemory).toBe(String(4n * GIB + 2n * MIB));
  });

  it('test_every_machine_field_is_taken_as_given', () => {
    const machine = {
      hostMemory: '16G',
      seed: 7,
      backing: 'hugetlb-2m',
      hostAge: 0.5,
      hardware: 'vtd-2015',
      cost: { pins: 5 },
      driver: 'reference',
      profile: 'v5.10',
      iotlbEntries: 64,
      superpages: false,
      groups: 2,
      devices: 3,
      memlockLimit: 123456789,
      capIpcLock: true,
      container: { tlbSyncMax: 8, unmapPath: 'slow', disableHugepages: true, dmaEntryLimit: 10 },
    };
    const { header, lines } = parseReplay(
      [`${HEADER},"label":"mine","machine":${JSON.stringify(machine)},"scenario":null}`, mmap(GIB)].join('\n'),
      'f.jsonl',
    );
    expect(header.label).toBe('mine');
    expect(header.machine).toEqual({ ...machine, hostMemory: String(16n * GIB), memlockLimit: '123456789' });
    expect(lines).toEqual([{ op: 'mmap', size: '0x40000000', backing: 'hugetlb-2m' }]);
    // the label defaults to the profile given
    expect(parseReplay(`${HEADER},"machine":{"profile":"v4.17"}}`, 'f').header.label).toBe('v4.17');
  });

  it('test_devices_default_to_one_per_group', () => {
    const m = (fields: string) => parseReplay(`${HEADER},"machine":{${fields}}}`, 'f').header.machine;
    expect([m('"groups":3').devices, m('"groups":3,"devices":3').devices, m('"devices":5').devices]).toEqual([3, 3, 5]);
    expect(m('"groups":64,"devices":256').groups).toBe(64);
    // fewer devices than groups: at least one per group
    expect(headerProblem(',"machine":{"groups":3,"devices":2}')).toBe('f.jsonl:1: header: machine.devices must be an integer in [3, 256]');
    expect(headerProblem(',"machine":{"devices":0}')).toBe('f.jsonl:1: header: machine.devices must be an integer in [1, 256]');
    expect(headerProblem(',"machine":{"devices":257}')).toBe('f.jsonl:1: header: machine.devices must be an integer in [1, 256]');
    // a bad group count still leaves one device per group the floor (not a second message about groups)
    expect(headerProblem(',"machine":{"groups":"2","devices":1}')).toBe('f.jsonl:1: header: machine.groups must be an integer in [1, 64]');
  });

  it('test_byte_fields_accept_strings_numbers_and_sizes', () => {
    const m = (fields: string) => parseReplay(`${HEADER},"machine":{${fields}}}`, 'f').header.machine;
    expect(m('"hostMemory":"8589934592"').hostMemory).toBe('8589934592');
    expect(m('"hostMemory":2097152').hostMemory).toBe('2097152');
    expect(m('"hostMemory":"16T"').hostMemory).toBe(String(1n << 44n));
    expect(m('"memlockLimit":"18446744073709551615"').memlockLimit).toBe('18446744073709551615');
    expect(m('"memlockLimit":1').memlockLimit).toBe('1');
  });

  it('test_recorded_scenario_is_merged_with_the_defaults', () => {
    const { header } = parseReplay(`${HEADER},"scenario":{"name":"mine","seed":9}}`, 'f');
    expect(header.scenario?.name).toBe('mine');
    expect(header.scenario?.seed).toBe(9);
    // left out: the defaults
    expect(header.scenario?.guest.memory).toBe('64G');
    expect(header.scenario?.vfio.tlbSyncMax).toBe(512);
    expect(parseReplay(`${HEADER},"scenario":null}`, 'f').header.scenario).toBeNull();
  });
});

describe('replay header problems', () => {
  const BYTES = 'bytes: a decimal string like "8589934592", or a size like "8G"';
  it.each([
    [',"version":2', 'unsupported version 2 (this tool reads 1)'],
    [',"label":""', 'label must be a non-empty string of at most 80 characters'],
    [`,"label":"${'x'.repeat(81)}"`, 'label must be a non-empty string of at most 80 characters'],
    [',"label":5', 'label must be a non-empty string of at most 80 characters'],
    [',"machine":[]', 'machine must be an object (every field optional)'],
    [',"machine":{"hostMemory":"1048576"}', 'machine.hostMemory 1048576 is not a multiple of 2 MiB'],
    [',"machine":{"hostMemory":"17T"}', 'machine.hostMemory 17T is larger than the 16 TiB this tool models'],
    [',"machine":{"hostMemory":0}', `machine.hostMemory must be ${BYTES}`],
    [',"machine":{"hostMemory":1.5}', `machine.hostMemory must be ${BYTES}`],
    [',"machine":{"hostMemory":"lots"}', `machine.hostMemory must be ${BYTES}`],
    [',"machine":{"hostMemory":true}', `machine.hostMemory must be ${BYTES}`],
    // a list is not a size, though its one element would read as one
    [',"machine":{"hostMemory":["8G"]}', `machine.hostMemory must be ${BYTES}`],
    [',"label":["x"]', 'label must be a non-empty string of at most 80 characters'],
    [
      ',"machine":{"memlockLimit":"18446744073709551616"}',
      'machine.memlockLimit 18446744073709551616 is larger than a u64 (RLIMIT_MEMLOCK is a 64-bit byte count)',
    ],
    [',"machine":{"memlockLimit":-1}', `machine.memlockLimit must be ${BYTES}`],
    [',"machine":{"seed":1.5}', 'machine.seed must be an integer in [0, 4294967295]'],
    [',"machine":{"seed":4294967296}', 'machine.seed must be an integer in [0, 4294967295]'],
    [',"machine":{"backing":"2m"}', 'machine.backing must be a backing name (4k, thp, hugetlb-2m, hugetlb-1g, fragmented:<p>)'],
    [',"machine":{"backing":4}', 'machine.backing must be a backing name (4k, thp, hugetlb-2m, hugetlb-1g, fragmented:<p>)'],
    [',"machine":{"hostAge":1.01}', 'machine.hostAge must be a number in [0, 1] (or absent: 1)'],
    [',"machine":{"hostAge":-0.01}', 'machine.hostAge must be a number in [0, 1] (or absent: 1)'],
    [',"machine":{"hostAge":"1"}', 'machine.hostAge must be a number in [0, 1] (or absent: 1)'],
    [
      ',"machine":{"hardware":"x"}',
      "machine.hardware: unknown machine 'x' (machines: lizhe-2025, broadwell-2021, vtd-2015, amdvi-2015, xeon-e5-2018, williamson-2025, i7-12700)",
    ],
    [',"machine":{"driver":"intel"}', "machine.driver must be 'amd' or 'reference'"],
    [
      ',"machine":{"profile":"v3.18"}',
      "machine.profile must be a release from v3.19 to v7.1 or 'mainline' (optionally with +id / ~id entry switches)",
    ],
    [',"machine":{"cost":[]}', 'machine.cost must be an object of event -> ns'],
    [',"machine":{"cost":7}', 'machine.cost must be an object of event -> ns'],
    [
      ',"machine":{"cost":{"pins":-1,"unpins":"5"}}',
      "machine.cost: cost of 'pins' must be a number of nanoseconds in [0, 1000000000], got -1; machine.cost: cost of 'unpins' must be a number of nanoseconds in [0, 1000000000], got \"5\"",
    ],
    [',"machine":{"superpages":"true"}', 'machine.superpages must be true or false (or absent: true)'],
    [',"machine":{"iotlbEntries":0}', 'machine.iotlbEntries must be an integer in [1, 1048576]'],
    [',"machine":{"groups":65}', 'machine.groups must be an integer in [1, 64]'],
    [',"machine":{"capIpcLock":1}', 'machine.capIpcLock must be true or false'],
    [',"machine":{"container":[]}', 'machine.container must be an object (every field optional)'],
    [',"machine":{"container":{"unmapPath":"quick"}}', "machine.container.unmapPath must be null, 'slow', 'fast' or 'mainline'"],
    [',"machine":{"container":{"disableHugepages":"no"}}', 'machine.container.disableHugepages must be true or false'],
    [',"machine":{"container":{"dmaEntryLimit":0}}', 'machine.container.dmaEntryLimit must be an integer in [1, 2147483647]'],
    [',"machine":{"container":{"tlbSyncMax":1048577}}', 'machine.container.tlbSyncMax must be an integer in [1, 1048576]'],
    [
      ',"machine":{"ram":1}',
      `unknown field 'machine.ram' (known: machine.hostMemory, machine.seed, machine.backing, machine.hostAge, machine.hardware, machine.cost, machine.driver, machine.profile, machine.iotlbEntries, machine.superpages, machine.groups, machine.devices, machine.memlockLimit, machine.capIpcLock, machine.container)`,
    ],
    [',"scenario":5', 'scenario must be a scenario object or null'],
    [',"scenario":[]', 'scenario must be a scenario object or null'],
  ])('test_header_problem %s', (fields, want) => {
    expect(headerProblem(fields)).toBe(`f.jsonl:1: header: ${want}`);
  });

  it('test_header_edges_accepted', () => {
    const h = (fields: string) => parseReplay(`${HEADER}${fields}}`, 'f').header;
    expect(h(`,"label":"${'x'.repeat(80)}"`).label).toBe('x'.repeat(80));
    expect(h(',"machine":{"hostAge":0}').machine.hostAge).toBe(0);
    expect(h(',"machine":{"hostAge":1}').machine.hostAge).toBe(1);
    expect(h(',"machine":{"seed":4294967295,"iotlbEntries":1048576}').machine.seed).toBe(4294967295);
    expect(h(',"machine":{"seed":0}').machine.seed).toBe(0);
    for (const p of [null, 'slow', 'fast', 'mainline'])
      expect(h(`,"machine":{"container":{"unmapPath":${JSON.stringify(p)}}}`).machine.container?.unmapPath).toBe(p);
    expect(h(',"machine":{"cost":{"pins":0,"unpins":1000000000}}').machine.cost).toEqual({ pins: 0, unpins: 1e9 });
  });

  it('test_cost_events_checked_by_name_for_a_known_driver_and_profile', () => {
    const events: CostEvents = (driver, profile) => new Set(driver === 'amd' && profile === 'mainline' ? ['pins'] : ['unpins']);
    expect(headerProblem(',"machine":{"cost":{"pins":1,"walks":2}}', events)).toBe(
      "f.jsonl:1: header: machine.cost: unknown event 'walks' (see `vfio-sim report --costs --driver amd`)",
    );
    expect(headerProblem(',"machine":{"driver":"reference","cost":{"pins":1}}', events)).toBe(
      "f.jsonl:1: header: machine.cost: unknown event 'pins' (see `vfio-sim report --costs --driver reference`)",
    );
    // the driver's events under the profile given
    expect(headerProblem(',"machine":{"profile":"v5.10","cost":{"pins":1}}', events)).toBe(
      "f.jsonl:1: header: machine.cost: unknown event 'pins' (see `vfio-sim report --costs --driver amd`)",
    );
    expect(parseReplay(`${HEADER},"machine":{"cost":{"pins":1}}}`, 'f', events).header.machine.cost).toEqual({ pins: 1 });
    // no events to check against when the driver or profile is itself wrong: that one problem only
    expect(headerProblem(',"machine":{"driver":"x","cost":{"walks":1}}', events)).toBe(
      "f.jsonl:1: header: machine.driver must be 'amd' or 'reference'",
    );
    expect(headerProblem(',"machine":{"profile":"v1","cost":{"walks":1}}', events)).toBe(
      "f.jsonl:1: header: machine.profile must be a release from v3.19 to v7.1 or 'mainline' (optionally with +id / ~id entry switches)",
    );
    // without a list of events any name passes
    expect(parseReplay(`${HEADER},"machine":{"cost":{"walks":1}}}`, 'f').header.machine.cost).toEqual({ walks: 1 });
  });

  it('test_scenario_problems_name_their_path', () => {
    expect(headerProblem(',"scenario":{"guest":{"colour":"red"}}')).toMatch(/^f\.jsonl:1: header: scenario: .*'guest\.colour'/);
    expect(headerProblem(',"scenario":{"churn":{"live":0}}')).toMatch(/^f\.jsonl:1: header: scenario\.churn\.live: /);
  });
});

describe('replay lines', () => {
  it('test_blank_and_comment_lines_are_skipped_and_counted', () => {
    const { header, lines, lineNos } = parseReplay(
      ['# made by hand', '', `  ${HEADER}}  `, '', '{"op":"phase","name":"boot"}', '   # a note', mmap(2n * MIB)].join('\n'),
      'f.jsonl',
    );
    expect(header.label).toBe('mainline');
    expect(lines).toEqual([
      { op: 'phase', name: 'boot' },
      { op: 'mmap', size: '0x200000', backing: 'thp' },
    ]);
    expect(lineNos).toEqual([5, 7]);
    // the header's problems are reported at its own line
    expect(problem(['# c', '', `${HEADER},"version":3}`])).toBe('f.jsonl:3: header: unsupported version 3 (this tool reads 1)');
  });

  it('test_file_level_problems', () => {
    const FIRST = 'first line must be {"op":"header","format":"vfio-sim-replay","version":1} (every other header field is optional)';
    expect(problem(['', '# nothing'])).toBe('f.jsonl: empty replay file: no header line (vfio-sim replay --init prints a template)');
    expect(problem(['{"op":"header","format":"other","version":1}'])).toBe(`f.jsonl:1: ${FIRST}`);
    expect(problem(['# c', '{"op":"mmap","format":"vfio-sim-replay"}'])).toBe(`f.jsonl:2: ${FIRST}`);
    expect(problem(['[1]'])).toBe('f.jsonl:1: each line must be a JSON object');
    expect(problem([`${HEADER}}`, 'null'])).toBe('f.jsonl:2: each line must be a JSON object');
    expect(problem([`${HEADER}}`, '"mmap"'])).toBe('f.jsonl:2: each line must be a JSON object');
    expect(problem([`${HEADER}}`, '{"op":'])).toMatch(/^f\.jsonl:2: not JSON: \S/);
    // a second header is a line like any other: an unknown op
    expect(problem([`${HEADER}}`, `${HEADER}}`])).toBe("f.jsonl:2: unknown op 'header' (mmap, phase, ioctl, dma)");
    expect(problem([`${HEADER}}`, '{"op":5}'])).toBe("f.jsonl:2: unknown op '5' (mmap, phase, ioctl, dma)");
  });

  it.each([
    ['{"op":"mmap"}', "mmap: missing field 'size' (a 0x hex u64)"],
    ['{"op":"mmap","size":4096}', "mmap: field 'size' must be a 0x hex u64"],
    ['{"op":"mmap","size":"0x"}', "mmap: field 'size' must be a 0x hex u64"],
    ['{"op":"mmap","size":"0x10000000000000000"}', "mmap: field 'size' must be a 0x hex u64"],
    ['{"op":"mmap","size":" 0x1000"}', "mmap: field 'size' must be a 0x hex u64"],
    ['{"op":"mmap","size":"0x1000 "}', "mmap: field 'size' must be a 0x hex u64"],
    // a list of one hex string is not a hex string (RegExp.test would read it as one)
    ['{"op":"mmap","size":["0x1000"]}', "mmap: field 'size' must be a 0x hex u64"],
    [
      '{"op":"mmap","size":"0x1000","backing":"bar","name":1,"vaddr":"7f","populate":"no"}',
      "mmap: field 'backing' must be a backing name or 'mmio' (a device BAR); field 'name' must be a string; field 'vaddr' must be a 0x hex u64; field 'populate' must be true or false (or absent: true)",
    ],
    ['{"op":"mmap","size":"0x1000","backing":3}', "mmap: field 'backing' must be a backing name or 'mmio' (a device BAR)"],
    ['{"op":"phase"}', "phase: missing field 'name' (a string)"],
    ['{"op":"phase","name":2,"at":1}', "phase: unknown field 'at' (known: op, name); field 'name' must be a string"],
    [
      '{"op":"dma","device":-1,"iova":"1","pages":0,"dir":"rw"}',
      "dma: field 'device' must be a device id; field 'iova' must be a 0x hex byte address; field 'pages' must be a page count > 0; field 'dir' must be 'read' or 'write'",
    ],
    ['{"op":"dma","device":4294967296,"iova":"0x0","pages":1,"dir":"read"}', "dma: field 'device' must be a device id"],
    ['{"op":"dma","device":1.5,"iova":"0x0","pages":1,"dir":"read"}', "dma: field 'device' must be a device id"],
    ['{"op":"dma","device":"1","iova":"0x0","pages":1,"dir":"read"}', "dma: field 'device' must be a device id"],
    ['{"op":"dma","device":1,"iova":"0x0","pages":"1","dir":"read"}', "dma: field 'pages' must be a page count > 0"],
    [
      '{"op":"dma"}',
      "dma: missing field 'device' (a device id); missing field 'iova' (a 0x hex byte address); missing field 'pages' (a page count > 0); missing field 'dir' ('read' or 'write')",
    ],
    [
      '{"op":"ioctl"}',
      "ioctl: missing field 'cmd' (VFIO_IOMMU_MAP_DMA or VFIO_IOMMU_UNMAP_DMA); missing field 'arg' (the uapi struct's fields)",
    ],
    [
      '{"op":"ioctl","cmd":"VFIO_IOMMU_GET_INFO","arg":{"x":1}}',
      "ioctl: unsupported cmd 'VFIO_IOMMU_GET_INFO' (VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA)",
    ],
    ['{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":[]}', "ioctl: field 'arg' must be an object (the uapi struct's fields)"],
    ['{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":null}', "ioctl: field 'arg' must be an object (the uapi struct's fields)"],
    [
      '{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"argsz":-1,"flags":1.5}}',
      "ioctl: field 'arg.argsz' must be a u32 number; field 'arg.flags' must be a u32 number; missing field 'arg.vaddr' (a 0x hex u64 string); missing field 'arg.iova' (a 0x hex u64 string); missing field 'arg.size' (a 0x hex u64 string)",
    ],
    [
      '{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"argsz":4294967296,"flags":"3","vaddr":"0x0","iova":"0x0","size":"0x1000"}}',
      "ioctl: field 'arg.argsz' must be a u32 number; field 'arg.flags' must be a u32 number",
    ],
    [
      '{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"vaddr":"0x0","iova":"0x0","size":"0x1000"}}',
      "ioctl: unknown field 'arg.vaddr' (known: arg.argsz, arg.flags, arg.iova, arg.size)",
    ],
    [
      '{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"iova":"0x0","size":"0x1000"},"ret":0,"errno":"EINVAL"}',
      "ioctl: give 'ret' or 'errno', not both",
    ],
    [
      '{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"iova":"0x0","size":"0x1000"},"ret":1.5,"errno":"einval"}',
      "ioctl: give 'ret' or 'errno', not both; field 'ret' must be an integer; field 'errno' must be an errno name like 'EINVAL'",
    ],
    ['{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"iova":"0x0","size":"0x1000"},"ret":"0"}', "ioctl: field 'ret' must be an integer"],
    [
      '{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"iova":"0x0","size":"0x1000"},"errno":"EINVAL "}',
      "ioctl: field 'errno' must be an errno name like 'EINVAL'",
    ],
    [
      '{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"iova":"0x0","size":"0x1000"},"errno":"xEINVAL"}',
      "ioctl: field 'errno' must be an errno name like 'EINVAL'",
    ],
    [
      '{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"iova":"0x0","size":"0x1000"},"errno":22}',
      "ioctl: field 'errno' must be an errno name like 'EINVAL'",
    ],
    [
      '{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"iova":"0x0","size":"0x1000"},"errno":["EINVAL"]}',
      "ioctl: field 'errno' must be an errno name like 'EINVAL'",
    ],
    [
      '{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"vaddr":"0x0","iova":"0x0","size":"0x1000"},"sizeOut":"0x1000"}',
      "ioctl: 'sizeOut' belongs to VFIO_IOMMU_UNMAP_DMA",
    ],
    [
      '{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"iova":"0x0","size":"0x1000"},"sizeOut":4096}',
      "ioctl: field 'sizeOut' must be a 0x hex u64",
    ],
  ])('test_line_problem %s', (line, want) => {
    expect(lineProblem(line)).toBe(`f.jsonl:2: ${want}`);
  });

  it('test_mmap_populate_given_or_absent', () => {
    const { lines } = parseReplay(
      [`${HEADER}}`, mmap(2n * MIB, ',"populate":false'), mmap(2n * MIB, ',"populate":true'), mmap(2n * MIB)].join('\n'),
      'f.jsonl',
    );
    expect(lines.map((l) => (l.op === 'mmap' ? (l.populate ?? 'absent') : null))).toEqual([false, true, 'absent']);
  });

  it('test_ioctl_argsz_and_flags_default_to_the_uapi', () => {
    const { lines } = parseReplay(
      [
        `${HEADER}}`,
        '{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"vaddr":"0x7f0000000000","iova":"0x0","size":"0x1000"}}',
        '{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"iova":"0x0","size":"0x1000"},"errno":"EINVAL"}',
        '{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"argsz":40,"flags":1,"vaddr":"0x0","iova":"0x0","size":"0x1000"},"ret":-22}',
        '{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"argsz":4294967295,"flags":0,"iova":"0xFFFFFFFFFFFFF000","size":"0x1000"},"ret":0,"sizeOut":"0x0"}',
        '{"op":"dma","device":4294967295,"iova":"0x0","pages":4294967295,"dir":"write"}',
      ].join('\n'),
      'f.jsonl',
    );
    expect(lines.map((l) => (l.op === 'ioctl' ? [l.arg.argsz, l.arg.flags] : null))).toEqual([
      [32, 3],
      [24, 0],
      [40, 1],
      [4294967295, 0],
      null,
    ]);
  });
});
