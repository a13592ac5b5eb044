// Splitting one package's mutation run into shards that each finish and keep their results.
// Stryker writes its incremental file only at the end of a run, so a run of hours that is stopped
// keeps nothing. A shard mutates a fixed subset of the files and has its own incremental file;
// rerunning a finished shard reuses its results, so an interrupted campaign resumes where it was.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, sep } from 'node:path';
import { STORE_DIR } from './store.mjs';

/** Files under dir/src that a `mutate` pattern of the simple forms used here selects. */
export function mutateFiles(dir, patterns) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p).split(sep).join('/'));
    }
  };
  walk(join(dir, 'src'));
  const res = patterns.map((g) => {
    if (g.startsWith('!')) throw new Error(`test:mutation: negated mutate pattern '${g}' is not supported with --shards`);
    const rx = g
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .split('**/')
      .map((part) => part.replace(/\*/g, '[^/]*'))
      .join('(?:.*/)?');
    return new RegExp(`^${rx}$`);
  });
  return out.filter((f) => res.some((r) => r.test(f))).sort();
}

const linesOf = (dir, f) => readFileSync(join(dir, f), 'utf8').split('\n').length;

/**
 * The files split into n shards of about equal size (lines), largest first into the smallest
 * shard; the split depends only on the file list and sizes, so every rerun gets the same shards
 * while the sources keep their rough sizes.
 */
export function planShards(dir, files, n) {
  const sized = files.map((f) => ({ f, lines: linesOf(dir, f) }));
  sized.sort((a, b) => b.lines - a.lines || (a.f < b.f ? -1 : 1));
  const bins = Array.from({ length: n }, () => ({ lines: 0, files: [] }));
  for (const s of sized) {
    let best = bins[0];
    for (const b of bins) if (b.lines < best.lines) best = b;
    best.lines += s.lines;
    best.files.push(s.f);
  }
  return bins.filter((b) => b.files.length > 0).map((b) => b.files.sort());
}

/** Where an n-shard campaign's file split is kept (committed with the results, next to them). */
export const planFile = (n) => `${STORE_DIR}/plan-of-${n}.json`;

/**
 * The campaign's split, fixed when its first shard runs: planShards balances by lines, so an edit
 * that changes a file's size can move files between shards, and a finished shard would then hold
 * results for files another shard is now given while some file is in neither. A file added since
 * goes to the shard with the fewest lines; a file removed since is dropped.
 */
export function stablePlan(dir, files, n) {
  const p = join(dir, planFile(n));
  if (!existsSync(p)) {
    const plan = planShards(dir, files, n);
    mkdirSync(join(dir, STORE_DIR), { recursive: true });
    writeFileSync(p, `${JSON.stringify({ shards: plan }, null, 2)}\n`);
    return plan;
  }
  const saved = JSON.parse(readFileSync(p, 'utf8')).shards;
  const live = new Set(files);
  const known = new Set(saved.flat());
  const plan = saved.map((s) => s.filter((f) => live.has(f)));
  const size = plan.map((s) => s.reduce((a, f) => a + linesOf(dir, f), 0));
  for (const f of files.filter((x) => !known.has(x))) {
    let best = 0;
    for (let k = 1; k < plan.length; k++) if (size[k] < size[best]) best = k;
    plan[best].push(f);
    plan[best].sort();
    size[best] += linesOf(dir, f);
  }
  if (JSON.stringify(plan) !== JSON.stringify(saved)) writeFileSync(p, `${JSON.stringify({ shards: plan }, null, 2)}\n`);
  return plan;
}

export const shardFile = (k, n) => `reports/mutation/shard-${k}-of-${n}.json`;

/**
 * The incremental file of the k-th forced rerun (k >= 1) of the undetected mutants of an n-shard
 * campaign. Each retest keeps its own file: a later one reruns only what the earlier ones left
 * undetected, and the score overlays them in order.
 */
export const retestFile = (n, k = 1) => `reports/mutation/retest-${k === 1 ? '' : `${k}-`}of-${n}.json`;

/**
 * A shard's part file: the results of a run over some of its top-level statements. A shard too
 * long for one session runs in parts, each saved when it ends; when every part is there, they are
 * joined into the shard's own file.
 */
export const partFile = (k, n, p, q) => `reports/mutation/shard-${k}-of-${n}.part-${p}-of-${q}.json`;

/**
 * The lines of each top-level statement of a file, as [first, last] pairs covering every line
 * (the first from line 1, each next from the line after the previous): Stryker mutates a node only
 * when a `file:a-b` range holds all of it, and no node but the file itself spans two top-level
 * statements, so cutting only between them loses no mutant.
 */
export function statementLines(dir, file) {
  const ts = createRequire(import.meta.url)('typescript');
  const text = readFileSync(join(dir, file), 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const lineOf = (pos) => sf.getLineAndCharacterOfPosition(pos).line + 1;
  const total = text.split('\n').length;
  const out = [];
  let from = 1;
  for (const s of sf.statements) {
    const last = lineOf(s.getEnd());
    if (last < from) continue;
    out.push([from, last]);
    from = last + 1;
  }
  if (from <= total) {
    if (out.length === 0) out.push([from, total]);
    else out[out.length - 1][1] = total;
  }
  return out;
}

/**
 * A shard's files cut into q parts of about equal lines, in file order, each a list of `stryker
 * run --mutate` specs (a whole file, or `file:a-b` for the statements of a file the part holds).
 */
export function planParts(dir, files, q) {
  const chunks = files.flatMap((f) => statementLines(dir, f).map(([a, b]) => ({ f, a, b })));
  const total = chunks.reduce((s, c) => s + c.b - c.a + 1, 0);
  const parts = Array.from({ length: q }, () => []);
  let done = 0;
  for (const c of chunks) {
    // the part whose share of the lines this chunk's middle falls in
    const mid = done + (c.b - c.a + 1) / 2;
    const p = Math.min(q - 1, Math.floor((mid * q) / total));
    done += c.b - c.a + 1;
    const part = parts[p];
    const prev = part[part.length - 1];
    if (prev !== undefined && prev.f === c.f && prev.b + 1 === c.a) prev.b = c.b;
    else part.push({ ...c });
  }
  const lines = new Map(files.map((f) => [f, readFileSync(join(dir, f), 'utf8').split('\n').length]));
  return parts.map((part) => part.map((c) => (c.a === 1 && c.b === lines.get(c.f) ? c.f : `${c.f}:${c.a}-${c.b}`)));
}

/** The shard's results from its parts' reports: every file's mutants of all parts, in line order. */
export function joinParts(reports) {
  const out = { ...reports[0], files: {}, testFiles: {} };
  for (const r of reports) {
    Object.assign(out.testFiles, r.testFiles ?? {});
    for (const [file, res] of Object.entries(r.files)) {
      const have = out.files[file];
      out.files[file] =
        have === undefined ? { ...res, mutants: [...res.mutants] } : { ...have, mutants: [...have.mutants, ...res.mutants] };
    }
  }
  for (const res of Object.values(out.files))
    res.mutants.sort((x, y) => x.location.start.line - y.location.start.line || x.location.start.column - y.location.start.column);
  return out;
}
