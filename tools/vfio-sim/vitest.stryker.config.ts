import { configDefaults, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

// Stryker's instrumented source runs several times slower, and every mutant reruns the tests that
// cover it: the property, fault and fuzz suites run at about a tenth of their CI size (same seeds),
// with room to finish.
// Mutants are active only in-process: tests that spawn dist/cli.js run the unmutated behaviour.
// Left out: invocation.test.ts checks the paths the built CLI prints for itself from the repository
// root, which a Stryker sandbox (a copy of this package under .stryker-tmp/) does not have, and
// scale.test.ts runs only bench/scale.mjs in a child process and measures its memory, which the two
// test runners beside it disturb. Neither runs mutated code.
export default mergeConfig(base, {
  test: {
    exclude: [...configDefaults.exclude, 'test/invocation.test.ts', 'test/scale.test.ts'],
    testTimeout: 180_000,
    env: { FC_RUNS: '20', FAULT_MAX_K: '4', ISO_STEPS: '100', FUZZ_RUNS: '20' },
  },
});
