// vfio-sim validate: every published measurement of this path next to the model's figure for the
// same experiment (docs/validation.md is this command's output). Exit 1 when a case misses.

import { UsageError } from '../errors.js';
import { textTable } from '../report/format.js';
import { CASES } from '../validate/cases.js';
import { fmtFigure, machineOf } from '../validate/figure.js';
import { runValidation, selectCases, type CaseOutcome, type CliRunner } from '../validate/run.js';
import { validationMarkdown } from '../validate/markdown.js';

const VALIDATE_SCHEMA = 'vfio-sim/validate@1';

export interface ValidateOptions {
  json?: boolean;
  markdown?: boolean;
  kind?: string;
  progress?: boolean;
}

function validateTable(out: readonly CaseOutcome[]): string {
  const rows = out.map((o) => [
    o.id,
    o.kind === 'target' ? 'target' : 'held-out',
    fmtFigure(o.published, o.unit),
    fmtFigure(o.model, o.unit),
    o.tolerance,
    o.ok ? 'ok' : 'MISS',
  ]);
  const t = out.filter((o) => o.kind === 'target'),
    h = out.filter((o) => o.kind === 'held-out');
  const sum = (xs: readonly CaseOutcome[]): string => `${xs.filter((o) => o.ok).length}/${xs.length}`;
  return (
    `${textTable(['case', 'kind', 'published', 'model', 'tolerance', 'ok'], rows, [2, 3])}\n\n` +
    `targets within tolerance: ${sum(t)}; held-out: ${sum(h)}. Each case's command and metric: vfio-sim validate --json`
  );
}

export async function validateCommand(ids: readonly string[], o: ValidateOptions, cli: CliRunner): Promise<number> {
  if (o.json && o.markdown) throw new UsageError('--markdown', 'prints the page docs/validation.md is; not with --json');
  const kind = o.kind ?? 'all';
  if (kind !== 'all' && kind !== 'target' && kind !== 'held-out')
    throw new UsageError('--kind', `'${kind}' is not one of target, held-out, all`);
  const cases = selectCases(ids, kind);
  if (cases.length === 0)
    throw new UsageError(
      'validate',
      `no case starts with ${ids.map((x) => `'${x}'`).join(', ')} (cases: ${CASES.map((c) => c.id).join(', ')})`,
    );
  const show = o.progress !== false && process.stderr.isTTY === true && !o.json && !o.markdown;
  const out = await runValidation(cases, cli, (i, n, line) => {
    if (show) process.stderr.write(`\r\x1b[K[${i + 1}/${n}] ${line.length > 100 ? `${line.slice(0, 97)}...` : line}`);
  });
  if (show) process.stderr.write('\r\x1b[K');
  if (o.json)
    process.stdout.write(
      `${JSON.stringify({ schema: VALIDATE_SCHEMA, cases: out.map((x) => ({ ...x, machine: machineOf(x) })) }, null, 2)}\n`,
    );
  else if (o.markdown) process.stdout.write(`${validationMarkdown(out)}\n`);
  else process.stdout.write(`${validateTable(out)}\n`);
  return out.every((x) => x.ok) ? 0 : 1;
}
