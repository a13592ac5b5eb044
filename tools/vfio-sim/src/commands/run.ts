// vfio-sim run: one scenario under one profile; --record writes the ioctl stream as JSON Lines.

import { UsageError } from '../errors.js';
import { checkCases, checkOutputOpts, emit, execute, scenarioFromOptions, type OutputOpts } from './common.js';
import { writeOutput } from './outfile.js';
import { command, shellWord } from '../invocation.js';

export async function runCommand(opts: Record<string, unknown> & OutputOpts & { record?: string }): Promise<number> {
  const { base, varying, origin } = scenarioFromOptions(opts, false);
  if (varying.length > 0) throw new UsageError('--profile', 'run takes single values; use compare or sweep for lists');
  checkCases([{ scenario: base, origin }]);
  checkOutputOpts(opts);
  const outs = await execute(
    [{ kind: 'run', label: base.profile, scenario: base, trace: opts.trace !== undefined, record: opts.record !== undefined }],
    opts,
  );
  if (opts.record !== undefined) writeOutput('--record', opts.record, `${outs[0]!.record!.join('\n')}\n`);
  const code = emit('run', outs, null, opts);
  if (opts.record !== undefined && !opts.json && !opts.csv)
    process.stdout.write(`record: ${opts.record} (replay with: ${command(`replay ${shellWord(opts.record)}`)})\n`);
  return code;
}
