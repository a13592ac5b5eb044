// vfio-sim report: --costs prints the cost table in force (defaults and their sources, driver
// events included); FILE re-renders a saved --json result as a table or an --html page.

import { readFileSync } from 'node:fs';
import {
  DEFAULT_MACHINE,
  createReferenceDriver,
  createSim,
  isMachineName,
  isProfileName,
  machineError,
  machineProfile,
  profileError,
} from '@x/iommu-core';
import { Host, VFIO_TYPE1v2_IOMMU } from '@x/vfio-type1';
import { createAmdIommu } from '@x/amd-iommu';
import { UsageError } from '../errors.js';
import { RESULT_SCHEMA, RESULT_SCHEMAS_READ, type CaseResult, type CommandResult } from '../engine/result.js';
import RESULT_JSON_SCHEMA from '../../docs/result.schema.json' with { type: 'json' };
import { renderHtml } from '../report/html.js';
import { renderJson } from '../report/json.js';
import { renderCsv } from '../report/csv.js';
import { validate } from '../report/schema.js';
import { renderTable } from '../report/table.js';
import { textTable } from '../report/format.js';
import { parseCost } from '../scenario/options.js';
import { upgradeScenario, type Profile } from '../scenario/scenario.js';
import { checkOutputs, writeOutput } from './outfile.js';
import { command } from '../invocation.js';

export interface CostRow {
  readonly event: string;
  readonly ns: number;
  readonly source: string;
}

/** The cost table of a machine with the given driver and profile (core events first, then the driver's). */
export function costTable(
  driver: 'amd' | 'reference',
  profile: Profile,
  overrides: Record<string, number> = {},
  machine = DEFAULT_MACHINE,
): CostRow[] {
  const sim = createSim({ memory: 64n << 20n, cost: overrides, machine });
  const drv = driver === 'amd' ? createAmdIommu(sim, { profile, iotlbEntries: 64 }) : createReferenceDriver(sim, { release: profile });
  // a container with a group registers VFIO's own events too
  const host = new Host(sim);
  const c = host.openContainer(host.spawn(), { profile });
  c.addGroup(host.addGroup(drv));
  c.setIommu(VFIO_TYPE1v2_IOMMU);
  return Object.entries(sim.costTable()).map(([event, e]) => ({ event, ns: e.ns, source: e.source }));
}

/**
 * --driver, --profile and --machine of the commands that build one machine outside a scenario
 * (report --costs, pt): each checked, defaults filled in; UsageError naming the flag.
 */
export function checkedMachineOpts(
  o: { driver?: string | undefined; profile?: string | undefined; machine?: string | undefined },
  defaultDriver: 'amd' | 'reference' = 'amd',
): { driver: 'amd' | 'reference'; profile: Profile; machine: string } {
  const driver = o.driver ?? defaultDriver;
  if (driver !== 'amd' && driver !== 'reference') throw new UsageError('--driver', `'${driver}' is not one of amd, reference`);
  const profile = o.profile ?? 'mainline';
  if (!isProfileName(profile)) throw new UsageError('--profile', profileError(profile));
  const machine = o.machine ?? DEFAULT_MACHINE;
  if (!isMachineName(machine)) throw new UsageError('--machine', machineError(machine));
  return { driver, profile, machine };
}

/** A saved --json result, checked against docs/result.schema.json; anything else is a usage error. */
function readResult(file: string): CommandResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError('report', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new UsageError('report', `${file} is not valid JSON: ${(e as Error).message}`);
  }
  const schema = (doc as { schema?: unknown } | null)?.schema;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || !(RESULT_SCHEMAS_READ as readonly unknown[]).includes(schema)) {
    throw new UsageError('report', `${file} is not a vfio-sim result (schema ${String(schema)}, want ${RESULT_SCHEMAS_READ.join(' or ')})`);
  }
  let res = doc as CommandResult;
  // @1 had no replay comparison: read it as @2 with nothing compared
  if (schema !== RESULT_SCHEMA && Array.isArray(res.cases)) {
    res = {
      ...res,
      schema: RESULT_SCHEMA,
      cases: res.cases.map((c) => ({ ...c, mismatches: (c as { mismatches?: unknown }).mismatches ?? null })) as CaseResult[],
    };
  }
  const errs = validate(RESULT_JSON_SCHEMA, res);
  if (errs.length > 0)
    throw new UsageError(
      'report',
      `${file} is not a complete ${RESULT_SCHEMA} document: ${errs[0]}${errs.length > 1 ? ` (and ${errs.length - 1} more)` : ''}`,
    );
  // scenario fields added since the file was written: what that run did (no firmware churn, ...)
  return { ...res, cases: res.cases.map((c) => (c.scenario === null ? c : { ...c, scenario: upgradeScenario(c.scenario) })) };
}

/** costTable() for overrides a user typed: a bad or unknown event name is a usage error naming --cost. */
export function checkedCostTable(
  driver: 'amd' | 'reference',
  profile: Profile,
  overrides: Record<string, number>,
  machine = DEFAULT_MACHINE,
): CostRow[] {
  let rows: CostRow[];
  try {
    rows = costTable(driver, profile, overrides, machine);
  } catch (e) {
    throw new UsageError('--cost', (e as Error).message);
  }
  const known = new Set(rows.map((r) => r.event));
  for (const n of Object.keys(overrides))
    if (!known.has(n)) throw new UsageError('--cost', `unknown event '${n}' (see \`${command(`report --costs --driver ${driver}`)}\`)`);
  return rows;
}

/**
 * Two forms (README "Commands"): `report --costs [--driver d] [--profile p] [--cost ...]` prints the
 * cost table; `report FILE [--html out]` re-renders a saved result. Mixing them is a usage error,
 * not a silently dropped argument.
 */
export function reportCommand(
  file: string | undefined,
  opts: {
    costs?: boolean;
    json?: boolean;
    csv?: boolean;
    html?: string;
    driver?: string;
    profile?: string;
    cost?: string;
    machine?: string;
  },
): number {
  if (opts.costs && file !== undefined)
    throw new UsageError('report', `give either a saved --json result FILE or --costs, not both (got ${file} and --costs)`);
  if (opts.costs && opts.html !== undefined)
    throw new UsageError('--html', 're-renders a saved result FILE; --costs prints its table only as text or --json');
  if (opts.costs && opts.csv)
    throw new UsageError('--csv', 're-renders a saved result FILE; --costs prints its table only as text or --json');
  if (!opts.costs) {
    const stray = (['driver', 'profile', 'cost', 'machine'] as const).find((k) => opts[k] !== undefined);
    if (stray !== undefined)
      throw new UsageError(`--${stray}`, 'goes with --costs (a saved result FILE already says its driver, profile and costs)');
  }
  if (opts.costs) {
    const { driver, profile, machine } = checkedMachineOpts(opts);
    const rows = checkedCostTable(driver, profile, opts.cost !== undefined ? parseCost(opts.cost) : {}, machine);
    const m = machineProfile(machine);
    if (opts.json) process.stdout.write(`${JSON.stringify({ driver, profile, machine, host: m.host, costs: rows }, null, 2)}\n`);
    else {
      process.stdout.write(
        `cost table (modeled ns per event; machine ${machine}, driver ${driver}, profile ${profile}); override with --cost event=ns\n`,
      );
      process.stdout.write(
        `machine ${machine}: ${m.host}${m.base !== null ? `; inherits ${m.base}${m.cpuScale !== 1 ? ` x ${m.cpuScale} for CPU work` : ''}` : ''}\n\n`,
      );
      process.stdout.write(
        `${textTable(
          ['event', 'ns', 'source'],
          rows.map((r) => [r.event, String(r.ns), r.source]),
          [2],
        )}\n`,
      );
    }
    return 0;
  }
  if (file === undefined) throw new UsageError('report', 'give a saved --json result FILE, or --costs');
  checkOutputs({ '--html': opts.html });
  const res = readResult(file);
  if (opts.html !== undefined) writeOutput('--html', opts.html, renderHtml(res, `vfio-sim ${res.command}`));
  if (opts.json) process.stdout.write(renderJson(res));
  else if (opts.csv) process.stdout.write(renderCsv(res));
  else process.stdout.write(`${renderTable(res)}\n${opts.html !== undefined ? `\nhtml: ${opts.html}\n` : ''}`);
  return 0;
}
