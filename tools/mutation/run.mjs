// pnpm test:mutation: StrykerJS over every package that has a stryker.config.json, one after the
// other (each uses both cores), after building the libraries the others' tests import through dist.
// Not part of CI: a whole package takes one to several hours here. Reruns are incremental
// (reports/mutation/), but Stryker saves results only when a run ends, so long campaigns are sharded:
//   pnpm test:mutation --pkg iommu-core       one package (directory name or package name)
//   pnpm test:mutation --pkg iommu-core --shards 12      12 runs over disjoint file sets, each keeping its
//                                              own results; rerun to resume, finished shards are reused
//   pnpm test:mutation --pkg iommu-core --shards 12 --shard 3   only the third
//                                              (the split is fixed by the first run, in mutation-results/
//                                              plan-of-N.json, so later edits do not move files between shards)
//   pnpm test:mutation --pkg iommu-core --shards 12 --retest    rerun (forced) the lines of every
//                                              mutant the shards and earlier retests left undetected
//                                              (retest-K-of-N.json, one per retest), after new tests: the
//                                              incremental reuse trusts per-test coverage, which
//                                              misses code run from test fixtures; add --timeouts to
//                                              rerun the timed-out mutants too (a run that shared the
//                                              cores with other work counts slow mutants as timeouts)
//   pnpm test:mutation --pkg iommu-core --shards 12 --shard 9 --retest   the same, for shard 9's files only
//   pnpm test:mutation --pkg iommu-core --shards 12 --retest --stale   rerun whole each file whose code
//                                              changed since its mutants ran (comments aside), one retest
//                                              file each, stored as each ends; its results replace the file's
//   pnpm test:mutation --pkg vfio-sim --shards 6 --shard 3 --parts 6   shard 3 in 6 parts of about equal
//                                              lines (cut between top-level statements), each saved
//                                              when it ends (shard-3-of-6.part-P-of-6.json); a stored part
//                                              is not rerun; when all are there they become the shard's
//                                              results. --part P runs only that one
//   pnpm test:mutation:score --pkg iommu-core --shards 12     the merged score and the undetected mutants
//   MUTATION_PKG=amd-iommu,vfio-type1 pnpm test:mutation
//   pnpm test:mutation --pkg iommu-core --force --mutate "src/gather.ts"   other arguments go to stryker run
// Reports: <package>/reports/mutation/mutation.html and mutation.json. A sharded run's results are
// also stored, gzipped, in <package>/mutation-results/ (committed; store.mjs), so that a campaign
// longer than a session resumes from a fresh clone.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { root, wanted } from './packages.mjs';
import { campaignReport, loadRetests, printScore, undetectedRanges } from './score.mjs';
import { joinParts, mutateFiles, partFile, planParts, retestFile, shardFile, stablePlan } from './shards.mjs';
import { staleFiles } from './stale.mjs';
import { restore, save, STORE_DIR } from './store.mjs';

/** The value of a whole-number option (>= 1), or undefined when absent; usage error otherwise. */
function intOption(name) {
  const i = process.argv.indexOf(name);
  if (i < 0) return undefined;
  const v = Number(process.argv[i + 1]);
  if (!(Number.isInteger(v) && v >= 1)) {
    console.error(`test:mutation: ${name} wants a whole number >= 1, not '${process.argv[i + 1] ?? ''}'`);
    process.exit(2);
  }
  return v;
}

/** Records in a retest's results that it ran the file whole, so that the score lays it over the file's older results. */
function markWhole(path, file) {
  const r = JSON.parse(readFileSync(path, 'utf8'));
  writeFileSync(path, JSON.stringify({ ...r, wholeFiles: [file] }));
}

const shards = intOption('--shards');
const only = intOption('--shard');
const parts = intOption('--parts');
const onePart = intOption('--part');
const retest = process.argv.includes('--retest');
const timeouts = process.argv.includes('--timeouts');
const stale = process.argv.includes('--stale');
if (timeouts && !retest) {
  console.error('test:mutation: --timeouts goes with --retest (it adds the timed-out mutants to the rerun)');
  process.exit(2);
}
if (stale && (!retest || timeouts)) {
  console.error(
    'test:mutation: --stale goes with --retest, without --timeouts (it reruns whole the files whose code changed since their mutants ran)',
  );
  process.exit(2);
}
if (retest && shards === undefined) {
  console.error('test:mutation: --retest needs --shards N (it reruns the undetected mutants of those shards)');
  process.exit(2);
}
if (only !== undefined && (shards === undefined || only > shards)) {
  console.error('test:mutation: --shard K needs --shards N with K <= N');
  process.exit(2);
}
if (parts !== undefined && (only === undefined || retest)) {
  console.error('test:mutation: --parts Q goes with --shard K (and not --retest): it runs that shard in Q parts');
  process.exit(2);
}
if (onePart !== undefined && (parts === undefined || onePart > parts)) {
  console.error('test:mutation: --part P needs --parts Q with P <= Q');
  process.exit(2);
}
/** Arguments for `stryker run`: everything but ours and their values. */
const ours = new Set(['--pkg', '--shards', '--shard', '--parts', '--part']);
const passArgs = [];
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--retest' || process.argv[i] === '--timeouts' || process.argv[i] === '--stale') continue;
  if (ours.has(process.argv[i])) i++;
  else passArgs.push(process.argv[i]);
}
if (
  shards !== undefined &&
  passArgs.some((a) => a === '--mutate' || a === '-m' || a.startsWith('--mutate=') || a === '--incrementalFile')
) {
  console.error('test:mutation: --shards chooses the files and the incremental file itself; drop --mutate/--incrementalFile');
  process.exit(2);
}
const dirs = wanted(process.argv).filter((d) => existsSync(join(root, d, 'stryker.config.json')));
const build = spawnSync(process.execPath, [join(root, 'node_modules/turbo/bin/turbo'), 'run', 'build', '--output-logs=errors-only'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
});
if (build.status !== 0) process.exit(build.status ?? 1);
const stryker = join(root, 'node_modules/@stryker-mutator/core/bin/stryker.js');
/** The package's files to mutate, split into the campaign's fixed shards. */
const planOf = (dir) =>
  stablePlan(dir, mutateFiles(dir, JSON.parse(readFileSync(join(dir, 'stryker.config.json'), 'utf8')).mutate), shards);
let failed = 0;
for (const d of dirs) {
  const dir = join(root, d);
  const runs = [];
  if (shards === undefined) runs.push({ label: d, args: passArgs });
  else if (stale) {
    // each file whose code changed since its mutants ran, rerun whole into a retest of its own (stored
    // as each ends) that replaces the file's results
    const { report } = campaignReport(dir, shards);
    const inShard = only === undefined ? null : new Set(planOf(dir)[only - 1]);
    const todo = report === null ? [] : staleFiles(dir, report).filter((f) => !f.gone && (inShard === null || inShard.has(f.file)));
    const first = loadRetests(dir, shards).length + 1;
    if (todo.length === 0) console.log(`test:mutation: ${d}: no stale file to rerun`);
    for (const [i, f] of todo.entries())
      runs.push({
        label: `${d}, retest ${first + i}: ${f.file} whole (its code changed since its ${f.mutants} mutants ran)`,
        args: ['--mutate', f.file, '--force', '--incrementalFile', retestFile(shards, first + i), ...passArgs],
        results: retestFile(shards, first + i),
        wholeFile: f.file,
      });
  } else if (retest) {
    // the mutants the shards and the earlier retests left undetected, by line, rerun from scratch
    // against today's tests, into a retest file of their own
    let ranges = undetectedRanges(dir, shards, timeouts);
    if (only !== undefined) {
      // one shard's files only: a retest of the whole campaign can take longer than a session
      const files = new Set(planOf(dir)[only - 1]);
      ranges = ranges.filter((r) => files.has(r.slice(0, r.lastIndexOf(':'))));
    }
    const round = loadRetests(dir, shards).length + 1;
    const of = only === undefined ? '' : ` (shard ${only}'s files)`;
    if (ranges.length === 0) console.log(`test:mutation: ${d}: no undetected mutant to retest${of}`);
    else
      runs.push({
        label: `${d}, retest ${round} of ${ranges.length} line ranges${of}`,
        args: ['--mutate', ranges.join(','), '--force', '--incrementalFile', retestFile(shards, round), ...passArgs],
        results: retestFile(shards, round),
      });
  } else {
    const plan = planOf(dir);
    if (plan.length < shards) {
      console.error(`test:mutation: ${d} has only ${plan.length} files to mutate; use --shards ${plan.length} or fewer`);
      process.exit(2);
    }
    for (let k = 1; k <= plan.length; k++) {
      if (only !== undefined && k !== only) continue;
      if (parts !== undefined) {
        planParts(dir, plan[k - 1], parts).forEach((specs, i) => {
          const p = i + 1;
          if (onePart !== undefined && p !== onePart) return;
          const results = partFile(k, shards, p, parts);
          runs.push({
            label: `${d}, shard ${k} of ${plan.length}, part ${p} of ${parts}: ${specs.join(' ')}`,
            args: ['--mutate', specs.join(','), '--incrementalFile', results, ...passArgs],
            results,
            // a part exists to make progress in a session: one stored is done, not rerun
            skipStored: !passArgs.includes('--force'),
          });
        });
        continue;
      }
      const args = ['--mutate', plan[k - 1].join(','), '--incrementalFile', shardFile(k, shards), ...passArgs];
      runs.push({ label: `${d}, shard ${k} of ${plan.length}: ${plan[k - 1].join(' ')}`, args, results: shardFile(k, shards) });
    }
  }
  for (const run of runs) {
    console.log(`\ntest:mutation: ${run.label}`);
    if (run.skipStored && restore(dir, run.results)) {
      console.log(`test:mutation: done in an earlier run (${run.results}, stored in ${d}/${STORE_DIR}); --force reruns it`);
      continue;
    }
    // a shard finished in an earlier session (and committed) is reused, not rerun
    if (run.results !== undefined && restore(dir, run.results) && !run.args.includes('--force'))
      console.log(`test:mutation: results so far from ${run.results} (stored in ${d}/${STORE_DIR})`);
    const r = spawnSync(process.execPath, [stryker, 'run', ...run.args], { cwd: dir, stdio: 'inherit' });
    if (r.status === 0 && run.wholeFile !== undefined) markWhole(join(dir, run.results), run.wholeFile);
    if (r.status === 0 && run.results !== undefined) save(dir, run.results);
    if (r.status !== 0) {
      failed++;
      console.error(`test:mutation: ${run.label} failed (exit ${r.status})`);
      // retests are read in order up to the first missing one: a later one would be lost
      if (run.wholeFile !== undefined) break;
    }
  }
  if (parts !== undefined && failed === 0) {
    // every part there: they become the shard's results (as if it had run whole)
    const files = Array.from({ length: parts }, (_, i) => partFile(only, shards, i + 1, parts));
    const have = files.filter((f) => restore(dir, f));
    if (have.length === parts) {
      writeFileSync(
        join(dir, shardFile(only, shards)),
        JSON.stringify(joinParts(files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8'))))),
      );
      save(dir, shardFile(only, shards));
      console.log(`test:mutation: shard ${only}'s ${parts} parts joined into ${shardFile(only, shards)}`);
    } else console.log(`test:mutation: shard ${only}: ${have.length} of ${parts} parts done`);
  }
  if (failed === 0 && !passArgs.some((a) => a === '--mutate' || a === '-m' || a.startsWith('--mutate='))) printScore(dir, shards, false);
}
process.exitCode = failed === 0 ? 0 : 1; // not process.exit(): a piped stdout would lose the score
