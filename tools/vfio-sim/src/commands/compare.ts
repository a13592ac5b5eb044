// vfio-sim compare: cases side by side. By default the three kernel profiles; any scenario flag
// given a comma list adds a dimension (--backing 4k,thp), and scenario files are cases of their own.

import { PROFILES } from '../scenario/scenario.js';
import { SCENARIO_OPTS } from '../scenario/options.js';
import { checkCases, emit, execute, expandCases, loadScenarioFile, scenarioFromOptions, type OutputOpts } from './common.js';
import { basename } from 'node:path';

export async function compareCommand(files: string[], opts: Record<string, unknown> & OutputOpts, hints: boolean): Promise<number> {
  const { base, varying } = scenarioFromOptions(opts, true);
  const profileOpt = SCENARIO_OPTS.find((o) => o.attr === 'profile')!;
  if (opts.profile === undefined && files.length === 0) varying.unshift([profileOpt, [...PROFILES]]);
  let cases = expandCases(base, varying);
  if (files.length > 0) {
    cases = files.flatMap((f) => {
      const s = loadScenarioFile(f, base);
      return expandCases(s, varying).map((c) => ({ label: varying.length > 0 ? `${basename(f, '.json')} ${c.label}` : basename(f, '.json'), scenario: c.scenario }));
    });
  }
  checkCases(cases);
  const trace = opts.trace !== undefined;
  const outs = await execute(cases.map((c) => ({ kind: 'run', label: c.label, scenario: c.scenario, trace, record: false })), opts);
  return emit('compare', outs, null, opts, hints);
}
