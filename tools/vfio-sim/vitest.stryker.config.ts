import { mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

// Stryker's instrumented source runs several times slower: the CLI's own tests with room to finish.
// Mutants are active only in-process: tests that spawn dist/cli.js run the unmutated behaviour.
export default mergeConfig(base, { test: { testTimeout: 180_000 } });
