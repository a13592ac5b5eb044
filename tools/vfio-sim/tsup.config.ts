import { defineConfig } from 'tsup';

// The CLI and the piscina worker, ESM only; shared code goes into chunks both load.
export default defineConfig({
  entry: { cli: 'src/cli.ts', worker: 'src/worker.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  banner: { js: '#!/usr/bin/env node' },
  sourcemap: true,
  clean: true,
  splitting: true,
  dts: false,
});
