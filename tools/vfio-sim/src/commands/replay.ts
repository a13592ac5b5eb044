// vfio-sim replay FILE: rebuilds the recorded machine and feeds it the recorded ioctl stream (JSON
// Lines, see README). --profile (a list works) replays the same stream under other kernel profiles.
// Each ioctl's result is compared with the recorded ret/errno/sizeOut; any difference exits 1.
// --init prints a commented template that replays as it is.

import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { parseReplay } from '../engine/record.js';
import { optionValues, SCENARIO_OPTS } from '../scenario/options.js';
import { checkTlbSyncMax, type Profile } from '../scenario/scenario.js';
import type { Task } from '../task.js';
import { checkOutputOpts, emit, execute, type OutputOpts } from './common.js';
import { costTable } from './report.js';

/** What `replay --init` prints: every kind of line, with the header's defaults in comments. A test replays it. */
const REPLAY_TEMPLATE = `# vfio-sim replay file: JSON Lines, one JSON object per line; blank lines and lines starting with #
# are skipped. Replay it with \`vfio-sim replay FILE\` (--profile v4.16,v4.17,mainline compares kernels).
#
# The header comes first. Only op, format and version are needed; every other field has a default:
#   "label": the profile
#   "machine": { "hostMemory": RAM mmapped below + 4 GiB (bytes "8589934592" or a size "8G"), "seed": 1,
#     "backing": "thp" (4k, thp, hugetlb-2m, hugetlb-1g, fragmented:<p>), "hostAge": 1, "cost": {} (event -> ns,
#     see vfio-sim report --costs), "driver": "amd" (or "reference"), "profile": "mainline" (v3.19 .. v7.1),
#     "iotlbEntries": 1024, "superpages": true, "groups": 1, "devices": one per group,
#     "memlockLimit": RAM mmapped below + 1 GiB, "capIpcLock": false,
#     "container": { "tlbSyncMax": 512, "unmapPath": null (the release's), "disableHugepages": false, "dmaEntryLimit": 65535 } }
#   "scenario": null (a run's --record writes the scenario it ran)
{"op":"header","format":"vfio-sim-replay","version":1,"machine":{"driver":"amd","profile":"mainline","backing":"thp"}}

# The QEMU process maps 1 GiB of guest RAM. backing defaults to the machine's ("mmio" = a device BAR);
# vaddr is checked when given (areas are placed 1 GiB-aligned from 0x7f0000000000).
{"op":"mmap","size":"0x40000000","vaddr":"0x7f0000000000"}

# Phase markers split the modeled time (boot, run, churn, shutdown, or any name).
{"op":"phase","name":"boot"}
# VFIO_IOMMU_MAP_DMA. arg.flags defaults to 3 (READ|WRITE), arg.argsz to 32; ret (or errno) is the
# result replay expects: a call that gives another exits 1. Left out, the result is not checked.
{"op":"ioctl","cmd":"VFIO_IOMMU_MAP_DMA","arg":{"flags":3,"vaddr":"0x7f0000000000","iova":"0x0","size":"0x40000000"},"ret":0}

{"op":"phase","name":"run"}
# The first device (id 256) writes 16 pages from IOVA 0x100000 through the IOMMU.
{"op":"dma","device":256,"iova":"0x100000","pages":16,"dir":"write"}

{"op":"phase","name":"shutdown"}
# VFIO_IOMMU_UNMAP_DMA; sizeOut is the size the kernel writes back.
{"op":"ioctl","cmd":"VFIO_IOMMU_UNMAP_DMA","arg":{"iova":"0x0","size":"0x40000000"},"ret":0,"sizeOut":"0x40000000"}
`;

export async function replayCommand(
  file: string | undefined,
  opts: Record<string, unknown> & OutputOpts & { init?: boolean },
): Promise<number> {
  if (opts.init) {
    if (file !== undefined)
      throw new UsageError('--init', `prints a template on stdout and takes no FILE (got ${file}): vfio-sim replay --init > my.jsonl`);
    process.stdout.write(REPLAY_TEMPLATE);
    return 0;
  }
  if (file === undefined) throw new UsageError('replay', 'missing FILE (a .jsonl replay file; vfio-sim replay --init prints a template)');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError('replay', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const { header, lines, lineNos } = parseReplay(text, file, (d, p) => new Set(costTable(d, p).map((r) => r.event)));
  checkOutputOpts(opts);
  const allowed = new Set(['profile', 'tlbSyncMax', 'machine']);
  const vals = optionValues(
    Object.fromEntries(Object.entries(opts).filter(([k]) => SCENARIO_OPTS.some((o) => o.attr === k && allowed.has(k)))),
    true,
  );
  const profiles = (vals.get(SCENARIO_OPTS.find((o) => o.attr === 'profile')!) ?? [header.machine.profile]) as Profile[];
  const syncMax = vals.get(SCENARIO_OPTS.find((o) => o.attr === 'tlbSyncMax')!);
  if (syncMax !== undefined && syncMax.length > 1) throw new UsageError('--tlb-sync-max', 'replay takes one value');
  if (syncMax !== undefined) checkTlbSyncMax(syncMax[0]);
  const hw = vals.get(SCENARIO_OPTS.find((o) => o.attr === 'machine')!);
  if (hw !== undefined && hw.length > 1) throw new UsageError('--machine', 'replay takes one value');
  const trace = opts.trace !== undefined;
  const tasks: Task[] = profiles.map((p) => {
    const machine = {
      ...header.machine,
      profile: p,
      ...(hw ? { hardware: hw[0] as string } : {}),
      container: { ...header.machine.container, ...(syncMax ? { tlbSyncMax: syncMax[0] as number } : {}) },
    };
    const scenario =
      header.scenario === null
        ? null
        : {
            ...header.scenario,
            profile: p,
            ...(hw ? { host: { ...header.scenario.host, machine: hw[0] as string } } : {}),
            vfio: { ...header.scenario.vfio, tlbSyncMax: machine.container.tlbSyncMax },
          };
    return {
      kind: 'replay',
      label: profiles.length > 1 || p !== header.machine.profile ? p : header.label,
      header: { ...header, machine, scenario },
      lines,
      lineNos,
      file,
      trace,
    };
  });
  const outs = await execute(tasks, opts);
  const code = emit('replay', outs, null, opts);
  // a replay that does not give the recorded results has not reproduced the run
  return outs.some((o) => (o.result.mismatches?.length ?? 0) > 0) ? 1 : code;
}
