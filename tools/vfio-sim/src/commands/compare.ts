// vfio-sim compare: cases side by side. By default v4.16, v4.17 and mainline; any scenario flag
// given a comma list adds a dimension (--backing 4k,thp), and scenario files are cases of their own.

import { basename } from 'node:path';
import { UsageError } from '../errors.js';
import { DEFAULT_COMPARE, type Scenario } from '../scenario/scenario.js';
import { SCENARIO_OPTS } from '../scenario/options.js';
import {
  checkCases,
  checkOutputOpts,
  emit,
  execute,
  expandCases,
  scenarioFromOptions,
  type OutputOpts,
  type ScenarioOrigin,
} from './common.js';

/**
 * Each scenario file is a case (times the flags' comma lists); every flag the user gave overrides
 * the same field of every file, as `run --scenario F --flag` does. Without files the flags make
 * the base scenario and, unless --profile is given, v4.16, v4.17 and mainline are the cases.
 */
export async function compareCommand(files: string[], opts: Record<string, unknown> & OutputOpts, hints: boolean): Promise<number> {
  if (files.length > 0 && typeof opts.scenario === 'string') {
    throw new UsageError(
      '--scenario',
      'give scenario files either as arguments or with --scenario, not both (every argument is a case of its own)',
    );
  }
  checkOutputOpts(opts);
  let cases: { label: string; scenario: Scenario; origin: ScenarioOrigin | null }[];
  if (files.length === 0) {
    const { base, varying, origin } = scenarioFromOptions(opts, true);
    const profileOpt = SCENARIO_OPTS.find((o) => o.attr === 'profile')!;
    if (opts.profile === undefined) varying.unshift([profileOpt, [...DEFAULT_COMPARE]]);
    cases = expandCases(base, varying).map((c) => ({ ...c, origin }));
  } else {
    cases = files.flatMap((f) => {
      const { base, varying, origin } = scenarioFromOptions(opts, true, f);
      return expandCases(base, varying).map((c) => ({
        label: varying.length > 0 ? `${basename(f, '.json')} ${c.label}` : basename(f, '.json'),
        scenario: c.scenario,
        origin,
      }));
    });
  }
  checkCases(cases);
  const trace = opts.trace !== undefined;
  const outs = await execute(
    cases.map((c) => ({ kind: 'run', label: c.label, scenario: c.scenario, trace, record: false })),
    opts,
  );
  return emit('compare', outs, null, opts, hints);
}
