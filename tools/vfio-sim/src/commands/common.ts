// What run, compare, sweep and replay share: building scenarios from flags and files, expanding
// comma lists into cases, running them, and writing the outputs (table, --json, --trace, --html).

import { mkdtempSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { OutputError, UsageError } from '../errors.js';
import type { CaseOutput } from '../engine/run.js';
import { commandResult, type CaseResult, type CommandResult, type SweepInfo } from '../engine/result.js';
import { runTasks } from '../pool.js';
import { caseProgress, progressBar } from '../progress.js';
import { renderHtml } from '../report/html.js';
import { renderJson } from '../report/json.js';
import { renderCsv } from '../report/csv.js';
import { TRACE_DETAILS, assembleTrace, removeIfFile, type TraceDetail, type TraceSpec } from '../report/perfetto.js';
import { estimateTrace, type TraceEstimate } from '../report/trace-size.js';
import { fmtSize, parseSize } from '../scenario/size.js';
import { renderTable } from '../report/table.js';
import { DMA_ENTRY_LIMIT_DEFAULT, defaultScenario, mergeScenario, resolveScenario, type Scenario } from '../scenario/scenario.js';
import { profileSpec } from '@x/vfio-type1';
import { flagName, optionValues, parseCost, setPath, type OptDef } from '../scenario/options.js';
import type { Task } from '../task.js';
import { checkedCostTable } from './report.js';
import { checkOutputs, codeReason, reason, writeOutput } from './outfile.js';

export interface OutputOpts {
  json?: boolean;
  csv?: boolean;
  trace?: string;
  html?: string;
  progress?: boolean;
  serial?: boolean;
  workers?: string;
  strict?: boolean;
  /** --trace-detail ioctl|iommu|all (default all), --trace-max SIZE (default 1G). */
  traceDetail?: string;
  traceMax?: string;
}

/** --trace-max's default: a trace estimated above it is refused before the run. */
const TRACE_MAX_DEFAULT = '1G';
/** Estimates at or above this are printed on stderr before the run. */
const TRACE_NOTE_BYTES = 64 << 20;

/**
 * A case whose scenario came from a file: the file (as errors name it) and the fields flags set
 * over it. A bad field no flag set is the file's (its own value, or a default that clashes with
 * one), not a flag's the user never gave.
 */
export interface ScenarioOrigin {
  readonly where: string;
  readonly flagged: ReadonlySet<string>;
}

/**
 * Reads and checks a scenario JSON file over the defaults. `viaFlag`: the user named it with
 * --scenario (errors name that flag) rather than as a `compare` argument.
 */
function readScenarioFile(file: string, viaFlag: boolean): { scenario: Scenario; origin: ScenarioOrigin } {
  const opt = viaFlag ? '--scenario' : '';
  const what = viaFlag ? file : `scenario file ${file}`;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(opt, `cannot read ${what}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(opt, `${what} is not valid JSON: ${(e as Error).message}`);
  }
  const where = viaFlag ? `--scenario ${basename(file)}` : `scenario file ${basename(file)}`;
  const s = mergeScenario(defaultScenario(), json, where);
  if (typeof (json as { name?: unknown }).name !== 'string') s.name = basename(file).replace(/\.json$/, '');
  // sizes may be written as numbers of bytes; the result schema echoes them as strings
  if (typeof s.guest.memory === 'number') s.guest.memory = String(s.guest.memory);
  if (typeof s.guest.below4g === 'number') s.guest.below4g = String(s.guest.below4g);
  if (typeof s.guest.gpuBar === 'number') s.guest.gpuBar = String(s.guest.gpuBar);
  if (typeof s.host.memory === 'number') s.host.memory = String(s.host.memory);
  return { scenario: s, origin: { where, flagged: new Set() } };
}

/**
 * The scenario of the flags: defaults, then a scenario file (`file`, a compare argument, or else
 * --scenario), then every flag the user gave over it (single values, --no-vga-hole,
 * --disable-hugepages, --cost per event). Flags not given leave the file's fields alone: commander
 * sets no defaults for them. Comma lists come back as `varying`, applied by expandCases.
 */
export function scenarioFromOptions(
  opts: Record<string, unknown>,
  lists: boolean,
  file?: string,
): { base: Scenario; varying: [OptDef, (string | number | boolean)[]][]; origin: ScenarioOrigin | null } {
  let s = defaultScenario();
  let origin: ScenarioOrigin | null = null;
  const path = file ?? (typeof opts.scenario === 'string' ? opts.scenario : undefined);
  if (path !== undefined) ({ scenario: s, origin } = readScenarioFile(path, file === undefined));
  const vals = optionValues(opts, lists);
  const varying: [OptDef, (string | number | boolean)[]][] = [];
  const flagged = new Set<string>();
  for (const [o, v] of vals) {
    flagged.add(o.path);
    if (v.length === 1) setPath(s, o.path, v[0]);
    else varying.push([o, v]);
  }
  if (opts.vgaHole === false) {
    s.guest.vgaHole = false;
    flagged.add('guest.vgaHole');
  }
  if (opts.disableHugepages === true) {
    s.vfio.disableHugepages = true;
    flagged.add('vfio.disableHugepages');
  }
  if (typeof opts.cost === 'string') {
    s.cost = { ...s.cost, ...parseCost(opts.cost) };
    flagged.add('cost');
  }
  if (origin !== null) origin = { where: origin.where, flagged };
  return { base: s, varying, origin };
}

/** Every combination of the varying options; labels name what differs. */
export function expandCases(
  base: Scenario,
  varying: readonly [OptDef, readonly (string | number | boolean)[]][],
): { label: string; scenario: Scenario }[] {
  let cases: { parts: string[]; scenario: Scenario }[] = [{ parts: [], scenario: base }];
  for (const [o, vals] of varying) {
    const next: typeof cases = [];
    for (const c of cases) {
      for (const v of vals) {
        const s = structuredClone(c.scenario);
        setPath(s, o.path, v);
        const part = o.attr === 'profile' ? String(v) : `${flagName(o).slice(2)}=${o.kind === 'onoff' ? (v ? 'on' : 'off') : v}`;
        next.push({ parts: [...c.parts, part], scenario: s });
      }
    }
    cases = next;
  }
  return cases.map((c) => ({ label: c.parts.length > 0 ? c.parts.join(' ') : c.scenario.profile, scenario: c.scenario }));
}

/** Validates every case before any work starts (so a bad one exits 2 at once), cost names included. */
export function checkCases(cases: readonly { scenario: Scenario; origin?: ScenarioOrigin | null }[]): void {
  const seen = new Set<string>();
  for (const c of cases) {
    try {
      checkCase(c.scenario, seen);
    } catch (e) {
      // a field no flag set is the scenario file's: name the file and the field, not a flag never given
      if (e instanceof UsageError && e.field !== null && c.origin != null && !c.origin.flagged.has(e.field))
        throw new UsageError(c.origin.where, `${e.field}: ${e.detail}`, e.field);
      throw e;
    }
  }
}

function checkCase(s: Scenario, seen: Set<string>): void {
  resolveScenario(s);
  // dma_entry_limit came in v5.1 (492855939bdb); @x/vfio-type1 refuses it for older releases (RangeError)
  if (!profileSpec(s.profile).dmaEntryLimit && s.vfio.dmaEntryLimit !== DMA_ENTRY_LIMIT_DEFAULT) {
    throw new UsageError(
      '--dma-entry-limit',
      `dma_entry_limit came in v5.1 (492855939bdb); release ${s.profile} has no such limit`,
      'vfio.dmaEntryLimit',
    );
  }
  const names = Object.keys(s.cost);
  const key = `${s.driver} ${s.profile} ${s.host.machine} ${names.join(',')}`;
  if (names.length === 0 || seen.has(key)) return;
  seen.add(key);
  try {
    checkedCostTable(s.driver, s.profile, s.cost, s.host.machine);
  } catch (e) {
    throw e instanceof UsageError ? new UsageError(e.option, e.detail, 'cost') : e;
  }
}

function parseWorkers(w: string | undefined): number | undefined {
  if (w === undefined) return undefined;
  if (!/^\d+$/.test(w) || Number(w) < 1 || Number(w) > 256) throw new UsageError('--workers', `'${w}' must be an integer in [1, 256]`);
  return Number(w);
}

/** --trace-detail as a level (TRACE_IOCTL .. TRACE_ALL) and its name. */
function traceDetail(o: OutputOpts): { level: number; name: TraceDetail } {
  const name = (o.traceDetail ?? 'all') as TraceDetail;
  const level = TRACE_DETAILS.indexOf(name) + 1;
  if (level === 0) throw new UsageError('--trace-detail', `'${o.traceDetail}' is not one of ${TRACE_DETAILS.join(', ')}`);
  return { level, name };
}

/** An estimate's size in words: 49 KiB, 3.5 MiB, 6.35 GiB. */
function approx(bytes: number): string {
  if (bytes < 1 << 20) return `${Math.ceil(bytes / 1024)} KiB`;
  if (bytes < 1 << 30) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}
const est = (e: TraceEstimate): string => `about ${e.events.toLocaleString('en-US')} events, ${approx(e.bytes)}`;

/**
 * Checks the trace the tasks would write against --trace-max (a usage error naming the estimate and
 * the flags that would fit) and says on stderr what a large one will be; returns the detail.
 */
function checkTrace(tasks: readonly Task[], o: OutputOpts): { level: number; name: TraceDetail; shares: number[] } {
  const d = traceDetail(o);
  if (o.trace === undefined) {
    if (o.traceDetail !== undefined || o.traceMax !== undefined)
      throw new UsageError(o.traceDetail !== undefined ? '--trace-detail' : '--trace-max', 'goes with --trace FILE');
    return { ...d, shares: [] };
  }
  const max = parseSize(o.traceMax ?? TRACE_MAX_DEFAULT, '--trace-max');
  const each = tasks.map((t) => estimateTrace([t], d.level));
  const e = { events: each.reduce((a, x) => a + x.events, 0), bytes: each.reduce((a, x) => a + x.bytes, 0) };
  if (BigInt(e.bytes) > max) {
    const fits = TRACE_DETAILS.slice(0, d.level - 1)
      .map((n, i) => ({ n, e: estimateTrace(tasks, i + 1) }))
      .filter((x) => BigInt(x.e.bytes) <= max);
    const best = fits[fits.length - 1];
    const raise = fmtSize(((BigInt(e.bytes) + (1n << 30n) - 1n) >> 30n) << 30n).replace(' GiB', 'G');
    throw new UsageError(
      '--trace',
      `${est(e)} at --trace-detail ${d.name}, over --trace-max ${o.traceMax ?? TRACE_MAX_DEFAULT}; ` +
        `${best !== undefined ? `--trace-detail ${best.n} fits (${est(best.e)}), or ` : ''}--trace-max ${raise} writes it${best === undefined ? ' (or a smaller guest)' : ''}`,
    );
  }
  if (e.bytes >= TRACE_NOTE_BYTES) process.stderr.write(`vfio-sim: --trace: ${est(e)} at --trace-detail ${d.name} to ${o.trace}\n`);
  // each case may write --trace-max in proportion to its estimate (at least the estimate: the total
  // fits), so the whole file stays within --trace-max however low an estimate was
  const cap = Number(max < BigInt(Number.MAX_SAFE_INTEGER) ? max : BigInt(Number.MAX_SAFE_INTEGER));
  return { ...d, shares: each.map((x) => Math.floor((cap * x.bytes) / e.bytes)) };
}

/**
 * Where each case streams its trace: the --trace file itself for one case; for several, a part
 * file each (next to it, or in a temporary directory when it is not a regular file such as
 * /dev/full), joined in case order when all are done.
 */
function traceSpecs(file: string, level: number, shares: readonly number[]): TraceSpec[] {
  const n = shares.length;
  if (n === 1) return [{ file, standalone: true, pid: 1, detail: level, maxBytes: shares[0]! }];
  let dir = dirname(resolve(file));
  try {
    if (!statSync(file).isFile()) dir = mkdtempSync(join(tmpdir(), 'vfio-sim-trace-'));
  } catch {
    /* a new file: next to it */
  }
  return Array.from({ length: n }, (_, i) => ({
    file: join(dir, `${basename(file)}.${process.pid}.${i + 1}.part`),
    standalone: false,
    pid: i + 1,
    detail: level,
    maxBytes: shares[i]!,
  }));
}

/** Runs tasks with a progress bar, returns outputs in task order. */
export async function execute(tasks: Task[], o: OutputOpts): Promise<CaseOutput[]> {
  const detail = checkTrace(tasks, o);
  if (o.trace !== undefined) {
    const specs = traceSpecs(o.trace, detail.level, detail.shares);
    tasks = tasks.map((t, i) => ({ ...t, trace: specs[i]! }));
  }
  // like --json, --csv is for a program: no progress bar
  const po = o.csv ? { ...o, progress: false } : o;
  // one case runs in this thread and reports its pages and ops; several report finished cases
  const line = tasks.length === 1 ? caseProgress(tasks[0]!.label, po) : null;
  const bar = line === null ? progressBar(tasks.length, 'cases', po) : null;
  try {
    return await runTasks(tasks, {
      serial: o.serial,
      workers: parseWorkers(o.workers),
      progress: line?.sink,
      ...(bar !== null ? { onCase: (n: number, label: string) => bar.update(n, label) } : {}),
    });
  } catch (e) {
    // a case failed (a usage error mid-run): the other cases' part files go too
    for (const t of tasks) if (typeof t.trace === 'object' && !t.trace.standalone) removeIfFile(t.trace.file);
    throw e;
  } finally {
    line?.stop();
    bar?.stop();
  }
}

/**
 * Completes the --trace file from the cases' writers (joins the parts); a write that failed is an
 * OutputError (exit 1). A case cut at its share of --trace-max is said on stderr (and in the file's
 * metadata): the run's results are whole, its trace holds the events up to that point.
 */
function finishTrace(file: string, outs: readonly CaseOutput[], o: OutputOpts): void {
  const infos = outs.map((x) => x.trace!);
  const parts = infos.length > 1 ? infos.map((i) => i.file) : [];
  const bad = infos.find((i) => i.error !== null);
  if (bad !== undefined) {
    for (const p of parts) removeIfFile(p);
    throw new OutputError('--trace', `cannot write ${file}: ${codeReason(bad.error!)}`);
  }
  const cutOuts = outs.filter((x) => x.trace!.cut);
  for (const x of cutOuts) {
    process.stderr.write(
      `vfio-sim: --trace: ${x.result.label}'s trace stopped at its share of --trace-max ${o.traceMax ?? TRACE_MAX_DEFAULT} ` +
        `after ${x.trace!.events.toLocaleString('en-US')} events (the estimate before the run was low); ` +
        `a larger --trace-max or a lighter --trace-detail writes it whole\n`,
    );
  }
  if (parts.length === 0) return;
  try {
    assembleTrace(
      file,
      parts,
      traceDetail(o).name,
      cutOuts.map((x) => x.result.label),
    );
  } catch (e) {
    throw new OutputError('--trace', `cannot write ${file}: ${reason(e)}`);
  } finally {
    // a temporary directory of parts (the --trace file was not a regular file)
    if (!parts[0]!.startsWith(`${dirname(resolve(file))}/`)) {
      try {
        rmdirSync(dirname(parts[0]!));
      } catch {
        /* not empty or gone */
      }
    }
  }
}

/** Checks the output paths of run/compare/sweep/replay before any work starts (usage error, exit 2). */
export function checkOutputOpts(o: OutputOpts & { record?: string }): void {
  checkOutputs({ '--trace': o.trace, '--html': o.html, '--record': o.record });
}

/** Writes the requested outputs; returns the process exit code (1 with --strict and a bad case). */
export function emit(
  command: CommandResult['command'],
  outs: readonly CaseOutput[],
  sweep: SweepInfo | null,
  o: OutputOpts,
  hints = false,
): number {
  const res: CommandResult = commandResult(
    command,
    outs.map((x) => x.result),
    sweep,
  );
  if (o.trace !== undefined) finishTrace(o.trace, outs, o);
  if (o.html !== undefined) writeOutput('--html', o.html, renderHtml(res, `vfio-sim ${command}`));
  if (o.json) process.stdout.write(renderJson(res));
  else if (o.csv) process.stdout.write(renderCsv(res));
  else {
    process.stdout.write(`${renderTable(res, { hints })}\n`);
    const files = [o.trace && `trace: ${o.trace} (open in https://ui.perfetto.dev)`, o.html && `html: ${o.html}`].filter(Boolean);
    if (files.length > 0) process.stdout.write(`\n${files.join('\n')}\n`);
  }
  if (o.strict && res.cases.some((c: CaseResult) => c.metrics.violations > 0 || c.metrics.ioctlErrors > 0)) return 1;
  return 0;
}
