import { defineConfig } from 'tsup';
// splitting for both formats: the entries share chunks, so a class has one identity whichever subpath
// it is reached through (without it each CJS entry would carry its own copy of Sim, PtState, ...)
export default defineConfig({
  entry: ['src/index.ts', 'src/internals.ts', 'src/testing.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  treeshake: true,
  splitting: true,
});
