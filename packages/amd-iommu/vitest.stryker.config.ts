import { mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

// Stryker's instrumented source runs several times slower, and every mutant reruns the tests that
// cover it: the property, fault and fuzz suites run at about a tenth of their CI size (same seeds),
// with room to finish.
export default mergeConfig(base, {
  test: {
    testTimeout: 120_000,
    hookTimeout: 300_000,
    env: { FC_RUNS: '20', FAULT_MAX_K: '4', ISO_STEPS: '100', FUZZ_RUNS: '20', PT_WINDOW_MAX: '24', PT_MATRIX: 'small' },
  },
});
