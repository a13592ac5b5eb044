import { configDefaults, mergeConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import base from './vitest.config.js';

/**
 * The slowest files in the order they cost (about 1 s to 4 s each, uninstrumented; html starts a
 * chromium); every other file runs before them. Stryker stops a mutant's run at its first failing test, and a sandbox has
 * no timings for vitest to order by (vitest then runs the largest files first), so a mutant the
 * quick files kill is done before the slow ones start.
 */
const SLOW = [
  'html.test.ts',
  'default.test.ts',
  'table.test.ts',
  'compare-files.test.ts',
  'firmware.test.ts',
  'trace.test.ts',
  'import.test.ts',
  'host-memory.test.ts',
];
const rank = (f: TestSpecification) => SLOW.findIndex((s) => f.moduleId.endsWith(`/test/${s}`));

class QuickFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]) {
    return [...files].sort((a, b) => rank(a) - rank(b) || (a.moduleId < b.moduleId ? -1 : 1));
  }
}

// Stryker's instrumented source runs several times slower, and every mutant reruns the tests that
// cover it: the property, fault and fuzz suites run at about a tenth of their CI size (same seeds),
// with room to finish.
// Mutants are active only in-process: tests that spawn dist/cli.js run the unmutated behaviour.
// Left out: the test files that only spawn the built CLI or a script (their code is never mutated,
// and a Stryker sandbox, a copy of this package under .stryker-tmp/, is not where they expect to
// run): invocation.test.ts (the paths the CLI prints for itself from the repository root),
// readme.test.ts (the README's output blocks, from the repository's commands), scale.test.ts (a
// child process's memory, which the two test runners beside it disturb), progress.test.ts and
// profile-summary.test.ts (a child's stderr and files), trace-scale.test.ts (traces of 16 GiB and
// 1 GiB guests under a small heap: 10 s of every run that covers the engine, none of it mutated).
// Also left out, though it runs in process: validate.test.ts, whose one beforeAll runs the whole
// catalogue of published figures (21 s uninstrumented, nearly half of the suite) for every mutant
// of the engine. The score is then a lower bound: a mutant killed without it is killed with it.
export default mergeConfig(base, {
  test: {
    exclude: [
      ...configDefaults.exclude,
      'test/invocation.test.ts',
      'test/readme.test.ts',
      'test/scale.test.ts',
      'test/progress.test.ts',
      'test/profile-summary.test.ts',
      'test/trace-scale.test.ts',
      'test/validate.test.ts',
    ],
    sequence: { sequencer: QuickFirst },
    testTimeout: 180_000,
    env: { FC_RUNS: '20', FAULT_MAX_K: '4', ISO_STEPS: '100', FUZZ_RUNS: '20' },
  },
});
