// Runs the validation cases: each distinct command once, exactly as a user would run it (through
// the CLI's own entry point, with --json), then reads each case's figure at its metric path and
// checks it against the published one.

import { CASES, type ValidationCase } from './cases.js';

/** Runs vfio-sim with these arguments and returns what it printed on stdout and its exit code. */
export type CliRunner = (args: readonly string[]) => Promise<{ code: number; stdout: string }>;

export interface CaseOutcome {
  readonly id: string;
  readonly kind: ValidationCase['kind'];
  readonly source: string;
  readonly statement: string;
  readonly published: number;
  readonly model: number;
  readonly unit: ValidationCase['unit'];
  readonly check: ValidationCase['check'];
  /** As the table shows it: '±15%', '±10 pp', '<= published', '< published', '= published'. */
  readonly tolerance: string;
  readonly ok: boolean;
  /** The command line that prints the figure on its own. */
  readonly command: string;
  /** Path of the figure in that command's --json output (its value there is model x scale). */
  readonly metric: string;
  readonly scale: number;
  readonly note: string | null;
}

/** The command line of a case, as a user types it. */
function commandLine(c: ValidationCase): string {
  return ['vfio-sim', ...c.args, '--json'].map((a) => (/^[\w.,:=+~/-]+$/.test(a) ? a : `'${a}'`)).join(' ');
}

/** The value at a path like `cases[1].metrics.phaseNs.map` or `nsPerCall`; undefined when absent. */
export function atPath(doc: unknown, path: string): unknown {
  let o: unknown = doc;
  for (const part of path.split('.')) {
    const m = /^([A-Za-z_]\w*)((?:\[\d+\])*)$/.exec(part);
    if (m === null || typeof o !== 'object' || o === null) return undefined;
    o = (o as Record<string, unknown>)[m[1]!];
    for (const idx of m[2]!.match(/\d+/g) ?? []) {
      if (!Array.isArray(o)) return undefined;
      o = o[Number(idx)];
    }
  }
  return o;
}

function toleranceText(c: ValidationCase): string {
  switch (c.check) {
    case 'within':
      return c.unit === '%' ? `±${c.tolerance} pp` : `±${Math.round(c.tolerance * 100)}%`;
    case 'at-most':
      return '<= published';
    case 'below':
      return '< published';
    case 'exact':
      return '= published';
  }
}

export function passes(c: ValidationCase, model: number): boolean {
  if (!Number.isFinite(model)) return false;
  switch (c.check) {
    case 'within':
      return c.unit === '%'
        ? Math.abs(model - c.published) <= c.tolerance
        : Math.abs(model - c.published) <= c.tolerance * Math.abs(c.published);
    case 'at-most':
      return model <= c.published;
    case 'below':
      return model < c.published;
    case 'exact':
      return model === c.published;
  }
}

/**
 * Runs the cases (each distinct command once) and checks them. `onCommand` is told before each
 * command runs (progress). A command that fails or lacks the metric is an Error: the case list and
 * the commands are out of step, which is a bug, not a miss.
 */
export async function runValidation(
  cases: readonly ValidationCase[],
  cli: CliRunner,
  onCommand?: (i: number, n: number, line: string) => void,
): Promise<CaseOutcome[]> {
  const docs = new Map<string, unknown>();
  const lines = [...new Set(cases.map(commandLine))];
  for (let i = 0; i < lines.length; i++) {
    const c = cases.find((x) => commandLine(x) === lines[i])!;
    onCommand?.(i, lines.length, lines[i]!);
    const r = await cli([...c.args, '--json']);
    if (r.code !== 0) throw new Error(`validate: '${lines[i]}' exited ${r.code}`);
    docs.set(lines[i]!, JSON.parse(r.stdout));
  }
  return cases.map((c) => {
    const line = commandLine(c);
    const v = atPath(docs.get(line), c.metric);
    if (typeof v !== 'number') throw new Error(`validate: ${c.id}: no number at ${c.metric} in the output of '${line}'`);
    const model = v / c.scale;
    return {
      id: c.id,
      kind: c.kind,
      source: c.source,
      statement: c.statement,
      published: c.published,
      model,
      unit: c.unit,
      check: c.check,
      tolerance: toleranceText(c),
      ok: passes(c, model),
      command: line,
      metric: c.metric,
      scale: c.scale,
      note: c.note ?? null,
    };
  });
}

/** The cases whose id starts with one of `prefixes` (all when empty); Error naming the ids for none. */
export function selectCases(prefixes: readonly string[], kind: 'target' | 'held-out' | 'all' = 'all'): ValidationCase[] {
  const out = CASES.filter(
    (c) => (kind === 'all' || c.kind === kind) && (prefixes.length === 0 || prefixes.some((p) => c.id.startsWith(p))),
  );
  return out;
}
