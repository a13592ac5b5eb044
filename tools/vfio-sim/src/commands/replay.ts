// vfio-sim replay FILE: rebuilds the recorded machine and feeds it the recorded ioctl stream (JSON
// Lines, see README). --profile (a list works) replays the same stream under other kernel profiles.
// Each ioctl's result is compared with the recorded ret/errno/sizeOut; any difference exits 1.

import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { parseReplay } from '../engine/record.js';
import { optionValues, SCENARIO_OPTS } from '../scenario/options.js';
import { checkTlbSyncMax, type Profile } from '../scenario/scenario.js';
import type { Task } from '../task.js';
import { checkOutputOpts, emit, execute, type OutputOpts } from './common.js';

export async function replayCommand(file: string, opts: Record<string, unknown> & OutputOpts): Promise<number> {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) { throw new UsageError('replay', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
  const { header, lines, lineNos } = parseReplay(text, file);
  checkOutputOpts(opts);
  const allowed = new Set(['profile', 'tlbSyncMax', 'machine']);
  const vals = optionValues(Object.fromEntries(Object.entries(opts).filter(([k]) => SCENARIO_OPTS.some((o) => o.attr === k && allowed.has(k)))), true);
  const profiles = (vals.get(SCENARIO_OPTS.find((o) => o.attr === 'profile')!) ?? [header.machine.profile]) as Profile[];
  const syncMax = vals.get(SCENARIO_OPTS.find((o) => o.attr === 'tlbSyncMax')!);
  if (syncMax !== undefined && syncMax.length > 1) throw new UsageError('--tlb-sync-max', 'replay takes one value');
  if (syncMax !== undefined) checkTlbSyncMax(syncMax[0]);
  const hw = vals.get(SCENARIO_OPTS.find((o) => o.attr === 'machine')!);
  if (hw !== undefined && hw.length > 1) throw new UsageError('--machine', 'replay takes one value');
  const trace = opts.trace !== undefined;
  const tasks: Task[] = profiles.map((p) => {
    const machine = { ...header.machine, profile: p, ...(hw ? { hardware: hw[0] as string } : {}), container: { ...header.machine.container, ...(syncMax ? { tlbSyncMax: syncMax[0] as number } : {}) } };
    const scenario = header.scenario === null ? null
      : { ...header.scenario, profile: p, ...(hw ? { host: { ...header.scenario.host, machine: hw[0] as string } } : {}), vfio: { ...header.scenario.vfio, tlbSyncMax: machine.container.tlbSyncMax } };
    return { kind: 'replay', label: profiles.length > 1 || p !== header.machine.profile ? p : header.label, header: { ...header, machine, scenario }, lines, lineNos, trace };
  });
  const outs = await execute(tasks, opts);
  const code = emit('replay', outs, null, opts);
  // a replay that does not give the recorded results has not reproduced the run
  return outs.some((o) => (o.result.mismatches?.length ?? 0) > 0) ? 1 : code;
}
