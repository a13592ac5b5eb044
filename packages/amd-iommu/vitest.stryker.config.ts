import { mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

// Stryker's instrumented source runs several times slower: the package's own tests with room to finish
export default mergeConfig(base, { test: { testTimeout: 120_000, hookTimeout: 300_000 } });
