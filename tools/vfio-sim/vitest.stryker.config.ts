import { configDefaults, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

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
    ],
    testTimeout: 180_000,
    env: { FC_RUNS: '20', FAULT_MAX_K: '4', ISO_STEPS: '100', FUZZ_RUNS: '20' },
  },
});
