// vfio-sim sweep: one option over a list of values (e.g. --tlb-sync-max 1,8,64,512,4096) under one
// release (default mainline), with the trade-off it shows: syncs vs queued bytes vs how
// long pages stay pinned after their unmap.

import { UsageError } from '../errors.js';
import { flagName } from '../scenario/options.js';
import { checkCases, checkOutputOpts, emit, execute, expandCases, scenarioFromOptions, type OutputOpts } from './common.js';

export async function sweepCommand(opts: Record<string, unknown> & OutputOpts): Promise<number> {
  const { base, varying, origin } = scenarioFromOptions(opts, true);
  if (varying.length !== 1) {
    throw new UsageError(
      varying.length === 0 ? 'sweep' : varying.map(([o]) => flagName(o)).join(', '),
      varying.length === 0
        ? 'give one option a comma list, e.g. --tlb-sync-max 1,8,64,512,4096'
        : 'sweep varies one option; use compare for several',
    );
  }
  const [o, values] = varying[0]!;
  const cases = expandCases(base, varying);
  checkCases(cases.map((c) => ({ ...c, origin })));
  checkOutputOpts(opts);
  const trace = opts.trace !== undefined;
  const outs = await execute(
    cases.map((c) => ({ kind: 'run', label: c.label, scenario: c.scenario, trace, record: false })),
    opts,
  );
  return emit('sweep', outs, { option: o.path, flag: flagName(o), values }, opts);
}
