// The mutation score of one package from its Stryker report(s): a whole run's incremental file,
// or the shards of a sharded run merged. Prints the totals, the per-file table and every
// surviving or uncovered mutant (file:line, mutator, replacement), and writes the merged
// report (reports/mutation/merged.json and merged.html) when shards were merged.
//   pnpm test:mutation:score [--pkg NAME] [--shards N] [--json]
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { root, wanted } from './packages.mjs';
import { joinParts, partFile, retestFile, shardFile } from './shards.mjs';
import { sameCode, staleFiles } from './stale.mjs';
import { restore, STORE_DIR } from './store.mjs';

const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);

/** Reports of the run: every shard of an N-shard run, or the whole run's incremental file. */
export function loadReports(dir, n) {
  if (n === undefined) {
    const p = join(dir, 'reports/mutation/stryker-incremental.json');
    return existsSync(p) ? { reports: [JSON.parse(readFileSync(p, 'utf8'))], missing: [] } : { reports: [], missing: [p] };
  }
  const reports = [];
  const missing = [];
  for (let k = 1; k <= n; k++) {
    const p = join(dir, shardFile(k, n));
    if (restore(dir, shardFile(k, n))) {
      reports.push(JSON.parse(readFileSync(p, 'utf8')));
      continue;
    }
    // a shard run in parts and not finished: the parts done so far count, and the rest is missing
    const done = storedParts(dir, k, n);
    if (done.files.length > 0) {
      reports.push(joinParts(done.files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')))));
      missing.push(`${p} (parts ${done.numbers.join(', ')} of ${done.q} done)`);
    } else missing.push(p);
  }
  return { reports, missing };
}

/** The part files of shard k that have results (restored from the store), for the part count most recently used. */
function storedParts(dir, k, n) {
  const rx = new RegExp(`^shard-${k}-of-${n}\\.part-(\\d+)-of-(\\d+)\\.json(?:\\.gz)?$`);
  const found = [];
  for (const d of [join(dir, 'reports/mutation'), join(dir, STORE_DIR)])
    if (existsSync(d))
      for (const name of readdirSync(d)) {
        const m = rx.exec(name);
        if (m !== null) found.push({ p: Number(m[1]), q: Number(m[2]), mtime: statSync(join(d, name)).mtimeMs });
      }
  if (found.length === 0) return { files: [], numbers: [], q: 0 };
  const q = found.sort((a, b) => b.mtime - a.mtime)[0].q;
  const numbers = [...new Set(found.filter((x) => x.q === q).map((x) => x.p))].sort((a, b) => a - b);
  const files = numbers.map((p) => partFile(k, n, p, q)).filter((f) => restore(dir, f));
  return { files, numbers, q };
}

/** One report whose files are the union of the shards' (a file mutated in two shards: the later wins). */
export function mergeReports(reports) {
  const merged = { ...reports[0], files: {}, testFiles: {} };
  for (const r of reports) {
    Object.assign(merged.files, r.files);
    Object.assign(merged.testFiles, r.testFiles ?? {});
  }
  return merged;
}

const mutantKey = (m) =>
  `${m.location.start.line}:${m.location.start.column}-${m.location.end.line}:${m.location.end.column} ${m.mutatorName} ${m.replacement ?? ''}`;

/**
 * report with the mutants a retest ran replaced by the retest's results (same file, place, mutator,
 * replacement, same code); a file the retest ran whole (`--retest --stale`, listed in its wholeFiles)
 * replaces the file's results outright, the mutants of an older source with them.
 */
export function overlayRetest(report, retest) {
  const out = { ...report, files: { ...report.files }, testFiles: { ...report.testFiles, ...(retest.testFiles ?? {}) } };
  const whole = new Set(retest.wholeFiles ?? []);
  for (const [file, res] of Object.entries(retest.files)) {
    const base = out.files[file];
    if (whole.has(file)) {
      out.files[file] = res;
      continue;
    }
    if (base === undefined || !sameCode(base.source, res.source)) continue; // the file changed since: the retest is stale
    const redo = new Map(res.mutants.map((m) => [mutantKey(m), m]));
    out.files[file] = { ...base, mutants: base.mutants.map((m) => redo.get(mutantKey(m)) ?? m) };
  }
  return out;
}

/** The retests of an n-shard campaign so far, oldest first (restored from the store when needed). */
export function loadRetests(dir, n) {
  const out = [];
  for (let k = 1; restore(dir, retestFile(n, k)); k++) out.push(JSON.parse(readFileSync(join(dir, retestFile(n, k)), 'utf8')));
  return out;
}

/**
 * The campaign's results: the shards merged, each retest laid over them in order; report is null
 * when no shard has results yet.
 */
export function campaignReport(dir, n) {
  const { reports, missing } = loadReports(dir, n);
  if (reports.length === 0) return { report: null, reports, missing, retests: 0 };
  let report = mergeReports(reports);
  const retests = loadRetests(dir, n);
  for (const r of retests) report = overlayRetest(report, r);
  return { report, reports, missing, retests: retests.length };
}

/**
 * `file:first-last` line ranges holding the undetected mutants of an n-shard campaign (for --retest),
 * and with `timeouts` the timed-out ones too. A stale file is left out: its lines are an older
 * source's (`--retest --stale` reruns it whole).
 */
export function undetectedRanges(dir, n, timeouts = false) {
  const { report } = campaignReport(dir, n);
  if (report === null) return [];
  const stale = new Set(staleFiles(dir, report).map((s) => s.file));
  const lines = new Map();
  for (const [file, res] of Object.entries(report.files))
    if (!stale.has(file))
      for (const m of res.mutants)
        if (UNDETECTED.has(m.status) || (timeouts && m.status === 'Timeout')) {
          const set = lines.get(file) ?? new Set();
          for (let l = m.location.start.line; l <= m.location.end.line; l++) set.add(l);
          lines.set(file, set);
        }
  const out = [];
  for (const [file, set] of [...lines].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const ls = [...set].sort((a, b) => a - b);
    for (let i = 0; i < ls.length; ) {
      let j = i;
      while (j + 1 < ls.length && ls[j + 1] === ls[j] + 1) j++;
      out.push(`${file}:${ls[i]}-${ls[j]}`);
      i = j + 1;
    }
  }
  return out;
}

export function tally(report) {
  const rows = [];
  const total = { file: 'all files', detected: 0, killed: 0, timeout: 0, survived: 0, noCoverage: 0, errors: 0, ignored: 0, pending: 0 };
  const undetected = [];
  for (const [file, res] of Object.entries(report.files).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const row = { file, detected: 0, killed: 0, timeout: 0, survived: 0, noCoverage: 0, errors: 0, ignored: 0, pending: 0 };
    for (const m of res.mutants) {
      if (m.status === 'Killed') row.killed++;
      else if (m.status === 'Timeout') row.timeout++;
      else if (m.status === 'Survived') row.survived++;
      else if (m.status === 'NoCoverage') row.noCoverage++;
      else if (m.status === 'Ignored') row.ignored++;
      else if (m.status === 'Pending') row.pending++;
      else row.errors++;
      if (DETECTED.has(m.status)) row.detected++;
      if (UNDETECTED.has(m.status)) {
        const line = m.location.start.line;
        const src = res.source.split('\n')[line - 1] ?? '';
        undetected.push({
          file,
          line,
          column: m.location.start.column,
          status: m.status,
          mutator: m.mutatorName,
          replacement: m.replacement ?? '',
          source: src.trim(),
          // Survived with no test completed: every test file that loads the code failed to collect
          // (the mutant throws at import), which Stryker scores as survived; a test that imports the
          // package inside its body turns that into a kill (vfio-type1 test/module-load.test.ts)
          loadFailure: m.status === 'Survived' && !m.testsCompleted,
        });
      }
    }
    for (const k of Object.keys(total)) if (k !== 'file') total[k] += row[k];
    rows.push(row);
  }
  return { rows, total, undetected };
}

/** Stryker's score: detected over detected plus undetected; errors and ignored mutants are not counted. */
export const score = (r) => {
  const valid = r.detected + r.survived + r.noCoverage;
  return valid === 0 ? Number.NaN : (100 * r.detected) / valid;
};

function writeHtml(path, report) {
  const core = createRequire(import.meta.url).resolve('@stryker-mutator/core/package.json');
  const elements = createRequire(core).resolve('mutation-testing-elements/dist/mutation-test-elements.js');
  const json = JSON.stringify(report).replace(/</g, '<"+"');
  const html = `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><script>${readFileSync(elements, 'utf8')}</script></head>\n<body><mutation-test-report-app titlePostfix="Stryker (merged shards)"></mutation-test-report-app>\n<script>document.querySelector('mutation-test-report-app').report = ${json};</script></body></html>\n`;
  writeFileSync(path, html);
}

const fmt = (r) =>
  `${r.file.padEnd(36)} ${score(r).toFixed(2).padStart(7)} ${String(r.killed).padStart(6)} ${String(r.timeout).padStart(7)} ${String(r.survived).padStart(8)} ${String(r.noCoverage).padStart(7)} ${String(r.errors).padStart(6)}`;

export function printScore(dir, n, asJson) {
  // a whole run's single report, or the shards merged with the retests laid over them
  const c = n === undefined ? { ...loadReports(dir, n), retests: 0 } : campaignReport(dir, n);
  const { reports, missing, retests } = c;
  if (reports.length === 0) {
    console.error(`test:mutation: no report for ${dir} (${missing.join(', ')}); run pnpm test:mutation first`);
    return 1;
  }
  const report = n === undefined ? reports[0] : c.report;
  if (n !== undefined) {
    writeFileSync(join(dir, 'reports/mutation/merged.json'), JSON.stringify(report));
    writeHtml(join(dir, 'reports/mutation/merged.html'), report);
  }
  const t = tally(report);
  const stale = staleFiles(dir, report);
  if (asJson) {
    console.log(JSON.stringify({ dir, shards: n ?? null, missing, stale, score: score(t.total), ...t }, null, 2));
    return 0;
  }
  console.log(
    `\n${dir}${n === undefined ? '' : ` (${reports.length} of ${n} shards${retests > 0 ? `, undetected ones retested ${retests === 1 ? 'once' : `${retests} times`}` : ''})`}`,
  );
  console.log(
    `${'file'.padEnd(36)} ${'score'.padStart(7)} ${'killed'.padStart(6)} ${'timeout'.padStart(7)} ${'survived'.padStart(8)} ${'no cov'.padStart(7)} ${'errors'.padStart(6)}`,
  );
  for (const r of t.rows) console.log(fmt(r));
  console.log(fmt(t.total));
  for (const p of missing)
    console.log(
      p.includes(' (parts ') ? `partial shard: ${p}, counted so far` : `missing shard: ${p} (the score covers the other shards only)`,
    );
  if (stale.length > 0) {
    const list = stale.map((f) => `${f.file} (${f.mutants} mutants${f.gone ? ', file gone' : ''})`).join(', ');
    console.log(`stale, its code changed since the mutants ran, counted as they were: ${list}`);
    if (n !== undefined) console.log(`  pnpm test:mutation --pkg ${basename(dir)} --shards ${n} --retest --stale reruns them`);
  }
  if (t.undetected.length > 0) {
    console.log('\nundetected mutants:');
    for (const u of t.undetected)
      console.log(
        `  ${u.file}:${u.line}:${u.column} ${u.status}${u.loadFailure ? ' (no test completed: failed at import)' : ''} ${u.mutator} -> ${JSON.stringify(u.replacement)}   | ${u.source}`,
      );
  }
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--shards');
  const n = i >= 0 ? Number(process.argv[i + 1]) : undefined;
  if (n !== undefined && !(Number.isInteger(n) && n >= 1)) {
    console.error(`test:mutation: --shards wants a whole number >= 1, not '${process.argv[i + 1] ?? ''}'`);
    process.exit(2);
  }
  let rc = 0;
  for (const d of wanted(process.argv)) rc = Math.max(rc, printScore(join(root, d), n, process.argv.includes('--json')));
  process.exitCode = rc; // not process.exit(): it drops what a piped stdout has not written yet
}
