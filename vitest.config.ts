import { defineConfig } from 'vitest/config';
// tools/* with a vitest config only: tools/pkgcheck's links.test.mjs is a node:test file (node --test)
export default defineConfig({ test: { projects: ['packages/*', 'tools/*/vitest.config.ts'] } });
